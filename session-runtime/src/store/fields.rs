//! [`FieldMap`]: the stored fields of one session.

use std::borrow::Cow;
use std::fmt;

use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;
use smallvec::SmallVec;

/// One stored field: its name and its JSON.
type Entry = (Cow<'static, str>, Box<RawValue>);

/// How many fields live inside the map itself before it moves them to a heap block of their
/// own: most sessions hold one or two.
const INLINE: usize = 2;

/// The stored fields of one session: field name → that field's JSON.
///
/// Compact on purpose, because an in-process store keeps one per session: the entries sit in
/// one vector sorted by name (binary search, no hash table), the first two inside the map
/// itself, and a name the runtime knows at compile time (every field of a
/// `#[derive(Session)]` struct) is borrowed, not copied. A one-field session in
/// [`MemoryStore`](super::memory::MemoryStore) is two heap blocks: the shared map and the
/// value's JSON.
///
/// Iteration is in name order (byte order of the UTF-8 names). Building one from pairs
/// ([`FromIterator`], [`Extend`], [`insert`](Self::insert)) keeps the last value of a
/// repeated name, as a `HashMap` does. It serializes as a JSON object of the raw values.
#[derive(Clone, Default)]
pub struct FieldMap {
    entries: SmallVec<[Entry; INLINE]>,
}

impl FieldMap {
    /// An empty map (allocates nothing).
    pub fn new() -> Self {
        FieldMap::default()
    }

    /// An empty map with room for `capacity` fields.
    pub fn with_capacity(capacity: usize) -> Self {
        FieldMap {
            entries: SmallVec::with_capacity(capacity),
        }
    }

    /// How many fields there are.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there is no field.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Makes room for `additional` more fields.
    pub fn reserve(&mut self, additional: usize) {
        self.entries.reserve(additional);
    }

    fn position(&self, name: &str) -> Result<usize, usize> {
        self.entries.binary_search_by(|(n, _)| (**n).cmp(name))
    }

    /// The JSON of field `name`.
    pub fn get(&self, name: &str) -> Option<&RawValue> {
        self.position(name).ok().map(|i| &*self.entries[i].1)
    }

    /// Whether field `name` is present.
    pub fn contains_key(&self, name: &str) -> bool {
        self.position(name).is_ok()
    }

    /// Sets field `name` to `value`; returns the value it replaces. A `&'static str` name
    /// (or a `Cow::Borrowed` one) is kept without a copy.
    pub fn insert(
        &mut self,
        name: impl Into<Cow<'static, str>>,
        value: Box<RawValue>,
    ) -> Option<Box<RawValue>> {
        let name = name.into();
        match self.position(&name) {
            Ok(i) => Some(std::mem::replace(&mut self.entries[i].1, value)),
            Err(i) => {
                self.entries.insert(i, (name, value));
                None
            }
        }
    }

    /// Sets field `name` to a copy of `value`. The name is copied only when the field is new;
    /// an existing field's value is replaced in place.
    pub fn insert_copy(&mut self, name: &str, value: &RawValue) {
        match self.position(name) {
            Ok(i) => self.entries[i].1 = value.to_owned(),
            Err(i) => self
                .entries
                .insert(i, (Cow::Owned(name.to_owned()), value.to_owned())),
        }
    }

    /// Removes field `name`; returns its value.
    pub fn remove(&mut self, name: &str) -> Option<Box<RawValue>> {
        self.position(name).ok().map(|i| self.entries.remove(i).1)
    }

    /// The fields in name order.
    pub fn iter(&self) -> FieldIter<'_> {
        FieldIter(self.entries.iter())
    }

    /// The field names in order.
    pub fn keys(&self) -> impl ExactSizeIterator<Item = &str> + DoubleEndedIterator + '_ {
        self.entries.iter().map(|(n, _)| &**n)
    }
}

/// The JSON of field `name`.
///
/// # Panics
///
/// If there is no such field (as `HashMap` indexing does); [`get`](FieldMap::get) does not.
impl std::ops::Index<&str> for FieldMap {
    type Output = RawValue;

    fn index(&self, name: &str) -> &RawValue {
        match self.get(name) {
            Some(value) => value,
            None => panic!("no session field named {name:?}"),
        }
    }
}

/// Two maps are equal when they hold the same names with the same JSON text.
impl PartialEq for FieldMap {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len()
            && self
                .iter()
                .zip(other.iter())
                .all(|((a, x), (b, y))| a == b && x.get() == y.get())
    }
}

impl Eq for FieldMap {}

impl fmt::Debug for FieldMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.iter().map(|(n, v)| (n, v.get())))
            .finish()
    }
}

impl<N: Into<Cow<'static, str>>> FromIterator<(N, Box<RawValue>)> for FieldMap {
    fn from_iter<I: IntoIterator<Item = (N, Box<RawValue>)>>(iter: I) -> Self {
        let mut map = FieldMap::new();
        map.extend(iter);
        map
    }
}

impl<N: Into<Cow<'static, str>>> Extend<(N, Box<RawValue>)> for FieldMap {
    fn extend<I: IntoIterator<Item = (N, Box<RawValue>)>>(&mut self, iter: I) {
        let old = self.entries.len();
        self.entries
            .extend(iter.into_iter().map(|(n, v)| (n.into(), v)));
        if self.entries[old..].is_empty() {
            return;
        }
        // Newest first, then a stable sort by name: of a repeated name the newest comes first
        // and is the one `dedup_by` keeps (it drops an entry equal to the one kept before it).
        self.entries.reverse();
        self.entries.sort_by(|(a, _), (b, _)| a.cmp(b));
        self.entries.dedup_by(|(a, _), (b, _)| a == b);
    }
}

/// Iterator over a [`FieldMap`]'s fields in name order: `(name, JSON)`.
#[derive(Clone, Debug)]
pub struct FieldIter<'a>(std::slice::Iter<'a, Entry>);

impl<'a> Iterator for FieldIter<'a> {
    type Item = (&'a str, &'a RawValue);

    fn next(&mut self) -> Option<Self::Item> {
        self.0.next().map(|(n, v)| (&**n, &**v))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}

impl DoubleEndedIterator for FieldIter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.0.next_back().map(|(n, v)| (&**n, &**v))
    }
}

impl ExactSizeIterator for FieldIter<'_> {}

impl<'a> IntoIterator for &'a FieldMap {
    type Item = (&'a str, &'a RawValue);
    type IntoIter = FieldIter<'a>;

    fn into_iter(self) -> FieldIter<'a> {
        self.iter()
    }
}

/// Owning iterator over a [`FieldMap`]'s fields in name order.
pub struct FieldIntoIter(smallvec::IntoIter<[Entry; INLINE]>);

impl Iterator for FieldIntoIter {
    type Item = (Cow<'static, str>, Box<RawValue>);

    fn next(&mut self) -> Option<Self::Item> {
        self.0.next()
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}

impl ExactSizeIterator for FieldIntoIter {}

impl fmt::Debug for FieldIntoIter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FieldIntoIter").finish_non_exhaustive()
    }
}

impl IntoIterator for FieldMap {
    type Item = (Cow<'static, str>, Box<RawValue>);
    type IntoIter = FieldIntoIter;

    fn into_iter(self) -> FieldIntoIter {
        FieldIntoIter(self.entries.into_iter())
    }
}

impl Serialize for FieldMap {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.len()))?;
        for (name, value) in self {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for FieldMap {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Fields;

        impl<'de> Visitor<'de> for Fields {
            type Value = FieldMap;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object of session fields")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<FieldMap, A::Error> {
                // Capped: the hint comes from the input.
                let mut entries = Vec::with_capacity(access.size_hint().unwrap_or(0).min(64));
                while let Some(entry) = access.next_entry::<String, Box<RawValue>>()? {
                    entries.push(entry);
                }
                Ok(entries.into_iter().collect())
            }
        }

        deserializer.deserialize_map(Fields)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(json: &str) -> Box<RawValue> {
        RawValue::from_string(json.to_owned()).unwrap()
    }

    fn pairs(map: &FieldMap) -> Vec<(&str, &str)> {
        map.iter().map(|(n, v)| (n, v.get())).collect()
    }

    #[test]
    fn insert_get_remove_keep_names_sorted() {
        let mut map = FieldMap::new();
        assert!(map.is_empty());
        assert!(map.insert("b", raw("1")).is_none());
        assert!(map.insert(String::from("a"), raw("2")).is_none());
        map.insert_copy("c", &raw("3"));
        assert_eq!(pairs(&map), [("a", "2"), ("b", "1"), ("c", "3")]);
        assert_eq!(map.insert("b", raw("4")).unwrap().get(), "1");
        map.insert_copy("a", &raw("5"));
        assert_eq!(map.get("a").unwrap().get(), "5");
        assert_eq!(map["b"].get(), "4");
        assert!(map.get("d").is_none());
        assert!(map.contains_key("c") && !map.contains_key("cc"));
        assert_eq!(map.remove("b").unwrap().get(), "4");
        assert!(map.remove("b").is_none());
        assert_eq!(pairs(&map), [("a", "5"), ("c", "3")]);
        assert_eq!(map.keys().collect::<Vec<_>>(), ["a", "c"]);
        assert_eq!(map.len(), 2);
    }

    #[test]
    fn collecting_keeps_the_last_value_of_a_repeated_name() {
        let map: FieldMap = [("x", "1"), ("a", "2"), ("x", "3"), ("m", "4"), ("a", "5")]
            .into_iter()
            .map(|(n, v)| (n, raw(v)))
            .collect();
        assert_eq!(pairs(&map), [("a", "5"), ("m", "4"), ("x", "3")]);

        let mut more = map.clone();
        more.extend([("m", raw("6")), ("b", raw("7"))]);
        assert_eq!(
            pairs(&more),
            [("a", "5"), ("b", "7"), ("m", "6"), ("x", "3")]
        );
        // Extending with nothing changes nothing.
        more.extend(std::iter::empty::<(String, Box<RawValue>)>());
        assert_eq!(more.len(), 4);
        assert_ne!(map, more);
        assert_eq!(map, map.clone());
    }

    #[test]
    fn many_fields_stay_findable() {
        // Past the inline capacity and in reverse order.
        let map: FieldMap = (0..300)
            .rev()
            .map(|i| (format!("f{i:03}"), raw(&i.to_string())))
            .collect();
        assert_eq!(map.len(), 300);
        for i in 0..300 {
            assert_eq!(map.get(&format!("f{i:03}")).unwrap().get(), i.to_string());
        }
        assert!(map.keys().zip(map.keys().skip(1)).all(|(a, b)| a < b));
    }

    #[test]
    fn round_trips_through_json() {
        let map: FieldMap = [
            ("n", raw("1")),
            ("s", raw("\"x\"")),
            ("o", raw("{\"k\":[1,2]}")),
        ]
        .into_iter()
        .collect();
        let text = serde_json::to_string(&map).unwrap();
        assert_eq!(text, r#"{"n":1,"o":{"k":[1,2]},"s":"x"}"#);
        let back: FieldMap = serde_json::from_str(&text).unwrap();
        assert_eq!(back, map);
        // A repeated name keeps its last value, as when collecting.
        let dup: FieldMap = serde_json::from_str(r#"{"a":1,"a":2}"#).unwrap();
        assert_eq!(pairs(&dup), [("a", "2")]);
        assert!(serde_json::from_str::<FieldMap>("[1]").is_err());
        assert_eq!(
            format!("{map:?}"),
            r#"{"n": "1", "o": "{\"k\":[1,2]}", "s": "\"x\""}"#
        );
    }

    #[test]
    fn owning_iteration_is_in_name_order() {
        let map: FieldMap = [("b", raw("1")), ("a", raw("2"))].into_iter().collect();
        let names: Vec<String> = map.into_iter().map(|(n, _)| n.into_owned()).collect();
        assert_eq!(names, ["a", "b"]);
    }
}
