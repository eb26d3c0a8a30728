//! Store wrappers for HTTP-level tests.
//!
//! [`Spy`] delegates every call to a real [`MemoryStore`] and records what was asked, so a
//! test can assert "no store I/O" or "only field `a` was written". [`Faulty`] is the only
//! stand-in: it injects failures a real engine cannot produce on demand. Both are written
//! with [`wrapper_store!`], which other wrappers (`engines::Guarded`) use too.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use session_runtime::store::{
    Created, Patch, Patched, Record, SessionStore, StoreError, SyncSessionStore, UnixMillis,
};
use session_runtime::{MemoryStore, SessionKey};

/// A call to a store wrapper, as its `before` hook sees it.
pub enum Call<'a> {
    Load(&'a SessionKey),
    Create(&'a SessionKey, &'a Record),
    Patch(&'a SessionKey, &'a Patch<'a>),
    Touch(&'a SessionKey),
    Delete(&'a SessionKey),
    DeleteExpired,
    DeleteByOwner(&'a str),
}

/// Implements `SessionStore` for a wrapper type: every call is shown first to the type's own
/// `fn before(&self, call: Call<'_>) -> Result<(), StoreError>` (which may fail it), then
/// passed on to the store in the field `$inner`. `[...]` holds the impl's generic parameters.
macro_rules! wrapper_store {
    ([$($generics:tt)*] $ty:ty, $inner:ident) => {
        impl<$($generics)*> ::session_runtime::store::SessionStore for $ty {
            async fn load(
                &self,
                key: &::session_runtime::SessionKey,
                now: ::session_runtime::store::UnixMillis,
            ) -> Result<Option<::session_runtime::store::Record>, ::session_runtime::store::StoreError>
            {
                self.before($crate::support::stores::Call::Load(key))?;
                self.$inner.load(key, now).await
            }
            async fn create(
                &self,
                key: &::session_runtime::SessionKey,
                record: &::session_runtime::store::Record,
            ) -> Result<::session_runtime::store::Created, ::session_runtime::store::StoreError> {
                self.before($crate::support::stores::Call::Create(key, record))?;
                self.$inner.create(key, record).await
            }
            async fn patch(
                &self,
                key: &::session_runtime::SessionKey,
                patch: &::session_runtime::store::Patch<'_>,
                now: ::session_runtime::store::UnixMillis,
            ) -> Result<::session_runtime::store::Patched, ::session_runtime::store::StoreError> {
                self.before($crate::support::stores::Call::Patch(key, patch))?;
                self.$inner.patch(key, patch, now).await
            }
            async fn touch(
                &self,
                key: &::session_runtime::SessionKey,
                expires_at: ::session_runtime::store::UnixMillis,
                now: ::session_runtime::store::UnixMillis,
            ) -> Result<::session_runtime::store::Patched, ::session_runtime::store::StoreError> {
                self.before($crate::support::stores::Call::Touch(key))?;
                self.$inner.touch(key, expires_at, now).await
            }
            async fn delete(
                &self,
                key: &::session_runtime::SessionKey,
            ) -> Result<(), ::session_runtime::store::StoreError> {
                self.before($crate::support::stores::Call::Delete(key))?;
                self.$inner.delete(key).await
            }
            async fn delete_expired(
                &self,
                now: ::session_runtime::store::UnixMillis,
            ) -> Result<u64, ::session_runtime::store::StoreError> {
                self.before($crate::support::stores::Call::DeleteExpired)?;
                self.$inner.delete_expired(now).await
            }
            async fn delete_by_owner(
                &self,
                owner: &str,
            ) -> Result<u64, ::session_runtime::store::StoreError> {
                self.before($crate::support::stores::Call::DeleteByOwner(owner))?;
                self.$inner.delete_by_owner(owner).await
            }
        }
    };
}
pub(crate) use wrapper_store;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    Load(SessionKey),
    Create(SessionKey, Vec<String>),
    Patch {
        key: SessionKey,
        set: Vec<(String, String)>,
        remove: Vec<String>,
    },
    Touch(SessionKey),
    Delete(SessionKey),
    DeleteExpired,
    DeleteByOwner(String),
}

#[derive(Clone, Default)]
pub struct Spy {
    pub inner: MemoryStore,
    pub ops: Arc<Mutex<Vec<Op>>>,
}

impl Spy {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn ops(&self) -> Vec<Op> {
        self.ops.lock().unwrap().clone()
    }
    pub fn take_ops(&self) -> Vec<Op> {
        std::mem::take(&mut *self.ops.lock().unwrap())
    }
    /// Operations other than loads.
    pub fn writes(&self) -> Vec<Op> {
        self.ops()
            .into_iter()
            .filter(|o| !matches!(o, Op::Load(_)))
            .collect()
    }
    /// The key of the most recent create.
    pub fn last_created(&self) -> Option<SessionKey> {
        self.ops().iter().rev().find_map(|o| match o {
            Op::Create(k, _) => Some(*k),
            _ => None,
        })
    }
    fn log(&self, op: Op) {
        self.ops.lock().unwrap().push(op);
    }
}

impl Spy {
    /// Records the call (before the inner store runs it).
    fn before(&self, call: Call<'_>) -> Result<(), StoreError> {
        self.log(match call {
            Call::Load(key) => Op::Load(*key),
            Call::Create(key, record) => {
                let mut names: Vec<String> = record.fields.keys().map(str::to_owned).collect();
                names.sort();
                Op::Create(*key, names)
            }
            Call::Patch(key, patch) => Op::Patch {
                key: *key,
                set: patch
                    .set
                    .iter()
                    .map(|(n, v)| (n.to_string(), v.as_str().to_owned()))
                    .collect(),
                remove: patch.remove.iter().map(|n| n.to_string()).collect(),
            },
            Call::Touch(key) => Op::Touch(*key),
            Call::Delete(key) => Op::Delete(*key),
            Call::DeleteExpired => Op::DeleteExpired,
            Call::DeleteByOwner(owner) => Op::DeleteByOwner(owner.to_owned()),
        });
        Ok(())
    }
}

wrapper_store!([] Spy, inner);

#[derive(Debug)]
struct Outage;
impl std::fmt::Display for Outage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("injected outage")
    }
}
impl std::error::Error for Outage {}

/// A memory store whose loads and/or writes fail while the matching switch is on.
#[derive(Clone, Default)]
pub struct Faulty {
    pub inner: MemoryStore,
    pub fail_loads: Arc<AtomicBool>,
    pub fail_writes: Arc<AtomicBool>,
}

impl Faulty {
    /// Fails loads while `fail_loads` is on, and every other call while `fail_writes` is.
    fn before(&self, call: Call<'_>) -> Result<(), StoreError> {
        let flag = match call {
            Call::Load(_) => &self.fail_loads,
            _ => &self.fail_writes,
        };
        if flag.load(Ordering::SeqCst) {
            Err(StoreError::Unavailable(Box::new(Outage)))
        } else {
            Ok(())
        }
    }
}

wrapper_store!([] Faulty, inner);

#[derive(Debug)]
struct AsyncPathUsed;
impl std::fmt::Display for AsyncPathUsed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the runtime awaited a future of a store that offers a synchronous face")
    }
}
impl std::error::Error for AsyncPathUsed {}

fn async_path_used<T>() -> Result<T, StoreError> {
    Err(StoreError::Backend(Box::new(AsyncPathUsed)))
}

/// A [`Spy`] with a synchronous face ([`SessionStore::as_sync`]), as the memory store has.
/// Its request-path futures fail, so a request succeeds only if the runtime called the
/// synchronous methods; those are recorded like the spy's. While the switch (`.1`) is on,
/// its synchronous writes (create, patch, touch, delete) fail with an outage.
#[derive(Clone, Default)]
pub struct SyncSpy(pub Spy, pub Arc<AtomicBool>);

impl SyncSpy {
    fn write_allowed(&self) -> Result<(), StoreError> {
        if self.1.load(Ordering::SeqCst) {
            Err(StoreError::Unavailable(Box::new(Outage)))
        } else {
            Ok(())
        }
    }
}

impl SyncSessionStore for SyncSpy {
    fn load_now(&self, key: &SessionKey, now: UnixMillis) -> Result<Option<Record>, StoreError> {
        self.0.before(Call::Load(key))?;
        self.0.inner.load_now(key, now)
    }
    fn create_now(&self, key: &SessionKey, record: &Record) -> Result<Created, StoreError> {
        self.write_allowed()?;
        self.0.before(Call::Create(key, record))?;
        self.0.inner.create_now(key, record)
    }
    fn patch_now(
        &self,
        key: &SessionKey,
        patch: &Patch<'_>,
        now: UnixMillis,
    ) -> Result<Patched, StoreError> {
        self.write_allowed()?;
        self.0.before(Call::Patch(key, patch))?;
        self.0.inner.patch_now(key, patch, now)
    }
    fn touch_now(
        &self,
        key: &SessionKey,
        expires_at: UnixMillis,
        now: UnixMillis,
    ) -> Result<Patched, StoreError> {
        self.write_allowed()?;
        self.0.before(Call::Touch(key))?;
        self.0.inner.touch_now(key, expires_at, now)
    }
    fn delete_now(&self, key: &SessionKey) -> Result<(), StoreError> {
        self.write_allowed()?;
        self.0.before(Call::Delete(key))?;
        self.0.inner.delete_now(key)
    }
}

impl SessionStore for SyncSpy {
    async fn load(&self, _: &SessionKey, _: UnixMillis) -> Result<Option<Record>, StoreError> {
        async_path_used()
    }
    async fn create(&self, _: &SessionKey, _: &Record) -> Result<Created, StoreError> {
        async_path_used()
    }
    async fn patch(
        &self,
        _: &SessionKey,
        _: &Patch<'_>,
        _: UnixMillis,
    ) -> Result<Patched, StoreError> {
        async_path_used()
    }
    async fn touch(
        &self,
        _: &SessionKey,
        _: UnixMillis,
        _: UnixMillis,
    ) -> Result<Patched, StoreError> {
        async_path_used()
    }
    async fn delete(&self, _: &SessionKey) -> Result<(), StoreError> {
        async_path_used()
    }
    async fn delete_expired(&self, now: UnixMillis) -> Result<u64, StoreError> {
        self.0.inner.delete_expired(now).await
    }
    async fn delete_by_owner(&self, owner: &str) -> Result<u64, StoreError> {
        self.0.inner.delete_by_owner(owner).await
    }
    fn as_sync(&self) -> Option<&dyn SyncSessionStore> {
        Some(self)
    }
}
