//! No log line ever carries a raw session id, whatever goes wrong.

mod support;

use std::sync::atomic::Ordering;

use axum::routing::get;
use axum::Router;
use session_runtime::store::{Patch, SessionStore};
use session_runtime::{Session, SessionLayer};
use support::http::send;
use support::logs::capture_logs;
use support::stores::{Faulty, Spy};

#[derive(Session, Default)]
struct Visit {
    count: u64,
}

fn routes() -> Router {
    Router::new()
        .route(
            "/inc",
            get(|mut s: Session<Visit>| async move {
                *s.count_mut() += 1;
                s.count().to_string()
            }),
        )
        .route(
            "/logout",
            get(|mut s: Session<Visit>| async move {
                s.destroy();
                "bye"
            }),
        )
}

/// `name=value` of the first `Set-Cookie` header of the response, if any.
async fn cookie_of(app: &Router, path: &str, cookie: Option<&str>) -> Option<String> {
    send(app, path, cookie)
        .await
        .set_cookies
        .first()
        .map(|c| c.split(';').next().unwrap().to_owned())
}

#[tokio::test]
async fn ids_never_reach_the_logs() {
    let (capture, _guard) = capture_logs();

    let spy = Spy::new();
    let app = routes().layer(SessionLayer::new(spy.clone()));
    let mut seen_ids = Vec::new();

    // A normal session, then a field that no longer decodes (warns with the session tag).
    let c1 = cookie_of(&app, "/inc", None).await.unwrap();
    seen_ids.push(c1["sid=".len()..].to_owned());
    let key = spy.last_created().unwrap();
    let bad = session_runtime::store::Json::from_string("\"x\"".into()).unwrap();
    spy.inner
        .patch(&key, &Patch::new().set("count", &bad), 0)
        .await
        .unwrap();
    cookie_of(&app, "/inc", Some(&c1)).await;

    // Unknown, tampered and duplicated ids.
    let unknown = "Q".repeat(43);
    seen_ids.push(unknown.clone());
    cookie_of(&app, "/inc", Some(&format!("sid={unknown}"))).await;
    cookie_of(&app, "/inc", Some(&format!("sid={unknown}x"))).await;
    cookie_of(&app, "/inc", Some(&format!("{c1}; sid={unknown}"))).await;

    // A patch racing a deletion (warns), and a logout.
    spy.inner.delete(&key).await.unwrap();
    let c2 = cookie_of(&app, "/inc", Some(&c1)).await.unwrap();
    seen_ids.push(c2["sid=".len()..].to_owned());
    cookie_of(&app, "/logout", Some(&c2)).await;

    // Store outages on load and on commit.
    let faulty = Faulty::default();
    let app2 = routes().layer(SessionLayer::new(faulty.clone()));
    let c3 = cookie_of(&app2, "/inc", None).await.unwrap();
    seen_ids.push(c3["sid=".len()..].to_owned());
    faulty.fail_loads.store(true, Ordering::SeqCst);
    cookie_of(&app2, "/inc", Some(&c3)).await;
    faulty.fail_loads.store(false, Ordering::SeqCst);
    faulty.fail_writes.store(true, Ordering::SeqCst);
    cookie_of(&app2, "/inc", Some(&c3)).await;

    let logs = capture.text();
    assert!(
        logs.contains("no longer decodes"),
        "the decode warning was logged:\n{logs}"
    );
    let decode_line = logs
        .lines()
        .find(|l| l.contains("no longer decodes"))
        .unwrap_or_default();
    assert!(
        decode_line.contains("count")
            && decode_line.contains("session=")
            && !decode_line.contains("session=new"),
        "the decode warning names the field and the stored session's tag:\n{decode_line}"
    );
    assert!(
        logs.contains("session commit failed"),
        "the commit failure was logged:\n{logs}"
    );
    assert!(
        logs.contains("session load failed"),
        "the load failure was logged:\n{logs}"
    );
    for id in &seen_ids {
        assert_eq!(id.len(), 43);
        assert!(
            !logs.contains(id.as_str()),
            "a raw session id leaked into the logs:\n{logs}"
        );
        assert!(
            !logs.contains(&id[..16]),
            "a prefix of a session id leaked into the logs"
        );
    }
}
