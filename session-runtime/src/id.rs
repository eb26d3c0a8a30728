//! Session ids, the store keys derived from them, and the cookie value codec.

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// Bytes of OS randomness in a session id (256 bits).
const ID_BYTES: usize = 32;
/// Length of an id as URL-safe base64 without padding.
pub(crate) const ID_TEXT_LEN: usize = 43;
/// Length of an HMAC-SHA256 tag as URL-safe base64 without padding.
const MAC_TEXT_LEN: usize = 43;

/// A session id: 256 bits from the operating system's CSPRNG.
///
/// It is the bearer credential, so it has no `Display` and its `Debug` is redacted; it only
/// ever leaves the process inside the `Set-Cookie` header.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionId([u8; ID_BYTES]);

impl SessionId {
    /// A fresh random id.
    ///
    /// # Panics
    ///
    /// Never in practice: only if the operating system has no randomness source at all, in
    /// which case no secure session can be issued.
    pub(crate) fn generate() -> Self {
        let mut bytes = [0u8; ID_BYTES];
        getrandom::fill(&mut bytes).expect("the OS random number generator is unavailable");
        SessionId(bytes)
    }

    /// Parses the textual form; `None` for anything that is not exactly a well-formed id.
    pub(crate) fn parse(text: &str) -> Option<Self> {
        if text.len() != ID_TEXT_LEN {
            return None;
        }
        let mut bytes = [0u8; ID_BYTES];
        match URL_SAFE_NO_PAD.decode_slice(text.as_bytes(), &mut bytes) {
            Ok(ID_BYTES) => Some(SessionId(bytes)),
            _ => None,
        }
    }

    /// The textual form carried in the cookie.
    pub(crate) fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.0)
    }

    /// The key under which the store keeps this session.
    pub(crate) fn key(&self) -> SessionKey {
        SessionKey(Sha256::digest(self.0).into())
    }
}

impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionId(<redacted>)")
    }
}

/// The store key of a session: SHA-256 of its id.
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
        let mut s = String::with_capacity(64);
        for b in self.0 {
            use fmt::Write as _;
            let _ = write!(s, "{b:02x}");
        }
        s
    }

    /// A short tag for log lines: the first 12 hex digits of the key (never the id).
    pub fn log_tag(&self) -> String {
        self.to_hex()[..12].to_owned()
    }

    /// A fresh random key (tests and benchmarks that talk to a store directly).
    pub fn random() -> Self {
        SessionId::generate().key()
    }
}

impl fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionKey({})", self.log_tag())
    }
}

type HmacSha256 = Hmac<Sha256>;

/// Keys for HMAC-SHA256 signing of the cookie value. The first key signs; every key verifies,
/// so old keys can be kept for a while after a rotation.
#[derive(Clone)]
pub struct SigningKeys {
    keys: Vec<Vec<u8>>,
}

impl fmt::Debug for SigningKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SigningKeys({} keys, <redacted>)", self.keys.len())
    }
}

/// Why a set of signing keys was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// No key was given.
    #[error("at least one signing key is required")]
    Empty,
    /// A key is shorter than 32 bytes.
    #[error("signing key {index} is {len} bytes; at least 32 bytes are required")]
    TooShort {
        /// Position of the key in the list.
        index: usize,
        /// Its length.
        len: usize,
    },
}

impl SigningKeys {
    /// Keys in order of preference: the first signs, all verify. Each must be at least
    /// 32 bytes of secret randomness.
    pub fn new<I, K>(keys: I) -> Result<Self, KeyError>
    where
        I: IntoIterator<Item = K>,
        K: AsRef<[u8]>,
    {
        let keys: Vec<Vec<u8>> = keys.into_iter().map(|k| k.as_ref().to_vec()).collect();
        if keys.is_empty() {
            return Err(KeyError::Empty);
        }
        if let Some((index, k)) = keys.iter().enumerate().find(|(_, k)| k.len() < 32) {
            return Err(KeyError::TooShort {
                index,
                len: k.len(),
            });
        }
        Ok(SigningKeys { keys })
    }

    fn mac(key: &[u8], cookie_name: &str, id: &str) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(key).expect("HMAC accepts keys of any length");
        mac.update(cookie_name.as_bytes());
        mac.update(b"=");
        mac.update(id.as_bytes());
        mac
    }

    fn sign(&self, cookie_name: &str, id: &str) -> String {
        let tag = Self::mac(&self.keys[0], cookie_name, id)
            .finalize()
            .into_bytes();
        URL_SAFE_NO_PAD.encode(tag)
    }

    /// Index of the key that verifies `tag`, if any. Constant-time per key.
    fn verify(&self, cookie_name: &str, id: &str, tag: &str) -> Option<usize> {
        let mut raw = [0u8; 32];
        if tag.len() != MAC_TEXT_LEN || URL_SAFE_NO_PAD.decode_slice(tag, &mut raw) != Ok(32) {
            return None;
        }
        self.keys
            .iter()
            .position(|k| Self::mac(k, cookie_name, id).verify_slice(&raw).is_ok())
    }
}

/// What the cookie value said.
#[derive(Debug)]
pub(crate) enum Decoded {
    /// A well-formed id (correctly signed, if signing is on). `stale_key` is true when an
    /// older key verified it, so the cookie should be re-signed with the current key.
    Id { id: SessionId, stale_key: bool },
    /// Anything else: malformed, wrong length, bad or missing signature.
    Invalid,
}

/// Encodes an id for the cookie: `ID` or, with signing, `ID.TAG`.
pub(crate) fn encode_cookie_value(
    id: &SessionId,
    cookie_name: &str,
    keys: Option<&SigningKeys>,
) -> String {
    let text = id.encode();
    match keys {
        None => text,
        Some(keys) => {
            let tag = keys.sign(cookie_name, &text);
            let mut v = String::with_capacity(text.len() + 1 + tag.len());
            v.push_str(&text);
            v.push('.');
            v.push_str(&tag);
            v
        }
    }
}

/// Decodes a cookie value produced by [`encode_cookie_value`].
pub(crate) fn decode_cookie_value(
    value: &str,
    cookie_name: &str,
    keys: Option<&SigningKeys>,
) -> Decoded {
    let (id_text, tag) = match keys {
        None => (value, None),
        Some(_) => match value.split_once('.') {
            Some((id, tag)) => (id, Some(tag)),
            None => return Decoded::Invalid,
        },
    };
    let Some(id) = SessionId::parse(id_text) else {
        return Decoded::Invalid;
    };
    match (keys, tag) {
        (None, _) => Decoded::Id {
            id,
            stale_key: false,
        },
        (Some(keys), Some(tag)) => match keys.verify(cookie_name, id_text, tag) {
            Some(index) => Decoded::Id {
                id,
                stale_key: index > 0,
            },
            None => Decoded::Invalid,
        },
        (Some(_), None) => Decoded::Invalid,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_are_unique() {
        let a = SessionId::generate();
        let b = SessionId::generate();
        assert_ne!(a, b);
        let text = a.encode();
        assert_eq!(text.len(), ID_TEXT_LEN);
        assert!(text
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
        assert_eq!(SessionId::parse(&text), Some(a.clone()));
        assert_eq!(a.key(), SessionId::parse(&text).unwrap().key());
        assert_ne!(a.key(), b.key());
    }

    #[test]
    fn malformed_ids_are_rejected() {
        let good = SessionId::generate().encode();
        for bad in [
            "",
            "abc",
            &good[..42],
            &format!("{good}A"),
            &good.replace(|_: char| true, "!"),
            "++++++++++++++++++++++++++++++++++++++++++=",
        ] {
            assert!(SessionId::parse(bad).is_none(), "{bad:?} accepted");
        }
    }

    #[test]
    fn debug_never_shows_the_id() {
        let id = SessionId::generate();
        let shown = format!("{id:?} {:?}", id.key());
        assert!(!shown.contains(&id.encode()));
    }

    #[test]
    fn signing_round_trips_and_rotates() {
        let old = SigningKeys::new([[1u8; 32]]).unwrap();
        let rotated = SigningKeys::new([[2u8; 32], [1u8; 32]]).unwrap();
        let removed = SigningKeys::new([[2u8; 32]]).unwrap();
        let id = SessionId::generate();
        let v = encode_cookie_value(&id, "sid", Some(&old));
        assert!(matches!(
            decode_cookie_value(&v, "sid", Some(&old)),
            Decoded::Id {
                stale_key: false,
                ..
            }
        ));
        assert!(matches!(
            decode_cookie_value(&v, "sid", Some(&rotated)),
            Decoded::Id {
                stale_key: true,
                ..
            }
        ));
        assert!(matches!(
            decode_cookie_value(&v, "sid", Some(&removed)),
            Decoded::Invalid
        ));
        // Bound to the cookie name.
        assert!(matches!(
            decode_cookie_value(&v, "other", Some(&old)),
            Decoded::Invalid
        ));
        // Unsigned value when signing is on.
        assert!(matches!(
            decode_cookie_value(&id.encode(), "sid", Some(&old)),
            Decoded::Invalid
        ));
    }

    #[test]
    fn any_flipped_character_in_a_signed_value_is_rejected() {
        let keys = SigningKeys::new([[7u8; 32]]).unwrap();
        let v = encode_cookie_value(&SessionId::generate(), "sid", Some(&keys));
        for i in 0..v.len() {
            let mut bytes = v.clone().into_bytes();
            bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
            let tampered = String::from_utf8(bytes).unwrap();
            if tampered != v {
                assert!(
                    matches!(
                        decode_cookie_value(&tampered, "sid", Some(&keys)),
                        Decoded::Invalid
                    ),
                    "flip at {i} accepted"
                );
            }
        }
    }

    #[test]
    fn short_keys_are_refused() {
        assert_eq!(
            SigningKeys::new(Vec::<Vec<u8>>::new()).unwrap_err(),
            KeyError::Empty
        );
        assert_eq!(
            SigningKeys::new([vec![0u8; 32], vec![0u8; 8]]).unwrap_err(),
            KeyError::TooShort { index: 1, len: 8 }
        );
    }
}
