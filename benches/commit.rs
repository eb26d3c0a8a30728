//! The commit path with one small dirty field (a `u64` counter incremented), for sessions of
//! 1, 10 and 100 fields and 100 B, 4 KB and 64 KB of payload. Groups:
//!
//! - `commit/ours_http`: a whole request through `Router` + `SessionLayer::new(MemoryStore)`
//!   carrying the cookie of an existing session; the handler does `*s.count_mut() += 1`.
//!   Includes the lazy load and `materialize` of the typed session, the handler, the
//!   per-field encode on drop and the commit (one `patch` of `count`).
//! - `commit/ours_store`: only what that commit sends to the store: encode the dirty field
//!   (`SessionData::encode_field`) and `MemoryStore::patch` naming it, on a record of that size.
//! - `commit/full_patch_store`: our `MemoryStore` again, but every field is encoded and named
//!   in the patch (a whole-record rewrite through our own store).
//! - `commit/koa_hash_rewrite`: koa-session's rule: serialize the whole session to JSON, hash
//!   it (std's SipHash-1-3 stands in for koa's crc32), compare with the previous hash and, if it
//!   changed, write the whole JSON record into a `Mutex<HashMap<String, String>>`. koa also
//!   hashes once more at load; that second hash is not counted here.
//! - `commit/tower_sessions_request`: tower-sessions 0.15 as its middleware runs per request,
//!   without HTTP: a fresh `Session` for the id over `tower_sessions::MemoryStore`,
//!   `insert("count", n)` (which lazily loads the record) and `save()`.
//! - `commit/tower_sessions_save`: the same on an already-loaded `Session`: `insert` + `save`.
//! - `commit/tower_sessions_http`: a whole request through `Router` + `SessionManagerLayer`;
//!   the handler does `get("count")` then `insert("count", n + 1)`.
//!
//! Run: `cargo bench --bench commit` (add a filter such as `-- 64KB` to run a subset).

#[macro_use]
mod common;

use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::hash::Hasher;
use std::sync::{Arc, Mutex};

use axum::routing::get;
use axum::Router;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use futures::executor::block_on;
use http::header::SET_COOKIE;
use http::StatusCode;
use session_runtime::store::{Json, Patch, Patched, Record, SessionStore};
use session_runtime::{MemoryStore, SessionKey};
use tower::ServiceExt;
use tower_sessions::{Session as TsSession, SessionManagerLayer};

use common::{describe, filled, json_fields, label, Group, HttpSession, Shape};

/// Stores see this as "now"; every record here expires at `i64::MAX`.
const NOW: i64 = 1;

fn describe_all(_c: &mut Criterion) {
    for_each_shape!(describe());
}

/// A `MemoryStore` holding one record of this shape, and its key.
fn stored<T: Shape>(payload: usize) -> (MemoryStore, SessionKey, T) {
    let (data, map) = filled::<T>(payload);
    let store = MemoryStore::new();
    let key = SessionKey::random();
    let record = Record::new(map, NOW, i64::MAX);
    block_on(store.create(&key, &record)).unwrap();
    // Dropped so the store's field map is not shared: a patch then updates it in place.
    drop(record);
    (store, key, data)
}

fn ours_http<T: Shape>(g: &mut Group<'_>, payload: usize) {
    let s = HttpSession::new::<T>(payload);
    // The commit of an existing session: 204, one patch, no Set-Cookie.
    let res = s.call("/inc");
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert!(res.headers().get(SET_COOKIE).is_none());
    g.bench_function(label::<T>(payload), |b| b.iter(|| s.call("/inc")));
    assert_eq!(s.store.len(), 1);
}

fn ours_store<T: Shape>(g: &mut Group<'_>, payload: usize) {
    let (store, key, mut data) = stored::<T>(payload);
    let count = T::FIELDS[0].name();
    assert_eq!(count, "count");
    g.bench_function(label::<T>(payload), |b| {
        b.iter(|| {
            data.bump();
            let raw = data.encode_field(0).unwrap();
            let patch = Patch::new().set(count, &raw);
            let done = block_on(store.patch(&key, &patch, NOW)).unwrap();
            assert_eq!(done, Patched::Applied);
        })
    });
}

fn full_patch_store<T: Shape>(g: &mut Group<'_>, payload: usize) {
    let (store, key, mut data) = stored::<T>(payload);
    g.bench_function(label::<T>(payload), |b| {
        b.iter(|| {
            data.bump();
            let raws: Vec<Json> = (0..T::FIELDS.len())
                .map(|i| data.encode_field(i).unwrap())
                .collect();
            let mut patch = Patch::new();
            for (f, raw) in T::FIELDS.iter().zip(&raws) {
                patch = patch.set(f.name(), raw);
            }
            let done = block_on(store.patch(&key, &patch, NOW)).unwrap();
            assert_eq!(done, Patched::Applied);
        })
    });
}

fn hash(bytes: &[u8]) -> u64 {
    let mut h = DefaultHasher::new();
    h.write(bytes);
    h.finish()
}

fn koa_hash_rewrite<T: Shape>(g: &mut Group<'_>, payload: usize) {
    let (mut data, _) = filled::<T>(payload);
    let key = format!("koa:sess:{}", SessionKey::random().to_hex());
    let json = serde_json::to_string(&data).unwrap();
    let mut prev = hash(json.as_bytes());
    let store = Mutex::new(HashMap::from([(key.clone(), json)]));
    g.bench_function(label::<T>(payload), |b| {
        b.iter(|| {
            data.bump();
            let json = serde_json::to_string(&data).unwrap();
            let h = hash(json.as_bytes());
            if h != prev {
                prev = h;
                store.lock().unwrap().insert(key.clone(), json);
            }
        })
    });
    assert_eq!(store.lock().unwrap().len(), 1);
}

/// A `tower_sessions::MemoryStore` holding one session with the same fields, and its id.
fn tower_stored<T: Shape>(
    payload: usize,
) -> (
    Arc<tower_sessions::MemoryStore>,
    tower_sessions::session::Id,
) {
    let store = Arc::new(tower_sessions::MemoryStore::default());
    let s = TsSession::new(None, store.clone(), None);
    block_on(async {
        for (k, v) in json_fields::<T>(payload) {
            s.insert_value(&k, v).await.unwrap();
        }
        s.save().await.unwrap();
    });
    (store, s.id().unwrap())
}

fn tower_sessions_request<T: Shape>(g: &mut Group<'_>, payload: usize) {
    let (store, id) = tower_stored::<T>(payload);
    let mut n = 0u64;
    g.bench_function(label::<T>(payload), |b| {
        b.iter(|| {
            n += 1;
            let s = TsSession::new(Some(id), store.clone(), None);
            block_on(async {
                s.insert("count", n).await.unwrap();
                s.save().await.unwrap();
            });
            s
        })
    });
}

fn tower_sessions_save<T: Shape>(g: &mut Group<'_>, payload: usize) {
    let (store, id) = tower_stored::<T>(payload);
    let mut n = 0u64;
    g.bench_function(label::<T>(payload), |b| {
        b.iter_batched(
            || {
                let s = TsSession::new(Some(id), store.clone(), None);
                block_on(s.load()).unwrap();
                s
            },
            |s| {
                n += 1;
                block_on(async {
                    s.insert("count", n).await.unwrap();
                    s.save().await.unwrap();
                });
                s
            },
            BatchSize::NumIterations(16),
        )
    });
}

fn tower_sessions_http<T: Shape>(g: &mut Group<'_>, payload: usize) {
    let fields = Arc::new(json_fields::<T>(payload));
    let store = tower_sessions::MemoryStore::default();
    let app = Router::new()
        .route(
            "/init",
            get(move |s: TsSession| async move {
                for (k, v) in fields.iter() {
                    s.insert_value(k, v.clone()).await.unwrap();
                }
                StatusCode::NO_CONTENT
            }),
        )
        .route(
            "/inc",
            get(|s: TsSession| async move {
                let n: u64 = s.get("count").await.unwrap().unwrap_or(0);
                s.insert("count", n + 1).await.unwrap();
                StatusCode::NO_CONTENT
            }),
        )
        .layer(SessionManagerLayer::new(store).with_secure(false));
    let rt = common::runtime();
    let res = rt
        .block_on(app.clone().oneshot(common::get_req("/init", None)))
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let cookie = common::session_cookie(&res, "id");
    let res = rt
        .block_on(app.clone().oneshot(common::get_req("/inc", Some(&cookie))))
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    g.bench_function(label::<T>(payload), |b| {
        b.iter(|| {
            rt.block_on(app.clone().oneshot(common::get_req("/inc", Some(&cookie))))
                .unwrap()
        })
    });
}

fn group<'a>(c: &'a mut Criterion, name: &str) -> Group<'a> {
    c.benchmark_group(format!("commit/{name}"))
}

fn bench_ours_http(c: &mut Criterion) {
    let mut g = group(c, "ours_http");
    for_each_shape!(ours_http(&mut g));
    g.finish();
}

fn bench_ours_store(c: &mut Criterion) {
    let mut g = group(c, "ours_store");
    for_each_shape!(ours_store(&mut g));
    g.finish();
}

fn bench_full_patch_store(c: &mut Criterion) {
    let mut g = group(c, "full_patch_store");
    for_each_shape!(full_patch_store(&mut g));
    g.finish();
}

fn bench_koa(c: &mut Criterion) {
    let mut g = group(c, "koa_hash_rewrite");
    for_each_shape!(koa_hash_rewrite(&mut g));
    g.finish();
}

fn bench_tower(c: &mut Criterion) {
    let mut g = group(c, "tower_sessions_request");
    for_each_shape!(tower_sessions_request(&mut g));
    g.finish();
    let mut g = group(c, "tower_sessions_save");
    for_each_shape!(tower_sessions_save(&mut g));
    g.finish();
    let mut g = group(c, "tower_sessions_http");
    for_each_shape!(tower_sessions_http(&mut g));
    g.finish();
}

criterion_group! {
    name = benches;
    config = common::config();
    targets = describe_all, bench_ours_http, bench_ours_store, bench_full_patch_store,
        bench_koa, bench_tower
}
criterion_main!(benches);
