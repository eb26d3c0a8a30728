//! [`Json`]: one stored field's value.

use std::fmt;

use compact_str::CompactString;
use serde::de::IgnoredAny;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;

/// One stored field's value: the text of one JSON value, known to be well formed.
///
/// A value of up to 24 bytes (a number, a flag, a short string) is kept inside the `Json`
/// itself, so a session of small fields costs its store no heap block per field, and
/// encoding one allocates nothing; a longer one is one heap block of its text.
///
/// A `Json` is made only by serde_json (encoding a value, or deserializing one) or from text
/// that has been checked, so its text is always one valid JSON value, as with serde_json's
/// [`RawValue`], which converts to and from it.
///
/// ```
/// use session_runtime::store::Json;
///
/// let n = Json::encode(&42u64).unwrap();
/// assert_eq!(n.as_str(), "42");
/// assert_eq!(n.decode::<u64>().unwrap(), 42);
/// assert!(Json::from_string("{\"open\":".into()).is_err());
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Json(CompactString);

impl Json {
    /// The JSON of `value`, as serde_json writes it.
    ///
    /// # Errors
    ///
    /// If `value`'s `Serialize` fails or is not JSON (a map with non-string keys, say).
    pub fn encode<V: Serialize + ?Sized>(value: &V) -> Result<Json, serde_json::Error> {
        // Written on the stack first: a value that fits is copied once, into the `Json` itself
        // (up to 24 bytes) or into one block of its size (at least 32 bytes).
        let mut buf = StackBuf::default();
        match serde_json::to_writer(&mut buf, value) {
            Ok(()) => Ok(Json::of_utf8(&buf.bytes[..buf.len])),
            // Kept without the spare capacity a growing `String` leaves (up to half of it).
            Err(e) if e.is_io() => serde_json::to_string(value).map(|mut s| {
                s.shrink_to_fit();
                Json(s.into())
            }),
            Err(e) => Err(e),
        }
    }

    /// serde_json's output, which is always UTF-8: the fallback is unreachable, and keeps this
    /// crate free of unsafe code and of panics.
    fn of_utf8(bytes: &[u8]) -> Json {
        match CompactString::from_utf8(bytes) {
            Ok(text) => Json(text),
            Err(_) => Json(CompactString::from_utf8_lossy(bytes)),
        }
    }

    /// Checks that `text` is one JSON value (surrounding whitespace allowed) and keeps it as
    /// it is.
    ///
    /// # Errors
    ///
    /// If `text` is not exactly one JSON value.
    pub fn from_string(mut text: String) -> Result<Json, serde_json::Error> {
        check(&text)?;
        if text.len() > INLINE {
            text.shrink_to_fit(); // a shorter one is copied into the `Json` itself
        }
        Ok(Json(text.into()))
    }

    /// Decodes the value into a `V`.
    ///
    /// # Errors
    ///
    /// If the JSON does not match `V`.
    pub fn decode<V: serde::de::DeserializeOwned>(&self) -> Result<V, serde_json::Error> {
        serde_json::from_str(self.as_str())
    }

    /// The JSON text.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The JSON text, as a `String`.
    pub fn into_string(self) -> String {
        self.0.into_string()
    }
}

/// Whether `text` is exactly one JSON value (surrounding whitespace allowed).
fn check(text: &str) -> Result<(), serde_json::Error> {
    serde_json::from_str::<IgnoredAny>(text).map(drop)
}

impl From<Box<RawValue>> for Json {
    fn from(raw: Box<RawValue>) -> Json {
        let text: Box<str> = raw.into();
        Json(CompactString::from(String::from(text)))
    }
}

impl From<&RawValue> for Json {
    fn from(raw: &RawValue) -> Json {
        Json(CompactString::new(raw.get()))
    }
}

impl std::str::FromStr for Json {
    type Err = serde_json::Error;

    /// Checks that `text` is one JSON value; see [`Json::from_string`].
    fn from_str(text: &str) -> Result<Json, serde_json::Error> {
        check(text)?;
        Ok(Json(CompactString::new(text)))
    }
}

impl AsRef<str> for Json {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl PartialEq<str> for Json {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Json {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl fmt::Debug for Json {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Json {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Serializes as the JSON value itself (not as a string), as [`RawValue`] does.
impl Serialize for Json {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // Borrowed as a `RawValue` by reading the text again (no copy), which cannot fail: it
        // was checked when the `Json` was made.
        serde_json::from_str::<&RawValue>(self.as_str())
            .map_err(serde::ser::Error::custom)?
            .serialize(serializer)
    }
}

/// Deserializes any one JSON value, keeping its text, as [`RawValue`] does.
impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Json, D::Error> {
        Box::<RawValue>::deserialize(deserializer).map(Json::from)
    }
}

/// Most bytes of JSON kept inside a [`Json`] (compact_str's inline size).
const INLINE: usize = std::mem::size_of::<CompactString>();

/// Most bytes of JSON [`Json::encode`] writes on the stack before it falls back to a
/// growing `String`.
const STACK_JSON: usize = 64;

/// A fixed buffer that refuses to grow (the writer's error sends [`Json::encode`] to the
/// allocating path).
struct StackBuf {
    bytes: [u8; STACK_JSON],
    len: usize,
}

impl Default for StackBuf {
    fn default() -> Self {
        StackBuf {
            bytes: [0; STACK_JSON],
            len: 0,
        }
    }
}

impl std::io::Write for StackBuf {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.write_all(data).map(|()| data.len())
    }

    fn write_all(&mut self, data: &[u8]) -> std::io::Result<()> {
        let end = self.len + data.len();
        let Some(slot) = self.bytes.get_mut(self.len..end) else {
            return Err(std::io::ErrorKind::WriteZero.into());
        };
        slot.copy_from_slice(data);
        self.len = end;
        Ok(())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::{Json, STACK_JSON};
    use serde_json::value::RawValue;

    #[test]
    fn encode_matches_serde_json_on_both_sides_of_the_stack_buffer() {
        fn same<V: serde::Serialize + ?Sized>(value: &V) {
            let ours = Json::encode(value).unwrap();
            assert_eq!(ours.as_str(), serde_json::to_string(value).unwrap());
            // And it decodes back to the same JSON.
            let back: serde_json::Value = ours.decode().unwrap();
            assert_eq!(back, serde_json::to_value(value).unwrap());
        }
        same(&42u64);
        same(&u64::MAX);
        same(&Some("é ☃ \"quoted\" \u{1F600}"));
        same(&None::<u8>);
        same(&vec![1u8, 2, 3]);
        // The JSON of a string of n ASCII letters is n + 2 bytes long: around the inline size
        // (24), the stack buffer's size and far past it.
        for n in [
            21,
            22,
            23,
            STACK_JSON - 3,
            STACK_JSON - 2,
            STACK_JSON - 1,
            STACK_JSON,
            70_000,
        ] {
            let text = "x".repeat(n);
            same(&text);
            assert_eq!(Json::encode(&text).unwrap().as_str().len(), n + 2);
        }
    }

    #[test]
    fn encode_reports_serialization_errors_of_small_and_large_values() {
        use std::collections::BTreeMap;
        // Maps with non-string keys are not JSON.
        let small: BTreeMap<(u8, u8), u8> = [((1, 2), 3)].into();
        assert!(Json::encode(&small).is_err());
        // An error after the stack buffer filled up (the allocating path reports it too).
        let large = (
            "y".repeat(2 * STACK_JSON),
            BTreeMap::from([((1u8, 2u8), 3u8)]),
        );
        let err = Json::encode(&large).unwrap_err();
        assert!(!err.is_io(), "{err}");
    }

    #[test]
    fn only_one_well_formed_value_is_accepted() {
        for good in [
            "1",
            "\"x\"",
            " {\"a\": [1, null]} ",
            "true",
            "null",
            "-0.5e3",
        ] {
            let json = Json::from_string(good.to_owned()).unwrap();
            assert_eq!(json.as_str(), good, "kept as it is");
            assert_eq!(good.parse::<Json>().unwrap(), json);
        }
        for bad in [
            "",
            " ",
            "{",
            "1 2",
            "[1,]",
            "'x'",
            "nul",
            "\"\\x\"",
            "{\"a\":1}}",
        ] {
            assert!(Json::from_string(bad.to_owned()).is_err(), "{bad:?}");
            assert!(bad.parse::<Json>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn converts_to_and_from_raw_value_and_serializes_as_the_value() {
        let raw = RawValue::from_string("{\"k\":[1,2]}".to_owned()).unwrap();
        let json = Json::from(&*raw);
        assert_eq!(Json::from(raw.clone()), json);
        assert_eq!(json, "{\"k\":[1,2]}");
        // Inside a larger document it is the value, not a string holding it.
        let wrapped = serde_json::to_string(&[&json]).unwrap();
        assert_eq!(wrapped, "[{\"k\":[1,2]}]");
        let back: Vec<Json> = serde_json::from_str(&wrapped).unwrap();
        assert_eq!(back.len(), 1);
        assert_eq!(back[0], json);
        assert_eq!(format!("{json:?}"), "\"{\\\"k\\\":[1,2]}\"");
        assert_eq!(json.to_string(), "{\"k\":[1,2]}");
        assert_eq!(json.into_string(), "{\"k\":[1,2]}");
    }
}
