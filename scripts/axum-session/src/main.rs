//! The axum_session twin of `examples/bench_server.rs`, driven by `scripts/bench-http.sh` with
//! `AXUM_SESSION=1` (memory store only): axum_session 0.22 in its in-memory mode
//! (`SessionNullPool`, no database behind its map), with its default `SessionConfig`.
//!
//! Why a separate project: axum_session brings crypto crates of newer lines than the root
//! workspace's (aes-gcm 0.11, sha2 0.11, hmac 0.13, rand 0.10) and enables tokio's "full"
//! feature; as a dev-dependency there it would change the feature set every benchmark server
//! of the root workspace is built with. Here it has its own `[workspace]`, `Cargo.lock` and
//! target directory; `scripts/bench-http.sh` builds it with
//! `cargo build --release --manifest-path scripts/axum-session/Cargo.toml`.
//!
//! Same routes, flags and plain-text answers as `bench_server` and `bench_tower_sessions`:
//!
//! - `GET /inc`   — `count += 1`, answers the new value (a new session gets its cookie)
//! - `GET /inc2`  — `count2 += 1`, answers the new value (for the lost-updates check)
//! - `GET /read`  — answers `count`; writes nothing
//! - `GET /read2` — answers `count2`; writes nothing
//!
//! Flags: `--addr HOST:PORT` (default 127.0.0.1:38086), `--workers N` (tokio worker threads,
//! default 1), `--hold-us N` (wait N µs between reading the field and writing it back in `/inc`
//! and `/inc2`; default 0), `--store memory` (the only store; anything else is refused).
//!
//! What its defaults mean for the comparison (the library's behaviour, not a set-up of ours):
//! every request without a session cookie gets a new in-memory session and a cookie (its
//! `SessionMode::Persistent`), and every response sets the session cookie again
//! (`Expires` 100 days ahead) and clears its "store" cookie, reads included. Sessions unused for 60
//! minutes are dropped from memory by an hourly purge. No `Secure` flag by default, so plain
//! http works as it is.
//!
//! ```text
//! cargo run --release --manifest-path scripts/axum-session/Cargo.toml -- --addr 127.0.0.1:38086
//! ```

#[path = "../../../examples/support/bench.rs"]
mod bench;

use axum::routing::get;
use axum::Router;
use axum_session::{SessionConfig, SessionLayer, SessionNullPool, SessionStore};

type Session = axum_session::Session<SessionNullPool>;

fn bump(session: &Session, field: &str) -> u64 {
    session.get::<u64>(field).unwrap_or(0) + 1
}

async fn inc_field(session: Session, field: &str) -> String {
    let n = bump(&session, field);
    bench::hold().await;
    session.set(field, n);
    n.to_string()
}

fn peek(session: &Session, field: &str) -> String {
    session.get::<u64>(field).unwrap_or(0).to_string()
}

async fn inc(session: Session) -> String {
    inc_field(session, "count").await
}

async fn inc2(session: Session) -> String {
    inc_field(session, "count2").await
}

async fn read(session: Session) -> String {
    peek(&session, "count")
}

async fn read2(session: Session) -> String {
    peek(&session, "count2")
}

async fn app(url: String) -> Result<Router, String> {
    if url != "memory" {
        return Err(format!(
            "--store {url}: only `memory` is supported (axum_session's SessionNullPool)"
        ));
    }
    let store = SessionStore::<SessionNullPool>::new(None, SessionConfig::default())
        .await
        .map_err(|e| format!("axum_session store: {e}"))?;
    Ok(Router::new()
        .route("/inc", get(inc))
        .route("/inc2", get(inc2))
        .route("/read", get(read))
        .route("/read2", get(read2))
        .layer(SessionLayer::new(store)))
}

const USAGE: &str =
    "usage: bench-axum-session [--addr HOST:PORT] [--workers N] [--hold-us N] [--store memory]";

fn main() {
    const NAME: &str = "bench-axum-session";
    let args = bench::args(NAME, 38086, USAGE, "--store needs `memory`");
    let detail = format!(
        "(axum_session 0.22, SessionNullPool, {} worker(s))",
        args.workers
    );
    let url = args.store.clone();
    bench::serve(NAME, &args, detail, app(url));
}
