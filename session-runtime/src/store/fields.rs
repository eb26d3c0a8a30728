//! [`FieldMap`]: the stored fields of one session.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;

use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use smallvec::SmallVec;

use super::Json;

/// One stored field: its name and its JSON.
type Entry = (Cow<'static, str>, Json);

/// The hash table of a large map. Seeded per process; a lookup is a few instructions.
type Table = HashMap<Cow<'static, str>, Json, foldhash::fast::RandomState>;

/// How many fields live inside the map itself before it moves them to a heap block of their
/// own: most sessions hold one or two.
const INLINE: usize = 2;
/// Up to this many fields a lookup is a scan of one short vector; past it the map becomes a
/// hash table (a scan, or a binary search, of 100 names costs several times a hash lookup).
const SMALL: usize = 8;

/// The stored fields of one session: field name → that field's JSON.
///
/// Compact on purpose, because an in-process store keeps one per session: up to eight fields
/// sit in one short vector (the first two inside the map itself) and a lookup scans it; a
/// larger map is a hash table. A name the runtime knows at compile time (every field of a
/// `#[derive(Session)]` struct) is borrowed, not copied, and a value of up to 24 bytes of
/// JSON is kept inside its entry ([`Json`]). A session of one or two small fields in
/// [`MemoryStore`](super::memory::MemoryStore) is one heap block: the shared map.
///
/// Iteration order is unspecified (as for a `HashMap`). Building one from pairs
/// ([`FromIterator`], [`Extend`], [`insert`](Self::insert)) keeps the last value of a repeated
/// name. It serializes as a JSON object of the raw values.
#[derive(Clone)]
pub struct FieldMap(Repr);

#[derive(Clone)]
enum Repr {
    Small(SmallVec<[Entry; INLINE]>),
    Large(Table),
}

impl Default for FieldMap {
    fn default() -> Self {
        FieldMap(Repr::Small(SmallVec::new()))
    }
}

/// Whether two field names are equal. The names of a `#[derive(Session)]` struct are
/// `&'static str`s that the runtime passes around unchanged, so the usual match is the very
/// same string, found without comparing bytes.
pub(crate) fn same_name(a: &str, b: &str) -> bool {
    a.len() == b.len() && (std::ptr::eq(a.as_ptr(), b.as_ptr()) || a == b)
}

fn table(capacity: usize) -> Table {
    Table::with_capacity_and_hasher(capacity, Default::default())
}

impl FieldMap {
    /// An empty map (allocates nothing).
    pub fn new() -> Self {
        FieldMap::default()
    }

    /// An empty map with room for `capacity` fields.
    pub fn with_capacity(capacity: usize) -> Self {
        if capacity > SMALL {
            FieldMap(Repr::Large(table(capacity)))
        } else {
            FieldMap(Repr::Small(SmallVec::with_capacity(capacity)))
        }
    }

    /// How many fields there are.
    pub fn len(&self) -> usize {
        match &self.0 {
            Repr::Small(entries) => entries.len(),
            Repr::Large(table) => table.len(),
        }
    }

    /// Whether there is no field.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Makes room for `additional` more fields.
    pub fn reserve(&mut self, additional: usize) {
        match &mut self.0 {
            Repr::Small(entries) if entries.len() + additional > SMALL => {
                self.grow(additional);
            }
            Repr::Small(entries) => entries.reserve(additional),
            Repr::Large(table) => table.reserve(additional),
        }
    }

    /// Turns a small map into a table with room for `additional` more fields.
    fn grow(&mut self, additional: usize) {
        if let Repr::Small(entries) = &mut self.0 {
            let mut large = table(entries.len() + additional);
            large.extend(entries.drain(..));
            self.0 = Repr::Large(large);
        }
    }

    /// The JSON of field `name`.
    pub fn get(&self, name: &str) -> Option<&Json> {
        match &self.0 {
            Repr::Small(entries) => entries
                .iter()
                .find(|(n, _)| same_name(n, name))
                .map(|(_, v)| v),
            Repr::Large(table) => table.get(name),
        }
    }

    /// Whether field `name` is present.
    pub fn contains_key(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    fn get_mut(&mut self, name: &str) -> Option<&mut Json> {
        match &mut self.0 {
            Repr::Small(entries) => entries
                .iter_mut()
                .find(|(n, _)| same_name(n, name))
                .map(|(_, v)| v),
            Repr::Large(table) => table.get_mut(name),
        }
    }

    /// Sets field `name` to `value`; returns the value it replaces. A `&'static str` name
    /// (or a `Cow::Borrowed` one) is kept without a copy.
    pub fn insert(&mut self, name: impl Into<Cow<'static, str>>, value: Json) -> Option<Json> {
        let name = name.into();
        if let Some(slot) = self.get_mut(&name) {
            return Some(std::mem::replace(slot, value));
        }
        self.push_new(name, value);
        None
    }

    /// Adds a field known to be absent, turning a full small map into a table first.
    fn push_new(&mut self, name: Cow<'static, str>, value: Json) {
        if self.len() == SMALL {
            self.grow(SMALL);
        }
        match &mut self.0 {
            Repr::Small(entries) => entries.push((name, value)),
            Repr::Large(table) => {
                table.insert(name, value);
            }
        }
    }

    /// Sets field `name` to a copy of `value`. The name is copied only when the field is new;
    /// an existing field's value is replaced in place.
    pub fn insert_copy(&mut self, name: &str, value: &Json) {
        match self.get_mut(name) {
            Some(slot) => slot.clone_from(value),
            None => self.push_new(Cow::Owned(name.to_owned()), value.clone()),
        }
    }

    /// Removes field `name`; returns its value.
    pub fn remove(&mut self, name: &str) -> Option<Json> {
        match &mut self.0 {
            Repr::Small(entries) => {
                let i = entries.iter().position(|(n, _)| same_name(n, name))?;
                Some(entries.remove(i).1)
            }
            Repr::Large(table) => table.remove(name),
        }
    }

    /// The fields, in no particular order.
    pub fn iter(&self) -> FieldIter<'_> {
        FieldIter(match &self.0 {
            Repr::Small(entries) => IterRepr::Small(entries.iter()),
            Repr::Large(table) => IterRepr::Large(table.iter()),
        })
    }

    /// The field names, in no particular order.
    pub fn keys(&self) -> impl ExactSizeIterator<Item = &str> + '_ {
        self.iter().map(|(n, _)| n)
    }
}

/// The JSON of field `name`.
///
/// # Panics
///
/// If there is no such field (as `HashMap` indexing does); [`get`](FieldMap::get) does not.
impl std::ops::Index<&str> for FieldMap {
    type Output = Json;

    fn index(&self, name: &str) -> &Json {
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
                .all(|(name, value)| other.get(name) == Some(value))
    }
}

impl Eq for FieldMap {}

impl fmt::Debug for FieldMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.iter().map(|(n, v)| (n, v.as_str())))
            .finish()
    }
}

impl<N: Into<Cow<'static, str>>> FromIterator<(N, Json)> for FieldMap {
    fn from_iter<I: IntoIterator<Item = (N, Json)>>(iter: I) -> Self {
        let iter = iter.into_iter();
        let mut map = FieldMap::with_capacity(iter.size_hint().0);
        map.extend(iter);
        map
    }
}

impl<N: Into<Cow<'static, str>>> Extend<(N, Json)> for FieldMap {
    fn extend<I: IntoIterator<Item = (N, Json)>>(&mut self, iter: I) {
        for (name, value) in iter {
            self.insert(name, value);
        }
    }
}

/// Iterator over a [`FieldMap`]'s fields: `(name, JSON)`.
#[derive(Clone, Debug)]
pub struct FieldIter<'a>(IterRepr<'a>);

#[derive(Clone, Debug)]
enum IterRepr<'a> {
    Small(std::slice::Iter<'a, Entry>),
    Large(std::collections::hash_map::Iter<'a, Cow<'static, str>, Json>),
}

impl<'a> Iterator for FieldIter<'a> {
    type Item = (&'a str, &'a Json);

    fn next(&mut self) -> Option<Self::Item> {
        match &mut self.0 {
            IterRepr::Small(it) => it.next().map(|(n, v)| (&**n, v)),
            IterRepr::Large(it) => it.next().map(|(n, v)| (&**n, v)),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match &self.0 {
            IterRepr::Small(it) => it.size_hint(),
            IterRepr::Large(it) => it.size_hint(),
        }
    }
}

impl ExactSizeIterator for FieldIter<'_> {}

impl<'a> IntoIterator for &'a FieldMap {
    type Item = (&'a str, &'a Json);
    type IntoIter = FieldIter<'a>;

    fn into_iter(self) -> FieldIter<'a> {
        self.iter()
    }
}

/// Owning iterator over a [`FieldMap`]'s fields.
pub struct FieldIntoIter(IntoIterRepr);

enum IntoIterRepr {
    Small(smallvec::IntoIter<[Entry; INLINE]>),
    Large(std::collections::hash_map::IntoIter<Cow<'static, str>, Json>),
}

impl Iterator for FieldIntoIter {
    type Item = (Cow<'static, str>, Json);

    fn next(&mut self) -> Option<Self::Item> {
        match &mut self.0 {
            IntoIterRepr::Small(it) => it.next(),
            IntoIterRepr::Large(it) => it.next(),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match &self.0 {
            IntoIterRepr::Small(it) => it.size_hint(),
            IntoIterRepr::Large(it) => it.size_hint(),
        }
    }
}

impl ExactSizeIterator for FieldIntoIter {}

impl fmt::Debug for FieldIntoIter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FieldIntoIter").finish_non_exhaustive()
    }
}

impl IntoIterator for FieldMap {
    type Item = (Cow<'static, str>, Json);
    type IntoIter = FieldIntoIter;

    fn into_iter(self) -> FieldIntoIter {
        FieldIntoIter(match self.0 {
            Repr::Small(entries) => IntoIterRepr::Small(entries.into_iter()),
            Repr::Large(table) => IntoIterRepr::Large(table.into_iter()),
        })
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
                let mut map = FieldMap::with_capacity(access.size_hint().unwrap_or(0).min(64));
                while let Some((name, value)) = access.next_entry::<String, Json>()? {
                    map.insert(name, value);
                }
                Ok(map)
            }
        }

        deserializer.deserialize_map(Fields)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_by_content_whatever_their_address() {
        let owned = String::from("count");
        assert!(same_name("count", "count"));
        assert!(same_name(&owned, "count"));
        assert!(!same_name("count", "count2"));
        assert!(!same_name("count", "cOunt"));
        // Same address, shorter length: a prefix is not the same name.
        assert!(!same_name(&owned[..4], &owned));
        assert!(same_name("", ""));
        let mut map = FieldMap::new();
        map.insert(owned.clone(), raw("1"));
        assert_eq!(map.get("count").map(Json::as_str), Some("1"));
        assert!(map.get("coun").is_none());
        assert_eq!(
            map.remove("count").map(|v| v.as_str().to_owned()),
            Some("1".into())
        );
    }

    fn raw(json: &str) -> Json {
        Json::from_string(json.to_owned()).unwrap()
    }

    /// The fields as sorted `(name, JSON)` pairs.
    fn pairs(map: &FieldMap) -> Vec<(&str, &str)> {
        let mut pairs: Vec<_> = map.iter().map(|(n, v)| (n, v.as_str())).collect();
        pairs.sort();
        pairs
    }

    #[test]
    fn insert_get_remove() {
        let mut map = FieldMap::new();
        assert!(map.is_empty());
        assert!(map.insert("b", raw("1")).is_none());
        assert!(map.insert(String::from("a"), raw("2")).is_none());
        map.insert_copy("c", &raw("3"));
        assert_eq!(pairs(&map), [("a", "2"), ("b", "1"), ("c", "3")]);
        assert_eq!(map.insert("b", raw("4")).unwrap().as_str(), "1");
        map.insert_copy("a", &raw("5"));
        assert_eq!(map.get("a").unwrap().as_str(), "5");
        assert_eq!(map["b"].as_str(), "4");
        assert!(map.get("d").is_none());
        assert!(map.contains_key("c") && !map.contains_key("cc"));
        assert_eq!(map.remove("b").unwrap().as_str(), "4");
        assert!(map.remove("b").is_none());
        assert_eq!(pairs(&map), [("a", "5"), ("c", "3")]);
        let mut keys: Vec<_> = map.keys().collect();
        keys.sort();
        assert_eq!(keys, ["a", "c"]);
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
        assert_ne!(map, more);
        assert_eq!(map, map.clone());
    }

    #[test]
    fn a_growing_map_keeps_every_field_and_equality_ignores_order() {
        let names: Vec<String> = (0..300).map(|i| format!("f{i:03}")).collect();
        let mut grown = FieldMap::new();
        let mut last = FieldMap::new();
        for (i, name) in names.iter().enumerate() {
            grown.insert(name.clone(), raw(&i.to_string()));
            assert_eq!(grown.len(), i + 1, "past the small size too");
            last = grown.clone();
        }
        // Built in the other order, through `FromIterator`'s sized path.
        let reversed: FieldMap = names
            .iter()
            .enumerate()
            .rev()
            .map(|(i, n)| (n.clone(), raw(&i.to_string())))
            .collect();
        for (i, name) in names.iter().enumerate() {
            assert_eq!(grown[name.as_str()].as_str(), i.to_string());
            assert_eq!(reversed[name.as_str()].as_str(), i.to_string());
        }
        assert_eq!(grown, reversed);
        assert_eq!(grown, last);
        assert_eq!(grown.iter().len(), 300);
        for name in &names[..295] {
            assert!(grown.remove(name).is_some());
        }
        assert_eq!(grown.len(), 5);
        assert!(grown.contains_key("f299") && !grown.contains_key("f000"));
        // Reserving past the small size keeps what is there.
        let mut small: FieldMap = [("a", raw("1"))].into_iter().collect();
        small.reserve(20);
        assert_eq!(pairs(&small), [("a", "1")]);
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
        let parsed: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            parsed,
            serde_json::json!({"n": 1, "o": {"k": [1, 2]}, "s": "x"})
        );
        let back: FieldMap = serde_json::from_str(&text).unwrap();
        assert_eq!(back, map);
        // A repeated name keeps its last value, as when collecting.
        let dup: FieldMap = serde_json::from_str(r#"{"a":1,"a":2}"#).unwrap();
        assert_eq!(pairs(&dup), [("a", "2")]);
        assert!(serde_json::from_str::<FieldMap>("[1]").is_err());
        let one: FieldMap = [("n", raw("1"))].into_iter().collect();
        assert_eq!(format!("{one:?}"), r#"{"n": "1"}"#);
    }

    #[test]
    fn owning_iteration_yields_every_field() {
        for n in [2, 20] {
            let map: FieldMap = (0..n).map(|i| (format!("f{i}"), raw("0"))).collect();
            let mut names: Vec<String> = map.into_iter().map(|(n, _)| n.into_owned()).collect();
            names.sort();
            let mut expected: Vec<String> = (0..n).map(|i| format!("f{i}")).collect();
            expected.sort();
            assert_eq!(names, expected);
        }
    }
}
