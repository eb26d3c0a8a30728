//! Store wrappers for HTTP-level tests.
//!
//! [`Spy`] delegates every call to a real [`MemoryStore`] and records what was asked, so a
//! test can assert "no store I/O" or "only field `a` was written". [`Faulty`] is the only
//! stand-in: it injects failures a real engine cannot produce on demand.
#![allow(dead_code)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use session_runtime::store::{
    Created, Patch, Patched, Record, SessionStore, StoreError, UnixMillis,
};
use session_runtime::{MemoryStore, SessionKey};

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

impl SessionStore for Spy {
    async fn load(&self, key: &SessionKey, now: UnixMillis) -> Result<Option<Record>, StoreError> {
        self.log(Op::Load(*key));
        self.inner.load(key, now).await
    }
    async fn create(&self, key: &SessionKey, record: &Record) -> Result<Created, StoreError> {
        let mut names: Vec<String> = record.fields.keys().cloned().collect();
        names.sort();
        self.log(Op::Create(*key, names));
        self.inner.create(key, record).await
    }
    async fn patch(
        &self,
        key: &SessionKey,
        patch: &Patch<'_>,
        now: UnixMillis,
    ) -> Result<Patched, StoreError> {
        self.log(Op::Patch {
            key: *key,
            set: patch
                .set
                .iter()
                .map(|(n, v)| (n.to_string(), v.get().to_owned()))
                .collect(),
            remove: patch.remove.iter().map(|n| n.to_string()).collect(),
        });
        self.inner.patch(key, patch, now).await
    }
    async fn touch(
        &self,
        key: &SessionKey,
        expires_at: UnixMillis,
        now: UnixMillis,
    ) -> Result<Patched, StoreError> {
        self.log(Op::Touch(*key));
        self.inner.touch(key, expires_at, now).await
    }
    async fn delete(&self, key: &SessionKey) -> Result<(), StoreError> {
        self.log(Op::Delete(*key));
        self.inner.delete(key).await
    }
    async fn delete_expired(&self, now: UnixMillis) -> Result<u64, StoreError> {
        self.log(Op::DeleteExpired);
        self.inner.delete_expired(now).await
    }
    async fn delete_by_owner(&self, owner: &str) -> Result<u64, StoreError> {
        self.log(Op::DeleteByOwner(owner.to_owned()));
        self.inner.delete_by_owner(owner).await
    }
}

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
    fn check(flag: &AtomicBool) -> Result<(), StoreError> {
        if flag.load(Ordering::SeqCst) {
            Err(StoreError::Unavailable(Box::new(Outage)))
        } else {
            Ok(())
        }
    }
}

impl SessionStore for Faulty {
    async fn load(&self, key: &SessionKey, now: UnixMillis) -> Result<Option<Record>, StoreError> {
        Self::check(&self.fail_loads)?;
        self.inner.load(key, now).await
    }
    async fn create(&self, key: &SessionKey, record: &Record) -> Result<Created, StoreError> {
        Self::check(&self.fail_writes)?;
        self.inner.create(key, record).await
    }
    async fn patch(
        &self,
        key: &SessionKey,
        patch: &Patch<'_>,
        now: UnixMillis,
    ) -> Result<Patched, StoreError> {
        Self::check(&self.fail_writes)?;
        self.inner.patch(key, patch, now).await
    }
    async fn touch(
        &self,
        key: &SessionKey,
        expires_at: UnixMillis,
        now: UnixMillis,
    ) -> Result<Patched, StoreError> {
        Self::check(&self.fail_writes)?;
        self.inner.touch(key, expires_at, now).await
    }
    async fn delete(&self, key: &SessionKey) -> Result<(), StoreError> {
        Self::check(&self.fail_writes)?;
        self.inner.delete(key).await
    }
    async fn delete_expired(&self, now: UnixMillis) -> Result<u64, StoreError> {
        Self::check(&self.fail_writes)?;
        self.inner.delete_expired(now).await
    }
    async fn delete_by_owner(&self, owner: &str) -> Result<u64, StoreError> {
        Self::check(&self.fail_writes)?;
        self.inner.delete_by_owner(owner).await
    }
}
