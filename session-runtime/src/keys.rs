//! Cookie keys: HMAC-SHA256 signing and AES-256-GCM sealing, both with key rotation.
//!
//! One list of master keys serves both purposes. Each master key is expanded into a signing
//! key and an encryption key with HMAC-SHA256 over a fixed label, so the same secret is never
//! used by two algorithms. The first key signs and seals; every key verifies and opens, and
//! the caller is told when an older key matched so it can re-issue the cookie with the first.

use std::fmt;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Length of an HMAC-SHA256 tag as URL-safe base64 without padding.
pub(crate) const MAC_TEXT_LEN: usize = 43;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;

/// Why a list of keys was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// No key was given.
    #[error("at least one cookie key is required")]
    Empty,
    /// A key is shorter than 32 bytes.
    #[error("cookie key {index} is {len} bytes; at least 32 bytes are required")]
    TooShort {
        /// Position of the key in the list.
        index: usize,
        /// Its length.
        len: usize,
    },
    /// A key given as hex is not valid hex.
    #[error("cookie key {index} is not valid hex")]
    NotHex {
        /// Position of the key in the list.
        index: usize,
    },
}

struct Derived {
    sign: [u8; 32],
    seal: Aes256Gcm,
}

/// Secret keys for cookie signing and encryption, in order of preference: the first signs
/// and seals, every key verifies and opens. Rotate by putting a new key first and keeping
/// the old ones until the cookies they issued have expired; remove a key to revoke it.
#[derive(Clone)]
pub struct CookieKeys {
    keys: std::sync::Arc<[Derived]>,
}

impl fmt::Debug for CookieKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CookieKeys({} keys, <redacted>)", self.keys.len())
    }
}

fn derive(master: &[u8], label: &[u8]) -> [u8; 32] {
    let mut mac =
        <HmacSha256 as Mac>::new_from_slice(master).expect("HMAC accepts keys of any length");
    mac.update(label);
    mac.finalize().into_bytes().into()
}

impl CookieKeys {
    /// Keys in order of preference. Each must be at least 32 bytes of secret randomness.
    pub fn new<I, K>(keys: I) -> Result<Self, KeyError>
    where
        I: IntoIterator<Item = K>,
        K: AsRef<[u8]>,
    {
        let mut derived = Vec::new();
        for (index, k) in keys.into_iter().enumerate() {
            let k = k.as_ref();
            if k.len() < 32 {
                return Err(KeyError::TooShort {
                    index,
                    len: k.len(),
                });
            }
            let seal_key = derive(k, b"session-runtime cookie encryption v1");
            derived.push(Derived {
                sign: derive(k, b"session-runtime cookie signing v1"),
                seal: Aes256Gcm::new(&seal_key.into()),
            });
        }
        if derived.is_empty() {
            return Err(KeyError::Empty);
        }
        Ok(CookieKeys {
            keys: derived.into(),
        })
    }

    /// Keys given as hex strings (64 hex digits or more each), first preferred.
    pub fn from_hex<I, S>(keys: I) -> Result<Self, KeyError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut raw = Vec::new();
        for (index, k) in keys.into_iter().enumerate() {
            let k = k.as_ref().trim();
            if k.len() % 2 != 0 || !k.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(KeyError::NotHex { index });
            }
            let bytes: Vec<u8> = (0..k.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&k[i..i + 2], 16).unwrap_or(0))
                .collect();
            raw.push(bytes);
        }
        Self::new(raw)
    }

    fn mac(key: &[u8; 32], context: &str, message: &[u8]) -> HmacSha256 {
        let mut mac =
            <HmacSha256 as Mac>::new_from_slice(key).expect("HMAC accepts keys of any length");
        mac.update(context.as_bytes());
        mac.update(b"=");
        mac.update(message);
        mac
    }

    /// The signature of `message` bound to `context` (the cookie name), base64url.
    pub(crate) fn sign(&self, context: &str, message: &str) -> String {
        let tag = Self::mac(&self.keys[0].sign, context, message.as_bytes())
            .finalize()
            .into_bytes();
        URL_SAFE_NO_PAD.encode(tag)
    }

    /// Index of the key whose signature `tag` is, if any. Constant-time per key.
    pub(crate) fn verify(
        &self,
        context: &str,
        message: impl AsRef<[u8]>,
        tag: impl AsRef<[u8]>,
    ) -> Option<usize> {
        let (message, tag) = (message.as_ref(), tag.as_ref());
        let mut raw = [0u8; 32];
        if tag.len() != MAC_TEXT_LEN || URL_SAFE_NO_PAD.decode_slice(tag, &mut raw) != Ok(32) {
            return None;
        }
        self.keys.iter().position(|k| {
            Self::mac(&k.sign, context, message)
                .verify_slice(&raw)
                .is_ok()
        })
    }

    /// Encrypts and authenticates `plaintext`, bound to `context` (the cookie name), with
    /// the first key and a fresh random nonce. Returns base64url(nonce ‖ ciphertext ‖ tag).
    pub(crate) fn seal(&self, context: &str, plaintext: &[u8]) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).expect("the OS random number generator is unavailable");
        let sealed = self.keys[0]
            .seal
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: context.as_bytes(),
                },
            )
            .expect("AES-GCM encryption of an in-memory buffer cannot fail");
        let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        URL_SAFE_NO_PAD.encode(out)
    }

    /// Length of the text [`seal`](Self::seal) produces for a plaintext of `len` bytes.
    pub(crate) fn sealed_len(len: usize) -> usize {
        let raw = NONCE_LEN + len + TAG_LEN;
        (raw * 4).div_ceil(3)
    }

    /// Decrypts text made by [`seal`](Self::seal) with any key. Returns the plaintext and the
    /// index of the key that opened it; `None` when no key authenticates it.
    pub(crate) fn open(&self, context: &str, text: impl AsRef<[u8]>) -> Option<(Vec<u8>, usize)> {
        let raw = URL_SAFE_NO_PAD.decode(text).ok()?;
        if raw.len() < NONCE_LEN + TAG_LEN {
            return None;
        }
        let (nonce, sealed) = raw.split_at(NONCE_LEN);
        self.keys.iter().enumerate().find_map(|(index, k)| {
            k.seal
                .decrypt(
                    Nonce::from_slice(nonce),
                    Payload {
                        msg: sealed,
                        aad: context.as_bytes(),
                    },
                )
                .ok()
                .map(|plain| (plain, index))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(ids: &[u8]) -> CookieKeys {
        CookieKeys::new(ids.iter().map(|i| [*i; 32])).unwrap()
    }

    #[test]
    fn signing_rotates_and_revokes() {
        let (old, rotated, removed) = (keys(&[1]), keys(&[2, 1]), keys(&[2]));
        let tag = old.sign("sid", "hello");
        assert_eq!(tag.len(), MAC_TEXT_LEN);
        assert_eq!(old.verify("sid", "hello", &tag), Some(0));
        assert_eq!(
            rotated.verify("sid", "hello", &tag),
            Some(1),
            "old key still verifies"
        );
        assert_eq!(
            removed.verify("sid", "hello", &tag),
            None,
            "removed key does not"
        );
        assert_eq!(
            old.verify("other", "hello", &tag),
            None,
            "bound to the cookie name"
        );
        assert_eq!(old.verify("sid", "hellO", &tag), None);
    }

    #[test]
    fn sealing_round_trips_rotates_and_binds_the_context() {
        let (old, rotated, removed) = (keys(&[1]), keys(&[2, 1]), keys(&[2]));
        let text = old.seal("sid", b"secret payload");
        assert_eq!(text.len(), CookieKeys::sealed_len(14));
        assert_eq!(
            old.open("sid", &text),
            Some((b"secret payload".to_vec(), 0))
        );
        assert_eq!(rotated.open("sid", &text).map(|(_, i)| i), Some(1));
        assert_eq!(removed.open("sid", &text), None);
        assert_eq!(old.open("other", &text), None);
        assert_ne!(
            old.seal("sid", b"x"),
            old.seal("sid", b"x"),
            "fresh nonce every time"
        );
    }

    #[test]
    fn every_flipped_bit_of_nonce_ciphertext_or_tag_is_rejected() {
        let k = keys(&[9]);
        let text = k.seal("sid", b"0123456789abcdef");
        let raw = URL_SAFE_NO_PAD.decode(&text).unwrap();
        for byte in 0..raw.len() {
            for bit in 0..8 {
                let mut t = raw.clone();
                t[byte] ^= 1 << bit;
                assert_eq!(
                    k.open("sid", URL_SAFE_NO_PAD.encode(&t)),
                    None,
                    "bit {bit} of byte {byte}"
                );
            }
        }
        assert_eq!(k.open("sid", &text[..10]), None, "truncated");
        assert_eq!(k.open("sid", "not base64 !"), None);
        assert_eq!(k.open("sid", ""), None);
    }

    #[test]
    fn keys_are_validated() {
        assert_eq!(
            CookieKeys::new(Vec::<Vec<u8>>::new()).unwrap_err(),
            KeyError::Empty
        );
        assert_eq!(
            CookieKeys::new([vec![0u8; 32], vec![0u8; 31]]).unwrap_err(),
            KeyError::TooShort { index: 1, len: 31 }
        );
        assert_eq!(
            CookieKeys::from_hex(["zz"]).unwrap_err(),
            KeyError::NotHex { index: 0 }
        );
        assert_eq!(
            CookieKeys::from_hex(["abc"]).unwrap_err(),
            KeyError::NotHex { index: 0 }
        );
        let k = CookieKeys::from_hex(["00".repeat(32)]).unwrap();
        assert_eq!(
            k.open("sid", k.seal("sid", b"a")).map(|(p, _)| p),
            Some(b"a".to_vec())
        );
    }
}
