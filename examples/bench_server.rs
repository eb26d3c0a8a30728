//! The HTTP benchmark server for this library (driven by `scripts/bench-http.sh`).
//!
//! `cargo run --release --example bench_server -- --addr 127.0.0.1:38081`
//!
//! Routes (every answer is plain text):
//!
//! - `GET /inc`   — `count += 1`, answers the new value (a new session gets its cookie)
//! - `GET /inc2`  — `count2 += 1`, answers the new value (for the lost-updates check)
//! - `GET /read`  — answers `count`; writes nothing, sets no cookie
//! - `GET /read2` — answers `count2`; writes nothing, sets no cookie
//!
//! Flags: `--addr HOST:PORT` (default 127.0.0.1:38081), `--workers N` (tokio worker threads,
//! default 1: the benchmark pins the server to one core), `--hold-us N` (wait N µs between
//! reading the field and writing it back in `/inc` and `/inc2`; default 0), `--store URL` (`memory`, the
//! default, `postgres://...` or `redis://...`; built as `examples/demo.rs` does, tables
//! created on start). The layer has the library's default expiry settings, with the cookie's
//! `Secure` flag off so that plain http works.

#[path = "support/bench.rs"]
mod bench;
#[path = "support/stores.rs"]
mod stores;

use axum::routing::get;
use axum::Router;

use bench::hold;
use session_runtime::{ReadSession, Session, SessionLayer};
use stores::Engine;

#[derive(Session, Default)]
struct Bench {
    count: u64,
    count2: u64,
}

async fn inc(mut s: Session<Bench>) -> String {
    let n = *s.count() + 1;
    hold().await;
    s.set_count(n);
    n.to_string()
}

async fn inc2(mut s: Session<Bench>) -> String {
    let n = *s.count2() + 1;
    hold().await;
    s.set_count2(n);
    n.to_string()
}

async fn read(s: ReadSession<Bench>) -> String {
    s.count().to_string()
}

async fn read2(s: ReadSession<Bench>) -> String {
    s.count2().to_string()
}

fn app(layer: SessionLayer) -> Router {
    Router::new()
        .route("/inc", get(inc))
        .route("/inc2", get(inc2))
        .route("/read", get(read))
        .route("/read2", get(read2))
        .layer(layer)
}

/// The store named by `--store`, connected and migrated as `examples/demo.rs` does.
async fn store_layer(url: &str) -> Result<SessionLayer, String> {
    stores::store_layer(
        url,
        &[Engine::Postgres, Engine::Redis],
        "unknown or not compiled in (memory, postgres://.., redis://..; \
         the PostgreSQL and Redis stores need the default `all-stores` feature)",
    )
    .await
}

const USAGE: &str =
    "usage: bench_server [--addr HOST:PORT] [--workers N] [--hold-us N] [--store memory|postgres://..|redis://..]";

fn main() {
    let args = bench::args(
        "bench_server",
        38081,
        USAGE,
        "--store needs a URL or `memory`",
    );
    let detail = format!("(store {}, {} worker(s))", args.store, args.workers);
    let store = args.store.clone();
    bench::serve("bench_server", &args, detail, async move {
        let layer = store_layer(&store).await?.with_secure(false);
        let layer = layer.check().map_err(|e| e.to_string())?;
        Ok(app(layer))
    });
}
