//! The floor's store (`examples/bench_floor.rs`): 64 shards of key → two counters, the least
//! a server-side store can keep. Shared with `examples/store_growth.rs`, which grows it
//! without HTTP to compare with the memory store.
//!
//! Included with `#[path = "support/floor_map.rs"] mod floor_map;`.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::RwLock;

/// A store key: SHA-256 of the session id (never the id itself).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Key(pub [u8; 32]);

impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // Keys are uniformly distributed: the first 8 bytes are a good hash.
        let mut first = [0u8; 8];
        first.copy_from_slice(&self.0[..8]);
        state.write_u64(u64::from_le_bytes(first));
    }
}

/// The hasher of the shards: [`Key`] writes one `u64`, taken as is.
#[derive(Default)]
pub struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }

    fn write(&mut self, bytes: &[u8]) {
        // Not used by `Key`; FNV-1a so that the hasher stays correct for anything else.
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
}

#[derive(Clone, Copy, Default)]
pub struct BuildKeyHasher;

impl BuildHasher for BuildKeyHasher {
    type Hasher = KeyHasher;

    fn build_hasher(&self) -> KeyHasher {
        KeyHasher(0)
    }
}

/// One shard: the record of each session (by default `(count, count2)`).
pub type Shard<V = (u64, u64)> = RwLock<HashMap<Key, V, BuildKeyHasher>>;

pub const SHARDS: usize = 64;

/// An empty shard, for the `static` stores (this one and floor+'s in `bench_floor.rs`).
pub const fn empty_shard<V>() -> Shard<V> {
    RwLock::new(HashMap::with_hasher(BuildKeyHasher))
}

static STORE: [Shard; SHARDS] = [const { empty_shard() }; SHARDS];

/// The shard of `key` in the floor's store.
pub fn shard(key: &Key) -> &'static Shard {
    &STORE[shard_index(key)]
}

/// The index of `key`'s shard: a key byte that the hash (bytes 0..8) does not use.
pub fn shard_index(key: &Key) -> usize {
    usize::from(key.0[8]) % SHARDS
}
