//! Behaviour through a real `Router` with `oneshot`: precise header and store-operation checks.

mod support;

use std::time::Duration;

use axum::body::Body;
use axum::extract::Query;
use axum::routing::get;
use axum::Router;
use http::{header, Request, StatusCode};
use serde::Deserialize;
use session_runtime::store::{Patch, SessionStore};
use session_runtime::{CookieKeys, ReadSession, Session, SessionLayer};
use support::http::{send_req, Reply};
use support::stores::{Faulty, Op, Spy, SyncSpy};

#[derive(Session, Default, Debug)]
struct Visit {
    user: Option<String>,
    count: u64,
    a: u64,
    b: u64,
}

/// A second view over the same record: shares the `count` field.
#[derive(Session, Default, Debug)]
struct Counter {
    count: u64,
}

#[derive(Deserialize)]
struct Login {
    user: String,
}

fn routes() -> Router {
    Router::new()
        .route("/none", get(|| async { "no session here" }))
        .route(
            "/peek",
            get(|s: ReadSession<Visit>| async move { format!("{}:{}", s.count(), s.is_new()) }),
        )
        .route(
            "/extract-only",
            get(|s: Session<Visit>| async move { format!("{}", s.count()) }),
        )
        .route(
            "/inc",
            get(|mut s: Session<Visit>| async move {
                *s.count_mut() += 1;
                format!("{}", s.count())
            }),
        )
        .route(
            "/a",
            get(|mut s: Session<Visit>| async move {
                *s.a_mut() += 1;
                format!("{}", s.a())
            }),
        )
        .route(
            "/b",
            get(|mut s: Session<Visit>| async move {
                *s.b_mut() += 1;
                format!("{}", s.b())
            }),
        )
        .route(
            "/reset",
            get(|mut s: Session<Visit>| async move {
                s.reset_count();
                "reset"
            }),
        )
        .route(
            "/login",
            get(|mut s: Session<Visit>, Query(q): Query<Login>| async move {
                s.set_user(Some(q.user));
                s.regenerate();
                "ok"
            }),
        )
        .route(
            "/regenerate",
            get(|mut s: Session<Visit>| async move {
                s.regenerate();
                "ok"
            }),
        )
        .route(
            "/logout",
            get(|mut s: Session<Visit>| async move {
                s.destroy();
                format!("{}", s.count())
            }),
        )
        .route(
            "/logout-then-write",
            get(|mut s: Session<Visit>| async move {
                s.destroy();
                *s.b_mut() = 7;
                "ok"
            }),
        )
        .route(
            "/opt",
            get(|s: Option<Session<Visit>>| async move {
                match s {
                    Some(s) => format!("some:{}", s.count()),
                    None => "none".to_owned(),
                }
            }),
        )
        .route(
            "/two-views",
            get(|mut v: Session<Visit>| async move {
                *v.a_mut() += 1;
                drop(v);
                "ok"
            }),
        )
        .route(
            "/three-extractors",
            get(
                |mut v: Session<Visit>, r: ReadSession<Counter>, o: Option<Session<Counter>>| async move {
                    let before = *v.count();
                    *v.count_mut() += 1;
                    let existing = o.map(|o| o.count().to_string());
                    format!(
                        "{before}:{}:{}:{}",
                        r.count(),
                        r.is_new(),
                        existing.as_deref().unwrap_or("none")
                    )
                },
            ),
        )
        .route(
            "/counter",
            get(|mut c: Session<Counter>| async move {
                *c.count_mut() += 10;
                format!("{}", c.count())
            }),
        )
}

fn app<S: SessionStore>(store: S) -> Router {
    routes().layer(SessionLayer::new(store))
}

async fn send(app: &Router, path: &str, cookies: &[&str]) -> Reply {
    let mut req = Request::get(path);
    for c in cookies {
        req = req.header(header::COOKIE, *c);
    }
    send_req(app, req.body(Body::empty()).unwrap()).await
}

#[tokio::test]
async fn a_route_that_never_extracts_does_no_store_io() {
    let spy = Spy::new();
    let app = app(spy.clone());
    let r = send(&app, "/inc", &[]).await;
    let cookie = r.cookie().unwrap();
    spy.take_ops();
    let r = send(&app, "/none", &[&cookie]).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.set_cookies.is_empty());
    assert_eq!(spy.ops(), vec![], "no load, no write");
}

#[tokio::test]
async fn a_new_session_that_is_never_written_stores_nothing_and_sets_no_cookie() {
    let spy = Spy::new();
    let app = app(spy.clone());
    for path in ["/extract-only", "/peek", "/opt"] {
        let r = send(&app, path, &[]).await;
        assert_eq!(r.status, StatusCode::OK, "{path}");
        assert!(r.set_cookies.is_empty(), "{path}: {:?}", r.set_cookies);
    }
    assert_eq!(
        spy.ops(),
        vec![],
        "no cookie means nothing to load and nothing to write"
    );
    assert!(spy.inner.is_empty());
}

#[tokio::test]
async fn the_first_write_creates_the_session_with_secure_cookie_defaults() {
    let spy = Spy::new();
    let app = app(spy.clone());
    let r = send(&app, "/inc", &[]).await;
    assert_eq!(r.body, "1");
    assert_eq!(r.set_cookies.len(), 1);
    let c = &r.set_cookies[0];
    assert!(c.starts_with("sid="), "{c}");
    for attr in ["; Path=/", "; HttpOnly", "; Secure", "; SameSite=Lax"] {
        assert!(c.contains(attr), "{c} lacks {attr}");
    }
    assert!(
        !c.contains("Max-Age"),
        "browser-session cookie by default: {c}"
    );
    let value = r.cookie().unwrap()["sid=".len()..].to_owned();
    assert_eq!(value.len(), 43, "256-bit id, URL-safe base64");
    assert!(value
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
    // Only the written field is stored.
    assert!(matches!(&spy.writes()[..], [Op::Create(_, names)] if names == &["count".to_owned()]));
}

#[tokio::test]
async fn reads_of_an_existing_session_write_nothing_and_set_no_cookie() {
    let spy = Spy::new();
    let app = app(spy.clone());
    let cookie = send(&app, "/inc", &[]).await.cookie().unwrap();
    spy.take_ops();
    for path in ["/extract-only", "/peek", "/opt"] {
        let r = send(&app, path, &[&cookie]).await;
        assert_eq!(r.status, StatusCode::OK);
        assert!(r.set_cookies.is_empty(), "{path}");
    }
    assert_eq!(send(&app, "/peek", &[&cookie]).await.body, "1:false");
    assert_eq!(send(&app, "/opt", &[&cookie]).await.body, "some:1");
    assert!(
        spy.writes().is_empty(),
        "reads never write: {:?}",
        spy.writes()
    );
}

#[tokio::test]
async fn a_store_with_a_synchronous_face_is_called_without_futures() {
    // SyncSpy's futures fail: any request that awaited one would answer 503 or 500.
    let store = SyncSpy::default();
    let spy = store.0.clone();
    let app = routes().layer(SessionLayer::new(store).with_idle_timeout(Duration::from_secs(60)));
    let cookie = send(&app, "/inc", &[]).await.cookie().unwrap();
    assert_eq!(send(&app, "/a", &[&cookie]).await.body, "1");
    assert_eq!(send(&app, "/peek", &[&cookie]).await.body, "1:false");
    let r = send(&app, "/login?user=ann", &[&cookie]).await;
    assert_eq!(r.status, StatusCode::OK);
    let cookie = r.cookie().unwrap();
    let r = send(&app, "/logout", &[&cookie]).await;
    assert_eq!(r.status, StatusCode::OK);
    let kinds: Vec<&str> = spy
        .ops()
        .iter()
        .map(|op| match op {
            Op::Load(_) => "load",
            Op::Create(..) => "create",
            Op::Patch { .. } => "patch",
            Op::Touch(_) => "touch",
            Op::Delete(_) => "delete",
            _ => "other",
        })
        .collect();
    assert_eq!(
        kinds,
        ["create", "load", "patch", "load", "load", "create", "delete", "load", "delete"],
        "every operation went through the synchronous face"
    );
    assert!(spy.inner.is_empty());
}

#[tokio::test]
async fn a_failed_synchronous_write_answers_500_and_loses_nothing_stored() {
    let store = SyncSpy::default();
    let outage = store.1.clone();
    let app = app(store.clone());
    let cookie = send(&app, "/inc", &[]).await.cookie().unwrap();
    assert_eq!(send(&app, "/inc", &[&cookie]).await.body, "2");
    outage.store(true, std::sync::atomic::Ordering::SeqCst);
    let r = send(&app, "/inc", &[&cookie]).await;
    assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(r.set_cookies.is_empty());
    let r = send(&app, "/inc", &[]).await;
    assert_eq!(
        r.status,
        StatusCode::INTERNAL_SERVER_ERROR,
        "a create fails too"
    );
    assert!(
        r.set_cookies.is_empty(),
        "no cookie for a session never stored"
    );
    outage.store(false, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(
        send(&app, "/peek", &[&cookie]).await.body,
        "2:false",
        "the stored session is as the last successful write left it"
    );
    assert_eq!(send(&app, "/inc", &[&cookie]).await.body, "3");
}

#[tokio::test]
async fn a_write_patches_only_the_dirty_field_and_keeps_the_cookie() {
    let spy = Spy::new();
    let app = app(spy.clone());
    let cookie = send(&app, "/inc", &[]).await.cookie().unwrap();
    send(&app, "/b", &[&cookie]).await;
    spy.take_ops();
    let r = send(&app, "/a", &[&cookie]).await;
    assert_eq!(r.body, "1");
    assert!(r.set_cookies.is_empty(), "same id, nothing to re-send");
    match &spy.writes()[..] {
        [Op::Patch { set, remove, .. }] => {
            assert_eq!(set, &vec![("a".to_owned(), "1".to_owned())]);
            assert!(remove.is_empty());
        }
        other => panic!("expected one patch, got {other:?}"),
    }
    assert_eq!(send(&app, "/inc", &[&cookie]).await.body, "2", "count kept");
    assert_eq!(send(&app, "/b", &[&cookie]).await.body, "2", "b kept");
}

#[tokio::test]
async fn reset_removes_the_field_from_the_store() {
    let spy = Spy::new();
    let app = app(spy.clone());
    let cookie = send(&app, "/inc", &[]).await.cookie().unwrap();
    spy.take_ops();
    send(&app, "/reset", &[&cookie]).await;
    assert!(
        matches!(&spy.writes()[..], [Op::Patch { set, remove, .. }] if set.is_empty() && remove == &["count".to_owned()])
    );
    assert_eq!(send(&app, "/peek", &[&cookie]).await.body, "0:false");
}

#[tokio::test]
async fn regenerate_moves_the_data_to_a_new_id_and_kills_the_old_one() {
    let spy = Spy::new();
    let app = app(spy.clone());
    let old = send(&app, "/inc", &[]).await.cookie().unwrap();
    let r = send(&app, "/login?user=ann", &[&old]).await;
    let new = r.cookie().expect("a new cookie");
    assert_ne!(old, new);
    assert_eq!(
        send(&app, "/peek", &[&new]).await.body,
        "1:false",
        "data kept"
    );
    assert_eq!(
        send(&app, "/peek", &[&old]).await.body,
        "0:true",
        "old id is dead"
    );
    assert_eq!(spy.inner.len(), 1);
}

#[tokio::test]
async fn regenerate_on_a_new_session_with_data_just_creates_it() {
    let spy = Spy::new();
    let app = app(spy.clone());
    let r = send(&app, "/login?user=bob", &[]).await;
    let c = r.cookie().unwrap();
    assert_eq!(spy.inner.len(), 1);
    assert_eq!(send(&app, "/peek", &[&c]).await.body, "0:false");
    // Regenerating an empty new session stores nothing.
    let r = send(&app, "/regenerate", &[]).await;
    assert!(r.set_cookies.is_empty());
    assert_eq!(spy.inner.len(), 1);
}

#[tokio::test]
async fn destroy_deletes_the_record_and_clears_the_cookie_with_the_same_attributes() {
    let spy = Spy::new();
    let app = routes().layer(
        SessionLayer::new(spy.clone())
            .with_path("/")
            .with_domain("example.com"),
    );
    let cookie = send(&app, "/inc", &[]).await.cookie().unwrap();
    let r = send(&app, "/logout", &[&cookie]).await;
    assert_eq!(
        r.body, "0",
        "the view shows the default session after destroy"
    );
    let c = &r.set_cookies[0];
    assert!(c.starts_with("sid=;"), "{c}");
    for attr in [
        "Max-Age=0",
        "Path=/",
        "Domain=example.com",
        "HttpOnly",
        "Secure",
        "SameSite=Lax",
    ] {
        assert!(c.contains(attr), "{c} lacks {attr}");
    }
    assert!(spy.inner.is_empty(), "record deleted");
    assert_eq!(send(&app, "/peek", &[&cookie]).await.body, "0:true");
}

#[tokio::test]
async fn a_write_after_destroy_starts_a_new_session() {
    let spy = Spy::new();
    let app = app(spy.clone());
    let cookie = send(&app, "/inc", &[]).await.cookie().unwrap();
    let r = send(&app, "/logout-then-write", &[&cookie]).await;
    let new = r.cookie().unwrap();
    assert_ne!(new, cookie);
    assert_ne!(new, "sid=");
    assert_eq!(spy.inner.len(), 1);
    assert_eq!(send(&app, "/peek", &[&cookie]).await.body, "0:true");
    let peek = send(&app, "/opt", &[&new]).await.body;
    assert_eq!(peek, "some:0", "count was not carried over");
}

#[tokio::test]
async fn an_unknown_id_is_never_adopted() {
    let spy = Spy::new();
    let app = app(spy.clone());
    let planted = format!("sid={}", "A".repeat(43));
    let r = send(&app, "/inc", &[&planted]).await;
    assert_eq!(r.body, "1", "fresh session");
    let issued = r.cookie().unwrap();
    assert_ne!(issued, planted, "the client-chosen id was not adopted");
    assert!(matches!(&spy.writes()[..], [Op::Create(..)]));
}

#[tokio::test]
async fn bad_cookies_give_a_fresh_session_never_an_error() {
    let spy = Spy::new();
    let app = app(spy.clone());
    let good = send(&app, "/inc", &[]).await.cookie().unwrap();
    let value = &good["sid=".len()..];
    let mut flipped = value.as_bytes().to_vec();
    flipped[10] = if flipped[10] == b'A' { b'B' } else { b'A' };
    let flipped = String::from_utf8(flipped).unwrap();
    let cases: Vec<(&str, String)> = vec![
        ("tampered", format!("sid={flipped}")),
        ("truncated", format!("sid={}", &value[..20])),
        ("oversized", format!("sid={}", "x".repeat(10_000))),
        ("empty", "sid=".to_owned()),
        ("garbage", "sid=%%%;;;===".to_owned()),
        ("duplicated", format!("{good}; {good}")),
        (
            "duplicated-planted",
            format!("sid={}; {good}", "B".repeat(43)),
        ),
    ];
    for (what, cookie) in cases {
        let r = send(&app, "/peek", &[&cookie]).await;
        assert_eq!(r.status, StatusCode::OK, "{what}");
        assert_eq!(r.body, "0:true", "{what}: fresh empty session");
        assert!(r.set_cookies.is_empty(), "{what}");
    }
    // A duplicate spread over two Cookie headers is still a duplicate.
    let r = send(&app, "/peek", &[&good, &good]).await;
    assert_eq!(r.body, "0:true");
    // A non-UTF-8 Cookie header is ignored.
    let req = Request::get("/peek")
        .header(
            header::COOKIE,
            http::HeaderValue::from_bytes(b"sid=\xff\xfe").unwrap(),
        )
        .body(Body::empty())
        .unwrap();
    let r = send_req(&app, req).await;
    assert_eq!((r.status, r.body.as_str()), (StatusCode::OK, "0:true"));
    // The good cookie still works afterwards.
    assert_eq!(send(&app, "/peek", &[&good]).await.body, "1:false");
    // Other cookies around ours are fine, in the same header even when they hold UTF-8 text.
    assert_eq!(
        send(&app, "/peek", &[&format!("a=1; {good}; b=2")])
            .await
            .body,
        "1:false"
    );
    let req = Request::get("/peek")
        .header(
            header::COOKIE,
            http::HeaderValue::from_bytes(format!("name=Zoë; {good}").as_bytes()).unwrap(),
        )
        .body(Body::empty())
        .unwrap();
    assert_eq!(send_req(&app, req).await.body, "1:false");
}

#[tokio::test]
async fn a_field_that_no_longer_decodes_falls_back_to_its_default_and_keeps_the_others() {
    let spy = Spy::new();
    let app = app(spy.clone());
    let cookie = send(&app, "/inc", &[]).await.cookie().unwrap();
    send(&app, "/a", &[&cookie]).await;
    let key = spy.last_created().unwrap();
    let bad = session_runtime::store::Json::from_string("\"not a number\"".into()).unwrap();
    spy.inner
        .patch(&key, &Patch::new().set("count", &bad), 0)
        .await
        .unwrap();
    let r = send(&app, "/inc", &[&cookie]).await;
    assert_eq!(r.body, "1", "count fell back to 0 and was incremented");
    assert_eq!(send(&app, "/a", &[&cookie]).await.body, "2", "a was kept");
}

#[tokio::test]
async fn without_the_layer_the_extractor_answers_500_naming_the_layer() {
    let app = routes();
    let r = send(&app, "/inc", &[]).await;
    assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(r.body.contains("SessionLayer"), "{}", r.body);
}

#[tokio::test]
async fn a_store_failure_on_load_answers_503_and_the_cookie_works_afterwards() {
    let store = Faulty::default();
    let app = app(store.clone());
    let cookie = send(&app, "/inc", &[]).await.cookie().unwrap();
    store
        .fail_loads
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let r = send(&app, "/inc", &[&cookie]).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(r.set_cookies.is_empty());
    // Without a cookie there is nothing to load, so no store call and no 503.
    assert_eq!(send(&app, "/peek", &[]).await.status, StatusCode::OK);
    store
        .fail_loads
        .store(false, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(
        send(&app, "/inc", &[&cookie]).await.body,
        "2",
        "nothing was lost"
    );
}

#[tokio::test]
async fn a_store_failure_on_commit_answers_500_without_set_cookie() {
    let store = Faulty::default();
    let app = app(store.clone());
    let cookie = send(&app, "/inc", &[]).await.cookie().unwrap();
    store
        .fail_writes
        .store(true, std::sync::atomic::Ordering::SeqCst);
    for (path, cookies) in [
        ("/inc", vec![cookie.as_str()]),
        ("/inc", vec![]),
        ("/logout", vec![cookie.as_str()]),
    ] {
        let r = send(&app, path, &cookies).await;
        assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR, "{path}");
        assert!(r.set_cookies.is_empty(), "{path}: {:?}", r.set_cookies);
    }
    store
        .fail_writes
        .store(false, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(send(&app, "/peek", &[&cookie]).await.body, "1:false");
}

#[tokio::test]
async fn a_patch_racing_a_logout_does_not_resurrect_the_session() {
    let spy = Spy::new();
    let app = app(spy.clone());
    let cookie = send(&app, "/inc", &[]).await.cookie().unwrap();
    let key = spy.last_created().unwrap();
    // The request loads the session, then a logout elsewhere deletes it before the commit:
    // emulate by deleting between load and commit with a handler that does both.
    let app2 = Router::new()
        .route(
            "/race",
            get({
                let spy = spy.clone();
                move |mut s: Session<Visit>| {
                    let spy = spy.clone();
                    async move {
                        spy.inner.delete(&key).await.unwrap();
                        *s.a_mut() += 1;
                        "ok"
                    }
                }
            }),
        )
        .layer(SessionLayer::new(spy.clone()));
    let r = send(&app2, "/race", &[&cookie]).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.set_cookies[0].contains("Max-Age=0"),
        "the dead session's cookie is cleared"
    );
    assert!(spy.inner.is_empty(), "not resurrected");
}

#[tokio::test]
async fn two_session_types_share_one_record_field_by_field() {
    let spy = Spy::new();
    let app = app(spy.clone());
    let cookie = send(&app, "/inc", &[]).await.cookie().unwrap();
    assert_eq!(send(&app, "/counter", &[&cookie]).await.body, "11");
    assert_eq!(send(&app, "/peek", &[&cookie]).await.body, "11:false");
}

#[tokio::test]
async fn several_extractors_in_one_request_share_one_load_and_one_commit() {
    let spy = Spy::new();
    let app = app(spy.clone());
    // No cookie: nothing to load; the read-only view and the optional one see a new session.
    let r = send(&app, "/three-extractors", &[]).await;
    assert_eq!(r.body, "0:0:true:none");
    let cookie = r.cookie().unwrap();
    assert!(
        matches!(&spy.take_ops()[..], [Op::Create(_, names)] if names == &["count".to_owned()]),
        "one create, of the one written field"
    );
    // A stored session: loaded once for the three views, which all see it; one patch.
    let r = send(&app, "/three-extractors", &[&cookie]).await;
    assert_eq!(r.body, "1:1:false:1");
    assert!(r.set_cookies.is_empty());
    let ops = spy.take_ops();
    assert!(
        matches!(&ops[..], [Op::Load(_), Op::Patch { set, remove, .. }]
            if set == &[("count".to_owned(), "2".to_owned())] && remove.is_empty()),
        "{ops:?}"
    );
}

#[tokio::test]
async fn signed_cookies_verify_and_reject_forgeries() {
    let key = [42u8; 32];
    let app = routes()
        .layer(SessionLayer::new(Spy::new()).with_signed_cookies(CookieKeys::new([key]).unwrap()));
    let cookie = send(&app, "/inc", &[]).await.cookie().unwrap();
    let value = &cookie["sid=".len()..];
    let (id, tag) = value.split_once('.').expect("ID.TAG");
    assert_eq!((id.len(), tag.len()), (43, 43));
    assert_eq!(send(&app, "/peek", &[&cookie]).await.body, "1:false");
    let unsigned = format!("sid={id}");
    assert_eq!(send(&app, "/peek", &[&unsigned]).await.body, "0:true");
    let mut t = tag.as_bytes().to_vec();
    t[0] = if t[0] == b'A' { b'B' } else { b'A' };
    let forged = format!("sid={id}.{}", String::from_utf8(t).unwrap());
    assert_eq!(send(&app, "/peek", &[&forged]).await.body, "0:true");
    let other = routes().layer(
        SessionLayer::new(Spy::new()).with_signed_cookies(CookieKeys::new([[1u8; 32]]).unwrap()),
    );
    assert_eq!(
        send(&other, "/peek", &[&cookie]).await.body,
        "0:true",
        "another key does not verify"
    );
}

#[tokio::test]
async fn contradictory_settings_fail_when_the_layer_is_built() {
    let err = SessionLayer::new(Spy::new())
        .with_same_site(session_runtime::SameSite::None)
        .with_secure(false)
        .check()
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "`SameSite=None` requires the `Secure` attribute"
    );
    let built = std::panic::catch_unwind(|| {
        routes().layer(SessionLayer::new(Spy::new()).with_cookie_name("bad name"))
    });
    assert!(
        built.is_err(),
        "applying an invalid layer panics at start-up"
    );
}

#[tokio::test]
async fn secure_can_be_switched_off_for_plain_http_development() {
    let app = routes().layer(
        SessionLayer::new(Spy::new())
            .with_secure(false)
            .with_cookie_name("dev"),
    );
    let r = send(&app, "/inc", &[]).await;
    let c = &r.set_cookies[0];
    assert!(c.starts_with("dev=") && !c.contains("Secure"), "{c}");
}
