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
//! Sessions live in the memory store; the cookie's `Secure` flag is off so the demo works
//! over plain http.

use std::net::SocketAddr;

use axum::extract::Query;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use session_runtime::{MemoryStore, ReadSession, Session, SessionLayer};

#[derive(Session, Serialize, Default, Debug)]
struct Demo {
    user: Option<String>,
    count: u64,
    a: u64,
    b: u64,
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

async fn logout(mut s: Session<Demo>) -> Response {
    s.destroy();
    Json(s.get()).into_response()
}

fn app() -> Router {
    Router::new()
        .route("/", get(index))
        .route("/peek", get(peek))
        .route("/inc/a", get(inc_a))
        .route("/inc/b", get(inc_b))
        .route("/login", get(login))
        .route("/logout", get(logout))
        .layer(SessionLayer::new(MemoryStore::new()).with_secure(false))
}

fn parse_args() -> Result<SocketAddr, String> {
    let mut addr: SocketAddr = ([127, 0, 0, 1], 3000).into();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--addr" => {
                let v = args
                    .next()
                    .ok_or("--addr needs a value, e.g. 127.0.0.1:3000")?;
                addr = v.parse().map_err(|e| format!("--addr {v}: {e}"))?;
            }
            "-h" | "--help" => {
                println!("usage: demo [--addr HOST:PORT]");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument `{other}` (try --help)")),
        }
    }
    Ok(addr)
}

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let addr = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("demo: {e}");
            std::process::exit(2);
        }
    };
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
    if let Err(e) = axum::serve(listener, app()).await {
        eprintln!("demo: server error: {e}");
        std::process::exit(1);
    }
}
