//! The koa-session-minimal demo from the project's seed post, in Rust.
//!
//! ```text
//! cargo run --example koa        # listens on 127.0.0.1:3000
//! curl -c jar -b jar localhost:3000/set   # {"user_id":"…","count":0}
//! curl -c jar -b jar localhost:3000/      # {"user_id":"…","count":1}
//! ```
//!
//! Unlike koa, `/` on a session that was never `/set` stores nothing and sends no cookie
//! (the count is only kept once the session has data), and change detection comes from the
//! fields that were written, not from hashing the whole session after every request.

use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use session_runtime::{MemoryStore, Session, SessionLayer};

#[derive(Session, Serialize, Default)]
struct Sess {
    user_id: Option<String>,
    count: u64,
}

/// `ctx.session = { user_id: random, count: 0 }`
async fn set(mut s: Session<Sess>) -> Json<serde_json::Value> {
    // `Math.random().toString(36)` in the original: a demo value, not a secret.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let id = format!("{nanos:x}");
    s.set(Sess {
        user_id: Some(id),
        count: 0,
    });
    Json(serde_json::to_value(s.get()).unwrap_or_default())
}

/// `ctx.session.count = ctx.session.count + 1`, but only for a session that exists.
async fn index(s: Option<Session<Sess>>) -> Json<serde_json::Value> {
    match s {
        Some(mut s) => {
            *s.count_mut() += 1;
            Json(serde_json::to_value(s.get()).unwrap_or_default())
        }
        None => Json(serde_json::json!({})),
    }
}

#[tokio::main]
async fn main() {
    let app = Router::new()
        .route("/set", get(set))
        .route("/", get(index))
        .layer(
            SessionLayer::new(MemoryStore::new())
                .with_cookie_name("SESSION_ID")
                .with_secure(false),
        );
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:3000".into());
    let listener = tokio::net::TcpListener::bind(&addr).await.expect("bind");
    println!("[demo] session is starting at http://{addr}");
    axum::serve(listener, app).await.expect("server");
}
