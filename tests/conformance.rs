//! The store conformance suite against the in-process `MemoryStore`, plus the checks that
//! only the memory store can answer (how many records it holds).

#[macro_use]
#[path = "support/conformance.rs"]
mod conformance;
mod support;

use std::borrow::Cow;

use conformance::{assert_fields, fields, must_be_absent, must_create, must_load, raw, MIN, T0};
use session_runtime::store::{FieldMap, Patched, Record, SyncSessionStore, UnixMillis};
use session_runtime::{MemoryStore, SessionKey, SessionStore};
use support::stores::SyncSpy;

mod memory {
    conformance_tests!(session_runtime::MemoryStore::new());
}

/// The one-call entry point works too (and runs every case on its own fresh store).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_all_against_memory() {
    conformance::run_all(MemoryStore::new).await;
}

/// Clones share one store: what `spawn_cleanup(store.clone(), ..)` relies on.
#[tokio::test]
async fn memory_clones_share_records() {
    let a = MemoryStore::new();
    let b = a.clone();
    let key = SessionKey::random();
    let data = fields(&[("a", "1")]);
    must_create(&a, &key, &Record::new(data.clone(), T0, T0 + MIN), "clone").await;
    let loaded = must_load(&b, &key, T0, "record created through a clone").await;
    assert_fields(&loaded, &data, "record created through a clone");
    b.delete(&key).await.expect("delete");
    must_be_absent(&a, &key, T0, "record deleted through a clone").await;
    assert!(
        a.is_empty(),
        "a delete through a clone must empty the original"
    );
}

/// Without any cleanup task, the memory store does not grow with records that expired: every
/// `create` purges the expired records of its shard, using the new record's `created_at` as
/// the clock.
#[tokio::test]
async fn memory_store_stays_bounded_without_cleanup() {
    const CREATES: usize = 20_000;
    /// Each record lives for this many subsequent creates.
    const LIFETIME: UnixMillis = 100;
    const STEP: UnixMillis = 10;
    /// Live records (`LIFETIME`) plus expired ones a shard has not purged since its last
    /// create. A create reaches one of 1,024 shards, so an expired record waits about 1,024
    /// creates for its purge: the store holds about `LIFETIME` + 1,024 records (at most
    /// 1,163 in 200 runs). Without purging it would hold `CREATES`.
    const BOUND: usize = 1_500;

    let store = MemoryStore::new();
    let mut max_len = 0;
    let mut keys = Vec::with_capacity(CREATES);
    for i in 0..CREATES {
        let created_at = T0 + i as UnixMillis * STEP;
        // Expires before the record created `LIFETIME` steps later.
        let expires_at = created_at + LIFETIME * STEP - 1;
        let key = SessionKey::random();
        must_create(
            &store,
            &key,
            &Record::new(fields(&[("i", &i.to_string())]), created_at, expires_at),
            "bounded",
        )
        .await;
        keys.push(key);
        max_len = max_len.max(store.len());
        assert!(
            store.len() <= BOUND,
            "after {} creates of records living {LIFETIME} creates each, the memory store holds \
             {} records (bound {BOUND}): creates do not purge expired records",
            i + 1,
            store.len()
        );
    }
    assert!(
        max_len >= LIFETIME as usize,
        "the store held at most {max_len} records, fewer than the {LIFETIME} live ones: \
         creates purged live records"
    );

    // Purging never took a live record: the last LIFETIME records are all there.
    let now = T0 + (CREATES as UnixMillis - 1) * STEP;
    for (i, key) in keys.iter().enumerate().skip(CREATES - LIFETIME as usize) {
        let loaded = must_load(&store, key, now, "live record after many creates").await;
        assert_fields(
            &loaded,
            &fields(&[("i", &i.to_string())]),
            "live record after many creates",
        );
    }
    // And what it still holds beyond those is only expired records, which delete_expired finds.
    let held = store.len();
    let removed = store.delete_expired(now).await.expect("delete_expired");
    assert_eq!(
        held - removed as usize,
        LIFETIME as usize,
        "after delete_expired only the {LIFETIME} live records may remain"
    );
    assert_eq!(store.len(), LIFETIME as usize);
}

/// The `spawn_cleanup` task empties the memory store of records expired by the system clock.
#[tokio::test]
async fn memory_spawn_cleanup_shrinks_len() {
    let store = MemoryStore::new();
    for _ in 0..100 {
        must_create(
            &store,
            &SessionKey::random(),
            &Record::new(fields(&[]), 0, 1),
            "cleanup",
        )
        .await;
    }
    assert_eq!(
        store.len(),
        100,
        "expired records are held until something purges them"
    );
    let handle =
        session_runtime::store::spawn_cleanup(store.clone(), std::time::Duration::from_millis(50));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while !store.is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "spawn_cleanup left {} of 100 expired records after 5 s",
            store.len()
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    handle.abort();
}

/// The cleanup task survives failing passes (tower-sessions' stops at the first error): while
/// the store fails, nothing is purged and the task keeps ticking; once the store is back, the
/// next pass purges.
#[tokio::test]
async fn spawn_cleanup_keeps_running_when_a_pass_fails() {
    use std::sync::atomic::Ordering;
    use std::time::Duration;

    let store = support::stores::Faulty::default();
    let expired = SessionKey::random();
    // Expired long ago by the system clock that `spawn_cleanup` uses.
    must_create(
        &store.inner,
        &expired,
        &Record::new(fields(&[("a", "1")]), 0, 1),
        "expired",
    )
    .await;
    store.fail_writes.store(true, Ordering::SeqCst);
    let task = session_runtime::store::spawn_cleanup(store.clone(), Duration::from_millis(20));
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        !task.is_finished(),
        "a failing pass must not end the cleanup task"
    );
    assert_eq!(
        store.inner.len(),
        1,
        "nothing can be purged while the store fails"
    );
    store.fail_writes.store(false, Ordering::SeqCst);
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while !store.inner.is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "the cleanup never recovered from the failures"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(!task.is_finished());
    task.abort();
}

/// `SyncSessionStore::set_now`: the memory store takes the values over; `SyncSpy`, which
/// delegates to a memory store but keeps the trait's default `set_now`, borrows them for
/// `patch_now`. Both leave the same records.
#[test]
fn set_now_takes_the_values_and_agrees_with_the_default_that_copies_them() {
    let ours = MemoryStore::new();
    let defaulted = SyncSpy::default();
    let stores: [&dyn SyncSessionStore; 2] = [&ours, &defaulted];
    for store in stores {
        let key = SessionKey::random();
        store
            .create_now(
                &key,
                &Record::new(fields(&[("keep", "1"), ("a", "2")]), 10, 100),
            )
            .unwrap();
        let mut set = vec![
            (Cow::Borrowed("a"), Some(raw("3"))),
            (Cow::Owned("new".to_owned()), Some(raw(r#""x""#))),
            (Cow::Borrowed("skipped"), None),
        ];
        assert_eq!(
            store.set_now(&key, &mut set, Some(200), 50).unwrap(),
            Patched::Applied
        );
        let record = store.load_now(&key, 150).unwrap().expect("live until 200");
        assert_eq!(record.expires_at, 200);
        assert_eq!(record.created_at, 10);
        let mut got: Vec<_> = record
            .fields
            .iter()
            .map(|(n, v)| (n.to_owned(), v.as_str().to_owned()))
            .collect();
        got.sort();
        assert_eq!(
            got,
            [("a", "3"), ("keep", "1"), ("new", r#""x""#)]
                .map(|(n, v)| (n.to_owned(), v.to_owned()))
        );
        // No expiry given: the deadline stays.
        let mut again = vec![(Cow::Borrowed("a"), Some(raw("4")))];
        store.set_now(&key, &mut again, None, 60).unwrap();
        let record = store.load_now(&key, 60).unwrap().unwrap();
        assert_eq!((record.expires_at, record.fields["a"].as_str()), (200, "4"));
        // An expired or unknown record is gone, and nothing is written.
        let mut late = vec![(Cow::Borrowed("a"), Some(raw("5")))];
        assert_eq!(
            store.set_now(&key, &mut late, Some(900), 200).unwrap(),
            Patched::Gone
        );
        assert_eq!(
            store
                .set_now(&SessionKey::random(), &mut late, None, 0)
                .unwrap(),
            Patched::Gone
        );
        assert_eq!(
            store.load_now(&key, 199).unwrap().unwrap().fields["a"].as_str(),
            "4"
        );
    }
    // Only the memory store's own version takes the values over.
    let key = SessionKey::random();
    ours.create_now(&key, &Record::new(FieldMap::default(), 0, 100))
        .unwrap();
    let mut set = vec![(Cow::Borrowed("a"), Some(raw("1")))];
    ours.set_now(&key, &mut set, None, 0).unwrap();
    assert!(set[0].1.is_none(), "taken, not copied");
    let key = SessionKey::random();
    defaulted
        .create_now(&key, &Record::new(FieldMap::default(), 0, 100))
        .unwrap();
    let mut set = vec![(Cow::Borrowed("a"), Some(raw("1")))];
    defaulted.set_now(&key, &mut set, None, 0).unwrap();
    assert!(set[0].1.is_some(), "the default borrows");
}
