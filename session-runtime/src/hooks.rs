//! User hooks: reject a loaded session (koa's `valid`), adjust what is about to be saved
//! (koa's `beforeSave`), and generate ids (koa's `genid`).

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use crate::state::put;
use crate::store::{FieldMap, Json, UnixMillis};

pub(crate) type Validator =
    Arc<dyn Fn(&SessionInfo<'_>, &http::request::Parts) -> bool + Send + Sync>;
pub(crate) type BeforeSave = Arc<dyn Fn(&mut PendingSave<'_>) + Send + Sync>;
pub(crate) type IdGenerator = Arc<dyn Fn() -> String + Send + Sync>;

/// A loaded session as a validator sees it: its times and its stored fields.
pub struct SessionInfo<'a> {
    pub(crate) fields: &'a FieldMap,
    pub(crate) created_at: UnixMillis,
    pub(crate) expires_at: UnixMillis,
}

impl SessionInfo<'_> {
    /// When the session was created (ms since the Unix epoch).
    pub fn created_at(&self) -> UnixMillis {
        self.created_at
    }

    /// When it expires (ms since the Unix epoch).
    pub fn expires_at(&self) -> UnixMillis {
        self.expires_at
    }

    /// A stored field decoded as `V`, or `None` if absent or not decodable.
    pub fn field<V: serde::de::DeserializeOwned>(&self, name: &str) -> Option<V> {
        self.fields.get(name).and_then(|v| v.decode().ok())
    }

    /// A stored field's JSON text.
    pub fn raw(&self, name: &str) -> Option<&str> {
        self.fields.get(name).map(Json::as_str)
    }
}

impl fmt::Debug for SessionInfo<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionInfo")
            .field("fields", &self.fields.keys().collect::<Vec<_>>())
            .field("created_at", &self.created_at)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// A change about to be saved, as `before_save` sees it: the fields that will be written or
/// removed. The hook may add or remove fields; it runs only when a write is about to happen.
pub struct PendingSave<'a> {
    pub(crate) changes: &'a mut crate::state::Changes,
    pub(crate) is_new: bool,
}

impl PendingSave<'_> {
    /// Whether this save creates the session.
    pub fn is_new(&self) -> bool {
        self.is_new
    }

    /// The names of the fields being written or removed.
    pub fn changed(&self) -> impl Iterator<Item = &str> {
        self.changes.iter().map(|(n, _)| n.as_ref())
    }

    /// Writes `value` to field `name` as part of this save.
    pub fn set<V: serde::Serialize + ?Sized>(
        &mut self,
        name: &str,
        value: &V,
    ) -> Result<(), serde_json::Error> {
        let v = Json::encode(value)?;
        put(self.changes, Cow::Owned(name.to_owned()), Some(v));
        Ok(())
    }

    /// Removes field `name` as part of this save.
    pub fn remove(&mut self, name: &str) {
        put(self.changes, Cow::Owned(name.to_owned()), None);
    }
}

impl fmt::Debug for PendingSave<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PendingSave")
            .field("changed", &self.changed().collect::<Vec<_>>())
            .field("is_new", &self.is_new)
            .finish()
    }
}
