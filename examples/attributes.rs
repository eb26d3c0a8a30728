//! Every `#[session(...)]` attribute in one place.
//!
//! ```text
//! cargo run --example attributes
//! ```
//!
//! It serves one route on 127.0.0.1:3001 (or the address given as the first argument) and
//! prints what each attribute does.

use axum::routing::get;
use axum::Router;
use session_runtime::{MemoryStore, Session, SessionLayer};

fn default_theme() -> String {
    "light".to_owned()
}

#[derive(Session)]
struct Prefs {
    /// Stored under the key `lang` instead of `language`: lets you rename a Rust field
    /// without losing what existing sessions hold.
    #[session(rename = "lang")]
    language: String,

    /// Starts as `"light"` instead of `String::default()` (an empty string).
    #[session(default = default_theme)]
    theme: String,

    /// Never stored: every request starts with the default (`0`). Handy for values derived
    /// during one request.
    #[session(skip)]
    computed_this_request: u32,

    /// A plain field.
    visits: u64,
}

async fn show(mut p: Session<Prefs>) -> String {
    *p.visits_mut() += 1;
    *p.computed_this_request_mut() += 1;
    if p.language().is_empty() {
        p.set_language("en".to_owned());
    }
    format!(
        "language (stored as `lang`) = {}\ntheme (default `light`) = {}\nskipped field = {} (always 1: never stored)\nvisits = {}\n",
        p.language(),
        p.theme(),
        p.computed_this_request(),
        p.visits()
    )
}

#[tokio::main]
async fn main() {
    let app = Router::new()
        .route("/", get(show))
        .layer(SessionLayer::new(MemoryStore::new()).with_secure(false));
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:3001".into());
    let listener = tokio::net::TcpListener::bind(&addr).await.expect("bind");
    println!("attributes example on http://{addr}");
    axum::serve(listener, app).await.expect("server");
}
