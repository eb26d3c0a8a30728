//! The demo server: `cargo run --release --example demo -- --addr 127.0.0.1:3000`.
//!
//! Every route answers 200 with the whole session as JSON
//! `{"user":..,"count":..,"a":..,"b":..}`:
//!
//! - `GET /`                 — `count += 1`
//! - `GET /peek`             — reads only; writes nothing, sets no cookie
//! - `GET /inc/a`, `/inc/b`  — `a += 1` or `b += 1` (only that field is written)
//! - `GET /login?user=NAME`  — sets `user` and gives the session a new id
//! - `GET /logout`           — destroys the session (answers the default session)
//!
//! - `GET /big?bytes=N`      — stores a string of N bytes in the field `blob` (not echoed),
//!   to exercise the cookie store's size limit
//!
//! Flags: `--addr HOST:PORT`, `--idle-timeout SECS`, `--absolute-timeout SECS`,
//! `--max-age SECS` (persistent cookie), `--key HEX` (sign the cookie with this key;
//! repeatable, the first signs and all verify), `--cookie-store` (the whole session in an
//! encrypted cookie; needs `--key`), `--secure` (set the cookie's `Secure` flag; off by default
//! so the demo works over plain http).
//!
//! `--store URL` picks where sessions live: `memory` (the default), `sqlite://PATH`,
//! `postgres://...`, `mysql://...` (MySQL or MariaDB) or `redis://...`; the tables are
//! created on start and expired sessions are purged every minute. Two demo processes given the
//! same PostgreSQL, MySQL or Redis URL share their sessions.

#[path = "support/stores.rs"]
mod stores;

use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::Query;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use session_runtime::{CookieKeys, ReadSession, Session, SessionLayer};

#[derive(Session, Serialize, Default, Debug)]
struct Demo {
    user: Option<String>,
    count: u64,
    a: u64,
    b: u64,
    #[serde(skip_serializing)]
    blob: String,
}

async fn index(mut s: Session<Demo>) -> Response {
    *s.count_mut() += 1;
    Json(s.get()).into_response()
}

async fn peek(s: ReadSession<Demo>) -> Response {
    Json(s.get()).into_response()
}

async fn inc_a(mut s: Session<Demo>) -> Response {
    *s.a_mut() += 1;
    Json(s.get()).into_response()
}

async fn inc_b(mut s: Session<Demo>) -> Response {
    *s.b_mut() += 1;
    Json(s.get()).into_response()
}

#[derive(Deserialize)]
struct Login {
    user: String,
}

async fn login(mut s: Session<Demo>, Query(q): Query<Login>) -> Response {
    s.set_user(Some(q.user));
    s.regenerate();
    Json(s.get()).into_response()
}

#[derive(Deserialize)]
struct Big {
    bytes: usize,
}

async fn big(mut s: Session<Demo>, Query(q): Query<Big>) -> Response {
    s.set_blob("x".repeat(q.bytes.min(1 << 20)));
    Json(s.get()).into_response()
}

async fn logout(mut s: Session<Demo>) -> Response {
    s.destroy();
    Json(s.get()).into_response()
}

fn app(layer: SessionLayer) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/peek", get(peek))
        .route("/inc/a", get(inc_a))
        .route("/inc/b", get(inc_b))
        .route("/login", get(login))
        .route("/logout", get(logout))
        .route("/big", get(big))
        .layer(layer)
}

struct Args {
    addr: SocketAddr,
    idle_timeout: Option<Duration>,
    absolute_timeout: Option<Duration>,
    max_age: Option<Duration>,
    keys: Vec<String>,
    cookie_store: bool,
    secure: bool,
    store: String,
}

const USAGE: &str =
    "usage: demo [--addr HOST:PORT] [--idle-timeout SECS] [--absolute-timeout SECS] \
[--max-age SECS] [--key HEX]... [--cookie-store] [--secure] \
[--store memory|sqlite://PATH|postgres://..|mysql://..|redis://..]";

/// Connects to the store named by `--store` (creating its tables or checking its server)
/// and starts its expired-session cleanup.
async fn store_layer(url: &str) -> Result<SessionLayer, String> {
    stores::store_layer(
        url,
        stores::ALL,
        "unknown or not compiled in (memory, sqlite://PATH, postgres://.., mysql://.., redis://..; \
         the SQL and Redis stores need the example's default `all-stores` feature)",
    )
    .await
}

async fn layer(args: &Args) -> Result<SessionLayer, String> {
    let keys = if args.keys.is_empty() {
        None
    } else {
        Some(CookieKeys::from_hex(&args.keys).map_err(|e| format!("--key: {e}"))?)
    };
    let mut layer = match (args.cookie_store, keys) {
        (true, Some(keys)) => SessionLayer::cookie_store(keys),
        (true, None) => return Err("--cookie-store needs --key HEX".into()),
        (false, Some(keys)) => store_layer(&args.store).await?.with_signed_cookies(keys),
        (false, None) => store_layer(&args.store).await?,
    };
    layer = layer.with_secure(args.secure);
    if let Some(d) = args.idle_timeout {
        layer = layer.with_idle_timeout(d);
    }
    if let Some(d) = args.absolute_timeout {
        layer = layer.with_absolute_timeout(d);
    }
    if let Some(d) = args.max_age {
        layer = layer.with_max_age(d);
    }
    layer.check().map_err(|e| e.to_string())
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        addr: ([127, 0, 0, 1], 3000).into(),
        idle_timeout: None,
        absolute_timeout: None,
        max_age: None,
        keys: Vec::new(),
        cookie_store: false,
        secure: false,
        store: "memory".to_owned(),
    };
    let mut it = std::env::args().skip(1);
    let secs = |flag: &str, v: Option<String>| -> Result<Duration, String> {
        let v = v.ok_or(format!("{flag} needs a number of seconds"))?;
        match v.parse::<u64>() {
            Ok(n) if n > 0 => Ok(Duration::from_secs(n)),
            _ => Err(format!("{flag} {v}: expected a positive number of seconds")),
        }
    };
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--addr" => {
                let v = it
                    .next()
                    .ok_or("--addr needs a value, e.g. 127.0.0.1:3000")?;
                args.addr = v.parse().map_err(|e| format!("--addr {v}: {e}"))?;
            }
            "--idle-timeout" => args.idle_timeout = Some(secs(&arg, it.next())?),
            "--absolute-timeout" => args.absolute_timeout = Some(secs(&arg, it.next())?),
            "--max-age" => args.max_age = Some(secs(&arg, it.next())?),
            "--key" => args
                .keys
                .push(it.next().ok_or("--key needs a hex key (64 hex digits)")?),
            "--cookie-store" => args.cookie_store = true,
            "--secure" => args.secure = true,
            "--store" => args.store = it.next().ok_or("--store needs a URL or `memory`")?,
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument `{other}`\n{USAGE}")),
        }
    }
    Ok(args)
}

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("demo: {e}");
            std::process::exit(2);
        }
    };
    let layer = match layer(&args).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("demo: {e}");
            std::process::exit(2);
        }
    };
    let addr = args.addr;
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("demo: cannot listen on {addr}: {e}");
            std::process::exit(1);
        }
    };
    println!(
        "demo listening on http://{}",
        listener.local_addr().unwrap_or(addr)
    );
    if let Err(e) = axum::serve(listener, app(layer)).await {
        eprintln!("demo: server error: {e}");
        std::process::exit(1);
    }
}
