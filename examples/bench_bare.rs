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

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::routing::get;
use axum::Router;

static COUNT: AtomicU64 = AtomicU64::new(0);
static COUNT2: AtomicU64 = AtomicU64::new(0);

/// `--hold-us N`: wait N µs in `/inc` and `/inc2` before counting (as the session servers
/// do between reading and writing; default 0).
static HOLD_US: AtomicU64 = AtomicU64::new(0);

async fn hold() {
    let us = HOLD_US.load(Ordering::Relaxed);
    if us > 0 {
        tokio::time::sleep(Duration::from_micros(us)).await;
    }
}

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

struct Args {
    addr: SocketAddr,
    workers: usize,
}

const USAGE: &str =
    "usage: bench_bare [--addr HOST:PORT] [--workers N] [--hold-us N] [--store IGNORED]";

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        addr: ([127, 0, 0, 1], 38082).into(),
        workers: 1,
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
            "--store" => {
                it.next().ok_or("--store needs a value")?;
            }
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
            eprintln!("bench_bare: {e}");
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
                eprintln!("bench_bare: cannot listen on {}: {e}", args.addr);
                std::process::exit(1);
            }
        };
        println!(
            "bench_bare listening on http://{} ({} worker(s))",
            args.addr, args.workers
        );
        if let Err(e) = axum::serve(listener, app()).await {
            eprintln!("bench_bare: server error: {e}");
            std::process::exit(1);
        }
    });
}
