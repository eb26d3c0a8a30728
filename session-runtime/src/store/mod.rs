//! The storage contract every backend implements, and the backends.
//!
//! A store keeps records keyed by a [`SessionKey`] (a hash of the session id, so a dump of
//! the store yields no usable cookie). A record is a map from stored field name to that
//! field's JSON, plus its creation and expiry times. The runtime never rewrites a whole
//! record to change a field: it sends a [`Patch`] naming only the dirty fields.
//!
//! # What a store must guarantee
//!
//! - [`load`](SessionStore::load) never returns a record whose `expires_at` is at or before
//!   `now`, even when it has not been purged yet.
//! - [`create`](SessionStore::create) is an atomic insert-if-absent: it never overwrites an
//!   existing record (live or expired-but-not-purged) and reports [`Created::Collision`] instead.
//! - [`patch`](SessionStore::patch) and [`touch`](SessionStore::touch) are update-only and
//!   atomic per record: they never recreate a record that was deleted or has expired, and
//!   report [`Patched::Gone`]. Fields not named in the patch are left untouched, so two
//!   concurrent patches to different fields both survive.
//! - [`delete_by_owner`](SessionStore::delete_by_owner) removes every record whose `owner`
//!   matches (revoking all sessions of one user).
//! - Errors are typed ([`StoreError`]); a store that cannot reach its engine returns
//!   [`StoreError::Unavailable`].
//!
//! A store may file records under a prefix of at least 16 bytes of the key instead of all 32
//! (the memory store does, to keep a slot to one cache line): keys that share it are then one
//! key to that store, so a create under the second is a collision, and the runtime draws
//! another id. A 128-bit prefix of SHA-256 keeps a forged cookie as hopeless as guessing a
//! 128-bit id. The SQL and Redis stores keep the whole key.

use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use smallvec::SmallVec;

use crate::id::SessionKey;

pub(crate) use fields::same_name;
pub use fields::{FieldIntoIter, FieldIter, FieldMap};
pub use json::Json;

mod fields;
mod json;
#[cfg(feature = "memory")]
pub mod memory;
#[cfg(feature = "mysql")]
pub mod mysql;
#[cfg(feature = "postgres")]
pub mod postgres;
#[cfg(feature = "redis")]
pub mod redis;
#[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
mod sql;
#[cfg(feature = "sqlite")]
pub mod sqlite;

/// Milliseconds since the Unix epoch: the unit of every time a store sees.
pub type UnixMillis = i64;

/// One change to a stored field, by name: `Some` sets the field to that JSON, `None` removes
/// it. ([`SyncSessionStore::set_now`] gets only sets; there `None` is a slot whose value was
/// already taken, and is skipped.)
pub type FieldChange = (Cow<'static, str>, Option<Json>);

/// One session as a store keeps it.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Record {
    /// The stored fields. Shared so that a load from an in-process store is cheap.
    pub fields: Arc<FieldMap>,
    /// When the session was created.
    pub created_at: UnixMillis,
    /// When the session stops being valid; loads at or after this time see nothing.
    pub expires_at: UnixMillis,
    /// Who the session belongs to (the JSON of the field marked `#[session(user_id)]`), so
    /// that every session of one user can be revoked at once. Stores index it.
    pub owner: Option<String>,
}

impl Record {
    /// A record with these fields and times and no owner.
    pub fn new(fields: FieldMap, created_at: UnixMillis, expires_at: UnixMillis) -> Self {
        Record {
            fields: Arc::new(fields),
            created_at,
            expires_at,
            owner: None,
        }
    }

    /// Sets the owner.
    #[must_use]
    pub fn with_owner(mut self, owner: Option<String>) -> Self {
        self.owner = owner;
        self
    }
}

/// A per-field change to one record, applied atomically and only if the record still exists.
///
/// On the request path the field lists borrow the runtime's own change list (building a
/// patch allocates nothing); the builder methods make owned ones.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Patch<'a> {
    /// Fields to set (insert or overwrite).
    pub set: PatchList<'a, (&'a str, &'a Json)>,
    /// Fields to remove.
    pub remove: PatchList<'a, &'a str>,
    /// A new expiry, or `None` to keep the current one.
    pub expires_at: Option<UnixMillis>,
    /// A new owner (`Some(None)` clears it), or `None` to keep the current one.
    pub owner: Option<Option<&'a str>>,
}

/// One of the field lists of a [`Patch`]: borrowed or owned, used as a slice.
///
/// Unlike `Cow<[T]>` it is covariant, so a `&Patch<'long>` can be kept where a
/// `&Patch<'short>` is expected (a wrapper store recording the patches it sees, say).
#[derive(Clone)]
pub struct PatchList<'a, T>(ListItems<'a, T>);

#[derive(Clone)]
enum ListItems<'a, T> {
    Borrowed(&'a [T]),
    Owned(Vec<T>),
}

impl<'a, T> PatchList<'a, T> {
    /// A list borrowing `items`.
    pub fn borrowed(items: &'a [T]) -> Self {
        PatchList(ListItems::Borrowed(items))
    }

    fn push(&mut self, item: T)
    where
        T: Clone,
    {
        if let ListItems::Borrowed(items) = self.0 {
            self.0 = ListItems::Owned(items.to_vec());
        }
        if let ListItems::Owned(items) = &mut self.0 {
            items.push(item);
        }
    }
}

impl<T> Default for PatchList<'_, T> {
    fn default() -> Self {
        PatchList(ListItems::Borrowed(&[]))
    }
}

impl<T> std::ops::Deref for PatchList<'_, T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        match &self.0 {
            ListItems::Borrowed(items) => items,
            ListItems::Owned(items) => items,
        }
    }
}

impl<'l, T> IntoIterator for &'l PatchList<'_, T> {
    type Item = &'l T;
    type IntoIter = std::slice::Iter<'l, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl<T: fmt::Debug> fmt::Debug for PatchList<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<'a> Patch<'a> {
    /// An empty patch.
    pub fn new() -> Self {
        Patch::default()
    }

    /// Adds a field to set.
    #[must_use]
    pub fn set(mut self, name: &'a str, value: &'a Json) -> Self {
        self.set.push((name, value));
        self
    }

    /// Adds a field to remove.
    #[must_use]
    pub fn remove(mut self, name: &'a str) -> Self {
        self.remove.push(name);
        self
    }

    /// Sets a new expiry.
    #[must_use]
    pub fn expires_at(mut self, at: UnixMillis) -> Self {
        self.expires_at = Some(at);
        self
    }

    /// Sets (or, with `None`, clears) the owner.
    #[must_use]
    pub fn owner(mut self, owner: Option<&'a str>) -> Self {
        self.owner = Some(owner);
        self
    }
}

/// What [`SessionStore::create`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Created {
    /// The record was inserted.
    Inserted,
    /// A record with that key already exists; nothing was written.
    Collision,
}

/// What [`SessionStore::patch`] or [`SessionStore::touch`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Patched {
    /// The record was updated.
    Applied,
    /// The record no longer exists (deleted or expired); nothing was written.
    Gone,
}

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The engine could not be reached (connection refused, pool timed out, server restarting).
    /// The layer answers 503 on load; the same cookie works again once the engine is back.
    #[error("session store unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The engine answered with an error.
    #[error("session store backend error")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// A stored record could not be read back (not a JSON object, bad column type, ...).
    #[error("stored session record is corrupt: {reason}")]
    Corrupt {
        /// What was wrong with it.
        reason: &'static str,
    },
}

/// A place to keep sessions. See the [module docs](self) for the guarantees an
/// implementation must give; the conformance suite in `tests/` checks them.
pub trait SessionStore: Send + Sync + 'static {
    /// Loads a live record, or `None` if there is none or it has expired by `now`.
    fn load(
        &self,
        key: &SessionKey,
        now: UnixMillis,
    ) -> impl Future<Output = Result<Option<Record>, StoreError>> + Send;

    /// Inserts `record` under `key` unless a record with that key exists.
    fn create(
        &self,
        key: &SessionKey,
        record: &Record,
    ) -> impl Future<Output = Result<Created, StoreError>> + Send;

    /// Applies `patch` to the record under `key` if it exists and is live at `now`.
    fn patch(
        &self,
        key: &SessionKey,
        patch: &Patch<'_>,
        now: UnixMillis,
    ) -> impl Future<Output = Result<Patched, StoreError>> + Send;

    /// Moves the expiry of a live record to `expires_at` without rewriting its data.
    fn touch(
        &self,
        key: &SessionKey,
        expires_at: UnixMillis,
        now: UnixMillis,
    ) -> impl Future<Output = Result<Patched, StoreError>> + Send;

    /// Deletes the record under `key`, if any.
    fn delete(&self, key: &SessionKey) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Deletes every record that has expired by `now`; returns how many.
    fn delete_expired(
        &self,
        now: UnixMillis,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Deletes every record whose owner is `owner` (live or expired); returns how many.
    fn delete_by_owner(&self, owner: &str) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// The store's synchronous face, if its operations never wait (an in-process store such
    /// as [`MemoryStore`](memory::MemoryStore)). The runtime then calls it directly on the
    /// request path instead of awaiting a boxed future. The default is `None`.
    fn as_sync(&self) -> Option<&dyn SyncSessionStore> {
        None
    }
}

/// The operations of a [`SessionStore`] whose work never waits on I/O, callable without a
/// future. Exposed through [`SessionStore::as_sync`].
///
/// Each method must behave exactly like its [`SessionStore`] counterpart and give the same
/// guarantees (see the [module docs](self)); the runtime uses whichever it has.
pub trait SyncSessionStore: Send + Sync {
    /// [`SessionStore::load`], without a future.
    fn load_now(&self, key: &SessionKey, now: UnixMillis) -> Result<Option<Record>, StoreError>;
    /// [`SessionStore::create`], without a future.
    fn create_now(&self, key: &SessionKey, record: &Record) -> Result<Created, StoreError>;
    /// [`SessionStore::patch`], without a future.
    fn patch_now(
        &self,
        key: &SessionKey,
        patch: &Patch<'_>,
        now: UnixMillis,
    ) -> Result<Patched, StoreError>;
    /// [`SessionStore::touch`], without a future.
    fn touch_now(
        &self,
        key: &SessionKey,
        expires_at: UnixMillis,
        now: UnixMillis,
    ) -> Result<Patched, StoreError>;
    /// [`SessionStore::delete`], without a future.
    fn delete_now(&self, key: &SessionKey) -> Result<(), StoreError>;

    /// [`patch_now`](Self::patch_now) of a patch that only sets fields (and moves the expiry
    /// to `expires_at`, if given), with the values handed over: a store that keeps values in
    /// memory may take each value it stores out of its slot (leaving `None`) instead of
    /// copying it. Slots that are already `None` are skipped. The caller drops the slots
    /// afterwards, whatever the outcome, so a failing store may leave them taken or not.
    ///
    /// The runtime calls it for the common write (fields set on an existing session). The
    /// default borrows the values for [`patch_now`](Self::patch_now).
    fn set_now(
        &self,
        key: &SessionKey,
        fields: &mut [FieldChange],
        expires_at: Option<UnixMillis>,
        now: UnixMillis,
    ) -> Result<Patched, StoreError> {
        let (set, _) = patch_lists(fields);
        let mut patch = Patch::new();
        patch.set = PatchList::borrowed(&set);
        patch.expires_at = expires_at;
        self.patch_now(key, &patch, now)
    }
}

/// The field lists of a patch borrowed from a change list (`Some` sets a field, `None`
/// removes it): on the stack for up to four of each.
#[allow(clippy::type_complexity)]
pub(crate) fn patch_lists(
    changes: &[FieldChange],
) -> (SmallVec<[(&str, &Json); 4]>, SmallVec<[&str; 4]>) {
    let mut set = SmallVec::new();
    let mut remove = SmallVec::new();
    for (name, change) in changes {
        match change {
            Some(v) => set.push((&**name, v)),
            None => remove.push(&**name),
        }
    }
    (set, remove)
}

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Object-safe mirror of [`SessionStore`], so the per-request state need not be generic.
pub(crate) trait DynStore: Send + Sync + 'static {
    fn load<'a>(
        &'a self,
        key: &'a SessionKey,
        now: UnixMillis,
    ) -> BoxFuture<'a, Result<Option<Record>, StoreError>>;
    fn create<'a>(
        &'a self,
        key: &'a SessionKey,
        record: &'a Record,
    ) -> BoxFuture<'a, Result<Created, StoreError>>;
    fn patch<'a>(
        &'a self,
        key: &'a SessionKey,
        patch: &'a Patch<'a>,
        now: UnixMillis,
    ) -> BoxFuture<'a, Result<Patched, StoreError>>;
    fn touch<'a>(
        &'a self,
        key: &'a SessionKey,
        expires_at: UnixMillis,
        now: UnixMillis,
    ) -> BoxFuture<'a, Result<Patched, StoreError>>;
    fn delete<'a>(&'a self, key: &'a SessionKey) -> BoxFuture<'a, Result<(), StoreError>>;
    fn delete_by_owner<'a>(&'a self, owner: &'a str) -> BoxFuture<'a, Result<u64, StoreError>>;
    fn sync(&self) -> Option<&dyn SyncSessionStore>;
}

impl<S: SessionStore> DynStore for S {
    fn load<'a>(
        &'a self,
        key: &'a SessionKey,
        now: UnixMillis,
    ) -> BoxFuture<'a, Result<Option<Record>, StoreError>> {
        Box::pin(SessionStore::load(self, key, now))
    }
    fn create<'a>(
        &'a self,
        key: &'a SessionKey,
        record: &'a Record,
    ) -> BoxFuture<'a, Result<Created, StoreError>> {
        Box::pin(SessionStore::create(self, key, record))
    }
    fn patch<'a>(
        &'a self,
        key: &'a SessionKey,
        patch: &'a Patch<'a>,
        now: UnixMillis,
    ) -> BoxFuture<'a, Result<Patched, StoreError>> {
        Box::pin(SessionStore::patch(self, key, patch, now))
    }
    fn touch<'a>(
        &'a self,
        key: &'a SessionKey,
        expires_at: UnixMillis,
        now: UnixMillis,
    ) -> BoxFuture<'a, Result<Patched, StoreError>> {
        Box::pin(SessionStore::touch(self, key, expires_at, now))
    }
    fn delete<'a>(&'a self, key: &'a SessionKey) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(SessionStore::delete(self, key))
    }
    fn delete_by_owner<'a>(&'a self, owner: &'a str) -> BoxFuture<'a, Result<u64, StoreError>> {
        Box::pin(SessionStore::delete_by_owner(self, owner))
    }
    fn sync(&self) -> Option<&dyn SyncSessionStore> {
        self.as_sync()
    }
}

impl dyn DynStore {
    // The commit path: a synchronous store is called directly, any other is awaited. (The
    // load path makes the same choice in `RequestSession::loaded_state`.)
    pub(crate) async fn create_any(
        &self,
        key: &SessionKey,
        record: &Record,
    ) -> Result<Created, StoreError> {
        match self.sync() {
            Some(store) => store.create_now(key, record),
            None => self.create(key, record).await,
        }
    }

    pub(crate) async fn patch_any(
        &self,
        key: &SessionKey,
        patch: &Patch<'_>,
        now: UnixMillis,
    ) -> Result<Patched, StoreError> {
        match self.sync() {
            Some(store) => store.patch_now(key, patch, now),
            None => self.patch(key, patch, now).await,
        }
    }

    pub(crate) async fn touch_any(
        &self,
        key: &SessionKey,
        expires_at: UnixMillis,
        now: UnixMillis,
    ) -> Result<Patched, StoreError> {
        match self.sync() {
            Some(store) => store.touch_now(key, expires_at, now),
            None => self.touch(key, expires_at, now).await,
        }
    }

    pub(crate) async fn delete_any(&self, key: &SessionKey) -> Result<(), StoreError> {
        match self.sync() {
            Some(store) => store.delete_now(key),
            None => self.delete(key).await,
        }
    }
}

impl fmt::Debug for dyn DynStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionStore")
    }
}

impl<S: SessionStore> SessionStore for Arc<S> {
    fn load(
        &self,
        key: &SessionKey,
        now: UnixMillis,
    ) -> impl Future<Output = Result<Option<Record>, StoreError>> + Send {
        (**self).load(key, now)
    }
    fn create(
        &self,
        key: &SessionKey,
        record: &Record,
    ) -> impl Future<Output = Result<Created, StoreError>> + Send {
        (**self).create(key, record)
    }
    fn patch(
        &self,
        key: &SessionKey,
        patch: &Patch<'_>,
        now: UnixMillis,
    ) -> impl Future<Output = Result<Patched, StoreError>> + Send {
        (**self).patch(key, patch, now)
    }
    fn touch(
        &self,
        key: &SessionKey,
        expires_at: UnixMillis,
        now: UnixMillis,
    ) -> impl Future<Output = Result<Patched, StoreError>> + Send {
        (**self).touch(key, expires_at, now)
    }
    fn delete(&self, key: &SessionKey) -> impl Future<Output = Result<(), StoreError>> + Send {
        (**self).delete(key)
    }
    fn delete_expired(
        &self,
        now: UnixMillis,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send {
        (**self).delete_expired(now)
    }
    fn delete_by_owner(&self, owner: &str) -> impl Future<Output = Result<u64, StoreError>> + Send {
        (**self).delete_by_owner(owner)
    }
    fn as_sync(&self) -> Option<&dyn SyncSessionStore> {
        (**self).as_sync()
    }
}

/// Runs [`SessionStore::delete_expired`] every `every`, forever, on the current tokio runtime.
///
/// A failed pass is logged and the task keeps going: one unreachable-database blip must not
/// stop the cleanup for the rest of the process's life. Abort the returned handle to stop it.
pub fn spawn_cleanup<S: SessionStore>(
    store: S,
    every: std::time::Duration,
) -> tokio::task::JoinHandle<()> {
    use crate::config::Clock as _;
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match store.delete_expired(crate::config::SystemClock.now()).await {
                Ok(0) => {}
                Ok(n) => tracing::debug!(removed = n, "expired sessions purged"),
                Err(error) => tracing::warn!(%error, "expired-session cleanup failed; will retry"),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_patch_borrows_its_lists_until_the_builder_adds_to_them() {
        let one = Json::from_string("1".to_owned()).unwrap();
        let two = Json::from_string("2".to_owned()).unwrap();
        let listed = [("a", &one)];
        let mut patch = Patch::new();
        patch.set = PatchList::borrowed(&listed);
        let patch = patch.set("b", &two).remove("c");
        let set: Vec<_> = patch.set.iter().map(|(n, v)| (*n, v.as_str())).collect();
        assert_eq!(set, [("a", "1"), ("b", "2")]);
        assert_eq!(&*patch.remove, ["c"]);
        assert_eq!(listed.len(), 1, "the borrowed list is left alone");
        assert_eq!(format!("{:?}", patch.remove), r#"["c"]"#);
    }

    // Compiles only if `Patch` is covariant in its lifetime.
    #[allow(dead_code)]
    fn shorten<'short, 'long: 'short>(patch: &'short Patch<'long>) -> &'short Patch<'short> {
        patch
    }
}
