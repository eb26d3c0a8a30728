//! One layer served by several threads at once, in process: what requests on different cores
//! cost each other.
//!
//! `cargo run --release --example layer_threads -- --threads 2 --seconds 4 --path /inc`
//!
//! One `Router` with `SessionLayer` over one `MemoryStore`; each of `--threads` OS threads has
//! its own current-thread tokio runtime, its own clone of the router (as each of hyper's
//! connections has) and its own session, and sends requests with that session's cookie for
//! `--seconds`, all threads starting together: `/inc` writes one field, `/read` reads it
//! through `ReadSession` and writes nothing. No sockets, so no kernel: what is left is the
//! layer, the store, axum and tokio. It prints the requests per second of all threads and the
//! time one request took on each thread. With one thread per core, what two threads add to a
//! request's time over one is what they cost each other: every cache line both write
//! (reference counts, locks, the allocator's) moves between the cores. To compare two builds,
//! alternate runs of both binaries several times (BENCHMARKS.md, "What changed at 2b9af60"): the
//! machine's own noise between two runs is larger than most differences.

use std::process::ExitCode;
use std::sync::Barrier;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::routing::get;
use axum::Router;
use http::header::{COOKIE, SET_COOKIE};
use http::{HeaderValue, Request, Response, StatusCode};
use session_runtime::{MemoryStore, ReadSession, Session, SessionLayer};
use tower::{Service, ServiceExt};

#[derive(Session, Default)]
struct Counter {
    count: u64,
}

async fn inc(mut s: Session<Counter>) -> String {
    *s.count_mut() += 1;
    s.count().to_string()
}

async fn read(s: ReadSession<Counter>) -> String {
    s.count().to_string()
}

const USAGE: &str = "usage: layer_threads [--threads N (1..=64, default 2)] \
                     [--seconds S (1..=600, default 4)] [--path /inc|/read (default /inc)]";

struct Args {
    threads: usize,
    seconds: u64,
    path: &'static str,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        threads: 2,
        seconds: 4,
        path: "/inc",
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--threads" => args.threads = number(&flag, &value, 64)? as usize,
            "--seconds" => args.seconds = number(&flag, &value, 600)?,
            "--path" => {
                args.path = match value.as_str() {
                    "/inc" => "/inc",
                    "/read" => "/read",
                    _ => return Err(format!("--path {value}: expected /inc or /read")),
                };
            }
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    Ok(args)
}

/// `value` of `flag` as a whole number in `1..=max`.
fn number(flag: &str, value: &str, max: u64) -> Result<u64, String> {
    value
        .parse()
        .ok()
        .filter(|n| (1..=max).contains(n))
        .ok_or_else(|| format!("{flag} {value}: expected 1..={max}"))
}

fn request(path: &str, cookie: Option<&HeaderValue>) -> Request<Body> {
    let mut req = Request::get(path);
    if let Some(cookie) = cookie {
        req = req.header(COOKIE, cookie.clone());
    }
    req.body(Body::empty())
        .expect("a GET request with a valid header")
}

/// Sends one request through `app`, as a connection of hyper's does (ready, then call).
async fn send(app: &mut Router, req: Request<Body>) -> Result<Response<Body>, String> {
    ServiceExt::<Request<Body>>::ready(app)
        .await
        .map_err(|e| e.to_string())?
        .call(req)
        .await
        .map_err(|e| e.to_string())
}

/// One thread's part: a session of its own, then requests until `duration` has passed.
/// Returns (requests, elapsed).
async fn serve(
    mut app: Router,
    path: &str,
    start: &Barrier,
    duration: Duration,
) -> Result<(u64, Duration), String> {
    let res = send(&mut app, request("/inc", None)).await?;
    let cookie = res
        .headers()
        .get(SET_COOKIE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .and_then(|pair| HeaderValue::from_str(pair).ok())
        .ok_or("the first /inc set no session cookie")?;
    start.wait();
    let began = Instant::now();
    let mut requests = 0u64;
    while began.elapsed() < duration {
        for _ in 0..256 {
            let res = send(&mut app, request(path, Some(&cookie))).await?;
            if res.status() != StatusCode::OK {
                return Err(format!("GET {path}: status {}", res.status()));
            }
        }
        requests += 256;
    }
    Ok((requests, began.elapsed()))
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("layer_threads: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let app = Router::new()
        .route("/inc", get(inc))
        .route("/read", get(read))
        .layer(SessionLayer::new(MemoryStore::new()).with_secure(false));
    let start = Barrier::new(args.threads);
    let duration = Duration::from_secs(args.seconds);
    let results: Vec<Result<(u64, Duration), String>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..args.threads)
            .map(|_| {
                let (app, start) = (app.clone(), &start);
                s.spawn(move || {
                    let rt = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .map_err(|e| e.to_string())?;
                    rt.block_on(serve(app, args.path, start, duration))
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err("a thread panicked".into())))
            .collect()
    });
    let mut total = 0.0;
    let mut per_request = Vec::new();
    for result in results {
        match result {
            Ok((requests, elapsed)) => {
                total += requests as f64 / elapsed.as_secs_f64();
                per_request.push(elapsed.as_nanos() as f64 / requests as f64);
            }
            Err(e) => {
                eprintln!("layer_threads: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    let mean = per_request.iter().sum::<f64>() / per_request.len() as f64;
    println!(
        "layer_threads: {} thread(s), {}: {:.0} requests/s in all, {:.0} ns per request on each thread",
        args.threads, args.path, total, mean
    );
    ExitCode::SUCCESS
}
