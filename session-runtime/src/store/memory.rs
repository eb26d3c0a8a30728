//! [`MemoryStore`]: the in-process default.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use hashbrown::HashTable;

use super::{
    Created, FieldChange, Patch, Patched, Record, SessionStore, StoreError, SyncSessionStore,
    UnixMillis,
};
use crate::id::SessionKey;

/// Shards, each with its own lock and table. Many, so that one table's resize (which moves
/// every record of that table while holding its write lock) stalls few requests for a short
/// time: at two million sessions a resize moves about 2,000 records, where with 64 shards it
/// moved 31,000 (`examples/store_growth.rs` shows the longest creates). An empty shard costs
/// 72 bytes.
const SHARDS: usize = 1024;
/// Most expired records one `create` purges from its shard (bounds its latency).
const PURGE_PER_CREATE: usize = 32;

/// What this store files a record under: the first 16 bytes of its [`SessionKey`].
///
/// A key is SHA-256 of a 256-bit random id, so 128 of its bits are as unguessable as a
/// 128-bit id (tower-sessions' whole id): finding an id whose key starts like a live one's
/// takes about 2^128 / (live sessions) tries. Two live keys that share these bytes are a
/// collision like two equal ids: `create` refuses the second and the runtime draws another id.
/// Half the key's size keeps a table slot to one 64-byte cache line and an expiry entry to 24
/// bytes.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Short([u64; 2]);

impl Short {
    fn of(key: &SessionKey) -> Self {
        let b = key.as_bytes();
        let word = |i: usize| {
            let mut w = [0u8; 8];
            w.copy_from_slice(&b[i..i + 8]);
            u64::from_le_bytes(w)
        };
        Short([word(0), word(8)])
    }

    /// The table's hash: the key is already SHA-256 output, so its first 8 bytes are a
    /// perfectly good one.
    fn hash(self) -> u64 {
        self.0[0]
    }

    /// Whether `slot` holds the record filed under this key.
    fn owns(self) -> impl Fn(&Slot) -> bool {
        move |slot| slot.key == self
    }

    /// The shard: bytes 8 and 9, independent of the table's hash.
    fn shard(self) -> usize {
        (self.0[1] & 0xffff) as usize % SHARDS
    }
}

/// One table slot: exactly one cache line, aligned to it, so that a lookup or a create touches
/// one line of the table besides its control byte.
#[repr(align(64))]
struct Slot {
    key: Short,
    record: Record,
}

// If `Record` grows, a slot takes two lines (128 bytes); this keeps that from happening
// unnoticed.
const _: () = assert!(std::mem::size_of::<Slot>() == 64);

#[derive(Default)]
struct Shard {
    records: HashTable<Slot>,
    /// Earliest expiry first. A record has one entry here from its creation until it is
    /// purged; an entry whose record moved its expiry is pushed again with the new time.
    expiry: BinaryHeap<Reverse<(UnixMillis, Short)>>,
}

impl Shard {
    fn get(&self, key: Short) -> Option<&Record> {
        self.records.find(key.hash(), key.owns()).map(|s| &s.record)
    }

    fn get_mut(&mut self, key: Short) -> Option<&mut Record> {
        self.records
            .find_mut(key.hash(), key.owns())
            .map(|s| &mut s.record)
    }

    fn remove(&mut self, key: Short) {
        if let Ok(entry) = self.records.find_entry(key.hash(), key.owns()) {
            entry.remove();
        }
    }

    fn purge_expired(&mut self, now: UnixMillis, budget: usize) {
        for _ in 0..budget {
            let Some(Reverse((at, key))) = self.expiry.peek().copied() else {
                return;
            };
            if at > now {
                return;
            }
            self.expiry.pop();
            if let Ok(entry) = self.records.find_entry(key.hash(), key.owns()) {
                let expires_at = entry.get().record.expires_at;
                if expires_at <= now {
                    entry.remove();
                } else {
                    self.expiry.push(Reverse((expires_at, key)));
                }
            }
        }
    }
}

/// Sessions in this process's memory: the embedded default, for single-instance apps,
/// development and tests.
///
/// 1,024 independently locked shards (no global lock on the hot path); a load is a shard read
/// lock and a reference-count increment; a patch changes only the named fields in place.
/// Expired records are never returned, and each `create` purges up to 32 expired records of
/// its shard, so memory stays bounded even without [`spawn_cleanup`](super::spawn_cleanup):
/// by the sessions created within one lifetime, plus about one expired record per shard
/// waiting for the next create in its shard. A session of one or two small fields keeps about
/// 260–310 bytes resident: its table slot (one 64-byte cache line, at 44–88% load), its
/// 24-byte expiry entry and its field map (`examples/store_growth.rs`). Cloning the store
/// shares it.
#[derive(Clone)]
pub struct MemoryStore {
    shards: Arc<[RwLock<Shard>]>,
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryStore")
            .field("len", &self.len())
            .finish()
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        MemoryStore {
            shards: (0..SHARDS).map(|_| RwLock::default()).collect(),
        }
    }

    /// How many records are held, including expired ones not purged yet.
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| read(s).records.len()).sum()
    }

    /// Whether the store holds no record.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn shard(&self, key: Short) -> &RwLock<Shard> {
        &self.shards[key.shard()]
    }

    /// Applies `change` to the live record under `key`, its shard write-locked; `Gone` (and
    /// no change) when there is none: unknown, or expired by `now` (update-only: a patch or
    /// touch never brings a record back).
    fn update_live(
        &self,
        key: &SessionKey,
        now: UnixMillis,
        change: impl FnOnce(&mut Record),
    ) -> Result<Patched, StoreError> {
        let key = Short::of(key);
        let mut shard = write(self.shard(key));
        match shard.get_mut(key).filter(|r| r.expires_at > now) {
            Some(record) => {
                change(record);
                Ok(Patched::Applied)
            }
            None => Ok(Patched::Gone),
        }
    }
}

// The store's invariants hold between statements, so a lock poisoned by a panicking thread
// is safe to keep using.
fn read(lock: &RwLock<Shard>) -> RwLockReadGuard<'_, Shard> {
    lock.read().unwrap_or_else(|e| e.into_inner())
}

fn write(lock: &RwLock<Shard>) -> RwLockWriteGuard<'_, Shard> {
    lock.write().unwrap_or_else(|e| e.into_inner())
}

impl SyncSessionStore for MemoryStore {
    fn load_now(&self, key: &SessionKey, now: UnixMillis) -> Result<Option<Record>, StoreError> {
        let key = Short::of(key);
        let shard = read(self.shard(key));
        Ok(shard.get(key).filter(|r| r.expires_at > now).cloned())
    }

    fn create_now(&self, key: &SessionKey, record: &Record) -> Result<Created, StoreError> {
        let key = Short::of(key);
        let mut shard = write(self.shard(key));
        // Checked before the purge: create never takes over a key, even an expired one.
        if shard.get(key).is_some() {
            return Ok(Created::Collision);
        }
        // A record is created "now", so its creation time is the clock to purge by.
        shard.purge_expired(record.created_at, PURGE_PER_CREATE);
        let slot = Slot {
            key,
            record: record.clone(),
        };
        shard
            .records
            .insert_unique(key.hash(), slot, |s| s.key.hash());
        shard.expiry.push(Reverse((record.expires_at, key)));
        Ok(Created::Inserted)
    }

    fn patch_now(
        &self,
        key: &SessionKey,
        patch: &Patch<'_>,
        now: UnixMillis,
    ) -> Result<Patched, StoreError> {
        self.update_live(key, now, |record| {
            if !patch.set.is_empty() || !patch.remove.is_empty() {
                let fields = Arc::make_mut(&mut record.fields);
                for (name, value) in &patch.set {
                    fields.insert_copy(name, value);
                }
                for name in &patch.remove {
                    fields.remove(name);
                }
            }
            if let Some(at) = patch.expires_at {
                record.expires_at = at;
            }
            if let Some(owner) = patch.owner {
                record.owner = owner.map(str::to_owned);
            }
        })
    }

    fn touch_now(
        &self,
        key: &SessionKey,
        expires_at: UnixMillis,
        now: UnixMillis,
    ) -> Result<Patched, StoreError> {
        self.update_live(key, now, |record| record.expires_at = expires_at)
    }

    fn delete_now(&self, key: &SessionKey) -> Result<(), StoreError> {
        let key = Short::of(key);
        write(self.shard(key)).remove(key);
        Ok(())
    }

    fn set_now(
        &self,
        key: &SessionKey,
        fields: &mut [FieldChange],
        expires_at: Option<UnixMillis>,
        now: UnixMillis,
    ) -> Result<Patched, StoreError> {
        self.update_live(key, now, |record| {
            if fields.iter().any(|(_, value)| value.is_some()) {
                // The encoded values move in: no copy, and the request frees nothing of them.
                let map = Arc::make_mut(&mut record.fields);
                for (name, value) in fields.iter_mut() {
                    if let Some(value) = value.take() {
                        map.insert(name.clone(), value);
                    }
                }
            }
            if let Some(at) = expires_at {
                record.expires_at = at;
            }
        })
    }
}

impl SessionStore for MemoryStore {
    async fn load(&self, key: &SessionKey, now: UnixMillis) -> Result<Option<Record>, StoreError> {
        self.load_now(key, now)
    }

    async fn create(&self, key: &SessionKey, record: &Record) -> Result<Created, StoreError> {
        self.create_now(key, record)
    }

    async fn patch(
        &self,
        key: &SessionKey,
        patch: &Patch<'_>,
        now: UnixMillis,
    ) -> Result<Patched, StoreError> {
        self.patch_now(key, patch, now)
    }

    async fn touch(
        &self,
        key: &SessionKey,
        expires_at: UnixMillis,
        now: UnixMillis,
    ) -> Result<Patched, StoreError> {
        self.touch_now(key, expires_at, now)
    }

    async fn delete(&self, key: &SessionKey) -> Result<(), StoreError> {
        self.delete_now(key)
    }

    async fn delete_expired(&self, now: UnixMillis) -> Result<u64, StoreError> {
        let mut removed = 0u64;
        for lock in self.shards.iter() {
            let mut shard = write(lock);
            let before = shard.records.len();
            shard.records.retain(|s| s.record.expires_at > now);
            removed += (before - shard.records.len()) as u64;
            let Shard { records, expiry } = &mut *shard;
            expiry.retain(|Reverse((_, k))| records.find(k.hash(), k.owns()).is_some());
        }
        Ok(removed)
    }

    fn as_sync(&self) -> Option<&dyn SyncSessionStore> {
        Some(self)
    }

    async fn delete_by_owner(&self, owner: &str) -> Result<u64, StoreError> {
        let mut removed = 0u64;
        for lock in self.shards.iter() {
            let mut shard = write(lock);
            let before = shard.records.len();
            shard
                .records
                .retain(|s| s.record.owner.as_deref() != Some(owner));
            removed += (before - shard.records.len()) as u64;
        }
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::FieldMap;

    fn record(created: UnixMillis, expires: UnixMillis) -> Record {
        Record::new(FieldMap::default(), created, expires)
    }

    /// The expiry of the live record under `key` at time 11.
    async fn expiry_of(store: &MemoryStore, key: &SessionKey) -> Option<UnixMillis> {
        let record = store.load(key, 11).await.unwrap();
        record.map(|r| r.expires_at)
    }

    /// A random key placed in shard `shard`.
    fn key_in(shard: usize) -> SessionKey {
        let mut bytes = *SessionKey::random().as_bytes();
        bytes[8..10].copy_from_slice(&(shard as u16).to_le_bytes());
        SessionKey::from_bytes(bytes)
    }

    /// `key` with one bit of byte `i` flipped.
    fn flipped(key: &SessionKey, i: usize) -> SessionKey {
        let mut bytes = *key.as_bytes();
        bytes[i] ^= 1;
        SessionKey::from_bytes(bytes)
    }

    #[tokio::test]
    async fn records_are_filed_under_the_first_16_bytes_of_their_key() {
        let store = MemoryStore::new();
        let first = SessionKey::random();
        let created = store.create(&first, &record(10, i64::MAX)).await.unwrap();
        assert!(matches!(created, Created::Inserted));

        // Byte 15 differs (same table hash, bytes 0 to 7, and shard, bytes 8 and 9): another
        // record, found, kept and deleted on its own.
        let neighbour = flipped(&first, 15);
        let created = store.create(&neighbour, &record(10, 20)).await.unwrap();
        assert!(matches!(created, Created::Inserted));
        assert_eq!(expiry_of(&store, &neighbour).await, Some(20));
        assert_eq!(expiry_of(&store, &first).await, Some(i64::MAX));
        store.delete(&neighbour).await.unwrap();
        assert_eq!(expiry_of(&store, &neighbour).await, None);
        assert_eq!(expiry_of(&store, &first).await, Some(i64::MAX));

        // Only byte 31 differs: the same record to this store, so a create is refused as a
        // collision (the runtime then draws another id) and never replaces the first.
        let twin = flipped(&first, 31);
        let created = store.create(&twin, &record(10, 20)).await.unwrap();
        assert!(matches!(created, Created::Collision));
        assert_eq!(expiry_of(&store, &first).await, Some(i64::MAX));
        let seen = expiry_of(&store, &twin).await;
        assert_eq!(
            seen,
            Some(i64::MAX),
            "the twin key reaches the first record"
        );
        assert_eq!(store.len(), 1);
    }

    #[tokio::test]
    async fn create_purges_up_to_32_expired_records_of_its_own_shard() {
        let store = MemoryStore::new();
        for _ in 0..40 {
            store.create(&key_in(7), &record(0, 1)).await.unwrap();
        }
        store.create(&key_in(8), &record(0, 1)).await.unwrap();
        assert_eq!(store.len(), 41);
        for (expected, why) in [
            (41 - 32 + 1, "one create purges 32 of its shard"),
            (2 + 1, "the rest of shard 7 is purged; shard 8 is not"),
        ] {
            let live = record(10, i64::MAX);
            store.create(&key_in(7), &live).await.unwrap();
            assert_eq!(store.len(), expected, "{why}");
        }
    }

    #[tokio::test]
    async fn creates_purge_expired_records_across_the_store() {
        let store = MemoryStore::new();
        // Keys dealt to the shards in turn: every shard gets 19 or 20 of each kind.
        for i in 0..20_000 {
            store
                .create(&key_in(i % SHARDS), &record(0, 1))
                .await
                .unwrap();
        }
        assert_eq!(store.len(), 20_000);
        for i in 0..20_000 {
            let live = record(10, i64::MAX);
            store.create(&key_in(i % SHARDS), &live).await.unwrap();
        }
        // The first live create in each shard purged its expired records (at most 32).
        assert_eq!(store.len(), 20_000);
    }
}
