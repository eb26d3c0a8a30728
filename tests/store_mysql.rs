//! `MySqlStore` against a real MariaDB (or MySQL): the whole conformance suite, plus what only
//! this backend has (migrate, table names, the field-name encoding, affected-row semantics,
//! `max_allowed_packet`, outages through a TCP proxy).
//!
//! The server comes from `SESSION_TEST_MYSQL_URL` (default `mysql://root@127.0.0.1:3306/test`).
//! If it cannot be reached the tests print one `SKIPPED` line and pass, unless
//! `SESSION_TESTS_REQUIRE_SERVICES=1` (as in CI), where they fail. Every test works in its own
//! uniquely named table and drops it when done.
#![cfg(feature = "mysql")]

#[macro_use]
#[path = "support/conformance.rs"]
mod conformance;

/// Test bodies shared by the SQL server stores (MariaDB, PostgreSQL).
#[path = "support/sql_cases.rs"]
mod sql_cases;
mod support;

use std::time::{Duration, Instant};

use conformance::{
    assert_fields, fields, must_be_absent, must_create, must_load, raw, to_raw, MIN, T0,
};
use session_runtime::store::mysql::sqlx;
use session_runtime::store::{Created, FieldMap, Patch, Patched, Record, SessionStore, StoreError};
use session_runtime::{MySqlStore, SessionKey};
use sqlx::mysql::{MySqlConnectOptions, MySqlConnection, MySqlPool, MySqlPoolOptions};
use sqlx::{Connection as _, Executor as _, Row as _};
use support::engines::{self, free_port, unique_table, CleanUp, Guarded, Proxy};

const DEFAULT_URL: &str = "mysql://root@127.0.0.1:3306/test";

fn url() -> String {
    std::env::var("SESSION_TEST_MYSQL_URL").unwrap_or_else(|_| DEFAULT_URL.to_owned())
}

fn connect_options() -> MySqlConnectOptions {
    url()
        .parse()
        .unwrap_or_else(|e| panic!("SESSION_TEST_MYSQL_URL is not a MySQL URL: {e}"))
}

/// `host:port` of the server, from the URL.
fn target() -> String {
    let opts = connect_options();
    format!("{}:{}", opts.get_host(), opts.get_port())
}

/// `None` (after one `SKIPPED` line) when the server is unreachable and the services are not
/// required; a panic when they are.
fn require_server() -> Option<()> {
    engines::require("mysql store suite", engines::tcp_reachable(&target()))
}

/// Drops the table `table` when dropped (see [`CleanUp`]).
fn drop_table(table: String) -> CleanUp {
    CleanUp::new(async move {
        if let Ok(mut conn) = MySqlConnection::connect_with(&connect_options()).await {
            let _ = conn
                .execute(format!("DROP TABLE IF EXISTS `{table}`").as_str())
                .await;
            let _ = conn.close().await;
        }
    })
}

/// A migrated `MySqlStore` on its own table, dropped with the last clone.
type TestStore = Guarded<MySqlStore, CleanUp>;

async fn on_pool(pool: MySqlPool) -> TestStore {
    let table = unique_table();
    let store = MySqlStore::new(pool)
        .with_table_name(&table)
        .unwrap_or_else(|e| panic!("{e}"));
    let guard = drop_table(table);
    store
        .migrate()
        .await
        .unwrap_or_else(|e| panic!("migrate: {e:?}"));
    Guarded::new(store, guard)
}

async fn fresh_store() -> Option<TestStore> {
    require_server()?;
    let pool = MySqlPoolOptions::new()
        .max_connections(4)
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(connect_options())
        .await
        .unwrap_or_else(|e| panic!("mysql store suite: cannot connect to {}: {e}", url()));
    Some(on_pool(pool).await)
}

mod mysql {
    conformance_tests!(match crate::fresh_store().await {
        Some(store) => store,
        None => return,
    });
}

// ---------------------------------------------------------------------------------------------
// MySQL / MariaDB-specific
// ---------------------------------------------------------------------------------------------

/// `migrate` can run again (and concurrently) without error or data loss, and creates the
/// documented table and indexes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_is_idempotent_and_creates_the_indexes() {
    let Some(store) = fresh_store().await else {
        return;
    };
    sql_cases::migrate_runs_again_and_concurrently(&store, || {
        let s = store.store.clone();
        async move { s.migrate().await }
    })
    .await;

    // The longest accepted name works too (the index names derived from it fit).
    let mut longest = unique_table();
    while longest.len() < 64 {
        longest.push('x');
    }
    let _drop = drop_table(longest.clone());
    MySqlStore::new(store.store.pool().clone())
        .with_table_name(&longest)
        .expect("the longest accepted name")
        .migrate()
        .await
        .expect("migrate with the longest accepted table name");

    let table = store.store.table_name();
    let mut indexed: Vec<String> = sqlx::query_scalar(
        "SELECT CONCAT(index_name, ':', column_name) FROM information_schema.statistics \
         WHERE table_schema = DATABASE() AND table_name = ?",
    )
    .bind(table)
    .fetch_all(store.store.pool())
    .await
    .expect("information_schema.statistics");
    indexed.sort();
    assert_eq!(
        indexed,
        vec![
            "PRIMARY:id".to_owned(),
            "expires_at_idx:expires_at".to_owned(),
            "owner_idx:owner".to_owned(),
        ],
        "primary key + expiry + owner indexes"
    );
}

/// Table names are checked before they get anywhere near SQL.
#[tokio::test]
async fn invalid_table_names_are_refused() {
    let pool = MySqlPoolOptions::new().connect_lazy_with(connect_options());
    let long = "t".repeat(65);
    sql_cases::invalid_table_names_are_refused(
        &MySqlStore::new(pool),
        MySqlStore::table_name,
        MySqlStore::with_table_name,
        &[
            "",
            "sessions; DROP TABLE x",
            "a-b",
            "a b",
            "a`b",
            "db.table",
            "sessões",
            &long,
        ],
        &["s", "app_sessions", "Sessions2", "_x", &"t".repeat(64)],
    );
}

/// The stored form is the documented one: plain names stay as they are (so SQL can read
/// them), every other byte is `%XX`; values are plain JSON; the owner is the raw text. A row
/// that does not follow it loads as `Corrupt`, not as garbage.
#[tokio::test]
async fn field_names_are_stored_in_the_documented_encoding() {
    let Some(store) = fresh_store().await else {
        return;
    };
    let pool = store.store.pool().clone();
    let table = store.store.table_name().to_owned();
    let key = SessionKey::random();
    let data = fields(&[
        ("user_id", r#""alice""#),
        ("a\0\"%", r#"{"b": "\u0000"}"#),
        ("😀", "1"),
    ]);
    let owner = "\"o \u{0}\"";
    let record = Record::new(data.clone(), T0, T0 + MIN).with_owner(Some(owner.into()));
    must_create(&store, &key, &record, "encoding").await;
    let v = raw("[2]");
    let p = Patch::new().set("x y", &v);
    assert_eq!(
        store.patch(&key, &p, T0).await.expect("patch"),
        Patched::Applied
    );

    let row = sqlx::query(&format!(
        "SELECT JSON_EXTRACT(data, '$.user_id'), JSON_EXTRACT(data, '$.\"a%00%22%25\".b'), \
         JSON_EXTRACT(data, '$.\"%F0%9F%98%80\"'), JSON_EXTRACT(data, '$.\"x%20y\"'), \
         JSON_LENGTH(data), owner FROM `{table}` WHERE id = ?"
    ))
    .bind(key.as_bytes().as_slice())
    .fetch_one(&pool)
    .await
    .expect("select");
    let text = |i: usize| -> String { row.try_get_unchecked(i).expect("column") };
    assert_eq!(text(0), r#""alice""#);
    assert_eq!(text(1), r#""\u0000""#);
    assert_eq!(text(2), "1");
    assert_eq!(text(3).replace(' ', ""), "[2]");
    assert_eq!(row.get::<i64, _>(4), 4);
    assert_eq!(row.get::<Vec<u8>, _>(5), owner.as_bytes());

    let loaded = must_load(&store, &key, T0, "encoding").await;
    let mut expected = data.clone();
    expected.insert("x y".to_owned(), v.clone());
    assert_fields(&loaded, &expected, "names round-trip");
    assert_eq!(loaded.owner.as_deref(), Some(owner));
    assert_eq!(store.delete_by_owner(owner).await.expect("revoke"), 1);

    // Rows written by something else are reported, not misread.
    for (bad_data, what) in [
        (r#"{"a b": 1}"#, "a key with a byte the encoding escapes"),
        (r#"{"%zz": 1}"#, "a malformed escape"),
        (r#"{"%41": 1}"#, "an escaped plain byte"),
        (r#"{"%FF": 1}"#, "a key that is not UTF-8 once decoded"),
        (r#"[1]"#, "data that is not an object"),
    ] {
        let key = SessionKey::random();
        sqlx::query(&format!(
            "INSERT INTO `{table}` (id, data, created_at, expires_at) VALUES (?, ?, ?, ?)"
        ))
        .bind(key.as_bytes().as_slice())
        .bind(bad_data)
        .bind(T0)
        .bind(T0 + MIN)
        .execute(&pool)
        .await
        .expect("insert");
        match store.load(&key, T0).await {
            Err(StoreError::Corrupt { .. }) => {}
            other => panic!("{what}: expected Corrupt, got {other:?}"),
        }
    }
}

/// MySQL counts an `UPDATE` that writes identical values as zero *changed* rows; the store
/// must still report `Applied` (it relies on matched rows), and only a missing or expired
/// record is `Gone`.
#[tokio::test]
async fn writes_that_change_nothing_are_still_applied() {
    let Some(store) = fresh_store().await else {
        return;
    };
    let key = SessionKey::random();
    let exp = T0 + 10 * MIN;
    must_create(
        &store,
        &key,
        &Record::new(fields(&[("a", "1")]), T0, exp).with_owner(Some("\"o\"".into())),
        "same",
    )
    .await;
    let same = raw("1");
    let cases: [(&str, Patch<'_>); 5] = [
        ("same value", Patch::new().set("a", &same)),
        ("remove a missing field", Patch::new().remove("missing")),
        ("same expiry", Patch::new().expires_at(exp)),
        ("same owner", Patch::new().owner(Some("\"o\""))),
        ("empty patch", Patch::new()),
    ];
    for (what, p) in &cases {
        assert_eq!(
            store.patch(&key, p, T0).await.expect(what),
            Patched::Applied,
            "{what}"
        );
    }
    assert_eq!(
        store.touch(&key, exp, T0).await.expect("touch"),
        Patched::Applied,
        "same touch"
    );
    assert_eq!(
        store.patch(&key, &Patch::new(), exp).await.expect("gone"),
        Patched::Gone
    );
    assert_eq!(
        store.touch(&key, exp, exp).await.expect("gone"),
        Patched::Gone
    );
    assert_eq!(
        store
            .create(&key, &Record::new(FieldMap::default(), T0, exp))
            .await
            .expect("dup"),
        Created::Collision
    );
}

/// A patch rewrites only the keys it names, at the SQL level: a value written behind the
/// store's back under another key survives a patch made from a stale view.
#[tokio::test]
async fn patch_merges_on_the_server() {
    let Some(store) = fresh_store().await else {
        return;
    };
    let table = store.store.table_name().to_owned();
    let pool = store.store.pool();
    sql_cases::patch_merges_on_the_server(&store, |key| async move {
        sqlx::query(&format!(
            "UPDATE `{table}` SET data = JSON_SET(data, '$.b', 2) WHERE id = ?"
        ))
        .bind(key.as_bytes().as_slice())
        .execute(pool)
        .await
        .expect("side write");
    })
    .await;
}

/// The server's `max_allowed_packet` leaves room for the suite's 1 MiB values, and a statement
/// over it fails with `Backend` (not `Unavailable`: retrying would not help, though the server
/// closes the connection) and writes nothing, after which the store still works.
#[tokio::test]
async fn max_allowed_packet_is_respected() {
    let Some(store) = fresh_store().await else {
        return;
    };
    let packet: u64 = sqlx::query_scalar("SELECT CAST(@@max_allowed_packet AS UNSIGNED)")
        .fetch_one(store.store.pool())
        .await
        .expect("max_allowed_packet");
    assert!(
        packet >= 4 << 20,
        "max_allowed_packet is {packet} bytes; the conformance suite's 1 MiB values need at \
         least 4 MiB (SET GLOBAL max_allowed_packet = 16777216)"
    );
    if packet > 64 << 20 {
        eprintln!("max_allowed_packet is {packet}: not testing an oversized statement");
        return;
    }
    let key = SessionKey::random();
    let huge = to_raw(&"x".repeat(packet as usize + 1024));
    let mut data = FieldMap::default();
    data.insert("huge".to_owned(), huge);
    match store.create(&key, &Record::new(data, T0, T0 + MIN)).await {
        Err(StoreError::Backend(_)) => {}
        other => panic!("a create over max_allowed_packet: expected Backend, got {other:?}"),
    }
    must_be_absent(&store, &key, T0, "the oversized record").await;
    must_create(
        &store,
        &key,
        &Record::new(fields(&[("a", "1")]), T0, T0 + MIN),
        "after",
    )
    .await;
}

/// `delete_expired` sweeping while other records are created, touched and patched: nothing
/// fails (on InnoDB a statement may be picked as a deadlock victim; the store runs it again),
/// live records are never swept, and the sweeps together count exactly the expired records.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cleanup_racing_with_writes_counts_exactly() {
    let Some(store) = fresh_store().await else {
        return;
    };
    sql_cases::cleanup_racing_with_writes_counts_exactly(store).await;
}

/// A statement that InnoDB picks as a deadlock victim is run again rather than failing: a
/// competing transaction holds rows `delete_expired` needs and then asks for the one that
/// `delete_expired` already holds; being the lighter transaction, the store's statement is
/// rolled back, and its retry completes once the competitor commits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deadlock_victim_statement_is_retried() {
    let Some(store) = fresh_store().await else {
        return;
    };
    let table = store.store.table_name().to_owned();
    let now = T0 + 60 * MIN;
    // First in primary-key order and in expiry order, so a sweep locks it first either way.
    let first = SessionKey::from_bytes([0; 32]);
    let second = SessionKey::from_bytes([0xff; 32]);
    must_create(
        &store,
        &first,
        &Record::new(fields(&[]), T0, now - 2),
        "first",
    )
    .await;
    must_create(
        &store,
        &second,
        &Record::new(fields(&[]), T0, now - 1),
        "second",
    )
    .await;
    let mut live = Vec::new();
    for _ in 0..30 {
        let key = SessionKey::random();
        must_create(
            &store,
            &key,
            &Record::new(fields(&[]), T0, now + MIN),
            "live",
        )
        .await;
        live.push(key);
    }

    // The competitor: a heavy transaction (30 rows changed) holding every row but `first`.
    let mut competitor = MySqlConnection::connect_with(&connect_options())
        .await
        .expect("competitor connection");
    competitor.execute("BEGIN").await.expect("begin");
    for key in &live {
        sqlx::query(&format!(
            "UPDATE `{table}` SET created_at = created_at + 1 WHERE id = ?"
        ))
        .bind(key.as_bytes().as_slice())
        .execute(&mut competitor)
        .await
        .expect("competitor update");
    }
    sqlx::query(&format!("SELECT id FROM `{table}` WHERE id = ? FOR UPDATE"))
        .bind(second.as_bytes().as_slice())
        .fetch_one(&mut competitor)
        .await
        .expect("competitor locks the second record");

    // The sweep takes `first`, then waits for the competitor.
    let sweeper = {
        let store = store.clone();
        tokio::spawn(async move { store.delete_expired(now).await })
    };
    // (`information_schema.innodb_trx` lags behind; the monitor output does not.)
    let deadline = Instant::now() + Duration::from_secs(10);
    let delete = format!("DELETE FROM `{table}`");
    loop {
        let status: (String, String, String) = sqlx::query_as("SHOW ENGINE INNODB STATUS")
            .fetch_one(store.store.pool())
            .await
            .expect("SHOW ENGINE INNODB STATUS");
        let sweep_waits = status
            .2
            .split("---TRANSACTION")
            .any(|t| t.contains(&delete) && t.contains("LOCK WAIT"));
        if sweep_waits {
            break;
        }
        assert!(
            !sweeper.is_finished(),
            "the sweep finished without waiting for the competitor"
        );
        assert!(
            Instant::now() < deadline,
            "the sweep never waited for the competitor"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // Closing the cycle: InnoDB rolls back the lighter transaction, the sweep. That the
    // competitor gets `first`, which the sweep had deleted, shows the sweep was rolled back.
    sqlx::query(&format!("SELECT id FROM `{table}` WHERE id = ? FOR UPDATE"))
        .bind(first.as_bytes().as_slice())
        .fetch_one(&mut competitor)
        .await
        .expect("the competitor must win the deadlock (it changed 30 rows, the sweep 1)");
    competitor.execute("COMMIT").await.expect("commit");
    let _ = competitor.close().await;

    let swept = sweeper.await.expect("join");
    assert!(
        matches!(swept, Ok(2)),
        "the sweep, rolled back as a deadlock victim, must be run again and count both expired \
         records: {swept:?}"
    );
    for key in &live {
        must_load(&store, key, now, "live records survive the retried sweep").await;
    }
}

/// `connect` to a port where nothing listens gives up with `Unavailable` after its short
/// acquire timeout, instead of hanging.
#[tokio::test]
async fn connect_to_a_dead_port_is_unavailable_quickly() {
    let port = free_port();
    sql_cases::connect_to_a_dead_port_is_unavailable_quickly(MySqlStore::connect(&format!(
        "mysql://root@127.0.0.1:{port}/test"
    )))
    .await;
}

/// Through a proxy that is cut and restored: every operation fails with `Unavailable` while it
/// is down (within the pool's acquire timeout), and the same store works again once it is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outage_is_unavailable_and_the_store_recovers() {
    if require_server().is_none() {
        return;
    }
    let upstream = tokio::net::lookup_host(target())
        .await
        .expect("resolve")
        .next()
        .expect("an address");
    let mut proxy = Proxy::start(upstream).await;
    let proxied = MySqlPoolOptions::new()
        .max_connections(2)
        .acquire_timeout(Duration::from_secs(1))
        .connect_with(connect_options().host("127.0.0.1").port(proxy.addr.port()))
        .await
        .expect("connect through the proxy");
    let store = on_pool(proxied).await;

    sql_cases::outage_is_unavailable_and_the_store_recovers(&store, &mut proxy, || {
        store.store.migrate()
    })
    .await;
    // The table is dropped through a direct connection, not through the (now cut) proxy.
}
