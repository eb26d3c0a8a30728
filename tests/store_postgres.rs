//! `PostgresStore` against a real PostgreSQL: the whole conformance suite, plus what only this
//! backend has (migrate, table names, the NUL-safe encoding, outages through a TCP proxy).
//!
//! The server comes from `SESSION_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`). If it cannot be reached the tests print one
//! `SKIPPED` line and pass, unless `SESSION_TESTS_REQUIRE_SERVICES=1` (as in CI), where they
//! fail. Every test works in its own uniquely named table and drops it when done.
#![cfg(feature = "postgres")]

#[macro_use]
#[path = "support/conformance.rs"]
mod conformance;

/// Test bodies shared by the SQL server stores (MariaDB, PostgreSQL).
#[path = "support/sql_cases.rs"]
mod sql_cases;
mod support;

use std::time::Duration;

use conformance::{must_create, must_load, raw, MIN, T0};
use session_runtime::store::postgres::sqlx;
use session_runtime::store::{FieldMap, Patch, Patched, Record, SessionStore, StoreError};
use session_runtime::{PostgresStore, SessionKey};
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};
use sqlx::{Connection as _, Executor as _, Row as _};
use support::engines::{self, free_port, unique_table, CleanUp, Guarded, Proxy};

const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

fn url() -> String {
    std::env::var("SESSION_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_URL.to_owned())
}

fn connect_options() -> PgConnectOptions {
    url()
        .parse()
        .unwrap_or_else(|e| panic!("SESSION_TEST_POSTGRES_URL is not a PostgreSQL URL: {e}"))
}

/// `None` (after one `SKIPPED` line) when the server is unreachable and the services are not
/// required; a panic when they are.
fn require_server() -> Option<()> {
    let opts = connect_options();
    let target = format!("{}:{}", opts.get_host(), opts.get_port());
    engines::require("postgres store suite", engines::tcp_reachable(&target))
}

/// Drops the table `table` when dropped (see [`CleanUp`]).
fn drop_table(table: String) -> CleanUp {
    CleanUp::new(async move {
        if let Ok(mut conn) = PgConnection::connect_with(&connect_options()).await {
            let _ = conn
                .execute(format!("DROP TABLE IF EXISTS \"{table}\"").as_str())
                .await;
            let _ = conn.close().await;
        }
    })
}

/// A migrated `PostgresStore` on its own table, dropped with the last clone.
type TestStore = Guarded<PostgresStore, CleanUp>;

async fn on_pool(pool: PgPool) -> TestStore {
    let table = unique_table();
    let store = PostgresStore::new(pool)
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
    let pool = PgPoolOptions::new()
        .max_connections(4)
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(connect_options())
        .await
        .unwrap_or_else(|e| panic!("postgres store suite: cannot connect to {}: {e}", url()));
    Some(on_pool(pool).await)
}

mod postgres {
    conformance_tests!(match crate::fresh_store().await {
        Some(store) => store,
        None => return,
    });
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL-specific
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
    while longest.len() < 48 {
        longest.push('x');
    }
    let _drop = drop_table(longest.clone());
    PostgresStore::new(store.store.pool().clone())
        .with_table_name(&longest)
        .expect("the longest accepted name")
        .migrate()
        .await
        .expect("migrate with the longest accepted table name");

    let table = store.store.table_name();
    let indexes: Vec<String> =
        sqlx::query_scalar("SELECT indexdef FROM pg_indexes WHERE tablename = $1 ORDER BY 1")
            .bind(table)
            .fetch_all(store.store.pool())
            .await
            .expect("pg_indexes");
    assert_eq!(
        indexes.len(),
        3,
        "primary key + expiry + owner indexes: {indexes:?}"
    );
    assert!(
        indexes.iter().any(|i| i.contains("(expires_at)")),
        "{indexes:?}"
    );
    assert!(
        indexes
            .iter()
            .any(|i| i.contains("(owner)") && i.contains("owner IS NOT NULL")),
        "{indexes:?}"
    );
}

/// Table names are checked before they get anywhere near SQL.
#[tokio::test]
async fn invalid_table_names_are_refused() {
    let pool = PgPoolOptions::new().connect_lazy_with(connect_options());
    let long = "t".repeat(49);
    sql_cases::invalid_table_names_are_refused(
        &PostgresStore::new(pool),
        PostgresStore::table_name,
        PostgresStore::with_table_name,
        &[
            "",
            "sessions; DROP TABLE x",
            "a-b",
            "a b",
            "a\"b",
            "schema.table",
            "sessões",
            &long,
        ],
        &["s", "app_sessions", "Sessions2", "_x", &"t".repeat(48)],
    );
}

/// The stored form is the documented one: keys escaped (`%` → `%25`, NUL → `%00`), values are
/// JSON strings holding the field's JSON text verbatim; the owner is escaped the same way. A
/// row that does not follow it loads as `Corrupt`, not as garbage.
#[tokio::test]
async fn nul_safe_encoding_is_the_documented_one() {
    let Some(store) = fresh_store().await else {
        return;
    };
    let pool = store.store.pool().clone();
    let table = store.store.table_name().to_owned();
    let key = SessionKey::random();
    let value = raw(r#"{"b": "\u0000", "n": 1.50}"#);
    let mut data = FieldMap::default();
    data.insert("a\0%".to_owned(), value);
    let record = Record::new(data.clone(), T0, T0 + MIN).with_owner(Some("\"o%\u{0}\"".into()));
    must_create(&store, &key, &record, "nul").await;

    let row = sqlx::query(&format!(
        "SELECT data::text, owner FROM \"{table}\" WHERE id = $1"
    ))
    .bind(key.as_bytes().as_slice())
    .fetch_one(&pool)
    .await
    .expect("select");
    let stored: String = row.get(0);
    let owner: String = row.get(1);
    assert_eq!(
        stored,
        r#"{"a%00%25": "{\"b\": \"\\u0000\", \"n\": 1.50}"}"#
    );
    assert_eq!(owner, "\"o%25%00\"");

    let loaded = must_load(&store, &key, T0, "nul").await;
    assert_eq!(
        loaded.fields["a\0%"].as_str(),
        r#"{"b": "\u0000", "n": 1.50}"#,
        "values come back byte for byte"
    );
    assert_eq!(loaded.owner.as_deref(), Some("\"o%\u{0}\""));
    assert_eq!(
        store.delete_by_owner("\"o%\u{0}\"").await.expect("revoke"),
        1
    );

    // Rows written by something else are reported, not misread.
    for (bad_data, what) in [
        (r#"{"a": 1}"#, "a value that is not a string"),
        (r#"{"a": "not json"}"#, "a value that is not JSON text"),
        (r#"{"a%zz": "1"}"#, "a key with a foreign escape"),
        (r#"[1]"#, "data that is not an object"),
    ] {
        let key = SessionKey::random();
        sqlx::query(&format!(
            "INSERT INTO \"{table}\" (id, data, created_at, expires_at) VALUES ($1, $2::jsonb, $3, $4)"
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

/// A patch rewrites only the keys it names, at the SQL level: a value written behind the
/// store's back under another key survives a patch made from a stale view.
#[tokio::test]
async fn patch_merges_on_the_server() {
    let Some(store) = fresh_store().await else {
        return;
    };
    let table = store.store.table_name().to_owned();
    let pool = store.store.pool();
    let key = sql_cases::patch_merges_on_the_server(&store, |key| async move {
        sqlx::query(&format!(
            "UPDATE \"{table}\" SET data = data || '{{\"b\": \"2\"}}'::jsonb WHERE id = $1"
        ))
        .bind(key.as_bytes().as_slice())
        .execute(pool)
        .await
        .expect("side write");
    })
    .await;

    // An empty patch reports whether the record is live, and changes nothing.
    assert_eq!(
        store.patch(&key, &Patch::new(), T0).await.expect("empty"),
        Patched::Applied
    );
    assert_eq!(
        store
            .patch(&key, &Patch::new(), T0 + MIN)
            .await
            .expect("empty"),
        Patched::Gone
    );
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

/// `connect` to a port where nothing listens gives up with `Unavailable` after its short
/// acquire timeout, instead of hanging.
#[tokio::test]
async fn connect_to_a_dead_port_is_unavailable_quickly() {
    let port = free_port();
    sql_cases::connect_to_a_dead_port_is_unavailable_quickly(PostgresStore::connect(&format!(
        "postgres://postgres@127.0.0.1:{port}/test"
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
    let opts = connect_options();
    let upstream = tokio::net::lookup_host((opts.get_host(), opts.get_port()))
        .await
        .expect("resolve")
        .next()
        .expect("an address");
    let mut proxy = Proxy::start(upstream).await;
    let proxied = PgPoolOptions::new()
        .max_connections(2)
        .acquire_timeout(Duration::from_secs(1))
        .connect_with(opts.clone().host("127.0.0.1").port(proxy.addr.port()))
        .await
        .expect("connect through the proxy");
    let store = on_pool(proxied).await;

    sql_cases::outage_is_unavailable_and_the_store_recovers(&store, &mut proxy, || {
        store.store.migrate()
    })
    .await;
    // The table is dropped through a direct connection, not through the (now cut) proxy.
}
