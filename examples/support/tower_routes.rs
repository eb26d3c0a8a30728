//! The routes of the tower-sessions twins of `bench_server`: `examples/bench_tower_sessions.rs`
//! (tower-sessions 0.15) and `scripts/tower-sessions-stores` (tower-sessions 0.14 with the
//! published Redis and PostgreSQL stores). Both versions have the same `Session` API, so each
//! includes this file with `#[path = ".../tower_routes.rs"] mod tower_routes;` and adds its own
//! `SessionManagerLayer`. Needs a sibling `bench` module (`support/bench.rs`).

use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use tower_sessions::Session;

use super::bench::hold;

type Answer = Result<String, (StatusCode, String)>;

fn internal(e: tower_sessions::session::Error) -> (StatusCode, String) {
    (StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
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

/// `/inc`, `/inc2`, `/read` and `/read2`, without the session layer.
pub fn routes() -> Router {
    Router::new()
        .route("/inc", get(inc))
        .route("/inc2", get(inc2))
        .route("/read", get(read))
        .route("/read2", get(read2))
}
