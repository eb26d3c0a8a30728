//! The tower-sessions 0.15 twin of `examples/bench_server.rs` (driven by
//! `scripts/bench-http.sh`): same routes, same flags, same plain-text answers.
//!
//! `cargo run --release --example bench_tower_sessions -- --addr 127.0.0.1:38083`
//!
//! - `GET /inc`   — `count += 1`, answers the new value (a new session gets its cookie)
//! - `GET /inc2`  — `count2 += 1`, answers the new value (for the lost-updates check)
//! - `GET /read`  — answers `count`; writes nothing
//! - `GET /read2` — answers `count2`; writes nothing
//!
//! Flags: `--addr HOST:PORT` (default 127.0.0.1:38083), `--workers N` (tokio worker threads,
//! default 1), `--hold-us N` (as in `bench_server`: wait N µs between reading the field and
//! writing it back in `/inc` and `/inc2`; default 0), `--store URL`. Only `memory` (`tower_sessions::MemoryStore`, the default) is
//! supported: the published stores for Redis (`tower-sessions-redis-store` 0.16.0, the latest)
//! and PostgreSQL (`tower-sessions-sqlx-store` 0.15.0, the latest) both depend on
//! `tower-sessions-core` ^0.14, whose `SessionStore` trait is not the one tower-sessions 0.15
//! uses, so no published store fits here; `redis://` and `postgres://` are refused with that
//! reason. The comparison on Redis and PostgreSQL is made by the tower-sessions **0.14** twin
//! with those stores, the standalone project `scripts/tower-sessions-stores/`, which
//! `scripts/bench-http.sh` builds and runs in place of this server for `STORE=redis` and
//! `STORE=postgres`.
//!
//! The layer has tower-sessions' default expiry (browser-session cookie, record kept two
//! weeks) with the cookie's `Secure` flag off so that plain http works.

#[path = "support/bench.rs"]
mod bench;
#[path = "support/tower_routes.rs"]
mod tower_routes;

use axum::Router;
use tower_sessions::{MemoryStore, SessionManagerLayer};

fn app(store: MemoryStore) -> Router {
    tower_routes::routes().layer(SessionManagerLayer::new(store).with_secure(false))
}

fn store(url: &str) -> Result<MemoryStore, String> {
    if url == "memory" {
        return Ok(MemoryStore::default());
    }
    let engine = if url.starts_with("redis:") || url.starts_with("rediss:") {
        "Redis: tower-sessions-redis-store 0.16.0"
    } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        "PostgreSQL: tower-sessions-sqlx-store 0.15.0"
    } else {
        return Err(format!(
            "--store {url}: unknown (only `memory` is supported)"
        ));
    };
    Err(format!(
        "--store {url}: no published store is compatible with tower-sessions 0.15 \
         (the latest for {engine}, depends on tower-sessions-core ^0.14)"
    ))
}

const USAGE: &str =
    "usage: bench_tower_sessions [--addr HOST:PORT] [--workers N] [--hold-us N] [--store memory]";

fn main() {
    const NAME: &str = "bench_tower_sessions";
    let args = bench::args(NAME, 38083, USAGE, "--store needs a URL or `memory`");
    let store = bench::or_exit(NAME, store(&args.store));
    let detail = format!("(store {}, {} worker(s))", args.store, args.workers);
    bench::serve(NAME, &args, detail, async move { Ok(app(store)) });
}
