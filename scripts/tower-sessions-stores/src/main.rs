//! The tower-sessions **0.14** twin of `examples/bench_server.rs` for sessions kept in Redis
//! or PostgreSQL, driven by `scripts/bench-http.sh` with `STORE=redis` or `STORE=postgres`.
//!
//! Why a separate project: `examples/bench_tower_sessions.rs` (the twin for the memory store)
//! uses tower-sessions 0.15, but the newest published stores for these engines,
//! `tower-sessions-redis-store` 0.16.0 and `tower-sessions-sqlx-store` 0.15.0, implement the
//! `SessionStore` trait of `tower-sessions-core` 0.14, which tower-sessions 0.15 does not
//! accept. So this server uses tower-sessions 0.14 (on axum 0.8, like the rest of the
//! benchmark) with those two stores, in a standalone Cargo project (its own `[workspace]` and
//! `Cargo.lock`, not a member of the root workspace, whose tower-sessions stays at 0.15).
//!
//! `scripts/bench-http.sh` builds it with
//! `cargo build --release --manifest-path scripts/tower-sessions-stores/Cargo.toml` and starts
//! it as the `tower-sessions` server on `BASE_PORT + 3` with the same `--store` URL as our
//! server, so that the ours/tower-sessions ratios compare the two layers on the same engine.
//!
//! Same routes, flags and plain-text answers as `bench_server` and `bench_tower_sessions`:
//!
//! - `GET /inc`   — `count += 1`, answers the new value (a new session gets its cookie)
//! - `GET /inc2`  — `count2 += 1`, answers the new value (for the lost-updates check)
//! - `GET /read`  — answers `count`; writes nothing
//! - `GET /read2` — answers `count2`; writes nothing
//!
//! Flags: `--addr HOST:PORT` (default 127.0.0.1:38083), `--workers N` (tokio worker threads,
//! default 1), `--hold-us N` (wait N µs between reading the field and writing it back in
//! `/inc` and `/inc2`; default 0), `--store URL` (required):
//!
//! - `redis://...` (or `rediss://...`) — `tower_sessions_redis_store::RedisStore` over a fred
//!   `Pool` of [`REDIS_POOL_SIZE`] clients connected to that URL (the set-up of the store's
//!   documentation);
//! - `postgres://...` (or `postgresql://...`) — `tower_sessions_sqlx_store::PostgresStore`
//!   over a `sqlx::PgPool` with sqlx's default options (as our PostgreSQL store's `connect`),
//!   its `migrate()` run on start (schema `tower_sessions`, table `session`);
//! - `memory` is refused: `examples/bench_tower_sessions.rs` (tower-sessions 0.15) covers it.
//!
//! The fred client and sqlx are the ones the stores re-export, so their versions always match.
//! The layer is `SessionManagerLayer::new(store).with_secure(false)`: tower-sessions' default
//! expiry (browser-session cookie, record kept two weeks), `Secure` off so that plain http works.
//! No expired-record deletion task runs (nothing expires during a benchmark).
//!
//! ```text
//! cargo run --release --manifest-path scripts/tower-sessions-stores/Cargo.toml -- \
//!     --addr 127.0.0.1:38083 --store redis://127.0.0.1:6379
//! ```

#[path = "../../../examples/support/bench.rs"]
mod bench;
#[path = "../../../examples/support/tower_routes.rs"]
mod tower_routes;

use axum::Router;
use tower_sessions::{SessionManagerLayer, SessionStore};
use tower_sessions_redis_store::fred::prelude::{ClientLike, Config, Pool};
use tower_sessions_redis_store::RedisStore;
use tower_sessions_sqlx_store::sqlx::PgPool;
use tower_sessions_sqlx_store::PostgresStore;

/// Clients in the fred pool behind the Redis store (each one a pipelined connection).
const REDIS_POOL_SIZE: usize = 6;

fn app<S: SessionStore + Clone>(store: S) -> Router {
    tower_routes::routes().layer(SessionManagerLayer::new(store).with_secure(false))
}

/// A Redis store over a fred pool connected to `url` (an error if Redis cannot be reached).
async fn redis_store(url: &str) -> Result<RedisStore<Pool>, String> {
    let fail = |e: &dyn std::fmt::Display| format!("--store {url}: {e}");
    let config = Config::from_url(url).map_err(|e| fail(&e))?;
    let pool = Pool::new(config, None, None, None, REDIS_POOL_SIZE).map_err(|e| fail(&e))?;
    // Connects every client and waits until they are connected; the returned handle is the
    // connection task, which keeps running when dropped.
    pool.init().await.map_err(|e| fail(&e))?;
    Ok(RedisStore::new(pool))
}

/// A PostgreSQL store over a pool connected to `url`, its table created.
async fn postgres_store(url: &str) -> Result<PostgresStore, String> {
    let fail = |e: &dyn std::fmt::Display| format!("--store {url}: {e}");
    let pool = PgPool::connect(url).await.map_err(|e| fail(&e))?;
    let store = PostgresStore::new(pool);
    store.migrate().await.map_err(|e| fail(&e))?;
    Ok(store)
}

/// The app for the store named by `--store`.
async fn store_app(url: &str) -> Result<Router, String> {
    if url.starts_with("redis:") || url.starts_with("rediss:") {
        Ok(app(redis_store(url).await?))
    } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        Ok(app(postgres_store(url).await?))
    } else if url == "memory" {
        Err(
            "--store memory: not supported here (tower-sessions 0.14 with the published \
             Redis and PostgreSQL stores only); the memory-store twin is \
             examples/bench_tower_sessions.rs (tower-sessions 0.15)"
                .to_owned(),
        )
    } else {
        Err(format!(
            "--store {url}: unknown (expected redis://.. or postgres://..)"
        ))
    }
}

const USAGE: &str = "usage: bench-tower-sessions-stores [--addr HOST:PORT] [--workers N] \
                     [--hold-us N] --store redis://..|postgres://..";

fn main() {
    const NAME: &str = "bench-tower-sessions-stores";
    let args = bench::args(
        NAME,
        38083,
        USAGE,
        "--store needs a redis:// or postgres:// URL",
    );
    let detail = format!(
        "(tower-sessions 0.14, store {}, {} worker(s))",
        args.store, args.workers
    );
    let url = args.store.clone();
    bench::serve(NAME, &args, detail, async move { store_app(&url).await });
}
