//! The session lifecycle through a real `Router` with `oneshot` and a hand-moved clock:
//! expiry (lifetime, max age, idle and absolute timeouts, renew, remember-me), the user hooks
//! (validator, before-save, id generator), key prefixes, manual commit, revoking every session
//! of a user, flash values, and the log events of sessions that are refused.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::Query;
use axum::routing::get;
use axum::Router;
use http::{header, StatusCode};
use serde::Deserialize;
use session_runtime::store::{SessionStore, UnixMillis};
use session_runtime::{
    MemoryStore, ReadSession, Session, SessionInfo, SessionKey, SessionLayer, SessionManager,
};
use support::clock::{ManualClock, T0};
use support::cookies::{flip_char, keys, recording_id_generator};
use support::http::{get_request, send, send_req, Reply};
use support::logs::capture_logs;
use support::stores::{Op, Spy};

#[derive(Session, Default, Debug)]
struct Visit {
    #[session(user_id)]
    user: Option<String>,
    count: u64,
    ua: String,
    a: u64,
    b: u64,
}

/// Another view of the same record that does not know the `user_id` field.
#[derive(Session, Default, Debug)]
struct Counter {
    count: u64,
}

#[derive(Session, Default, Debug)]
struct Audit {
    saved_by: String,
}

#[derive(Session, Default, Debug)]
struct Ui {
    count: u64,
    #[session(flash)]
    notice: Option<String>,
}

#[derive(Deserialize)]
struct Who {
    user: String,
}

const DAY: Duration = Duration::from_secs(24 * 3600);

fn routes() -> Router {
    Router::new()
        .route(
            "/peek",
            get(|s: ReadSession<Visit>| async move { format!("{}:{}", s.count(), s.is_new()) }),
        )
        .route(
            "/inc",
            get(|mut s: Session<Visit>| async move {
                *s.count_mut() += 1;
                s.count().to_string()
            }),
        )
        .route(
            "/signin",
            get(|mut s: Session<Visit>, Query(q): Query<Who>| async move {
                s.set_user(Some(q.user));
                "ok"
            }),
        )
        .route(
            "/login",
            get(|mut s: Session<Visit>, Query(q): Query<Who>| async move {
                s.set_user(Some(q.user));
                s.regenerate();
                "ok"
            }),
        )
        .route(
            "/whoami",
            get(|s: ReadSession<Visit>| async move {
                format!("{}:{}", s.user().as_deref().unwrap_or("-"), s.is_new())
            }),
        )
        .route(
            "/remember",
            get(|mut s: Session<Visit>| async move {
                s.set_user(Some("ann".to_owned()));
                s.remember_for(Duration::from_secs(30 * 24 * 3600));
                "remembered"
            }),
        )
        .route(
            "/login-remember",
            get(|mut s: Session<Visit>, Query(q): Query<Who>| async move {
                s.set_user(Some(q.user));
                s.remember_for(Duration::from_secs(30 * 24 * 3600));
                s.regenerate();
                "ok"
            }),
        )
        .route(
            "/remember-only",
            get(|mut s: Session<Visit>| async move {
                s.remember_for(Duration::from_secs(30 * 24 * 3600));
                "remembered"
            }),
        )
        .route(
            "/logout",
            get(|mut s: Session<Visit>| async move {
                s.destroy();
                "bye"
            }),
        )
        .route(
            "/bind",
            get(|mut s: Session<Visit>, req: http::HeaderMap| async move {
                let ua = req
                    .get(header::USER_AGENT)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                s.set_ua(ua);
                *s.count_mut() += 1;
                "bound"
            }),
        )
        .route(
            "/audit",
            get(|s: ReadSession<Audit>| async move { s.saved_by().clone() }),
        )
        .route(
            "/counter-regenerate",
            get(|mut c: Session<Counter>| async move {
                *c.count_mut() += 1;
                c.regenerate();
                "regenerated"
            }),
        )
        .route(
            "/revoke",
            get(|m: SessionManager, Query(q): Query<Who>| async move {
                m.destroy_all_for(&q.user).await.unwrap().to_string()
            }),
        )
        // Manual commit.
        .route(
            "/write-no-save",
            get(|mut s: Session<Visit>| async move {
                *s.a_mut() = 1;
                "written"
            }),
        )
        .route(
            "/write-save",
            get(|mut s: Session<Visit>| async move {
                *s.a_mut() = 1;
                s.save().await.unwrap();
                "saved"
            }),
        )
        .route(
            "/save-then-write",
            get(|mut s: Session<Visit>| async move {
                *s.a_mut() = 1;
                s.save().await.unwrap();
                *s.b_mut() = 2;
                "saved"
            }),
        )
        .route(
            "/save-twice",
            get(|mut s: Session<Visit>| async move {
                *s.a_mut() = 1;
                s.save().await.unwrap();
                s.save().await.unwrap();
                "saved"
            }),
        )
        .route(
            "/save-empty",
            get(|mut s: Session<Visit>| async move {
                s.save().await.unwrap();
                "saved"
            }),
        )
        // Flash.
        .route(
            "/flash/set",
            get(|mut ui: Session<Ui>| async move {
                ui.set_notice(Some("saved".to_owned()));
                "set"
            }),
        )
        .route(
            "/flash/show",
            get(|mut ui: Session<Ui>| async move { format!("{:?}", ui.notice()) }),
        )
        .route(
            "/flash/peek",
            get(|ui: Session<Ui>| async move { format!("{:?}", ui.peek_notice()) }),
        )
        .route(
            "/flash/peek-read",
            get(|ui: ReadSession<Ui>| async move { format!("{:?}", ui.peek_notice()) }),
        )
        .route(
            "/flash/inc",
            get(|mut ui: Session<Ui>| async move {
                *ui.count_mut() += 1;
                ui.count().to_string()
            }),
        )
}

// ---------------------------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------------------------

fn ms(d: Duration) -> i64 {
    d.as_millis() as i64
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn mins(m: u64) -> Duration {
    Duration::from_secs(m * 60)
}

/// [`send`] with a `User-Agent` header if `ua` is given.
async fn send_with(app: &Router, path: &str, cookie: Option<&str>, ua: Option<&str>) -> Reply {
    let mut req = get_request(path, cookie);
    if let Some(ua) = ua {
        req = req.header(header::USER_AGENT, ua);
    }
    send_req(app, req.body(Body::empty()).unwrap()).await
}

/// A layer over `spy` driven by `clock`.
fn timed(spy: &Spy, clock: &ManualClock) -> SessionLayer {
    SessionLayer::new(spy.clone()).with_clock(clock.clone())
}

/// The stored expiry of the session under `key`, read straight from the store (so the check
/// itself slides nothing).
async fn stored_expiry(spy: &Spy, key: &SessionKey) -> Option<UnixMillis> {
    spy.inner.load(key, T0).await.unwrap().map(|r| r.expires_at)
}

/// Whether the session is alive: a read-only request sees it as not new.
async fn alive(app: &Router, cookie: &str) -> bool {
    let r = send(app, "/peek", Some(cookie)).await;
    assert_eq!(r.status, StatusCode::OK);
    match r.body.rsplit_once(':').unwrap().1 {
        "false" => true,
        "true" => false,
        other => panic!("unexpected body {other}"),
    }
}

fn touches(ops: &[Op]) -> usize {
    ops.iter().filter(|o| matches!(o, Op::Touch(_))).count()
}

// ---------------------------------------------------------------------------------------------
// Expiry: the default lifetime and max age
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn by_default_a_browser_session_cookie_and_one_day_on_the_server() {
    let (spy, clock) = (Spy::new(), ManualClock::new());
    let app = routes().layer(timed(&spy, &clock));
    let r = send(&app, "/inc", None).await;
    let set = r.set_cookie().unwrap();
    assert!(
        !set.contains("Max-Age") && !set.contains("Expires"),
        "a browser-session cookie by default: {set}"
    );
    let cookie = r.cookie().unwrap();
    let key = spy.last_created().unwrap();
    assert_eq!(stored_expiry(&spy, &key).await, Some(T0 + ms(DAY)));

    clock.at(DAY - Duration::from_millis(1));
    let r = send(&app, "/peek", Some(&cookie)).await;
    assert_eq!(r.body, "1:false", "still alive 1 ms before one day");
    assert!(r.set_cookies.is_empty(), "{:?}", r.set_cookies);

    clock.at(DAY);
    let r = send(&app, "/peek", Some(&cookie)).await;
    assert_eq!(r.body, "0:true", "gone exactly one day after creation");
    assert_eq!(
        spy.inner.len(),
        1,
        "the record was never purged: expiry is enforced on load"
    );
    assert!(
        matches!(&spy.writes()[..], [Op::Create(..)]),
        "no sliding and no deletion by default: {:?}",
        spy.writes()
    );
}

#[tokio::test]
async fn max_age_makes_a_persistent_cookie_with_the_same_server_expiry() {
    let (spy, clock) = (Spy::new(), ManualClock::new());
    let app = routes().layer(timed(&spy, &clock).with_max_age(secs(600)));
    let r = send(&app, "/inc", None).await;
    assert_eq!(r.max_age(), Some(600), "{:?}", r.set_cookie());
    let cookie = r.cookie().unwrap();
    let key = spy.last_created().unwrap();
    assert_eq!(stored_expiry(&spy, &key).await, Some(T0 + 600_000));

    clock.at(Duration::from_millis(599_999));
    let r = send(&app, "/peek", Some(&cookie)).await;
    assert_eq!(r.body, "1:false", "alive at +599.999 s");
    assert!(
        r.set_cookies.is_empty(),
        "a read does not re-issue: {:?}",
        r.set_cookies
    );
    clock.at(secs(600));
    assert!(!alive(&app, &cookie).await, "gone at +600 s");
}

// ---------------------------------------------------------------------------------------------
// Expiry: idle timeout
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn idle_timeout_reads_within_a_tenth_write_nothing_later_ones_touch_once() {
    let (spy, clock) = (Spy::new(), ManualClock::new());
    let app = routes().layer(timed(&spy, &clock).with_idle_timeout(secs(600)));
    let r = send(&app, "/inc", None).await;
    assert_eq!(r.max_age(), None, "idle alone: a browser-session cookie");
    let cookie = r.cookie().unwrap();
    let key = spy.last_created().unwrap();
    assert_eq!(stored_expiry(&spy, &key).await, Some(T0 + 600_000));
    spy.take_ops();

    clock.at(secs(30));
    let r = send(&app, "/peek", Some(&cookie)).await;
    assert_eq!(r.body, "1:false");
    assert!(r.set_cookies.is_empty(), "{:?}", r.set_cookies);
    assert!(
        spy.writes().is_empty(),
        "+30 s is less than a tenth of the timeout: no touch, no patch: {:?}",
        spy.writes()
    );

    clock.at(secs(61));
    let r = send(&app, "/peek", Some(&cookie)).await;
    assert_eq!(r.body, "1:false");
    assert_eq!(
        spy.writes(),
        vec![Op::Touch(key)],
        "+61 s: exactly one touch"
    );
    assert!(
        r.set_cookies.is_empty(),
        "a browser-session cookie is not re-issued by a touch: {:?}",
        r.set_cookies
    );
    assert_eq!(
        stored_expiry(&spy, &key).await,
        Some(T0 + 661_000),
        "the deadline slid to the last use + 600 s"
    );
}

#[tokio::test]
async fn idle_timeout_a_write_slides_through_its_patch() {
    let (spy, clock) = (Spy::new(), ManualClock::new());
    let app = routes().layer(timed(&spy, &clock).with_idle_timeout(secs(600)));
    let cookie = send(&app, "/inc", None).await.cookie().unwrap();
    let key = spy.last_created().unwrap();
    spy.take_ops();

    clock.at(mins(3));
    let r = send(&app, "/inc", Some(&cookie)).await;
    assert_eq!(r.body, "2");
    assert!(r.set_cookies.is_empty(), "{:?}", r.set_cookies);
    let writes = spy.writes();
    assert!(
        matches!(&writes[..], [Op::Patch { set, .. }] if set == &[("count".to_owned(), "2".to_owned())]),
        "one patch, no separate touch: {writes:?}"
    );
    assert_eq!(
        stored_expiry(&spy, &key).await,
        Some(T0 + ms(mins(3)) + 600_000),
        "the patch moved the deadline"
    );
}

#[tokio::test]
async fn idle_timeout_keeps_an_active_session_and_drops_an_idle_one() {
    let (spy, clock) = (Spy::new(), ManualClock::new());
    let app = routes().layer(timed(&spy, &clock).with_idle_timeout(secs(600)));
    let cookie = send(&app, "/inc", None).await.cookie().unwrap();
    // Each gap is under 600 s, and the session outlives its original deadline many times.
    let mut t = 0;
    for gap in [500, 590, 599, 420, 599, 300, 599] {
        t += gap;
        clock.at(secs(t));
        assert!(
            alive(&app, &cookie).await,
            "used again after {gap} s (at +{t} s): still alive"
        );
    }
    assert!(t > 3000, "well past the original deadline");
    assert_eq!(send(&app, "/inc", Some(&cookie)).await.body, "2");

    clock.at(secs(t + 599));
    assert!(alive(&app, &cookie).await, "599 s idle: alive");
    t += 599;
    clock.at(secs(t + 600));
    assert!(!alive(&app, &cookie).await, "600 s idle: gone");
}

#[tokio::test]
async fn idle_timeout_throttling_never_drops_a_session_idle_for_less_than_nine_tenths() {
    // The deadline moves at most once per tenth of the timeout, so the worst case is a use
    // just under a tenth after the last move: the session must still survive 0.9 × timeout
    // of idleness after that use.
    let (spy, clock) = (Spy::new(), ManualClock::new());
    let app = routes().layer(timed(&spy, &clock).with_idle_timeout(secs(600)));
    let cookie = send(&app, "/inc", None).await.cookie().unwrap();
    clock.at(secs(61));
    assert!(alive(&app, &cookie).await, "slides to +661 s");
    spy.take_ops();
    clock.at(secs(120));
    assert!(alive(&app, &cookie).await);
    assert!(
        spy.writes().is_empty(),
        "59 s after the last move: no touch"
    );
    clock.at(secs(120 + 540) - Duration::from_millis(1));
    assert!(
        alive(&app, &cookie).await,
        "just under 540 s idle after the last use: alive"
    );
}

#[tokio::test]
async fn idle_timeout_with_max_age_re_issues_the_cookie_on_touch() {
    let (spy, clock) = (Spy::new(), ManualClock::new());
    let app = routes().layer(
        timed(&spy, &clock)
            .with_idle_timeout(secs(600))
            .with_max_age(secs(600)),
    );
    let r = send(&app, "/inc", None).await;
    assert_eq!(r.max_age(), Some(600));
    let cookie = r.cookie().unwrap();
    spy.take_ops();

    clock.at(secs(30));
    let r = send(&app, "/peek", Some(&cookie)).await;
    assert!(r.set_cookies.is_empty(), "no slide, no cookie");

    clock.at(secs(61));
    let r = send(&app, "/peek", Some(&cookie)).await;
    assert_eq!(touches(&spy.writes()), 1, "{:?}", spy.writes());
    assert_eq!(
        r.max_age(),
        Some(600),
        "the touch re-issues the persistent cookie with a fresh Max-Age: {:?}",
        r.set_cookies
    );
    assert_eq!(
        r.cookie().unwrap(),
        cookie,
        "same id, only the lifetime moves"
    );
}

// ---------------------------------------------------------------------------------------------
// Expiry: absolute timeout
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn the_absolute_timeout_ends_an_active_session() {
    let (spy, clock) = (Spy::new(), ManualClock::new());
    let app = routes().layer(
        timed(&spy, &clock)
            .with_idle_timeout(secs(600))
            .with_absolute_timeout(secs(1800)),
    );
    let cookie = send(&app, "/inc", None).await.cookie().unwrap();
    for m in (5..30).step_by(5) {
        clock.at(mins(m));
        assert_eq!(
            send(&app, "/inc", Some(&cookie)).await.status,
            StatusCode::OK
        );
        assert!(
            alive(&app, &cookie).await,
            "used every 5 min: alive at +{m} min"
        );
    }
    clock.at(mins(30) - Duration::from_millis(1));
    assert!(alive(&app, &cookie).await, "alive 1 ms before the cap");
    clock.at(mins(30));
    assert!(!alive(&app, &cookie).await, "gone at creation + 30 min");
}

#[tokio::test]
async fn regenerate_does_not_reset_the_absolute_clock() {
    let (spy, clock) = (Spy::new(), ManualClock::new());
    let app = routes().layer(
        timed(&spy, &clock)
            .with_idle_timeout(secs(600))
            .with_absolute_timeout(secs(1800)),
    );
    let before = send(&app, "/inc", None).await.cookie().unwrap();
    for m in [5, 10, 15] {
        clock.at(mins(m));
        assert_eq!(
            send(&app, "/inc", Some(&before)).await.status,
            StatusCode::OK
        );
    }
    clock.at(mins(20));
    let r = send(&app, "/login?user=ann", Some(&before)).await;
    let after = r.cookie().expect("login issues a new id");
    assert_ne!(after, before);
    assert!(!alive(&app, &before).await, "the old id is dead");
    clock.at(mins(25));
    assert_eq!(send(&app, "/whoami", Some(&after)).await.body, "ann:false");
    clock.at(mins(29));
    assert_eq!(send(&app, "/whoami", Some(&after)).await.body, "ann:false");
    clock.at(mins(30));
    assert_eq!(
        send(&app, "/whoami", Some(&after)).await.body,
        "-:true",
        "the regenerated session still ends at the original creation + 30 min"
    );
}

// ---------------------------------------------------------------------------------------------
// Expiry: renew
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn renew_re_issues_and_extends_when_less_than_half_remains() {
    let (spy, clock) = (Spy::new(), ManualClock::new());
    let app = routes().layer(timed(&spy, &clock).with_renew(true).with_max_age(secs(600)));
    let cookie = send(&app, "/inc", None).await.cookie().unwrap();
    let key = spy.last_created().unwrap();
    spy.take_ops();

    clock.at(mins(4));
    let r = send(&app, "/peek", Some(&cookie)).await;
    assert_eq!(r.body, "1:false");
    assert!(
        r.set_cookies.is_empty(),
        "6 of 10 min left: no renewal: {:?}",
        r.set_cookies
    );
    assert!(spy.writes().is_empty(), "{:?}", spy.writes());

    clock.at(mins(6));
    let r = send(&app, "/peek", Some(&cookie)).await;
    assert_eq!(r.body, "1:false");
    assert_eq!(
        r.max_age(),
        Some(600),
        "4 of 10 min left: renewed: {:?}",
        r.set_cookies
    );
    assert_eq!(r.cookie().unwrap(), cookie, "same id");
    assert_eq!(
        stored_expiry(&spy, &key).await,
        Some(T0 + ms(mins(16))),
        "the server expiry moved to +16 min"
    );
    clock.at(mins(16));
    assert!(!alive(&app, &cookie).await, "gone at +16 min");
}

// ---------------------------------------------------------------------------------------------
// Expiry: remember me
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn remember_for_outlives_the_default_lifetime() {
    let (spy, clock) = (Spy::new(), ManualClock::new());
    let app = routes().layer(timed(&spy, &clock));
    let r = send(&app, "/remember", None).await;
    assert_eq!(r.max_age(), Some(2_592_000), "{:?}", r.set_cookie());
    let remembered = r.cookie().unwrap();
    let plain = send(&app, "/inc", None).await.cookie().unwrap();

    clock.at(DAY);
    assert!(!alive(&app, &plain).await, "a normal session: one day");
    assert!(
        alive(&app, &remembered).await,
        "remembered: alive at +1 day"
    );
    clock.at(DAY * 29);
    assert_eq!(
        send(&app, "/whoami", Some(&remembered)).await.body,
        "ann:false",
        "alive at +29 days"
    );
    clock.at(DAY * 30);
    assert!(!alive(&app, &remembered).await, "gone at +30 days");
}

#[tokio::test]
async fn the_remember_me_choice_persists_across_later_writes() {
    let (spy, clock) = (Spy::new(), ManualClock::new());
    let app = routes().layer(timed(&spy, &clock));
    let remembered = send(&app, "/remember", None).await.cookie().unwrap();
    let key = spy.last_created().unwrap();

    clock.at(DAY * 2);
    let r = send(&app, "/inc", Some(&remembered)).await;
    assert_eq!(r.body, "1");
    assert!(
        r.set_cookies.is_empty(),
        "a later write keeps the cookie: {:?}",
        r.set_cookies
    );
    assert_eq!(
        stored_expiry(&spy, &key).await,
        Some(T0 + ms(DAY * 30)),
        "a later write keeps the long expiry"
    );
    clock.at(DAY * 29);
    assert_eq!(send(&app, "/peek", Some(&remembered)).await.body, "1:false");

    // Remembering an existing session re-issues its cookie with the long Max-Age.
    let (spy, clock) = (Spy::new(), ManualClock::new());
    let app = routes().layer(timed(&spy, &clock));
    let cookie = send(&app, "/inc", None).await.cookie().unwrap();
    clock.at(mins(10));
    let r = send(&app, "/remember-only", Some(&cookie)).await;
    assert_eq!(r.max_age(), Some(2_592_000), "{:?}", r.set_cookies);
    assert_eq!(r.cookie().unwrap(), cookie);
    clock.at(DAY * 29);
    assert_eq!(send(&app, "/peek", Some(&cookie)).await.body, "1:false");
    clock.at(DAY * 30 + mins(10));
    assert!(!alive(&app, &cookie).await, "30 days after remember_for");
}

#[tokio::test]
async fn a_remember_me_login_keeps_the_long_lifetime_under_the_new_id() {
    let (spy, clock) = (Spy::new(), ManualClock::new());
    let app = routes().layer(timed(&spy, &clock));
    let anon = send(&app, "/inc", None).await.cookie().unwrap();
    clock.at(mins(5));
    let r = send(&app, "/login-remember?user=ann", Some(&anon)).await;
    assert_eq!(r.max_age(), Some(2_592_000), "{:?}", r.set_cookies);
    let cookie = r.cookie().unwrap();
    assert_ne!(cookie, anon, "login regenerates");
    assert!(!alive(&app, &anon).await);
    clock.at(DAY * 29);
    assert_eq!(send(&app, "/whoami", Some(&cookie)).await.body, "ann:false");
    clock.at(DAY * 30 + mins(5));
    assert!(!alive(&app, &cookie).await, "30 days after the login");

    // The same login on a brand-new session.
    clock.at(DAY * 31);
    let r = send(&app, "/login-remember?user=bob", None).await;
    assert_eq!(r.max_age(), Some(2_592_000), "{:?}", r.set_cookies);
    clock.at(DAY * 60);
    assert_eq!(
        send(&app, "/whoami", Some(&r.cookie().unwrap())).await.body,
        "bob:false"
    );
}

#[tokio::test]
async fn remember_for_is_capped_by_the_absolute_timeout() {
    let (spy, clock) = (Spy::new(), ManualClock::new());
    let app = routes().layer(timed(&spy, &clock).with_absolute_timeout(secs(3600)));
    let r = send(&app, "/remember", None).await;
    assert_eq!(
        r.max_age(),
        Some(3600),
        "the cookie lives no longer than the absolute timeout: {:?}",
        r.set_cookies
    );
    let cookie = r.cookie().unwrap();
    clock.at(secs(3599));
    assert!(alive(&app, &cookie).await);
    clock.at(secs(3600));
    assert!(
        !alive(&app, &cookie).await,
        "remember-me cannot pass the cap"
    );
}

// ---------------------------------------------------------------------------------------------
// Hooks
// ---------------------------------------------------------------------------------------------

fn same_user_agent(info: &SessionInfo<'_>, parts: &http::request::Parts) -> bool {
    let ua = parts
        .headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    info.field::<String>("ua").as_deref() == Some(ua)
}

#[tokio::test]
async fn a_validator_binds_the_session_to_the_user_agent() {
    let spy = Spy::new();
    let app = routes().layer(SessionLayer::new(spy.clone()).with_validator(same_user_agent));
    let r = send_with(&app, "/bind", None, Some("firefox")).await;
    let cookie = r.cookie().unwrap();

    let r = send_with(&app, "/peek", Some(&cookie), Some("firefox")).await;
    assert_eq!(r.body, "1:false", "same user agent keeps the session");

    let r = send_with(&app, "/peek", Some(&cookie), Some("curl")).await;
    assert_eq!(r.body, "0:true", "another user agent gets a fresh session");
    assert!(r.set_cookies.is_empty());
    let r = send_with(&app, "/peek", Some(&cookie), None).await;
    assert_eq!(r.body, "0:true", "no user agent gets a fresh session");

    // A write from the other agent starts its own session; the original is untouched.
    let r = send_with(&app, "/inc", Some(&cookie), Some("curl")).await;
    assert_eq!(r.body, "1");
    assert_ne!(r.cookie().expect("a new id"), cookie);
    let r = send_with(&app, "/peek", Some(&cookie), Some("firefox")).await;
    assert_eq!(r.body, "1:false", "the original is still there for firefox");
}

#[tokio::test]
async fn a_validator_can_retire_sessions_created_before_a_cutoff() {
    let (spy, clock) = (Spy::new(), ManualClock::new());
    let cutoff = T0 + ms(mins(10));
    let app = routes().layer(timed(&spy, &clock).with_validator(
        move |info: &SessionInfo<'_>, _: &http::request::Parts| {
            info.created_at() >= cutoff && info.expires_at() > info.created_at()
        },
    ));
    let old = send(&app, "/inc", None).await.cookie().unwrap();
    clock.at(mins(10));
    let new = send(&app, "/inc", None).await.cookie().unwrap();
    clock.at(mins(11));
    assert!(
        !alive(&app, &old).await,
        "created before the cutoff: retired"
    );
    assert!(alive(&app, &new).await, "created at the cutoff: kept");
}

#[tokio::test]
async fn before_save_adds_a_field_to_writes_and_never_runs_on_reads() {
    let spy = Spy::new();
    let runs = Arc::new(AtomicUsize::new(0));
    let app = routes().layer(SessionLayer::new(spy.clone()).with_before_save({
        let runs = runs.clone();
        move |p| {
            runs.fetch_add(1, Ordering::SeqCst);
            let _ = p.set("saved_by", "hook");
        }
    }));
    let r = send(&app, "/inc", None).await;
    let cookie = r.cookie().unwrap();
    assert!(
        matches!(&spy.writes()[..], [Op::Create(_, names)] if names == &["count".to_owned(), "saved_by".to_owned()]),
        "the hook's field is part of the create: {:?}",
        spy.writes()
    );
    assert_eq!(send(&app, "/audit", Some(&cookie)).await.body, "hook");
    assert_eq!(runs.load(Ordering::SeqCst), 1);

    spy.take_ops();
    for path in ["/peek", "/audit", "/whoami"] {
        send(&app, path, Some(&cookie)).await;
    }
    assert!(
        spy.writes().is_empty(),
        "reads write nothing: {:?}",
        spy.writes()
    );
    assert_eq!(
        runs.load(Ordering::SeqCst),
        1,
        "the hook did not run on reads"
    );

    send(&app, "/inc", Some(&cookie)).await;
    assert_eq!(runs.load(Ordering::SeqCst), 2);
    assert!(
        matches!(&spy.writes()[..], [Op::Patch { set, .. }] if set.iter().any(|(n, v)| n == "saved_by" && v == "\"hook\"")),
        "the hook's field is part of the patch: {:?}",
        spy.writes()
    );
}

#[tokio::test]
async fn a_custom_id_generator_supplies_the_cookie_value() {
    let spy = Spy::new();
    let (issued, generator) = recording_id_generator();
    let app = routes().layer(SessionLayer::new(spy.clone()).with_id_generator(generator));
    let r = send(&app, "/inc", None).await;
    let value = r.value().unwrap();
    assert_eq!(value.len(), 40, "{value}");
    assert!(
        value.bytes().all(|b| b.is_ascii_hexdigit()),
        "40 hex characters: {value}"
    );
    assert_eq!(
        issued.lock().unwrap().last(),
        Some(&value),
        "the cookie value is the id the generator returned last"
    );
    assert_eq!(
        send(&app, "/peek", Some(&r.cookie().unwrap())).await.body,
        "1:false"
    );
    let other = send(&app, "/inc", None).await.value().unwrap();
    assert_ne!(other, value);
    assert_eq!(issued.lock().unwrap().last(), Some(&other));
}

/// Ids from a script: `"a"` until the script says otherwise.
fn scripted_ids(script: &'static [&'static str]) -> impl Fn() -> String + Send + Sync + 'static {
    let next = AtomicUsize::new(0);
    move || {
        let i = next.fetch_add(1, Ordering::SeqCst);
        script.get(i).copied().unwrap_or("a").to_owned()
    }
}

#[tokio::test]
async fn an_id_collision_draws_another_id_and_four_in_a_row_are_a_500() {
    // The memory store commits a new session without a future (its synchronous face); the
    // spy is an async-only store, so it takes the general commit path: both must agree.
    async fn check<S: SessionStore + Clone>(store: S, stored: impl Fn(&S) -> usize) {
        let app = routes().layer(
            SessionLayer::new(store.clone()).with_id_generator(scripted_ids(&["a", "a", "b"])),
        );
        let first = send(&app, "/inc", None).await;
        assert_eq!(first.value().as_deref(), Some("a"));
        let second = send(&app, "/inc", None).await;
        assert_eq!(
            second.value().as_deref(),
            Some("b"),
            "\"a\" is taken: another id is drawn"
        );
        assert_eq!(stored(&store), 2);
        // From here on the script only says "a": four collisions, then a 500.
        let third = send(&app, "/inc", None).await;
        assert_eq!(third.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(third.set_cookies.is_empty(), "{:?}", third.set_cookies);
        assert_eq!(stored(&store), 2, "nothing stored, nothing overwritten");
        assert_eq!(
            send(&app, "/peek", Some(&first.cookie().unwrap()))
                .await
                .body,
            "1:false",
            "the first session is untouched"
        );
    }
    check(MemoryStore::new(), MemoryStore::len).await;
    check(Spy::new(), |spy| spy.inner.len()).await;
}

#[tokio::test]
async fn an_invalid_generated_id_is_a_500_without_a_cookie() {
    for bad in ["has space", "", "semi;colon", "dot.ted"] {
        let spy = Spy::new();
        let app = routes()
            .layer(SessionLayer::new(spy.clone()).with_id_generator(move || bad.to_owned()));
        let r = send(&app, "/inc", None).await;
        assert_eq!(
            r.status,
            StatusCode::INTERNAL_SERVER_ERROR,
            "{bad:?} is not a valid id"
        );
        assert!(
            r.set_cookies.is_empty(),
            "{bad:?}: no cookie: {:?}",
            r.set_cookies
        );
        assert!(spy.inner.is_empty(), "{bad:?}: nothing stored");
    }
}

// ---------------------------------------------------------------------------------------------
// Key prefix
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_key_prefix_separates_apps_sharing_one_store() {
    let store = MemoryStore::new();
    let app_a = routes().layer(SessionLayer::new(store.clone()).with_key_prefix("app-a"));
    let app_b = routes().layer(SessionLayer::new(store.clone()).with_key_prefix("app-b"));
    let app_a2 = routes().layer(SessionLayer::new(store.clone()).with_key_prefix("app-a"));

    let cookie = send(&app_a, "/inc", None).await.cookie().unwrap();
    assert_eq!(send(&app_a, "/peek", Some(&cookie)).await.body, "1:false");
    assert_eq!(
        send(&app_b, "/peek", Some(&cookie)).await.body,
        "0:true",
        "a cookie from app A is a fresh session in app B"
    );
    let r = send(&app_b, "/inc", Some(&cookie)).await;
    assert_eq!(r.body, "1", "app B starts from scratch");
    assert_ne!(
        r.cookie().expect("app B issues its own id"),
        cookie,
        "app B never adopts app A's id"
    );
    assert_eq!(
        send(&app_a2, "/peek", Some(&cookie)).await.body,
        "1:false",
        "the same prefix shares the session"
    );
    assert_eq!(store.len(), 2);
}

// ---------------------------------------------------------------------------------------------
// Manual commit and explicit save
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn manual_commit_without_save_stores_nothing_and_sets_no_cookie() {
    let spy = Spy::new();
    let app = routes().layer(SessionLayer::new(spy.clone()).with_auto_commit(false));
    let r = send(&app, "/write-no-save", None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.set_cookies.is_empty(), "{:?}", r.set_cookies);
    assert!(spy.writes().is_empty(), "{:?}", spy.writes());

    // An existing session: unsaved changes are discarded too.
    let cookie = send(&app, "/write-save", None).await.cookie().unwrap();
    spy.take_ops();
    let r = send(&app, "/inc", Some(&cookie)).await;
    assert_eq!(r.body, "1");
    assert!(r.set_cookies.is_empty());
    assert!(spy.writes().is_empty(), "{:?}", spy.writes());
    assert_eq!(send(&app, "/peek", Some(&cookie)).await.body, "0:false");
}

#[tokio::test]
async fn manual_commit_with_save_stores_and_sets_the_cookie() {
    let spy = Spy::new();
    let app = routes().layer(SessionLayer::new(spy.clone()).with_auto_commit(false));
    let r = send(&app, "/write-save", None).await;
    assert_eq!(r.status, StatusCode::OK);
    let cookie = r.cookie().expect("save() sets the cookie");
    assert!(
        matches!(&spy.writes()[..], [Op::Create(_, names)] if names == &["a".to_owned()]),
        "{:?}",
        spy.writes()
    );
    assert_eq!(send(&app, "/peek", Some(&cookie)).await.body, "0:false");
}

#[tokio::test]
async fn save_then_a_later_write_is_one_create_and_one_patch() {
    let spy = Spy::new();
    let app = routes().layer(SessionLayer::new(spy.clone()));
    let r = send(&app, "/save-then-write", None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.cookie().is_some(), "the cookie from the save is sent");
    match &spy.writes()[..] {
        [Op::Create(k1, names), Op::Patch {
            key: k2,
            set,
            remove,
        }] => {
            assert_eq!(names, &["a".to_owned()], "the create holds the first field");
            assert_eq!(k1, k2, "the patch goes to the session just created");
            assert_eq!(
                set,
                &[("b".to_owned(), "2".to_owned())],
                "only the later field"
            );
            assert!(remove.is_empty());
        }
        other => panic!("expected one create and one patch, got {other:?}"),
    }
}

#[tokio::test]
async fn save_twice_with_nothing_new_writes_once() {
    let spy = Spy::new();
    let app = routes().layer(SessionLayer::new(spy.clone()));
    let r = send(&app, "/save-twice", None).await;
    assert!(r.cookie().is_some());
    assert!(
        matches!(&spy.writes()[..], [Op::Create(_, names)] if names == &["a".to_owned()]),
        "exactly one write: {:?}",
        spy.writes()
    );
}

#[tokio::test]
async fn save_on_a_fresh_untouched_session_creates_it() {
    let spy = Spy::new();
    let app = routes().layer(SessionLayer::new(spy.clone()));
    let r = send(&app, "/save-empty", None).await;
    let cookie = r.cookie().expect("a forced save sets the cookie");
    assert!(
        matches!(&spy.writes()[..], [Op::Create(_, names)] if names.is_empty()),
        "{:?}",
        spy.writes()
    );
    assert_eq!(
        send(&app, "/peek", Some(&cookie)).await.body,
        "0:false",
        "an empty but existing session"
    );
}

// ---------------------------------------------------------------------------------------------
// Revoking every session of a user
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn destroy_all_for_revokes_every_session_of_one_user() {
    let spy = Spy::new();
    let layer = SessionLayer::new(spy.clone());
    let manager = layer.manager();
    let app = routes().layer(layer);
    let ann1 = send(&app, "/signin?user=ann", None).await.cookie().unwrap();
    let anon = send(&app, "/inc", None).await.cookie().unwrap();
    let ann2 = send(&app, "/login?user=ann", Some(&anon))
        .await
        .cookie()
        .unwrap();
    let bob = send(&app, "/signin?user=bob", None).await.cookie().unwrap();
    for (c, who) in [(&ann1, "ann"), (&ann2, "ann"), (&bob, "bob")] {
        assert_eq!(
            send(&app, "/whoami", Some(c)).await.body,
            format!("{who}:false")
        );
    }

    assert_eq!(manager.destroy_all_for("ann").await.unwrap(), 2);
    assert!(spy.ops().contains(&Op::DeleteByOwner("\"ann\"".to_owned())));
    for c in [&ann1, &ann2] {
        assert_eq!(
            send(&app, "/whoami", Some(c)).await.body,
            "-:true",
            "ann's sessions are gone"
        );
    }
    assert_eq!(
        send(&app, "/whoami", Some(&bob)).await.body,
        "bob:false",
        "bob is untouched"
    );

    // The extractor in a handler does the same.
    let r = send(&app, "/revoke?user=bob", None).await;
    assert_eq!(r.body, "1");
    assert_eq!(send(&app, "/whoami", Some(&bob)).await.body, "-:true");
    assert_eq!(manager.destroy_all_for("nobody").await.unwrap(), 0);
}

#[tokio::test]
async fn the_owner_follows_the_user_field() {
    let spy = Spy::new();
    let layer = SessionLayer::new(spy.clone());
    let manager = layer.manager();
    let app = routes().layer(layer);
    let c = send(&app, "/signin?user=ann", None).await.cookie().unwrap();
    send(&app, "/signin?user=bob", Some(&c)).await;
    assert_eq!(
        manager.destroy_all_for("ann").await.unwrap(),
        0,
        "the owner follows the user field"
    );
    assert_eq!(manager.destroy_all_for("bob").await.unwrap(), 1);
}

#[tokio::test]
async fn a_session_regenerated_through_another_view_is_still_revocable() {
    let spy = Spy::new();
    let layer = SessionLayer::new(spy.clone());
    let manager = layer.manager();
    let app = routes().layer(layer);
    let c = send(&app, "/signin?user=ann", None).await.cookie().unwrap();
    // A privilege change handled by code that uses a narrower session type.
    let c2 = send(&app, "/counter-regenerate", Some(&c))
        .await
        .cookie()
        .expect("a new id");
    assert_eq!(send(&app, "/whoami", Some(&c2)).await.body, "ann:false");
    assert_eq!(
        manager.destroy_all_for("ann").await.unwrap(),
        1,
        "ann's regenerated session must still be found by her user id"
    );
    assert_eq!(
        send(&app, "/whoami", Some(&c2)).await.body,
        "-:true",
        "and revoked"
    );
}

#[tokio::test]
async fn revoking_in_one_app_leaves_apps_with_another_key_prefix_alone() {
    let store = MemoryStore::new();
    let layer_a = SessionLayer::new(store.clone()).with_key_prefix("app-a");
    let manager_a = layer_a.manager();
    let app_a = routes().layer(layer_a);
    let app_b = routes().layer(SessionLayer::new(store.clone()).with_key_prefix("app-b"));
    let in_a = send(&app_a, "/signin?user=ann", None)
        .await
        .cookie()
        .unwrap();
    let in_b = send(&app_b, "/signin?user=ann", None)
        .await
        .cookie()
        .unwrap();
    assert_eq!(manager_a.destroy_all_for("ann").await.unwrap(), 1);
    assert_eq!(send(&app_a, "/whoami", Some(&in_a)).await.body, "-:true");
    assert_eq!(
        send(&app_b, "/whoami", Some(&in_b)).await.body,
        "ann:false",
        "app A's manager must not sign ann out of app B"
    );
}

// ---------------------------------------------------------------------------------------------
// Flash
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_flash_value_is_shown_once_and_removed_from_the_store() {
    let spy = Spy::new();
    let app = routes().layer(SessionLayer::new(spy.clone()));
    let cookie = send(&app, "/flash/set", None).await.cookie().unwrap();
    let key = spy.last_created().unwrap();
    spy.take_ops();

    let r = send(&app, "/flash/show", Some(&cookie)).await;
    assert_eq!(r.body, "Some(\"saved\")", "request 2 consumes it");
    assert!(r.set_cookies.is_empty());
    assert_eq!(
        spy.writes(),
        vec![Op::Patch {
            key,
            set: vec![],
            remove: vec!["notice".to_owned()]
        }],
        "consuming removes the field from the store"
    );
    let record = spy.inner.load(&key, 0).await.unwrap().unwrap();
    assert!(
        !record.fields.contains_key("notice"),
        "the store no longer holds it: {:?}",
        record.fields.keys().collect::<Vec<_>>()
    );

    let r = send(&app, "/flash/show", Some(&cookie)).await;
    assert_eq!(r.body, "None", "request 3 sees nothing");
}

#[tokio::test]
async fn peeking_a_flash_value_does_not_consume_it() {
    let spy = Spy::new();
    let app = routes().layer(SessionLayer::new(spy.clone()));
    let cookie = send(&app, "/flash/set", None).await.cookie().unwrap();
    spy.take_ops();
    for path in [
        "/flash/peek",
        "/flash/peek-read",
        "/flash/peek",
        "/flash/peek-read",
    ] {
        let r = send(&app, path, Some(&cookie)).await;
        assert_eq!(r.body, "Some(\"saved\")", "{path}");
    }
    assert!(
        spy.writes().is_empty(),
        "peeking writes nothing: {:?}",
        spy.writes()
    );
    assert_eq!(
        send(&app, "/flash/show", Some(&cookie)).await.body,
        "Some(\"saved\")"
    );
    assert_eq!(send(&app, "/flash/peek", Some(&cookie)).await.body, "None");
}

#[tokio::test]
async fn reading_an_absent_flash_value_writes_nothing() {
    let spy = Spy::new();
    let app = routes().layer(SessionLayer::new(spy.clone()));
    // A session that exists but has no flash value, as on most page views.
    let cookie = send(&app, "/flash/inc", None).await.cookie().unwrap();
    spy.take_ops();
    for _ in 0..3 {
        let r = send(&app, "/flash/show", Some(&cookie)).await;
        assert_eq!(r.body, "None");
    }
    assert!(
        spy.writes().is_empty(),
        "a page that shows the (absent) flash value must not write on every view: {:?}",
        spy.writes()
    );
}

// ---------------------------------------------------------------------------------------------
// Log events
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn refused_sessions_are_logged_without_ids() {
    let (capture, _guard) = capture_logs();

    let clock = ManualClock::new();
    let store = MemoryStore::new();
    let mut secrets: Vec<String> = Vec::new();
    let mut logs: Vec<(&str, String)> = Vec::new();

    // A tampered signed cookie.
    let signed = routes().layer(
        SessionLayer::new(store.clone())
            .with_clock(clock.clone())
            .with_signed_cookies(keys(&[1])),
    );
    let value = send(&signed, "/inc", None).await.value().unwrap();
    let forged = flip_char(&value, value.len() - 2);
    secrets.extend([value.clone(), forged.clone()]);
    capture.take();
    let r = send(&signed, "/peek", Some(&format!("sid={forged}"))).await;
    assert_eq!(r.body, "0:true");
    logs.push(("tampered", capture.take()));

    // An id the store does not know.
    let plain = routes().layer(SessionLayer::new(store.clone()).with_clock(clock.clone()));
    let unknown = "Qk".repeat(21) + "Q";
    secrets.push(unknown.clone());
    let r = send(&plain, "/peek", Some(&format!("sid={unknown}"))).await;
    assert_eq!(r.body, "0:true");
    logs.push(("not found", capture.take()));

    // An absolute timeout: a session from before the timeout was configured (a deploy that
    // introduced it), which the store still holds.
    let old = send(&plain, "/inc", None).await.value().unwrap();
    secrets.push(old.clone());
    let capped = routes().layer(
        SessionLayer::new(store.clone())
            .with_clock(clock.clone())
            .with_absolute_timeout(mins(30)),
    );
    clock.at(mins(31));
    capture.take();
    let r = send(&capped, "/peek", Some(&format!("sid={old}"))).await;
    assert_eq!(r.body, "0:true", "past the absolute timeout");
    logs.push(("absolute timeout", capture.take()));

    // A validator rejection.
    let bound = routes().layer(
        SessionLayer::new(store.clone())
            .with_clock(clock.clone())
            .with_validator(same_user_agent),
    );
    let bound_value = send_with(&bound, "/bind", None, Some("firefox"))
        .await
        .value()
        .unwrap();
    secrets.push(bound_value.clone());
    capture.take();
    let r = send_with(
        &bound,
        "/peek",
        Some(&format!("sid={bound_value}")),
        Some("curl"),
    )
    .await;
    assert_eq!(r.body, "0:true");
    logs.push(("validator", capture.take()));

    let mut all = String::new();
    for (needle, text) in &logs {
        assert!(
            text.contains(needle),
            "expected an event mentioning {needle:?}, got:\n{text}"
        );
        all.push_str(text);
    }
    for secret in &secrets {
        for part in secret.split('.') {
            assert!(
                !all.contains(part) && !all.contains(&part[..16]),
                "a cookie value or id leaked into the logs: {part}\n{all}"
            );
        }
    }
}

#[tokio::test]
async fn an_absolute_timeout_with_a_consistent_config_is_logged_as_expired() {
    let (capture, _guard) = capture_logs();

    let (spy, clock) = (Spy::new(), ManualClock::new());
    let app = routes().layer(
        timed(&spy, &clock)
            .with_idle_timeout(secs(600))
            .with_absolute_timeout(secs(1800)),
    );
    let value = send(&app, "/inc", None).await.value().unwrap();
    for m in (5..30).step_by(5) {
        clock.at(mins(m));
        assert!(alive(&app, &format!("sid={value}")).await);
    }
    clock.at(mins(30));
    capture.take();
    assert!(!alive(&app, &format!("sid={value}")).await);
    let text = capture.take();
    assert!(
        text.contains("expired"),
        "the refusal is logged as an expiry: {text}"
    );
    assert!(!text.contains(&value[..16]), "{text}");
}
