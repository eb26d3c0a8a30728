//! Session ids, the store keys derived from them, and the cookie value codec.

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use sha2::{Digest, Sha256};

use crate::keys::CookieKeys;

/// Bytes of OS randomness in a generated session id (256 bits).
const ID_BYTES: usize = 32;
/// Length of a generated id as URL-safe base64 without padding.
pub(crate) const ID_TEXT_LEN: usize = 43;
/// Longest id accepted from a custom generator or a cookie.
pub(crate) const MAX_ID_LEN: usize = 256;

/// A session id: by default 256 bits from the operating system's CSPRNG, URL-safe base64.
///
/// It is the bearer credential, so it has no `Display` and its `Debug` is redacted; it only
/// ever leaves the process inside the `Set-Cookie` header. A generated id is kept inline (no
/// allocation on the request path); an id from a custom generator is boxed.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct SessionId(IdText);

#[derive(Clone, PartialEq, Eq)]
enum IdText {
    /// 43 base64url characters (checked when made).
    Generated([u8; ID_TEXT_LEN]),
    /// 1 to 256 characters of `[A-Za-z0-9_-]` (checked when made).
    Custom(Box<str>),
}

/// Each byte's 6-bit value in the base64url alphabet, or 0xff.
const B64_VALUE: [u8; 256] = {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut t = [0xffu8; 256];
    let mut i = 0;
    while i < 64 {
        t[ALPHABET[i] as usize] = i as u8;
        i += 1;
    }
    t
};

/// How many ids one read of OS randomness provides (see [`fill_id_bytes`]).
const IDS_PER_REFILL: usize = 16;

std::thread_local! {
    /// Randomness from the OS not yet handed out, and how much of it is used.
    static POOL: std::cell::RefCell<([u8; ID_BYTES * IDS_PER_REFILL], usize)> =
        const { std::cell::RefCell::new(([0; ID_BYTES * IDS_PER_REFILL], ID_BYTES * IDS_PER_REFILL)) };
}

/// Fills `out` with OS randomness, reading the OS once per 16 ids instead of once per id
/// (a system call per new session is a measurable share of creating one). Each id's bytes
/// are wiped from the pool as they are taken. Even if two processes ever held the same pool
/// (a `fork` without `exec`), no id would be issued twice: a store's `create` refuses a key
/// that exists and the runtime draws another id.
fn fill_id_bytes(out: &mut [u8; ID_BYTES]) -> Result<(), getrandom::Error> {
    POOL.with(|pool| {
        let mut pool = pool.borrow_mut();
        let (bytes, used) = &mut *pool;
        if *used + ID_BYTES > bytes.len() {
            getrandom::fill(bytes)?;
            *used = 0;
        }
        let chunk = &mut bytes[*used..*used + ID_BYTES];
        out.copy_from_slice(chunk);
        chunk.fill(0);
        *used += ID_BYTES;
        Ok(())
    })
}

/// `bytes` as unpadded base64url, without allocating.
fn encode_id(bytes: &[u8; ID_BYTES]) -> [u8; ID_TEXT_LEN] {
    let mut out = [0u8; ID_TEXT_LEN];
    let written = URL_SAFE_NO_PAD.encode_slice(bytes, &mut out);
    debug_assert_eq!(written.ok(), Some(ID_TEXT_LEN));
    out
}

/// Whether `b` is in the base64url alphabet (`[A-Za-z0-9_-]`), by range compares only.
fn is_base64url(b: u8) -> bool {
    b.is_ascii_uppercase() | b.is_ascii_lowercase() | b.is_ascii_digit() | (b == b'-') | (b == b'_')
}

/// Whether any byte is outside the base64url alphabet. Range compares over every byte with no
/// early exit, which the compiler turns into a few vector instructions per 16 bytes (a table
/// lookup per byte cannot be vectorized).
fn outside_base64url<const N: usize>(bytes: &[u8; N]) -> bool {
    bytes
        .iter()
        .fold(false, |outside, &b| outside | !is_base64url(b))
}

impl SessionId {
    /// A fresh random id.
    ///
    /// # Panics
    ///
    /// Only if the operating system has no randomness source at all, in which case no secure
    /// session can be issued.
    pub(crate) fn generate() -> Self {
        let mut bytes = [0u8; ID_BYTES];
        fill_id_bytes(&mut bytes).expect("the OS random number generator is unavailable");
        let id = SessionId(IdText::Generated(encode_id(&bytes)));
        bytes.fill(0);
        id
    }

    /// Parses an id made by [`generate`](Self::generate): exactly 43 canonical base64url
    /// characters (the last one carries 2 unused bits, which must be zero).
    ///
    /// Checked without decoding (the bytes are not needed; a decode cost ~400 instructions
    /// per request); the tests hold it to the base64 crate's decoder for every byte at every
    /// position.
    pub(crate) fn parse_generated(text: impl AsRef<[u8]>) -> Option<Self> {
        let text: &[u8; ID_TEXT_LEN] = text.as_ref().try_into().ok()?;
        // The first 32 and the last 16 bytes (which overlap), read in place: whole 16-byte
        // vectors, with no byte-by-byte loop for the 11 bytes that do not fill one.
        let head: &[u8; 32] = text.first_chunk()?;
        let tail: &[u8; 16] = text.last_chunk()?;
        let outside = outside_base64url(head) | outside_base64url(tail);
        // 32 bytes leave 2 unused low bits in the last character, which must be zero.
        let last = B64_VALUE[usize::from(text[ID_TEXT_LEN - 1])];
        (!outside && last & 0b11 == 0).then_some(SessionId(IdText::Generated(*text)))
    }

    /// Accepts an id from a custom generator: 1 to 256 characters of `[A-Za-z0-9_-]`.
    pub(crate) fn parse_custom(text: impl AsRef<[u8]>) -> Option<Self> {
        let text = text.as_ref();
        let ok =
            !text.is_empty() && text.len() <= MAX_ID_LEN && text.iter().all(|&b| is_base64url(b));
        if !ok {
            return None;
        }
        // Only ASCII passed the check above, so this cannot fail.
        let text = std::str::from_utf8(text).ok()?;
        Some(SessionId(IdText::Custom(text.into())))
    }

    /// The textual form carried in the cookie.
    pub(crate) fn as_str(&self) -> &str {
        match &self.0 {
            // Only base64url characters are ever stored here.
            IdText::Generated(text) => std::str::from_utf8(text).unwrap_or_default(),
            IdText::Custom(text) => text,
        }
    }

    /// The bytes of [`as_str`](Self::as_str), without its UTF-8 check.
    pub(crate) fn as_bytes(&self) -> &[u8] {
        match &self.0 {
            IdText::Generated(text) => text,
            IdText::Custom(text) => text.as_bytes(),
        }
    }

    /// The key under which the store keeps this session: SHA-256 over the layer's key
    /// prefix (length-prefixed, so prefixes cannot run into ids) and the id.
    pub(crate) fn key(&self, prefix: &str) -> SessionKey {
        let mut h = Sha256::new();
        h.update((prefix.len() as u64).to_be_bytes());
        h.update(prefix.as_bytes());
        h.update(self.as_bytes());
        SessionKey(h.finalize().into())
    }
}

impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionId(<redacted>)")
    }
}

/// Estimated entropy of an id, in bits, from its length and the smallest usual alphabet that
/// contains it (hex, alphanumeric, base64url). Used to warn about weak custom generators.
pub(crate) fn estimated_bits(sample: &str) -> f64 {
    let per_char = if sample.bytes().all(|b| b.is_ascii_digit()) {
        10f64.log2()
    } else if sample.bytes().all(|b| b.is_ascii_hexdigit()) {
        4.0
    } else if sample.bytes().all(|b| b.is_ascii_alphanumeric()) {
        62f64.log2()
    } else {
        6.0
    };
    sample.len() as f64 * per_char
}

/// The store key of a session: SHA-256 of its id (and the layer's key prefix).
///
/// Knowing a key does not let anyone forge the cookie, so a dump of the store (or a log line
/// that names a key prefix) yields nothing usable.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SessionKey([u8; 32]);

impl SessionKey {
    /// The raw 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Builds a key from raw bytes (used by stores and tests).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        SessionKey(bytes)
    }

    /// Lower-case hex, 64 characters: the form SQL and Redis stores use.
    pub fn to_hex(&self) -> String {
        hex(&self.0)
    }

    /// A short tag for log lines: the first 12 hex digits of the key (never the id).
    pub fn log_tag(&self) -> String {
        hex(&self.0[..6])
    }

    /// A fresh random key (tests and benchmarks that talk to a store directly).
    pub fn random() -> Self {
        SessionId::generate().key("")
    }
}

impl fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionKey({})", self.log_tag())
    }
}

/// A short, non-reversible tag for a cookie value that could not be used (for log lines).
pub(crate) fn value_tag(value: impl AsRef<[u8]>) -> String {
    hex(&Sha256::digest(value.as_ref())[..6])
}

/// Lower-case hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(HEX[usize::from(b >> 4)] as char);
        s.push(HEX[usize::from(b & 0xf)] as char);
    }
    s
}

/// How the session cookie's value protects the id.
#[derive(Clone, Debug, Default)]
pub(crate) enum Codec {
    /// The id as is (it is unguessable on its own).
    #[default]
    Plain,
    /// `ID.TAG`, HMAC-SHA256 bound to the cookie name.
    Signed(CookieKeys),
    /// The id sealed with AES-256-GCM, bound to the cookie name.
    Encrypted(CookieKeys),
}

/// What the cookie value said.
#[derive(Debug)]
pub(crate) enum Decoded {
    /// A well-formed (and authentic) id. `stale_key` is true when an older key verified it,
    /// so the cookie should be re-issued with the current key.
    Id { id: SessionId, stale_key: bool },
    /// Not an id at all (wrong length, bad characters, not decodable).
    Malformed,
    /// Well-formed, but the signature or the AEAD tag does not verify with any key.
    Tampered,
}

/// The value of a session cookie to set: a plain id is kept as the id (no copy into a string
/// of its own; it is written straight into the `Set-Cookie` text), a signed or sealed one as
/// its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CookieValue {
    Id(SessionId),
    Text(String),
}

impl CookieValue {
    #[cfg(test)]
    pub(crate) fn as_str(&self) -> &str {
        match self {
            CookieValue::Id(id) => id.as_str(),
            CookieValue::Text(text) => text,
        }
    }

    /// The value's bytes (ASCII), without a UTF-8 check of a plain id.
    pub(crate) fn as_bytes(&self) -> &[u8] {
        match self {
            CookieValue::Id(id) => id.as_bytes(),
            CookieValue::Text(text) => text.as_bytes(),
        }
    }
}

impl Codec {
    pub(crate) fn encode(&self, id: &SessionId, cookie_name: &str) -> CookieValue {
        CookieValue::Text(match self {
            Codec::Plain => return CookieValue::Id(id.clone()),
            Codec::Signed(keys) => {
                let text = id.as_str();
                let tag = keys.sign(cookie_name, text);
                let mut v = String::with_capacity(text.len() + 1 + tag.len());
                v.push_str(text);
                v.push('.');
                v.push_str(&tag);
                v
            }
            Codec::Encrypted(keys) => keys.seal(cookie_name, id.as_str().as_bytes()),
        })
    }

    /// Reads a cookie value as bytes: every accepted form is ASCII, so a value that is not
    /// UTF-8 is simply malformed, without a separate UTF-8 check.
    pub(crate) fn decode(
        &self,
        value: impl AsRef<[u8]>,
        cookie_name: &str,
        custom_ids: bool,
    ) -> Decoded {
        let value = value.as_ref();
        let parse = |text: &[u8]| {
            if custom_ids {
                SessionId::parse_custom(text)
            } else {
                SessionId::parse_generated(text)
            }
        };
        match self {
            Codec::Plain => match parse(value) {
                Some(id) => Decoded::Id {
                    id,
                    stale_key: false,
                },
                None => Decoded::Malformed,
            },
            Codec::Signed(keys) => {
                let Some(dot) = memchr::memchr(b'.', value) else {
                    return Decoded::Malformed;
                };
                let (text, tag) = (&value[..dot], &value[dot + 1..]);
                let Some(id) = parse(text) else {
                    return Decoded::Malformed;
                };
                match keys.verify(cookie_name, text, tag) {
                    Some(index) => Decoded::Id {
                        id,
                        stale_key: index > 0,
                    },
                    None => Decoded::Tampered,
                }
            }
            Codec::Encrypted(keys) => match keys.open(cookie_name, value) {
                Some((plain, index)) => match parse(&plain) {
                    Some(id) => Decoded::Id {
                        id,
                        stale_key: index > 0,
                    },
                    None => Decoded::Malformed,
                },
                None => Decoded::Tampered,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(ids: &[u8]) -> CookieKeys {
        CookieKeys::new(ids.iter().map(|i| [*i; 32])).unwrap()
    }

    #[test]
    fn ids_round_trip_and_are_unique() {
        let a = SessionId::generate();
        let b = SessionId::generate();
        assert_ne!(a, b);
        assert_eq!(a.as_str().len(), ID_TEXT_LEN);
        assert!(a
            .as_str()
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
        assert_eq!(SessionId::parse_generated(a.as_str()), Some(a.clone()));
        assert_ne!(a.key(""), b.key(""));
        assert_ne!(a.key(""), a.key("app2"), "the key prefix separates apps");
        assert_ne!(
            SessionId::parse_custom("bc").unwrap().key("a"),
            SessionId::parse_custom("c").unwrap().key("ab")
        );
    }

    #[test]
    fn the_inline_codec_agrees_with_the_base64_crate() {
        for seed in 0u8..=255 {
            let bytes: [u8; ID_BYTES] =
                std::array::from_fn(|i| seed.wrapping_mul(31).wrapping_add(i as u8 * 7));
            let text = encode_id(&bytes);
            assert_eq!(&text[..], URL_SAFE_NO_PAD.encode(bytes).as_bytes());
        }
        // Every byte at every position: accepted exactly when the base64 crate (which
        // rejects non-zero trailing bits) decodes the text to 32 bytes.
        let good = SessionId::generate();
        for at in 0..ID_TEXT_LEN {
            for byte in 0u8..=255 {
                // Bytes, not text: a byte of 0x80 or more (not UTF-8 on its own) must be
                // rejected too, at every position, including the 11 past the first 32.
                let mut text = good.as_str().as_bytes().to_vec();
                text[at] = byte;
                let mut out = [0u8; ID_BYTES];
                let crate_ok =
                    matches!(URL_SAFE_NO_PAD.decode_slice(&text, &mut out), Ok(ID_BYTES));
                assert_eq!(
                    SessionId::parse_generated(&text).is_some(),
                    crate_ok,
                    "byte {byte} at {at}"
                );
            }
        }
    }

    #[test]
    fn generated_ids_use_fresh_randomness_across_pool_refills() {
        let ids: std::collections::HashSet<String> = (0..IDS_PER_REFILL * 5)
            .map(|_| SessionId::generate().as_str().to_owned())
            .collect();
        assert_eq!(ids.len(), IDS_PER_REFILL * 5);
        for id in &ids {
            assert!(SessionId::parse_generated(id).is_some());
        }
        POOL.with(|pool| {
            let pool = pool.borrow();
            assert!(
                pool.0[..pool.1].iter().all(|b| *b == 0),
                "taken bytes are wiped"
            );
        });
    }

    #[test]
    fn malformed_ids_are_rejected() {
        let good = SessionId::generate();
        let good = good.as_str();
        for bad in [
            "",
            "abc",
            &good[..42],
            &format!("{good}A"),
            &"!".repeat(43),
            "++++++++++++++++++++++++++++++++++++++++++=",
        ] {
            assert!(
                SessionId::parse_generated(bad).is_none(),
                "{bad:?} accepted"
            );
        }
        assert!(SessionId::parse_custom("ok-id_1").is_some());
        for bad in ["", "a.b", "a b", &"x".repeat(257), "é"] {
            assert!(SessionId::parse_custom(bad).is_none(), "{bad:?} accepted");
        }
    }

    #[test]
    fn debug_never_shows_the_id() {
        let id = SessionId::generate();
        let shown = format!("{id:?} {:?}", id.key(""));
        assert!(!shown.contains(id.as_str()));
    }

    #[test]
    fn entropy_estimate() {
        assert!(estimated_bits(SessionId::generate().as_str()) >= 256.0);
        assert!(estimated_bits("0123456789abcdef0123456789abcdef") >= 128.0);
        assert!(estimated_bits("0123456789abcdef0123456789abcde") < 128.0);
        assert!(estimated_bits("12345678") < 128.0);
    }

    #[test]
    fn signed_values_rotate_and_reject_tampering() {
        let (old, rotated, removed) = (
            Codec::Signed(keys(&[1])),
            Codec::Signed(keys(&[2, 1])),
            Codec::Signed(keys(&[2])),
        );
        let id = SessionId::generate();
        let v = old.encode(&id, "sid").as_str().to_owned();
        assert!(matches!(
            old.decode(&v, "sid", false),
            Decoded::Id {
                stale_key: false,
                ..
            }
        ));
        assert!(matches!(
            rotated.decode(&v, "sid", false),
            Decoded::Id {
                stale_key: true,
                ..
            }
        ));
        assert!(matches!(
            removed.decode(&v, "sid", false),
            Decoded::Tampered
        ));
        assert!(matches!(old.decode(&v, "other", false), Decoded::Tampered));
        assert!(matches!(
            old.decode(id.as_str(), "sid", false),
            Decoded::Malformed
        ));
        for i in 0..v.len() {
            let mut bytes = v.clone().into_bytes();
            bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
            let t = String::from_utf8(bytes).unwrap();
            assert!(
                !matches!(old.decode(&t, "sid", false), Decoded::Id { .. }),
                "flip at {i}"
            );
        }
    }

    #[test]
    fn encrypted_values_hide_the_id_and_rotate() {
        let (old, rotated) = (
            Codec::Encrypted(keys(&[1])),
            Codec::Encrypted(keys(&[2, 1])),
        );
        let id = SessionId::generate();
        let v = old.encode(&id, "sid").as_str().to_owned();
        assert!(!v.contains(id.as_str()));
        assert!(
            matches!(old.decode(&v, "sid", false), Decoded::Id { stale_key: false, id: ref got } if *got == id)
        );
        assert!(matches!(
            rotated.decode(&v, "sid", false),
            Decoded::Id {
                stale_key: true,
                ..
            }
        ));
        assert!(matches!(
            Codec::Encrypted(keys(&[3])).decode(&v, "sid", false),
            Decoded::Tampered
        ));
    }
}
