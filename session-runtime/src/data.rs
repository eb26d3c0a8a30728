//! The contract between `#[derive(Session)]` and the runtime.
//!
//! The derive implements [`SessionData`] for the user's struct and generates a companion
//! accessor type (`<Struct>Fields`) that wraps a [`Tracked<T>`]. Everything here is public
//! because generated code in the user's crate must reach it, but only [`SessionData`],
//! [`SessionView`], [`FieldInfo`] and [`Tracked`]'s documented methods are meant for people.

use crate::store::Json;

/// A struct whose fields are kept in a session, one store field per struct field.
///
/// Implemented by `#[derive(Session)]`; implementing it by hand is possible but unusual.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a session type",
    label = "`{Self}` does not implement `SessionData`",
    note = "add `#[derive(Session)]` to the definition of `{Self}`"
)]
pub trait SessionData: Sized + Send + Sync + 'static {
    /// The generated accessor type that [`Session<Self>`](struct@crate::Session) dereferences to.
    type View: SessionView<Data = Self>;

    /// Every field of the struct, in declaration order. A field's index in this slice is the
    /// index passed to the other methods.
    const FIELDS: &'static [FieldInfo];

    /// A value with every field at its default (`Default::default()` or `#[session(default = ..)]`).
    fn default_session() -> Self;

    /// Replaces field `index` with the value decoded from its stored JSON.
    fn decode_field(&mut self, index: usize, value: &Json) -> Result<(), serde_json::Error>;

    /// Encodes field `index` as JSON for the store.
    fn encode_field(&self, index: usize) -> Result<Json, serde_json::Error>;

    /// Puts field `index` back to its default value.
    fn reset_field(&mut self, index: usize);
}

/// The generated accessor type of a session struct (`Session<Visit>` derefs to `VisitFields`).
pub trait SessionView: Send + Sync + Sized + 'static {
    /// The session struct this view wraps.
    type Data: SessionData<View = Self>;

    /// Wraps tracked data.
    fn from_tracked(tracked: Tracked<Self::Data>) -> Self;
    /// The tracked data, read-only.
    fn tracked(&self) -> &Tracked<Self::Data>;
    /// The tracked data, mutable.
    fn tracked_mut(&mut self) -> &mut Tracked<Self::Data>;
}

/// What the runtime knows about one field of a session struct.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldInfo {
    name: &'static str,
    ident: &'static str,
    skip: bool,
    owner: bool,
}

impl FieldInfo {
    /// A stored field: `name` is the key in the store, `ident` the Rust field name.
    pub const fn new(name: &'static str, ident: &'static str) -> Self {
        FieldInfo {
            name,
            ident,
            skip: false,
            owner: false,
        }
    }

    /// Marks the field as never stored (`#[session(skip)]`).
    #[must_use]
    pub const fn skipped(mut self) -> Self {
        self.skip = true;
        self
    }

    /// Marks the field as the one that identifies the session's user
    /// (`#[session(user_id)]`): its JSON becomes the record's owner, so every session of
    /// that user can be revoked at once.
    #[must_use]
    pub const fn user_id(mut self) -> Self {
        self.owner = true;
        self
    }

    /// Whether the field identifies the session's user.
    pub const fn is_user_id(&self) -> bool {
        self.owner
    }

    /// The key under which the field is stored.
    pub const fn name(&self) -> &'static str {
        self.name
    }

    /// The Rust name of the field.
    pub const fn ident(&self) -> &'static str {
        self.ident
    }

    /// Whether the field is never stored.
    pub const fn is_skipped(&self) -> bool {
        self.skip
    }
}

/// A growable bit set with the first 64 bits inline: one dirty flag per field, any number of
/// fields, no allocation for structs of up to 64 fields.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldSet {
    first: u64,
    rest: Vec<u64>,
}

impl FieldSet {
    /// An empty set.
    pub const fn new() -> Self {
        FieldSet {
            first: 0,
            rest: Vec::new(),
        }
    }

    /// Adds `index`.
    #[inline]
    pub fn insert(&mut self, index: usize) {
        if index < 64 {
            self.first |= 1 << index;
        } else {
            let word = index / 64 - 1;
            if self.rest.len() <= word {
                self.rest.resize(word + 1, 0);
            }
            self.rest[word] |= 1 << (index % 64);
        }
    }

    /// Removes `index`.
    #[inline]
    pub fn remove(&mut self, index: usize) {
        if index < 64 {
            self.first &= !(1 << index);
        } else if let Some(word) = self.rest.get_mut(index / 64 - 1) {
            *word &= !(1 << (index % 64));
        }
    }

    /// Whether `index` is in the set.
    #[inline]
    pub fn contains(&self, index: usize) -> bool {
        if index < 64 {
            self.first & (1 << index) != 0
        } else {
            self.rest
                .get(index / 64 - 1)
                .is_some_and(|w| w & (1 << (index % 64)) != 0)
        }
    }

    /// Whether the set is empty.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.first == 0 && self.rest.iter().all(|w| *w == 0)
    }

    /// Removes every index.
    pub fn clear(&mut self) {
        self.first = 0;
        self.rest.clear();
    }

    /// The indices in the set, ascending.
    pub fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        std::iter::once(self.first)
            .chain(self.rest.iter().copied())
            .enumerate()
            .flat_map(|(w, mut bits)| {
                std::iter::from_fn(move || {
                    if bits == 0 {
                        return None;
                    }
                    let bit = bits.trailing_zeros() as usize;
                    bits &= bits - 1;
                    Some(w * 64 + bit)
                })
            })
    }
}

/// Session data plus one dirty flag per field.
///
/// Generated accessors go through this type: reads use [`Tracked::data`], which marks nothing;
/// writes use the hidden `__write`/`__reset` methods, which mark exactly the field they touch.
#[derive(Debug)]
pub struct Tracked<T> {
    data: T,
    /// Fields written since load.
    dirty: FieldSet,
    /// Of the dirty fields, those whose last change was a reset to the default: they are
    /// removed from the store instead of written.
    reset: FieldSet,
}

impl<T> Tracked<T> {
    pub(crate) fn new(data: T) -> Self {
        Tracked {
            data,
            dirty: FieldSet::new(),
            reset: FieldSet::new(),
        }
    }

    /// The data, read-only. Reading never marks anything dirty.
    #[inline]
    pub fn data(&self) -> &T {
        &self.data
    }

    /// Whether field `index` was changed in this request.
    #[inline]
    pub fn is_dirty(&self, index: usize) -> bool {
        self.dirty.contains(index)
    }

    /// Whether any field was changed in this request.
    #[inline]
    pub fn any_dirty(&self) -> bool {
        !self.dirty.is_empty()
    }

    /// Marks field `index` as written and returns the data for writing.
    #[doc(hidden)]
    #[inline]
    pub fn __write(&mut self, index: usize) -> &mut T {
        self.dirty.insert(index);
        self.reset.remove(index);
        &mut self.data
    }

    /// Marks field `index` as reset to its default (removed from the store) and returns the
    /// data for writing.
    #[doc(hidden)]
    #[inline]
    pub fn __reset(&mut self, index: usize) -> &mut T {
        self.dirty.insert(index);
        self.reset.insert(index);
        &mut self.data
    }

    pub(crate) fn data_mut_untracked(&mut self) -> &mut T {
        &mut self.data
    }

    pub(crate) fn dirty(&self) -> &FieldSet {
        &self.dirty
    }

    pub(crate) fn is_reset(&self, index: usize) -> bool {
        self.reset.contains(index)
    }

    pub(crate) fn mark_all(&mut self, count: usize) {
        for i in 0..count {
            self.dirty.insert(i);
        }
        self.reset.clear();
    }

    pub(crate) fn clear_marks(&mut self) {
        self.dirty.clear();
        self.reset.clear();
    }
}

/// Encodes one field value as JSON (used by generated code): [`Json::encode`].
#[doc(hidden)]
pub fn encode_value<V: serde::Serialize + ?Sized>(value: &V) -> Result<Json, serde_json::Error> {
    Json::encode(value)
}

/// Decodes one field value from JSON (used by generated code): [`Json::decode`].
#[doc(hidden)]
pub fn decode_value<V: serde::de::DeserializeOwned>(value: &Json) -> Result<V, serde_json::Error> {
    value.decode()
}

#[cfg(test)]
mod tests {
    use super::FieldSet;

    #[test]
    fn field_set_handles_more_than_64_fields() {
        let mut s = FieldSet::new();
        assert!(s.is_empty());
        for i in [0, 5, 63, 64, 130, 199] {
            s.insert(i);
        }
        assert!(s.contains(130) && s.contains(63) && !s.contains(1) && !s.contains(500));
        assert_eq!(s.iter().collect::<Vec<_>>(), vec![0, 5, 63, 64, 130, 199]);
        s.remove(130);
        s.remove(1000);
        assert!(!s.contains(130));
        assert_eq!(s.iter().count(), 5);
        s.clear();
        assert!(s.is_empty());
    }
}
