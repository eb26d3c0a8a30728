//! What the HTTP benchmark servers (`bench_server`, `bench_tower_sessions`, `bench_bare`) share:
//! the `--hold-us` wait, their common flags and the serve loop.
//!
//! Included with `#[path = "support/bench.rs"] mod bench;`.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;

/// `--hold-us N`: how long `/inc` and `/inc2` wait between reading the field and writing it
/// back (0, the default, for the benchmark; the lost-updates check uses it to stand for a
/// handler that does I/O between the two, which widens the window for a lost update).
static HOLD_US: AtomicU64 = AtomicU64::new(0);

/// Waits `--hold-us` microseconds (not at all by default).
pub async fn hold() {
    let us = HOLD_US.load(Ordering::Relaxed);
    if us > 0 {
        tokio::time::sleep(Duration::from_micros(us)).await;
    }
}

pub struct Args {
    pub addr: SocketAddr,
    pub workers: usize,
    /// `--store` (default `memory`); `bench_bare` accepts and ignores it.
    #[allow(dead_code)]
    pub store: String,
}

/// Parses `--addr HOST:PORT` (default `127.0.0.1:{port}`), `--workers N` (default 1),
/// `--hold-us N`, `--store VALUE` (`store_needs` is the message when its value is missing) and
/// `-h`/`--help` (prints `usage` and exits), from `argv` (the arguments after the program's name).
fn parse_args(
    argv: impl IntoIterator<Item = String>,
    port: u16,
    usage: &str,
    store_needs: &str,
) -> Result<Args, String> {
    let mut args = Args {
        addr: ([127, 0, 0, 1], port).into(),
        workers: 1,
        store: "memory".to_owned(),
    };
    let mut it = argv.into_iter();
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
            "--store" => args.store = it.next().ok_or(store_needs)?,
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
                println!("{usage}");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument `{other}`\n{usage}")),
        }
    }
    Ok(args)
}

/// [`parse_args`] of the process's arguments, or `{name}: {error}` on stderr and exit code 2.
#[allow(dead_code)] // not used by bench_floor, which takes a flag of its own first
pub fn args(name: &str, port: u16, usage: &str, store_needs: &str) -> Args {
    args_from(name, std::env::args().skip(1), port, usage, store_needs)
}

/// [`parse_args`] of `argv`, or `{name}: {error}` on stderr and exit code 2.
pub fn args_from(
    name: &str,
    argv: impl IntoIterator<Item = String>,
    port: u16,
    usage: &str,
    store_needs: &str,
) -> Args {
    or_exit(name, parse_args(argv, port, usage, store_needs))
}

/// The value, or `{name}: {error}` on stderr and exit code 2.
pub fn or_exit<T>(name: &str, result: Result<T, String>) -> T {
    match result {
        Ok(v) => v,
        Err(e) => {
            eprintln!("{name}: {e}");
            std::process::exit(2);
        }
    }
}

/// Runs `app` (built inside the runtime; an error exits with code 2) on `args.addr` with
/// `args.workers` tokio worker threads, after printing `{name} listening on http://{addr} {detail}`.
pub fn serve(
    name: &str,
    args: &Args,
    detail: String,
    app: impl Future<Output = Result<Router, String>>,
) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.workers)
        .enable_all()
        .build()
        .expect("tokio runtime");
    rt.block_on(async move {
        let app = or_exit(name, app.await);
        let listener = match tokio::net::TcpListener::bind(args.addr).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("{name}: cannot listen on {}: {e}", args.addr);
                std::process::exit(1);
            }
        };
        println!("{name} listening on http://{} {detail}", args.addr);
        if let Err(e) = axum::serve(listener, app).await {
            eprintln!("{name}: server error: {e}");
            std::process::exit(1);
        }
    });
}
