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

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::routing::get;
use axum::Router;

use session_runtime::{MemoryStore, ReadSession, Session, SessionLayer};

#[derive(Session, Default)]
struct Bench {
    count: u64,
    count2: u64,
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
    let every = Duration::from_secs(60);
    let fail = |e: &dyn std::fmt::Display| format!("--store {url}: {e}");
    if url == "memory" {
        return Ok(SessionLayer::new(MemoryStore::new()));
    }
    #[cfg(feature = "postgres")]
    if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        let store = session_runtime::PostgresStore::connect(url)
            .await
            .map_err(|e| fail(&e))?;
        store.migrate().await.map_err(|e| fail(&e))?;
        session_runtime::store::spawn_cleanup(store.clone(), every);
        return Ok(SessionLayer::new(store));
    }
    #[cfg(feature = "redis")]
    if url.starts_with("redis:") || url.starts_with("rediss:") {
        let store = session_runtime::RedisStore::connect(url)
            .await
            .map_err(|e| fail(&e))?;
        store.migrate().await.map_err(|e| fail(&e))?;
        session_runtime::store::spawn_cleanup(store.clone(), every);
        return Ok(SessionLayer::new(store));
    }
    let _ = (every, fail);
    Err(format!(
        "--store {url}: unknown or not compiled in (memory, postgres://.., redis://..; \
         the PostgreSQL and Redis stores need the default `all-stores` feature)"
    ))
}

struct Args {
    addr: SocketAddr,
    workers: usize,
    store: String,
}

const USAGE: &str =
    "usage: bench_server [--addr HOST:PORT] [--workers N] [--hold-us N] [--store memory|postgres://..|redis://..]";

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        addr: ([127, 0, 0, 1], 38081).into(),
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
            eprintln!("bench_server: {e}");
            std::process::exit(2);
        }
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.workers)
        .enable_all()
        .build()
        .expect("tokio runtime");
    rt.block_on(async move {
        let layer = match store_layer(&args.store).await {
            Ok(l) => l.with_secure(false),
            Err(e) => {
                eprintln!("bench_server: {e}");
                std::process::exit(2);
            }
        };
        let layer = match layer.check() {
            Ok(l) => l,
            Err(e) => {
                eprintln!("bench_server: {e}");
                std::process::exit(2);
            }
        };
        let listener = match tokio::net::TcpListener::bind(args.addr).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("bench_server: cannot listen on {}: {e}", args.addr);
                std::process::exit(1);
            }
        };
        println!(
            "bench_server listening on http://{} (store {}, {} worker(s))",
            args.addr, args.store, args.workers
        );
        if let Err(e) = axum::serve(listener, app(layer)).await {
            eprintln!("bench_server: server error: {e}");
            std::process::exit(1);
        }
    });
}
