//! Test bodies shared by the SQL store suites (`store_postgres`, `store_mysql`): the same
//! checks over different stores and pools. Each suite keeps its own `#[tokio::test]`s (names,
//! pools, SQL, table names) and calls these with what differs: the store, its data, and
//! closures (or methods) for what only the concrete store type can do (`migrate`, `connect`,
//! `with_table_name`).

use std::fmt::Debug;
use std::future::Future;
use std::time::{Duration, Instant};

// One type, re-exported by each SQL store module.
#[cfg(feature = "mysql")]
use session_runtime::store::mysql::InvalidTableName;
#[cfg(not(feature = "mysql"))]
use session_runtime::store::postgres::InvalidTableName;
use session_runtime::store::{Patch, Patched, Record, SessionStore, StoreError, UnixMillis};
use session_runtime::SessionKey;
use tokio::task::JoinHandle;

use crate::support::engines::Proxy;

use crate::conformance::{assert_fields, fields, must_create, must_load, raw, to_raw, MIN, T0};

/// The first half of `migrate_is_idempotent_and_creates_the_indexes`: `migrate` (a fresh
/// `migrate()` future each call) runs again, then four times concurrently, without error or
/// data loss.
pub async fn migrate_runs_again_and_concurrently<S, M, F>(store: &S, migrate: M)
where
    S: SessionStore,
    M: Fn() -> F,
    F: Future<Output = Result<(), StoreError>> + Send + 'static,
{
    let key = SessionKey::random();
    let data = fields(&[("a", "1")]);
    must_create(
        store,
        &key,
        &Record::new(data.clone(), T0, T0 + MIN),
        "before migrate",
    )
    .await;

    migrate().await.expect("second migrate");
    let concurrent: Vec<_> = (0..4).map(|_| tokio::spawn(migrate())).collect();
    for m in concurrent {
        m.await.expect("join").expect("concurrent migrate");
    }
    let loaded = must_load(store, &key, T0, "after migrate ran again").await;
    assert_fields(&loaded, &data, "migrate must keep existing rows");
}

/// `invalid_table_names_are_refused`: `store` has the default table name; every name in `bad`
/// is refused (with an error naming it), every name in `good` is taken. `table_name` and
/// `with_table_name` are the store type's own methods.
pub fn invalid_table_names_are_refused<S: Clone + Debug>(
    store: &S,
    table_name: fn(&S) -> &str,
    with_table_name: fn(S, &str) -> Result<S, InvalidTableName>,
    bad: &[&str],
    good: &[&str],
) {
    assert_eq!(table_name(store), "sessions", "the default table name");
    for &bad in bad {
        let err = with_table_name(store.clone(), bad)
            .expect_err(&format!("table name {bad:?} must be refused"));
        assert_eq!(err.name, bad);
        assert!(
            err.to_string().contains("invalid session table name"),
            "{err}"
        );
    }
    for &good in good {
        let s = with_table_name(store.clone(), good).expect(good);
        assert_eq!(table_name(&s), good);
    }
}

/// The first part of `patch_merges_on_the_server`: `side_write(key)` adds `b = 2` behind the
/// store's back; a patch made from a stale view keeps it. Returns the record's key.
pub async fn patch_merges_on_the_server<S, W, F>(store: &S, side_write: W) -> SessionKey
where
    S: SessionStore,
    W: FnOnce(SessionKey) -> F,
    F: Future<Output = ()>,
{
    let key = SessionKey::random();
    must_create(
        store,
        &key,
        &Record::new(fields(&[("a", "1")]), T0, T0 + MIN),
        "merge",
    )
    .await;
    side_write(key).await;
    let v = raw("3");
    let p = Patch::new().set("c", &v).remove("a");
    assert_eq!(
        store.patch(&key, &p, T0).await.expect("patch"),
        Patched::Applied
    );
    let loaded = must_load(store, &key, T0, "merge").await;
    assert_fields(
        &loaded,
        &fields(&[("b", "2"), ("c", "3")]),
        "server-side merge",
    );
    key
}

/// `cleanup_racing_with_writes_counts_exactly`: `delete_expired` sweeping while other records
/// are created, touched and patched.
pub async fn cleanup_racing_with_writes_counts_exactly<S>(store: S)
where
    S: SessionStore + Clone + Send + Sync + 'static,
{
    const LIVE: usize = 16;
    const EXPIRED_PER_CREATOR: usize = 60;
    let now = T0 + 60 * MIN;
    let mut live = Vec::new();
    for i in 0..LIVE {
        let key = SessionKey::random();
        let record = Record::new(fields(&[("n", "0")]), T0, now + 1 + i as UnixMillis);
        must_create(&store, &key, &record, "live").await;
        live.push(key);
    }

    let mut tasks: Vec<JoinHandle<u64>> = Vec::new();
    for c in 0..2u64 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..EXPIRED_PER_CREATOR {
                let at = now - 1 - (c * 1_000 + i as u64) as UnixMillis;
                let record = Record::new(fields(&[("dead", "true")]), T0, at);
                must_create(&store, &SessionKey::random(), &record, "expired").await;
            }
            0
        }));
    }
    for w in 0..3usize {
        let (store, live) = (store.clone(), live.clone());
        tasks.push(tokio::spawn(async move {
            for round in 0..40usize {
                let key = live[(w * 7 + round) % LIVE];
                let at = now + MIN + (round * 3 + w) as UnixMillis;
                let touched = store.touch(&key, at, now).await;
                assert!(
                    matches!(touched, Ok(Patched::Applied)),
                    "touch: {touched:?}"
                );
                let v = to_raw(&round);
                let p = Patch::new().set("n", &v).expires_at(at + 1);
                let patched = store.patch(&key, &p, now).await;
                assert!(
                    matches!(patched, Ok(Patched::Applied)),
                    "patch: {patched:?}"
                );
            }
            0
        }));
    }
    for _ in 0..2 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut removed = 0;
            for _ in 0..30 {
                removed += store.delete_expired(now).await.expect("delete_expired");
                tokio::task::yield_now().await;
            }
            removed
        }));
    }
    let mut removed = 0;
    for t in tasks {
        removed += t
            .await
            .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
    }
    removed += store
        .delete_expired(now)
        .await
        .expect("final delete_expired");
    assert_eq!(
        removed,
        2 * EXPIRED_PER_CREATOR as u64,
        "the sweeps together must count every expired record exactly once"
    );
    for key in &live {
        must_load(&store, key, now, "a live record after the racing sweeps").await;
    }
}

/// `connect_to_a_dead_port_is_unavailable_quickly`: `connect` (given a port where nothing
/// listens) gives up with `Unavailable` within 10 s.
pub async fn connect_to_a_dead_port_is_unavailable_quickly<T, F>(connect: F)
where
    F: Future<Output = Result<T, StoreError>>,
{
    let started = Instant::now();
    let result = connect.await;
    match result {
        Err(StoreError::Unavailable(_)) => {}
        other => panic!("expected Unavailable, got {:?}", other.map(|_| "a store")),
    }
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "connect took {:?} to give up",
        started.elapsed()
    );
}

/// The body of `outage_is_unavailable_and_the_store_recovers`, on a store whose pool goes
/// through `proxy` (1 s acquire timeout); `migrate` is the store's own `migrate()`.
pub async fn outage_is_unavailable_and_the_store_recovers<S, M, F>(
    store: &S,
    proxy: &mut Proxy,
    migrate: M,
) where
    S: SessionStore,
    M: FnOnce() -> F,
    F: Future<Output = Result<(), StoreError>>,
{
    let key = SessionKey::random();
    let data = fields(&[("a", "1")]);
    must_create(
        store,
        &key,
        &Record::new(data.clone(), T0, T0 + 60 * MIN),
        "before",
    )
    .await;
    must_load(store, &key, T0, "before the outage").await;

    proxy.down().await;
    let v = raw("2");
    let started = Instant::now();
    let outcomes = [
        ("load", store.load(&key, T0).await.map(|_| ())),
        (
            "create",
            store
                .create(
                    &SessionKey::random(),
                    &Record::new(data.clone(), T0, T0 + MIN),
                )
                .await
                .map(|_| ()),
        ),
        (
            "patch",
            store
                .patch(&key, &Patch::new().set("a", &v), T0)
                .await
                .map(|_| ()),
        ),
        (
            "touch",
            store.touch(&key, T0 + 2 * MIN, T0).await.map(|_| ()),
        ),
        ("delete", store.delete(&SessionKey::random()).await),
        ("delete_expired", store.delete_expired(T0).await.map(|_| ())),
        (
            "delete_by_owner",
            store.delete_by_owner("\"x\"").await.map(|_| ()),
        ),
        ("migrate", migrate().await),
    ];
    for (op, outcome) in outcomes {
        match outcome {
            Err(StoreError::Unavailable(_)) => {}
            other => panic!("{op} during the outage: expected Unavailable, got {other:?}"),
        }
    }
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "8 operations with a 1 s acquire timeout took {:?}",
        started.elapsed()
    );

    proxy.up().await;
    let loaded = must_load(store, &key, T0, "after the proxy came back").await;
    assert_fields(&loaded, &data, "the record survives the outage");
    assert_eq!(
        store
            .patch(&key, &Patch::new().set("a", &v), T0)
            .await
            .expect("patch after"),
        Patched::Applied
    );
    let loaded = must_load(store, &key, T0, "patched after the outage").await;
    assert_fields(&loaded, &fields(&[("a", "2")]), "patch after the outage");
    proxy.down().await;
}
