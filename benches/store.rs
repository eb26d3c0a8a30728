//! The load side and the memory store under two threads. Groups:
//!
//! - `load/session`, `load/read_session`: a request through `Router` + `SessionLayer` carrying
//!   the cookie of an existing session; the handler extracts `Session<T>` / `ReadSession<T>`,
//!   reads `count` and writes nothing (so the commit is a no-op). Same shapes as
//!   `benches/commit.rs`, so `commit/ours_http` minus `load/session` is the commit's share.
//!   `load/layer_only` is the same request to a handler that extracts nothing (no store I/O):
//!   the fixed overhead of router + layer + cookie parsing.
//! - `store_mt/<mix>/<n>thread(s)`: one `MemoryStore` shared by `n` OS threads, each running
//!   the same op mix; the reported time is wall time / total ops (the inverse of the
//!   aggregate throughput), so perfect scaling halves it from 1 to 2 threads. Mixes:
//!   - `mixed`: 70% load, 20% patch of one field, 10% create; random keys over 10 000
//!     sessions (creates expire and are purged by later creates, so the store stays bounded);
//!   - `load_only`: random keys over the 10 000 sessions (mostly cache misses);
//!   - `load_small`: each thread loads from its own 16 sessions (cache-resident: only the
//!     shard lock and the reference count are left);
//!   - `hot_session`: every op patches the same session, each thread its own field (the
//!     worst case: one shard's write lock);
//!   - `cpu_only`: no store, a short arithmetic loop: the control that shows whether the
//!     machine really gave the run two free cores.
//!
//! Run: `cargo bench --bench store` (add a filter such as `-- store_mt` for a subset).
//! The machine is shared: check `cpu_only` scaled ~2x before trusting the other ratios.

#[macro_use]
mod common;

use std::hint::black_box;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use futures::executor::block_on;
use http::StatusCode;
use session_runtime::store::{Created, FieldMap, Json, Patch, Patched, Record, SessionStore};
use session_runtime::{MemoryStore, SessionKey};

use common::{describe, label, Group, HttpSession, Shape};

fn load_case<T: Shape>(g: &mut Group<'_>, path: &'static str, payload: usize) {
    let s = HttpSession::new::<T>(payload);
    let res = s.call(path);
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert!(res.headers().get(http::header::SET_COOKIE).is_none());
    g.bench_function(label::<T>(payload), |b| b.iter(|| s.call(path)));
}

fn load_shapes(g: &mut Group<'_>, path: &'static str) {
    for_each_shape!(load_case(g, path));
}

fn bench_load(c: &mut Criterion) {
    for_each_shape!(describe());
    let mut g = c.benchmark_group("load/session");
    load_shapes(&mut g, "/read");
    g.finish();
    let mut g = c.benchmark_group("load/read_session");
    load_shapes(&mut g, "/read_ro");
    g.finish();
    let mut g = c.benchmark_group("load/layer_only");
    let s = HttpSession::new::<common::Sess10>(4 * 1024);
    g.bench_function("10f_4KB", |b| b.iter(|| s.call("/none")));
    g.finish();
}

const SESSIONS: usize = 10_000;
/// Created records live for this many later creates (store-time units), then get purged by
/// the creates of their shard, so the store stays bounded however long the bench runs.
const CREATED_LIFETIME: i64 = 4_000;

#[derive(Clone, Copy)]
enum Mix {
    Mixed,
    LoadOnly,
    LoadSmall,
    HotSession,
    /// No store at all: a short arithmetic loop per op. The control: it shows how much
    /// parallelism the machine actually gave the run (2 free cores halve its time).
    CpuOnly,
}

struct Shared {
    store: MemoryStore,
    keys: Vec<SessionKey>,
    hot: SessionKey,
    /// A template for created records (10 small fields), cloned per create.
    template: Record,
    /// Store time for creates: strictly increasing, so the expiry purge keeps memory bounded.
    clock: AtomicI64,
    value: Json,
}

fn shared() -> Shared {
    let fields: FieldMap = (0..10)
        .map(|i| {
            (
                format!("f{i}"),
                Json::encode(&format!("value of field {i}")).unwrap(),
            )
        })
        .collect();
    let store = MemoryStore::new();
    let mut keys = Vec::with_capacity(SESSIONS);
    let mut rng = 0x9E37_79B9_7F4A_7C15u64;
    for _ in 0..SESSIONS {
        let key = key_from(&mut rng);
        let record = Record::new(fields.clone(), 1, i64::MAX);
        assert_eq!(
            block_on(store.create(&key, &record)).unwrap(),
            Created::Inserted
        );
        keys.push(key);
    }
    let hot = keys[0];
    Shared {
        store,
        keys,
        hot,
        template: Record::new(fields, 0, 0),
        clock: AtomicI64::new(CREATED_LIFETIME + 10),
        value: Json::encode(&12345u64).unwrap(),
    }
}

#[inline]
fn next(rng: &mut u64) -> u64 {
    // xorshift64*
    *rng ^= *rng >> 12;
    *rng ^= *rng << 25;
    *rng ^= *rng >> 27;
    rng.wrapping_mul(0x2545_F491_4F6C_DD1D)
}

/// A random key without a syscall (`SessionKey::random` reads the OS CSPRNG).
fn key_from(rng: &mut u64) -> SessionKey {
    let mut bytes = [0u8; 32];
    for chunk in bytes.chunks_mut(8) {
        chunk.copy_from_slice(&next(rng).to_le_bytes());
    }
    SessionKey::from_bytes(bytes)
}

fn worker(sh: &Shared, mix: Mix, thread: usize, ops: u64) {
    let mut rng = 0x1234_5678_9ABC_DEF1u64 ^ ((thread as u64 + 1) << 32);
    let own_field = if thread == 0 { "f0" } else { "f1" };
    for i in 0..ops {
        let r = next(&mut rng);
        let key = &sh.keys[(r % SESSIONS as u64) as usize];
        match mix {
            Mix::LoadOnly => {
                black_box(block_on(sh.store.load(key, 2)).unwrap());
            }
            Mix::LoadSmall => {
                let key = &sh.keys[thread * 5000 + (r % 16) as usize];
                black_box(block_on(sh.store.load(key, 2)).unwrap());
            }
            Mix::CpuOnly => {
                let mut x = r;
                for _ in 0..40 {
                    x = next(&mut x);
                }
                black_box(x);
            }
            Mix::HotSession => {
                let patch = Patch::new().set(own_field, &sh.value);
                let done = block_on(sh.store.patch(&sh.hot, &patch, 2)).unwrap();
                debug_assert_eq!(done, Patched::Applied);
                black_box(done);
            }
            Mix::Mixed => match i % 10 {
                0..=6 => {
                    black_box(block_on(sh.store.load(key, 2)).unwrap());
                }
                7 | 8 => {
                    let patch = Patch::new().set("count", &sh.value);
                    black_box(block_on(sh.store.patch(key, &patch, 2)).unwrap());
                }
                _ => {
                    let t = sh.clock.fetch_add(1, Ordering::Relaxed);
                    let mut record = sh.template.clone();
                    record.created_at = t;
                    record.expires_at = t + CREATED_LIFETIME;
                    let key = key_from(&mut rng);
                    black_box(block_on(sh.store.create(&key, &record)).unwrap());
                }
            },
        }
    }
}

/// `threads` threads each run `iters` ops after a common start; returns wall time divided by
/// the thread count, so criterion's per-iteration time is wall time per op over all threads.
fn run(sh: &Arc<Shared>, mix: Mix, threads: usize, iters: u64) -> Duration {
    let barrier = Barrier::new(threads);
    let wall = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let barrier = &barrier;
                s.spawn(move || {
                    barrier.wait();
                    let start = Instant::now();
                    worker(sh, mix, t, iters);
                    start.elapsed()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap())
            .max()
            .unwrap()
    });
    wall / threads as u32
}

fn bench_threads(c: &mut Criterion) {
    let sh = Arc::new(shared());
    for (name, mix) in [
        ("mixed", Mix::Mixed),
        ("load_only", Mix::LoadOnly),
        ("load_small", Mix::LoadSmall),
        ("hot_session", Mix::HotSession),
        ("cpu_only", Mix::CpuOnly),
    ] {
        let mut g = c.benchmark_group(format!("store_mt/{name}"));
        g.throughput(Throughput::Elements(1));
        for threads in [1usize, 2] {
            let id = if threads == 1 { "1thread" } else { "2threads" };
            g.bench_function(id, |b| b.iter_custom(|iters| run(&sh, mix, threads, iters)));
        }
        g.finish();
    }
    // Bounded: the purge on create keeps the created records to about one lifetime's worth.
    let len = sh.store.len();
    eprintln!("memory store after the threaded runs: {len} records");
    assert!(len < SESSIONS + 64 * (CREATED_LIFETIME as usize));
}

criterion_group! {
    name = benches;
    config = common::config();
    targets = bench_load, bench_threads
}
criterion_main!(benches);
