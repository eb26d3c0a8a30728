//! The client-side cookie store (`SessionLayer::cookie_store`): the whole session sealed in
//! the cookie with AES-256-GCM, through a real `Router` with `oneshot`.

mod support;

use std::time::Duration;

use axum::extract::{Path, Query};
use axum::routing::get;
use axum::Router;
use http::StatusCode;
use serde::Deserialize;
use session_runtime::{ConfigError, ManagerError, ReadSession, Session, SessionLayer};
use support::clock::ManualClock;
use support::cookies::{b64_decode, b64_encode, keys, one_bit_flips};
use support::http::{send, Reply};

#[derive(Session, Default, Debug)]
struct Cart {
    item: String,
    qty: u64,
}

#[derive(Session, Default, Debug)]
struct Blob {
    s: String,
}

#[derive(Session, Default, Debug)]
struct Ui {
    #[session(flash)]
    notice: Option<String>,
}

#[derive(Deserialize)]
struct Add {
    item: String,
}

fn routes() -> Router {
    Router::new()
        .route(
            "/add",
            get(|mut c: Session<Cart>, Query(q): Query<Add>| async move {
                c.set_item(q.item);
                *c.qty_mut() += 1;
                c.qty().to_string()
            }),
        )
        .route(
            "/show",
            get(|c: ReadSession<Cart>| async move {
                format!("{}:{}:{}", c.item(), c.qty(), c.is_new())
            }),
        )
        .route(
            "/extract",
            get(|c: Session<Cart>| async move { format!("{}:{}", c.item(), c.qty()) }),
        )
        .route(
            "/logout",
            get(|mut c: Session<Cart>| async move {
                c.destroy();
                "bye"
            }),
        )
        .route(
            "/big/{n}",
            get(|mut b: Session<Blob>, Path(n): Path<usize>| async move {
                b.set_s("x".repeat(n));
                n.to_string()
            }),
        )
        .route(
            "/flash/show",
            get(|mut ui: Session<Ui>| async move { format!("{:?}", ui.notice()) }),
        )
        .route(
            "/blob",
            get(|b: ReadSession<Blob>| async move { b.s().len().to_string() }),
        )
}

// ---------------------------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------------------------

fn layer() -> SessionLayer {
    SessionLayer::cookie_store(keys(&[7]))
}

async fn assert_fresh(app: &Router, cookie: &str, what: &str) {
    let r = send(app, "/show", Some(cookie)).await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "{what}: a bad cookie is never an error"
    );
    assert_eq!(r.body, ":0:true", "{what}: expected a fresh empty session");
    assert!(
        r.set_cookies.is_empty(),
        "{what}: nothing to set: {:?}",
        r.set_cookies
    );
}

// ---------------------------------------------------------------------------------------------
// Round trip
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn the_whole_session_lives_in_the_cookie() {
    let app = routes().layer(layer());

    let r = send(&app, "/show", None).await;
    assert_eq!(r.body, ":0:true");
    assert!(
        r.set_cookies.is_empty(),
        "a new session nobody wrote sets no cookie"
    );

    let r = send(&app, "/add?item=tea", None).await;
    assert_eq!(r.status, StatusCode::OK);
    let set = r.set_cookie().expect("a write sets the cookie").to_owned();
    for attr in ["; Path=/", "; HttpOnly", "; Secure", "; SameSite=Lax"] {
        assert!(set.contains(attr), "{set} lacks {attr}");
    }
    assert!(
        !set.contains("Max-Age"),
        "browser-session cookie by default: {set}"
    );
    let first = r.cookie().unwrap();
    assert!(
        !first.contains("tea"),
        "the data is encrypted, not visible: {first}"
    );

    for path in ["/show", "/extract"] {
        let r = send(&app, path, Some(&first)).await;
        assert!(
            r.body.starts_with("tea:1"),
            "{path}: the next request sees the data: {}",
            r.body
        );
        assert!(
            r.set_cookies.is_empty(),
            "{path}: a read does not re-issue the cookie: {:?}",
            r.set_cookies
        );
    }

    let r = send(&app, "/add?item=jam", Some(&first)).await;
    assert_eq!(r.body, "2");
    let second = r.cookie().expect("a write re-issues the cookie");
    assert_ne!(second, first);
    assert_eq!(send(&app, "/show", Some(&second)).await.body, "jam:2:false");

    let r = send(&app, "/logout", Some(&second)).await;
    let cleared = r.set_cookie().expect("destroy clears the cookie");
    assert!(
        cleared.starts_with("sid=;") && cleared.contains("Max-Age=0"),
        "{cleared}"
    );
}

// ---------------------------------------------------------------------------------------------
// Tampering and rotation
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn any_flipped_bit_gives_a_fresh_session_never_an_error() {
    let app = routes().layer(layer());
    let cookie = send(&app, "/add?item=tea", None).await.cookie().unwrap();
    let value = &cookie["sid=".len()..];
    let raw = b64_decode(value);
    assert_eq!(b64_encode(&raw), value, "the test's base64url round-trips");
    let (nonce, tag) = (12, 16);
    assert!(raw.len() > nonce + tag + 10, "{} bytes", raw.len());
    for (forged, what) in one_bit_flips(&raw, nonce, tag) {
        assert_fresh(&app, &format!("sid={forged}"), &what).await;
    }
    assert_eq!(
        send(&app, "/show", Some(&cookie)).await.body,
        "tea:1:false",
        "the genuine cookie still works"
    );
}

#[tokio::test]
async fn a_foreign_key_or_garbage_gives_a_fresh_session() {
    let app = routes().layer(layer());
    let foreign = routes().layer(SessionLayer::cookie_store(keys(&[8])));
    let cookie = send(&foreign, "/add?item=tea", None)
        .await
        .cookie()
        .unwrap();
    assert_eq!(
        send(&foreign, "/show", Some(&cookie)).await.body,
        "tea:1:false"
    );
    assert_fresh(&app, &cookie, "sealed under another key").await;
    for (what, bad) in [
        ("not base64", "sid=**not*base64!!"),
        (
            "base64 with padding",
            "sid=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==",
        ),
        ("too short", "sid=AAAA"),
        ("empty", "sid="),
        ("oversized", &format!("sid={}", "A".repeat(5000))),
    ] {
        assert_fresh(&app, bad, what).await;
    }
    // A write after a bad cookie starts a new sealed session.
    let r = send(&app, "/add?item=jam", Some("sid=**not*base64!!")).await;
    assert_eq!(r.body, "1");
    let fresh = r.cookie().unwrap();
    assert_eq!(send(&app, "/show", Some(&fresh)).await.body, "jam:1:false");
}

#[tokio::test]
async fn a_rotated_key_list_re_seals_an_old_cookie_on_a_read_request() {
    let (old, rotated, removed) = (
        routes().layer(SessionLayer::cookie_store(keys(&[1]))),
        routes().layer(SessionLayer::cookie_store(keys(&[2, 1]))),
        routes().layer(SessionLayer::cookie_store(keys(&[2]))),
    );
    let k1 = send(&old, "/add?item=tea", None).await.cookie().unwrap();
    let r = send(&rotated, "/show", Some(&k1)).await;
    assert_eq!(r.body, "tea:1:false", "the old key still opens the cookie");
    let k2 = r
        .cookie()
        .expect("a read request re-seals a cookie sealed with an older key");
    assert_ne!(k2, k1);
    assert_eq!(
        send(&removed, "/show", Some(&k2)).await.body,
        "tea:1:false",
        "the re-sealed cookie opens with the new key alone"
    );
    assert_fresh(&removed, &k1, "sealed with a removed key").await;
    assert!(
        send(&rotated, "/show", Some(&k2))
            .await
            .set_cookies
            .is_empty(),
        "a cookie sealed with the first key is not re-issued"
    );
}

// ---------------------------------------------------------------------------------------------
// Expiry
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn the_expiry_travels_inside_the_sealed_payload() {
    let clock = ManualClock::new();
    let app = routes().layer(
        layer()
            .with_clock(clock.clone())
            .with_max_age(Duration::from_secs(600)),
    );
    let r = send(&app, "/add?item=tea", None).await;
    assert_eq!(r.max_age(), Some(600), "{:?}", r.set_cookie());
    let cookie = r.cookie().unwrap();

    clock.at(Duration::from_secs(300));
    let r = send(&app, "/add?item=jam", Some(&cookie)).await;
    assert_eq!(
        r.max_age(),
        Some(300),
        "a rewrite keeps the original expiry; Max-Age is what remains: {:?}",
        r.set_cookie()
    );
    let rewritten = r.cookie().unwrap();

    clock.at(Duration::from_millis(599_999));
    assert_eq!(send(&app, "/show", Some(&cookie)).await.body, "tea:1:false");
    assert_eq!(
        send(&app, "/show", Some(&rewritten)).await.body,
        "jam:2:false"
    );

    clock.at(Duration::from_secs(600));
    assert_fresh(&app, &cookie, "presented at +600 s").await;
    assert_fresh(&app, &rewritten, "the rewritten cookie at +600 s").await;
}

#[tokio::test]
async fn the_default_lifetime_also_applies_to_a_browser_session_cookie() {
    let clock = ManualClock::new();
    let app = routes().layer(layer().with_clock(clock.clone()));
    let cookie = send(&app, "/add?item=tea", None).await.cookie().unwrap();
    clock.at(Duration::from_secs(24 * 3600) - Duration::from_millis(1));
    assert_eq!(send(&app, "/show", Some(&cookie)).await.body, "tea:1:false");
    clock.at(Duration::from_secs(24 * 3600));
    assert_fresh(&app, &cookie, "one day after creation").await;
}

#[tokio::test]
async fn an_idle_timeout_re_seals_the_cookie_when_the_deadline_slides() {
    let clock = ManualClock::new();
    let app = routes().layer(
        layer()
            .with_clock(clock.clone())
            .with_idle_timeout(Duration::from_secs(600)),
    );
    let first = send(&app, "/add?item=tea", None).await.cookie().unwrap();

    clock.at(Duration::from_secs(30));
    let r = send(&app, "/show", Some(&first)).await;
    assert_eq!(r.body, "tea:1:false");
    assert!(
        r.set_cookies.is_empty(),
        "less than a tenth: nothing to re-seal: {:?}",
        r.set_cookies
    );

    clock.at(Duration::from_secs(61));
    let r = send(&app, "/show", Some(&first)).await;
    assert_eq!(r.body, "tea:1:false");
    let slid = r
        .cookie()
        .expect("the new deadline lives in the cookie, so the cookie is re-sealed");
    assert_ne!(slid, first);

    clock.at(Duration::from_secs(600));
    assert_fresh(&app, &first, "the original cookie at its own deadline").await;
    assert_eq!(
        send(&app, "/show", Some(&slid)).await.body,
        "tea:1:false",
        "the re-sealed cookie carries the slid deadline"
    );
    clock.at(Duration::from_secs(661));
    assert_fresh(&app, &slid, "the re-sealed cookie at +661 s").await;
}

// ---------------------------------------------------------------------------------------------
// Size limit
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_session_too_big_for_one_cookie_is_a_500_never_a_truncated_cookie() {
    let clock = ManualClock::new();
    let app = routes().layer(layer().with_clock(clock));
    let fits = |r: &Reply| r.status == StatusCode::OK && r.set_cookie().is_some();

    // Coarse steps, then single bytes: the largest N whose cookie is still issued.
    let mut n = 1024;
    assert!(fits(&send(&app, &format!("/big/{n}"), None).await));
    while fits(&send(&app, &format!("/big/{}", n + 64), None).await) {
        n += 64;
        assert!(n < 8192, "no size limit at all");
    }
    while fits(&send(&app, &format!("/big/{}", n + 1), None).await) {
        n += 1;
    }
    let largest = send(&app, &format!("/big/{n}"), None).await;
    assert_eq!(largest.status, StatusCode::OK);
    let cookie = largest.cookie().unwrap();
    let (name, value) = cookie.split_once('=').unwrap();
    let size = name.len() + value.len();
    assert!(
        size <= 4096,
        "the largest cookie issued is {size} bytes (name plus value), over 4096"
    );
    assert!(
        size >= 4092,
        "the largest cookie issued is {size} bytes: the limit should be 4096 up to base64 granularity"
    );
    assert_eq!(
        send(&app, "/blob", Some(&cookie)).await.body,
        n.to_string(),
        "the largest cookie issued can be read back"
    );

    for extra in [1, 2, 3, 4, 8, 100] {
        let r = send(&app, &format!("/big/{}", n + extra), None).await;
        assert_eq!(
            r.status,
            StatusCode::INTERNAL_SERVER_ERROR,
            "N = largest + {extra} must fail loudly"
        );
        assert!(
            r.set_cookies.is_empty(),
            "N = largest + {extra}: no cookie at all, never a truncated one: {:?}",
            r.set_cookies
        );
    }

    // Growing an existing session past the limit fails the same way, and the old cookie
    // still holds the old session.
    let small = send(&app, "/big/10", None).await.cookie().unwrap();
    let r = send(&app, &format!("/big/{}", n + 8), Some(&small)).await;
    assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(r.set_cookies.is_empty(), "{:?}", r.set_cookies);
    assert_eq!(send(&app, "/blob", Some(&small)).await.body, "10");
}

// ---------------------------------------------------------------------------------------------
// What the cookie store cannot do
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn revoking_all_sessions_of_a_user_is_unsupported() {
    let layer = layer();
    let result = layer.manager().destroy_all_for("ann").await;
    assert!(
        matches!(result, Err(ManagerError::Unsupported)),
        "expected Err(Unsupported), got {result:?}"
    );
}

#[test]
fn an_id_codec_on_top_of_the_cookie_store_is_refused() {
    let err = layer().with_signed_cookies(keys(&[1])).check().unwrap_err();
    assert_eq!(err, ConfigError::CookieStoreWithIdCodec);
    let err = layer()
        .with_encrypted_cookies(keys(&[1]))
        .check()
        .unwrap_err();
    assert_eq!(err, ConfigError::CookieStoreWithIdCodec);
    assert!(layer().check().is_ok());
    let applied = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        routes().layer(layer().with_signed_cookies(keys(&[1])))
    }));
    assert!(applied.is_err(), "applying the invalid layer panics");
}

#[tokio::test]
async fn the_value_is_not_an_id_and_a_plain_id_is_not_accepted() {
    let app = routes().layer(layer());
    let value = send(&app, "/add?item=tea", None).await.value().unwrap();
    assert!(value.len() > 43, "the sealed session, not a 43-char id");
    assert_fresh(
        &app,
        &format!("sid={}", "A".repeat(43)),
        "an id-shaped value",
    )
    .await;
}

#[tokio::test]
async fn reading_an_absent_flash_value_does_not_re_issue_the_cookie() {
    let app = routes().layer(layer());
    let cookie = send(&app, "/add?item=tea", None).await.cookie().unwrap();
    let r = send(&app, "/flash/show", Some(&cookie)).await;
    assert_eq!(r.body, "None");
    assert!(
        r.set_cookies.is_empty(),
        "nothing was stored under `notice`, so there is nothing to remove: {:?}",
        r.set_cookies
    );
}
