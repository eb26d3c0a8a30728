//! The `--store URL` → [`SessionLayer`] function shared by the examples that keep sessions in
//! a store (`demo`, `bench_server`): connects, creates the tables (or checks the server) and
//! starts the expired-session cleanup, every minute.
//!
//! Included with `#[path = "support/stores.rs"] mod stores;`.

use std::time::Duration;

use session_runtime::{MemoryStore, SessionLayer, SessionStore};

/// A backend an example accepts besides `memory` (when its feature is compiled in).
#[allow(dead_code)] // each example names only the engines it accepts
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
    MySql,
    Redis,
}

/// Every backend: what `examples/demo.rs` accepts.
#[allow(dead_code)]
pub const ALL: &[Engine] = &[
    Engine::Sqlite,
    Engine::Postgres,
    Engine::MySql,
    Engine::Redis,
];

/// `<$store>::connect($url)` then `migrate()`, each error turned into a message by `$fail`.
#[allow(unused_macros)] // unused when no store feature is compiled in
macro_rules! connect_and_migrate {
    ($store:path, $url:expr, $fail:expr) => {{
        let store = <$store>::connect($url).await.map_err(|e| $fail(&e))?;
        store.migrate().await.map_err(|e| $fail(&e))?;
        store
    }};
}

/// Starts the expired-session cleanup of a connected store and puts it in a layer.
#[allow(dead_code)] // unused when no store feature is compiled in
fn started<S: SessionStore + Clone>(store: S, every: Duration) -> SessionLayer {
    session_runtime::store::spawn_cleanup(store.clone(), every);
    SessionLayer::new(store)
}

/// Connects to the store named by `--store` (one of `engines`, or `memory`) and starts its
/// expired-session cleanup. Any other URL is refused with `--store {url}: {unknown}`.
pub async fn store_layer(
    url: &str,
    engines: &[Engine],
    unknown: &str,
) -> Result<SessionLayer, String> {
    let every = Duration::from_secs(60);
    let fail = |e: &dyn std::fmt::Display| format!("--store {url}: {e}");
    if url == "memory" {
        return Ok(SessionLayer::new(MemoryStore::new()));
    }
    #[cfg(feature = "sqlite")]
    if engines.contains(&Engine::Sqlite) && url.starts_with("sqlite:") {
        let store = connect_and_migrate!(session_runtime::SqliteStore, url, fail);
        return Ok(started(store, every));
    }
    #[cfg(feature = "postgres")]
    if engines.contains(&Engine::Postgres)
        && (url.starts_with("postgres:") || url.starts_with("postgresql:"))
    {
        let store = connect_and_migrate!(session_runtime::PostgresStore, url, fail);
        return Ok(started(store, every));
    }
    #[cfg(feature = "mysql")]
    if engines.contains(&Engine::MySql)
        && (url.starts_with("mysql:") || url.starts_with("mariadb:"))
    {
        let store = connect_and_migrate!(session_runtime::MySqlStore, url, fail);
        return Ok(started(store, every));
    }
    #[cfg(feature = "redis")]
    if engines.contains(&Engine::Redis) && (url.starts_with("redis:") || url.starts_with("rediss:"))
    {
        let store = connect_and_migrate!(session_runtime::RedisStore, url, fail);
        return Ok(started(store, every));
    }
    let _ = (every, fail, engines);
    Err(format!("--store {url}: {unknown}"))
}
