//! `SqliteStore` against real SQLite databases: the whole conformance suite on a WAL file and
//! on `sqlite::memory:`, plus what only this backend has (migrate, table names, many writers
//! on one file, persistence across a reopen, typed errors when the file cannot be used, and
//! recovery once it can).
//!
//! SQLite is embedded, so there is no service to reach and nothing is ever skipped. Every test
//! works in its own temporary directory (and its own uniquely named table), removed when the
//! test's stores are dropped.
#![cfg(feature = "sqlite")]

#[macro_use]
#[path = "support/conformance.rs"]
mod conformance;

mod support;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use conformance::{assert_fields, fields, must_be_absent, must_create, must_load, raw, MIN, T0};
use session_runtime::store::sqlite::sqlx;
use session_runtime::store::sqlite::InvalidTableName;
use session_runtime::store::{
    Created, Patch, Patched, Record, SessionStore, StoreError, UnixMillis,
};
use session_runtime::{SessionKey, SqliteStore};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
use sqlx::Row as _;
use support::engines::{unique_suffix as unique, Guarded};

// ---------------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------------

/// A fresh temporary directory, removed (with everything in it) on drop.
#[derive(Debug)]
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        let path = std::env::temp_dir().join(format!("session-sqlite-test-{}", unique()));
        std::fs::create_dir_all(&path)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", path.display()));
        TempDir(path)
    }

    fn path(&self) -> &Path {
        &self.0
    }

    /// `sqlite://` URL of the file `name` in this directory.
    fn url(&self, name: &str) -> String {
        format!("sqlite://{}", self.0.join(name).display())
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A file-backed store that owns its temporary directory: the directory goes when the last
/// clone does (the conformance cases get no other cleanup hook).
type FileStore = Guarded<SqliteStore, TempDir>;

/// A migrated store on a new WAL file, in a uniquely named table.
async fn fresh_file_store() -> FileStore {
    let dir = TempDir::new();
    let store = SqliteStore::connect(&dir.url("sessions.db"))
        .await
        .unwrap_or_else(|e| panic!("connect to a new file in {}: {e:?}", dir.path().display()))
        .with_table_name(&format!("sessions_{}", unique()))
        .expect("valid table name");
    store.migrate().await.expect("migrate");
    Guarded::new(store, dir)
}

/// A migrated store on a private in-memory database.
async fn fresh_memory_store() -> SqliteStore {
    let store = SqliteStore::connect("sqlite::memory:")
        .await
        .expect("connect to sqlite::memory:");
    store.migrate().await.expect("migrate");
    store
}

#[track_caller]
fn assert_unavailable<T: std::fmt::Debug>(result: Result<T, StoreError>, what: &str) {
    match result {
        Err(StoreError::Unavailable(_)) => {}
        other => panic!("{what}: expected StoreError::Unavailable, got {other:?}"),
    }
}

#[track_caller]
fn assert_backend<T: std::fmt::Debug>(result: Result<T, StoreError>, what: &str) {
    match result {
        Err(StoreError::Backend(_)) => {}
        other => panic!("{what}: expected StoreError::Backend, got {other:?}"),
    }
}

/// Runs every store operation and asserts that each fails with `Unavailable`.
async fn assert_every_operation_unavailable(store: &SqliteStore, what: &str) {
    let key = SessionKey::random();
    let v = raw("1");
    let record = Record::new(fields(&[("a", "1")]), T0, T0 + MIN);
    assert_unavailable(store.load(&key, T0).await, &format!("{what}: load"));
    assert_unavailable(
        store.create(&key, &record).await,
        &format!("{what}: create"),
    );
    assert_unavailable(
        store.patch(&key, &Patch::new().set("a", &v), T0).await,
        &format!("{what}: patch"),
    );
    assert_unavailable(
        store.touch(&key, T0 + MIN, T0).await,
        &format!("{what}: touch"),
    );
    assert_unavailable(store.delete(&key).await, &format!("{what}: delete"));
    assert_unavailable(
        store.delete_expired(T0).await,
        &format!("{what}: delete_expired"),
    );
    assert_unavailable(
        store.delete_by_owner("\"alice\"").await,
        &format!("{what}: delete_by_owner"),
    );
    assert_unavailable(store.migrate().await, &format!("{what}: migrate"));
}

// ---------------------------------------------------------------------------------------------
// The conformance suite
// ---------------------------------------------------------------------------------------------

/// On a WAL file with the pool `connect` builds: the configuration users get.
mod file {
    conformance_tests!(crate::fresh_file_store().await);
}

/// On `sqlite::memory:` (one connection that is never recycled).
mod memory {
    conformance_tests!(crate::fresh_memory_store().await);
}

// ---------------------------------------------------------------------------------------------
// Schema and configuration
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn connect_configures_wal_normal_sync_and_busy_timeout() {
    let store = fresh_file_store().await;
    let pool = store.store.pool();
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(pool)
        .await
        .expect("journal_mode");
    assert_eq!(mode.to_ascii_lowercase(), "wal");
    let sync: i64 = sqlx::query_scalar("PRAGMA synchronous")
        .fetch_one(pool)
        .await
        .expect("synchronous");
    assert_eq!(sync, 1, "synchronous = NORMAL");
    let busy: i64 = sqlx::query_scalar("PRAGMA busy_timeout")
        .fetch_one(pool)
        .await
        .expect("busy_timeout");
    assert!(busy >= 1000, "busy_timeout is {busy} ms");
}

#[tokio::test]
async fn migrate_is_idempotent_and_creates_the_documented_schema() {
    let store = fresh_file_store().await;
    let key = SessionKey::random();
    let data = fields(&[("a", "1")]);
    must_create(
        &store,
        &key,
        &Record::new(data.clone(), T0, T0 + MIN),
        "before re-migrating",
    )
    .await;
    for _ in 0..3 {
        store.store.migrate().await.expect("migrate again");
    }
    // Concurrent migrations (several processes starting at once) are fine too.
    let (a, b) = tokio::join!(store.store.migrate(), store.store.migrate());
    a.expect("concurrent migrate");
    b.expect("concurrent migrate");
    let loaded = must_load(&store, &key, T0, "after re-migrating").await;
    assert_fields(&loaded, &data, "migrate must not touch existing rows");

    let table = store.store.table_name().to_owned();
    let pool = store.store.pool();
    let columns: Vec<(String, String, i64, i64)> = sqlx::query(&format!(
        "SELECT name, type, \"notnull\", pk FROM pragma_table_info('{table}')"
    ))
    .fetch_all(pool)
    .await
    .expect("table_info")
    .iter()
    .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
    .collect();
    let expected = [
        ("id", "TEXT", 1, 1),
        ("data", "TEXT", 1, 0),
        ("created_at", "INTEGER", 1, 0),
        ("expires_at", "INTEGER", 1, 0),
        ("owner", "TEXT", 0, 0),
    ];
    let expected: Vec<(String, String, i64, i64)> = expected
        .iter()
        .map(|(n, t, nn, pk)| ((*n).to_owned(), (*t).to_owned(), *nn, *pk))
        .collect();
    assert_eq!(columns, expected, "columns of {table}");

    let mut indexes: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ?1 AND sql IS NOT NULL",
    )
    .bind(&table)
    .fetch_all(pool)
    .await
    .expect("indexes");
    indexes.sort();
    assert_eq!(
        indexes,
        [
            format!("{table}_expires_at_idx"),
            format!("{table}_owner_idx")
        ]
    );

    // The indexes are what the purge and the revocation use.
    let plan = |sql: String| async move {
        let rows = sqlx::query(&format!("EXPLAIN QUERY PLAN {sql}"))
            .bind(T0)
            .fetch_all(pool)
            .await
            .expect("explain");
        rows.iter()
            .map(|r| r.get::<String, _>("detail"))
            .collect::<Vec<_>>()
            .join("; ")
    };
    let purge = plan(format!(
        "SELECT rowid FROM \"{table}\" WHERE expires_at <= ?1 LIMIT 1000"
    ))
    .await;
    assert!(purge.contains("_expires_at_idx"), "purge plan: {purge}");
    let revoke = plan(format!("DELETE FROM \"{table}\" WHERE owner = ?1")).await;
    assert!(revoke.contains("_owner_idx"), "revocation plan: {revoke}");
}

#[tokio::test]
async fn invalid_table_names_are_refused() {
    let store = fresh_memory_store().await;
    let long_ok = "t".repeat(64);
    for name in ["sessions_2", "_x", "S", "a1_B2", long_ok.as_str()] {
        let named = store
            .clone()
            .with_table_name(name)
            .unwrap_or_else(|e| panic!("{name:?} must be accepted: {e}"));
        assert_eq!(named.table_name(), name);
    }
    let too_long = "t".repeat(65);
    for name in [
        "",
        "a-b",
        "a b",
        "a.b",
        "sessions;",
        "x\"; DROP TABLE sessions; --",
        "sessions\u{0}",
        "ünïcode",
        "sqlite_master",
        "SQLite_sessions",
        too_long.as_str(),
    ] {
        match store.clone().with_table_name(name) {
            Err(InvalidTableName { name: refused, .. }) => assert_eq!(refused, name),
            Ok(_) => panic!("table name {name:?} must be refused"),
        }
    }
    // The store it was called on is unaffected.
    assert_eq!(store.table_name(), "sessions");
}

#[tokio::test]
async fn tables_in_one_file_are_independent() {
    let base = fresh_file_store().await;
    let other = base
        .store
        .clone()
        .with_table_name(&format!("other_{}", unique()))
        .expect("valid");
    other.migrate().await.expect("migrate other");
    let key = SessionKey::random();
    must_create(
        &base,
        &key,
        &Record::new(fields(&[("t", "1")]), T0, T0 + MIN),
        "base",
    )
    .await;
    must_be_absent(&other, &key, T0, "same key in another table").await;
    must_create(
        &other,
        &key,
        &Record::new(fields(&[("t", "2")]), T0, T0 + MIN),
        "other",
    )
    .await;
    assert_eq!(other.delete_expired(T0 + MIN).await.expect("purge"), 1);
    let loaded = must_load(&base, &key, T0, "base after the other table's purge").await;
    assert_fields(&loaded, &fields(&[("t", "1")]), "base table untouched");
}

#[tokio::test]
async fn field_names_are_stored_readably_or_hex_encoded() {
    let store = fresh_file_store().await;
    let key = SessionKey::random();
    let data = fields(&[
        ("plain_Name1", "1"),
        ("user.id", "2"),
        ("q\"\\\u{0}", "3"),
        ("", "4"),
    ]);
    must_create(
        &store,
        &key,
        &Record::new(data.clone(), T0, T0 + MIN),
        "names",
    )
    .await;
    let v = raw(r#""\u0000""#);
    let p = Patch::new().set("é", &v).remove("user.id");
    assert_eq!(
        store.patch(&key, &p, T0).await.expect("patch"),
        Patched::Applied
    );

    let stored: String = sqlx::query_scalar(&format!(
        "SELECT data FROM \"{}\" WHERE id = ?1",
        store.store.table_name()
    ))
    .bind(key.to_hex())
    .fetch_one(store.store.pool())
    .await
    .expect("raw row");
    let stored: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&stored).expect("data is a JSON object");
    let mut keys: Vec<&str> = stored.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["plain_Name1", "~", "~71225c00", "~c3a9"]);
    assert_eq!(stored["~c3a9"], serde_json::json!("\u{0}"));

    let loaded = must_load(&store, &key, T0, "names").await;
    let expected = fields(&[
        ("plain_Name1", "1"),
        ("q\"\\\u{0}", "3"),
        ("", "4"),
        ("é", r#""\u0000""#),
    ]);
    assert_fields(&loaded, &expected, "names after the patch");
}

#[tokio::test]
async fn unreadable_rows_are_corrupt_not_a_panic() {
    let store = fresh_file_store().await;
    let table = store.store.table_name().to_owned();
    let pool = store.store.pool();
    let insert = |id: String, data: &'static str| {
        let sql = format!(
            "INSERT INTO \"{table}\" (id, data, created_at, expires_at) VALUES (?1, ?2, ?3, ?4)"
        );
        async move {
            sqlx::query(&sql)
                .bind(id)
                .bind(data)
                .bind(T0)
                .bind(T0 + MIN)
                .execute(pool)
                .await
                .expect("insert a hand-made row");
        }
    };
    for (data, what) in [
        ("not json", "not JSON"),
        ("[1, 2]", "an array"),
        (r#"{"user.id": 1}"#, "an unencoded key"),
        (r#"{"~zz": 1}"#, "a bad hex key"),
    ] {
        let key = SessionKey::random();
        insert(key.to_hex(), data).await;
        match store.load(&key, T0).await {
            Err(StoreError::Corrupt { .. }) => {}
            other => panic!("a row whose data is {what}: expected Corrupt, got {other:?}"),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Concurrency
// ---------------------------------------------------------------------------------------------

/// 8 tasks × 200 mixed operations (create, patch, touch, load, delete) on one WAL file through
/// the pool `connect` builds: no operation may fail ("database is locked" or anything else),
/// and every task's last write to each shared record must be there at the end.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_writers_on_one_file_never_fail() {
    const TASKS: usize = 8;
    const OPS: usize = 200;
    const SHARED: usize = 6;
    let store = fresh_file_store().await;
    let exp = T0 + 60 * MIN;

    let shared: Arc<Vec<SessionKey>> =
        Arc::new((0..SHARED).map(|_| SessionKey::random()).collect());
    for key in shared.iter() {
        must_create(
            &store,
            key,
            &Record::new(fields(&[("untouched", "true")]), T0, exp),
            "shared record",
        )
        .await;
    }

    let started = Instant::now();
    let mut handles = Vec::new();
    for task in 0..TASKS {
        let store = store.clone();
        let shared = shared.clone();
        handles.push(tokio::spawn(async move {
            let mut rng = conformance::Rng::new(0x5EED ^ ((task as u64 + 1) * 0x9E37_79B9));
            let field = format!("task_{task}");
            let mut last_written: HashMap<usize, usize> = HashMap::new();
            let mut own: Vec<SessionKey> = Vec::new();
            for op in 0..OPS {
                let now = T0 + op as UnixMillis;
                let what = format!("task {task}, op {op}");
                match rng.below(10) {
                    // Create a session of its own.
                    0 | 1 => {
                        let key = SessionKey::random();
                        let record = Record::new(fields(&[("n", "0")]), now, exp)
                            .with_owner(Some(format!("\"user{task}\"")));
                        match store.create(&key, &record).await {
                            Ok(Created::Inserted) => own.push(key),
                            other => panic!("{what}: create returned {other:?}"),
                        }
                    }
                    // Patch its own field of a shared session (and sometimes its expiry).
                    2..=5 => {
                        let i = rng.below(SHARED as u64) as usize;
                        let v = conformance::to_raw(&op);
                        let mut p = Patch::new().set(&field, &v);
                        if rng.below(4) == 0 {
                            p = p.expires_at(exp + op as UnixMillis);
                        }
                        match store.patch(&shared[i], &p, now).await {
                            Ok(Patched::Applied) => {
                                last_written.insert(i, op);
                            }
                            other => panic!("{what}: patch returned {other:?}"),
                        }
                    }
                    // Touch a shared session.
                    6 => {
                        let i = rng.below(SHARED as u64) as usize;
                        match store.touch(&shared[i], exp, now).await {
                            Ok(Patched::Applied) => {}
                            other => panic!("{what}: touch returned {other:?}"),
                        }
                    }
                    // Patch, then delete, one of its own sessions.
                    7 => {
                        if let Some(key) = own.pop() {
                            let v = raw("1");
                            match store.patch(&key, &Patch::new().set("n", &v), now).await {
                                Ok(Patched::Applied) => {}
                                other => panic!("{what}: patch of own returned {other:?}"),
                            }
                            if let Err(e) = store.delete(&key).await {
                                panic!("{what}: delete returned {e:?}");
                            }
                        }
                    }
                    // Load a shared session.
                    _ => {
                        let i = rng.below(SHARED as u64) as usize;
                        match store.load(&shared[i], now).await {
                            Ok(Some(_)) => {}
                            other => panic!("{what}: load returned {other:?}"),
                        }
                    }
                }
            }
            (last_written, own.len())
        }));
    }
    let mut own_left = 0;
    let mut expected: Vec<HashMap<String, String>> = vec![HashMap::new(); SHARED];
    for (task, handle) in handles.into_iter().enumerate() {
        let (last, own) = match handle.await {
            Ok(out) => out,
            Err(e) => std::panic::resume_unwind(e.into_panic()),
        };
        own_left += own;
        for (i, op) in last {
            expected[i].insert(format!("task_{task}"), op.to_string());
        }
    }
    let elapsed = started.elapsed();

    for (i, key) in shared.iter().enumerate() {
        let loaded = must_load(&store, key, T0 + OPS as UnixMillis, "shared after the run").await;
        let mut want: Vec<(&str, &str)> = expected[i]
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        want.push(("untouched", "true"));
        assert_fields(
            &loaded,
            &fields(&want),
            &format!("shared record {i}: every task's last write survives"),
        );
    }
    let owned: u64 = {
        let mut n = 0;
        for task in 0..TASKS {
            n += store
                .delete_by_owner(&format!("\"user{task}\""))
                .await
                .expect("delete_by_owner");
        }
        n
    };
    assert_eq!(owned as usize, own_left, "sessions created and not deleted");
    eprintln!(
        "{} mixed operations by {TASKS} tasks on one SQLite file in {elapsed:?}",
        TASKS * OPS
    );
}

/// Two stores (two pools, as two processes would have) writing the same file at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_pools_on_one_file_never_fail() {
    let a = fresh_file_store().await;
    let dir = a.guard.clone();
    let b = SqliteStore::connect(&dir.url("sessions.db"))
        .await
        .expect("second pool")
        .with_table_name(a.store.table_name())
        .expect("same table");
    let key = SessionKey::random();
    must_create(
        &a,
        &key,
        &Record::new(fields(&[]), T0, T0 + 60 * MIN),
        "shared",
    )
    .await;
    let mut handles = Vec::new();
    for (n, store) in [a.store.clone(), b.clone()].into_iter().enumerate() {
        for t in 0..4 {
            let store = store.clone();
            handles.push(tokio::spawn(async move {
                let name = format!("pool{n}_task{t}");
                for i in 0..100 {
                    let v = conformance::to_raw(&i);
                    let r = store.patch(&key, &Patch::new().set(&name, &v), T0).await;
                    assert!(
                        matches!(r, Ok(Patched::Applied)),
                        "{name}, write {i}: {r:?}"
                    );
                    let r = store
                        .create(&SessionKey::random(), &Record::new(fields(&[]), T0, T0 + 1))
                        .await;
                    assert!(
                        matches!(r, Ok(Created::Inserted)),
                        "{name}, create {i}: {r:?}"
                    );
                }
            }));
        }
    }
    for h in handles {
        if let Err(e) = h.await {
            std::panic::resume_unwind(e.into_panic());
        }
    }
    let loaded = must_load(&b, &key, T0, "after two pools wrote").await;
    assert_eq!(loaded.fields.len(), 8, "every task's field is there");
    assert_eq!(a.delete_expired(T0 + 1).await.expect("purge"), 800);
    b.pool().close().await;
}

// ---------------------------------------------------------------------------------------------
// Persistence, outages, errors
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn records_persist_across_a_reopen_of_the_file() {
    let dir = TempDir::new();
    let url = dir.url("persist.db");
    let key = SessionKey::random();
    let data = fields(&[("user", r#""alice""#), ("ctrl\u{0}", r#""\u0000 😀""#)]);
    {
        let store = SqliteStore::connect(&url).await.expect("connect");
        store.migrate().await.expect("migrate");
        let record =
            Record::new(data.clone(), T0, T0 + MIN).with_owner(Some(r#""alice""#.to_owned()));
        must_create(&store, &key, &record, "before the reopen").await;
        let v = raw("[1,2]");
        let p = Patch::new().set("list", &v).expires_at(T0 + 2 * MIN);
        assert_eq!(
            store.patch(&key, &p, T0).await.expect("patch"),
            Patched::Applied
        );
        store.pool().close().await;
    }
    assert!(
        dir.path().join("persist.db").exists(),
        "the file was created"
    );

    let store = SqliteStore::connect(&url).await.expect("reopen");
    store.migrate().await.expect("migrate on an existing table");
    let loaded = must_load(&store, &key, T0 + MIN, "after the reopen").await;
    let mut expected = data;
    expected.insert("list".to_owned(), raw("[1,2]"));
    assert_fields(&loaded, &expected, "after the reopen");
    assert_eq!(loaded.created_at, T0);
    assert_eq!(loaded.expires_at, T0 + 2 * MIN);
    assert_eq!(loaded.owner.as_deref(), Some(r#""alice""#));
    store.pool().close().await;
}

#[tokio::test]
async fn memory_databases_are_private_to_their_store() {
    let a = fresh_memory_store().await;
    let b = fresh_memory_store().await;
    let key = SessionKey::random();
    must_create(
        &a,
        &key,
        &Record::new(fields(&[("a", "1")]), T0, T0 + MIN),
        "memory a",
    )
    .await;
    must_be_absent(&b, &key, T0, "another sqlite::memory: store").await;
    // Clones share the database (one connection, never recycled).
    must_load(&a.clone(), &key, T0, "a clone").await;
}

#[tokio::test]
async fn a_closed_pool_is_unavailable() {
    let store = fresh_file_store().await;
    store.store.pool().close().await;
    assert_every_operation_unavailable(&store.store, "closed pool").await;
}

/// The database's directory does not exist: every operation fails fast with `Unavailable`
/// (no panic, no 30 s wait); once the directory appears, the same store works after
/// `migrate()`, without being rebuilt.
#[tokio::test]
async fn a_missing_directory_is_unavailable_until_it_appears() {
    let dir = TempDir::new();
    let missing = dir.path().join("not-yet");
    let options = SqliteConnectOptions::new()
        .filename(missing.join("sessions.db"))
        .create_if_missing(true)
        .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal);
    let pool = SqlitePoolOptions::new()
        .acquire_timeout(Duration::from_secs(10))
        .connect_lazy_with(options);
    let store = SqliteStore::new(pool);

    let started = Instant::now();
    assert_every_operation_unavailable(&store, "missing directory").await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "failing to open the file must not wait for the acquire timeout ({:?})",
        started.elapsed()
    );

    // `connect` reports it as well.
    let url = format!("sqlite://{}", missing.join("other.db").display());
    assert_unavailable(
        SqliteStore::connect(&url).await,
        "connect in a missing directory",
    );

    std::fs::create_dir(&missing).expect("create the directory");
    store
        .migrate()
        .await
        .expect("migrate once the directory exists");
    let key = SessionKey::random();
    must_create(
        &store,
        &key,
        &Record::new(fields(&[("back", "true")]), T0, T0 + MIN),
        "after recovery",
    )
    .await;
    must_load(&store, &key, T0, "after recovery").await;
    store.pool().close().await;
}

/// The database path is a directory: `Unavailable` (the file cannot be opened), not a panic.
#[tokio::test]
async fn a_path_that_cannot_be_opened_is_unavailable() {
    let dir = TempDir::new();
    std::fs::create_dir(dir.path().join("a-directory.db")).expect("mkdir");
    assert_unavailable(
        SqliteStore::connect(&dir.url("a-directory.db")).await,
        "connect to a directory",
    );
}

/// A file that is not a database, or a table that was never migrated, is a `Backend` error.
#[tokio::test]
async fn engine_errors_are_backend_errors() {
    let dir = TempDir::new();
    let garbage = dir.path().join("garbage.db");
    std::fs::write(&garbage, vec![b'x'; 8192]).expect("write garbage");
    assert_backend(
        SqliteStore::connect(&dir.url("garbage.db")).await,
        "connect to a file that is not a database",
    );

    let store = SqliteStore::connect(&dir.url("empty.db"))
        .await
        .expect("connect")
        .with_table_name("never_migrated")
        .expect("valid");
    assert_backend(
        store.load(&SessionKey::random(), T0).await,
        "load without migrate",
    );
    assert_backend(
        store
            .create(
                &SessionKey::random(),
                &Record::new(fields(&[]), T0, T0 + MIN),
            )
            .await,
        "create without migrate",
    );
    store.pool().close().await;
}

/// Patches naming more fields than one SQLite function call may take (127 arguments) are
/// split into nested `json_set` / `json_remove` calls, still one statement.
#[tokio::test]
async fn wide_patches_stay_within_sqlite_limits() {
    let store = fresh_file_store().await;
    let key = SessionKey::random();
    let names: Vec<String> = (0..400).map(|i| format!("field {i}")).collect();
    let start: session_runtime::store::FieldMap =
        names[..300].iter().map(|n| (n.clone(), raw("0"))).collect();
    must_create(&store, &key, &Record::new(start, T0, T0 + MIN), "wide").await;
    let v = raw(r#""new""#);
    let mut p = Patch::new();
    for n in &names[150..400] {
        p = p.set(n, &v);
    }
    for n in &names[..200] {
        p = p.remove(n);
    }
    assert_eq!(
        store.patch(&key, &p, T0).await.expect("wide patch"),
        Patched::Applied
    );
    let loaded = must_load(&store, &key, T0, "wide").await;
    let expected: session_runtime::store::FieldMap = names[200..400]
        .iter()
        .map(|n| (n.clone(), raw(r#""new""#)))
        .collect();
    assert_fields(&loaded, &expected, "250 sets then 200 removes");
}

/// Several pools (as several processes would have) opening a new file at once: every
/// `connect` (which switches the file to WAL) and every `migrate` succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_first_starts_on_a_new_file_succeed() {
    for round in 0..20 {
        let dir = Arc::new(TempDir::new());
        let mut handles = Vec::new();
        for _ in 0..4 {
            let dir = dir.clone();
            handles.push(tokio::spawn(async move {
                let store = SqliteStore::connect(&dir.url("new.db"))
                    .await
                    .map_err(|e| ("connect", e))?;
                store.migrate().await.map_err(|e| ("migrate", e))?;
                let key = SessionKey::random();
                store
                    .create(&key, &Record::new(fields(&[]), T0, T0 + MIN))
                    .await
                    .map_err(|e| ("create", e))?;
                store.pool().close().await;
                Ok::<_, (&str, StoreError)>(())
            }));
        }
        for h in handles {
            match h.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => panic!("round {round}: a concurrent first start failed: {e:?}"),
                Err(e) => std::panic::resume_unwind(e.into_panic()),
            }
        }
    }
}
