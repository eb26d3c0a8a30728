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
//! uses, so no published store fits; `redis://` and `postgres://` are refused with that reason.
//!
//! The layer has tower-sessions' default expiry (browser-session cookie, record kept two
//! weeks) with the cookie's `Secure` flag off so that plain http works.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use tower_sessions::{MemoryStore, Session, SessionManagerLayer};

type Answer = Result<String, (StatusCode, String)>;

fn internal(e: tower_sessions::session::Error) -> (StatusCode, String) {
    (StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
}

/// `--hold-us N`: how long `/inc` and `/inc2` wait between reading the field and writing it
/// back (0, the default, for the benchmark; the lost-updates check uses it to stand for a
/// handler that does I/O between the two, which widens the window for a lost update).
static HOLD_US: AtomicU64 = AtomicU64::new(0);

async fn hold() {
    let us = HOLD_US.load(Ordering::Relaxed);
    if us > 0 {
        tokio::time::sleep(Duration::from_micros(us)).await;
    }
}

async fn bump(session: &Session, field: &str) -> Answer {
    let n = session
        .get::<u64>(field)
        .await
        .map_err(internal)?
        .unwrap_or(0)
        + 1;
    hold().await;
    session.insert(field, n).await.map_err(internal)?;
    Ok(n.to_string())
}

async fn peek(session: &Session, field: &str) -> Answer {
    let n = session
        .get::<u64>(field)
        .await
        .map_err(internal)?
        .unwrap_or(0);
    Ok(n.to_string())
}

async fn inc(session: Session) -> Answer {
    bump(&session, "count").await
}

async fn inc2(session: Session) -> Answer {
    bump(&session, "count2").await
}

async fn read(session: Session) -> Answer {
    peek(&session, "count").await
}

async fn read2(session: Session) -> Answer {
    peek(&session, "count2").await
}

fn app(store: MemoryStore) -> Router {
    Router::new()
        .route("/inc", get(inc))
        .route("/inc2", get(inc2))
        .route("/read", get(read))
        .route("/read2", get(read2))
        .layer(SessionManagerLayer::new(store).with_secure(false))
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

struct Args {
    addr: SocketAddr,
    workers: usize,
    store: String,
}

const USAGE: &str =
    "usage: bench_tower_sessions [--addr HOST:PORT] [--workers N] [--hold-us N] [--store memory]";

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        addr: ([127, 0, 0, 1], 38083).into(),
        workers: 1,
        store: "memory".to_owned(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--addr" => {
                let v = it.next().ok_or("--addr needs HOST:PORT")?;
                args.addr = v.parse().map_err(|e| format!("--addr {v}: {e}"))?;
            }
            "--workers" => {
                let v = it.next().ok_or("--workers needs a number")?;
                args.workers = match v.parse::<usize>() {
                    Ok(n) if n > 0 => n,
                    _ => return Err(format!("--workers {v}: expected a positive number")),
                };
            }
            "--store" => args.store = it.next().ok_or("--store needs a URL or `memory`")?,
            "--hold-us" => {
                let v = it
                    .next()
                    .ok_or("--hold-us needs a number of microseconds")?;
                let us = v
                    .parse::<u64>()
                    .map_err(|_| format!("--hold-us {v}: expected a number of microseconds"))?;
                HOLD_US.store(us, Ordering::Relaxed);
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument `{other}`\n{USAGE}")),
        }
    }
    Ok(args)
}

fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("bench_tower_sessions: {e}");
            std::process::exit(2);
        }
    };
    let store = match store(&args.store) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("bench_tower_sessions: {e}");
            std::process::exit(2);
        }
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.workers)
        .enable_all()
        .build()
        .expect("tokio runtime");
    rt.block_on(async move {
        let listener = match tokio::net::TcpListener::bind(args.addr).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("bench_tower_sessions: cannot listen on {}: {e}", args.addr);
                std::process::exit(1);
            }
        };
        println!(
            "bench_tower_sessions listening on http://{} (store {}, {} worker(s))",
            args.addr, args.store, args.workers
        );
        if let Err(e) = axum::serve(listener, app(store)).await {
            eprintln!("bench_tower_sessions: server error: {e}");
            std::process::exit(1);
        }
    });
}
