//! Cookie keys, unpadded URL-safe base64 (the test crate has no base64 dependency), forged
//! cookie values, and a custom id generator.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use session_runtime::CookieKeys;

/// A key list with one key per id, each key the id repeated 32 times (current key first).
pub fn keys(ids: &[u8]) -> CookieKeys {
    CookieKeys::new(ids.iter().map(|i| [*i; 32])).unwrap()
}

const B64URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Decodes unpadded URL-safe base64.
pub fn b64_decode(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in text.bytes() {
        let v = B64URL
            .iter()
            .position(|b| *b == c)
            .unwrap_or_else(|| panic!("{c:?} is not base64url")) as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    out
}

/// Encodes as unpadded URL-safe base64.
pub fn b64_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for b in bytes {
        acc = (acc << 8) | u32::from(*b);
        bits += 8;
        while bits >= 6 {
            bits -= 6;
            out.push(B64URL[((acc >> bits) & 63) as usize] as char);
        }
        acc &= (1 << bits) - 1;
    }
    if bits > 0 {
        out.push(B64URL[((acc << (6 - bits)) & 63) as usize] as char);
    }
    out
}

/// `value` with the character at `index` replaced by a different base64url character.
pub fn flip_char(value: &str, index: usize) -> String {
    let mut bytes = value.as_bytes().to_vec();
    bytes[index] = if bytes[index] == b'A' { b'B' } else { b'A' };
    String::from_utf8(bytes).unwrap()
}

/// Every copy of a sealed cookie `raw` (a `nonce`-byte nonce, the ciphertext, a `tag`-byte tag)
/// with one bit flipped, byte by byte and bit by bit: the copy as unpadded base64url, and what
/// was flipped (`"tag: bit 3 of byte 60"`).
pub fn one_bit_flips(raw: &[u8], nonce: usize, tag: usize) -> Vec<(String, String)> {
    let mut flips = Vec::with_capacity(raw.len() * 8);
    for byte in 0..raw.len() {
        let region = if byte < nonce {
            "nonce"
        } else if byte >= raw.len() - tag {
            "tag"
        } else {
            "ciphertext"
        };
        for bit in 0..8 {
            let mut t = raw.to_vec();
            t[byte] ^= 1 << bit;
            flips.push((
                b64_encode(&t),
                format!("{region}: bit {bit} of byte {byte}"),
            ));
        }
    }
    flips
}

/// An id generator for `SessionLayer::with_id_generator` (40 hex characters: a counter plus
/// 128 bits from std's random hasher keys), and every id it has handed out, in order.
pub fn recording_id_generator() -> (
    Arc<Mutex<Vec<String>>>,
    impl Fn() -> String + Send + Sync + 'static,
) {
    let issued = Arc::new(Mutex::new(Vec::new()));
    let counter = AtomicU64::new(0);
    let generator = {
        let issued = issued.clone();
        move || {
            let id = counter_id(&counter);
            issued.lock().unwrap().push(id.clone());
            id
        }
    };
    (issued, generator)
}

/// 40 hex characters: a counter plus 128 bits from std's random hasher keys.
fn counter_id(counter: &AtomicU64) -> String {
    let n = counter.fetch_add(1, Ordering::SeqCst);
    let r1 = RandomState::new().build_hasher().finish();
    let mut h = RandomState::new().build_hasher();
    h.write_u64(n);
    let r2 = h.finish();
    format!("{:08x}{r1:016x}{r2:016x}", n as u32)
}
