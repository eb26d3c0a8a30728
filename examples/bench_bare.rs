//! The no-session baseline for `scripts/bench-http.sh`: the routes of
//! `examples/bench_server.rs` on plain axum, with process-wide counters instead of sessions.
//!
//! `cargo run --release --example bench_bare -- --addr 127.0.0.1:38082`
//!
//! - `GET /inc`, `GET /inc2` — add one to a global `AtomicU64`, answer the new value
//! - `GET /read`, `GET /read2` — answer the counter
//!
//! Flags: `--addr HOST:PORT` (default 127.0.0.1:38082), `--workers N` (tokio worker threads,
//! default 1), `--hold-us N` (wait N µs in `/inc` and `/inc2`, as the session servers do;
//! default 0), `--store URL` (accepted and ignored, so the script can pass the same flags to
//! every server).

#[path = "support/bench.rs"]
mod bench;

use std::sync::atomic::{AtomicU64, Ordering};

use axum::routing::get;
use axum::Router;
use bench::hold;

static COUNT: AtomicU64 = AtomicU64::new(0);
static COUNT2: AtomicU64 = AtomicU64::new(0);

async fn inc() -> String {
    hold().await;
    (COUNT.fetch_add(1, Ordering::Relaxed) + 1).to_string()
}

async fn inc2() -> String {
    hold().await;
    (COUNT2.fetch_add(1, Ordering::Relaxed) + 1).to_string()
}

async fn read() -> String {
    COUNT.load(Ordering::Relaxed).to_string()
}

async fn read2() -> String {
    COUNT2.load(Ordering::Relaxed).to_string()
}

fn app() -> Router {
    Router::new()
        .route("/inc", get(inc))
        .route("/inc2", get(inc2))
        .route("/read", get(read))
        .route("/read2", get(read2))
}

const USAGE: &str =
    "usage: bench_bare [--addr HOST:PORT] [--workers N] [--hold-us N] [--store IGNORED]";

fn main() {
    let args = bench::args("bench_bare", 38082, USAGE, "--store needs a value");
    let detail = format!("({} worker(s))", args.workers);
    bench::serve("bench_bare", &args, detail, async move { Ok(app()) });
}
