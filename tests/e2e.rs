//! End-to-end flows over a real TCP listener with a real HTTP client and cookie jar.

mod support;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::routing::get;
use axum::{Router, ServiceExt};
use session_runtime::{MemoryStore, ReadSession, Session, SessionLayer};
use support::demo::{self, Demo};
use tower::Layer as _;

#[derive(Session, Default)]
struct Visit {
    user: Option<String>,
    count: u64,
    a: u64,
    b: u64,
}

fn routes() -> Router {
    Router::new()
        .route(
            "/",
            get(|mut s: Session<Visit>| async move {
                *s.count_mut() += 1;
                s.count().to_string()
            }),
        )
        .route(
            "/peek",
            get(
                |s: ReadSession<Visit>| async move { format!("{} {} {}", s.count(), s.a(), s.b()) },
            ),
        )
        .route(
            "/inc/a",
            get(|mut s: Session<Visit>| async move {
                *s.a_mut() += 1;
                s.a().to_string()
            }),
        )
        .route(
            "/inc/b",
            get(|mut s: Session<Visit>| async move {
                *s.b_mut() += 1;
                s.b().to_string()
            }),
        )
        .route(
            "/login",
            get(|mut s: Session<Visit>| async move {
                s.set_user(Some("ann".into()));
                s.regenerate();
                "ok"
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

/// The routes with the layer applied by `Router::layer`, served on a free port.
async fn serve() -> (SocketAddr, MemoryStore) {
    let store = MemoryStore::new();
    let app = routes().layer(SessionLayer::new(store.clone()).with_secure(false));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (addr, store)
}

/// The routes with the layer wrapped around the whole `Router` (`Layer::layer`), as
/// `ServiceBuilder` or any outer tower stack applies it, served on a free port.
async fn serve_around() -> (SocketAddr, MemoryStore) {
    let store = MemoryStore::new();
    let app = SessionLayer::new(store.clone())
        .with_secure(false)
        .layer(routes());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let app = ServiceExt::<axum::extract::Request>::into_make_service(app);
        axum::serve(listener, app).await.unwrap()
    });
    (addr, store)
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap()
}

async fn get_text(c: &reqwest::Client, url: String) -> String {
    let r = c.get(url).send().await.unwrap();
    assert_eq!(r.status(), 200);
    r.text().await.unwrap()
}

#[tokio::test]
async fn a_browser_like_client_counts_logs_in_and_out() {
    let (addr, store) = serve().await;
    browser_flow(addr, &store).await;
}

#[tokio::test]
async fn the_layer_wrapped_around_the_whole_router_serves_the_same_flow() {
    let (addr, store) = serve_around().await;
    browser_flow(addr, &store).await;
}

/// Counts, logs in (new id, data kept), logs out (record and cookie gone) and starts over.
async fn browser_flow(addr: SocketAddr, store: &MemoryStore) {
    let c = client();
    assert_eq!(get_text(&c, format!("http://{addr}/peek")).await, "0 0 0");
    assert!(store.is_empty(), "peeking creates nothing");
    assert_eq!(get_text(&c, format!("http://{addr}/")).await, "1");
    assert_eq!(get_text(&c, format!("http://{addr}/")).await, "2");
    assert_eq!(get_text(&c, format!("http://{addr}/login")).await, "ok");
    assert_eq!(store.len(), 1, "the pre-login record is gone");
    assert_eq!(
        get_text(&c, format!("http://{addr}/")).await,
        "3",
        "data survived the new id"
    );
    assert_eq!(get_text(&c, format!("http://{addr}/logout")).await, "bye");
    assert!(store.is_empty());
    assert_eq!(
        get_text(&c, format!("http://{addr}/peek")).await,
        "0 0 0",
        "the jar dropped the cookie"
    );
    assert_eq!(get_text(&c, format!("http://{addr}/")).await, "1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_clients_keep_their_own_sessions() {
    let (addr, store) = serve().await;
    let tasks: Vec<_> = (0..40)
        .map(|_| {
            tokio::spawn(async move {
                let c = client();
                for i in 1..=25u64 {
                    assert_eq!(get_text(&c, format!("http://{addr}/")).await, i.to_string());
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(store.len(), 40);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_changes_to_different_fields_of_one_session_both_survive() {
    let (addr, _store) = serve().await;
    let c = client();
    get_text(&c, format!("http://{addr}/")).await;
    let c = Arc::new(c);
    let n = 200;
    let spawn = |path: &'static str| {
        let c = c.clone();
        tokio::spawn(async move {
            for _ in 0..n {
                get_text(&c, format!("http://{addr}{path}")).await;
            }
        })
    };
    // One writer per field, both at once on the same session: each commit patches only its
    // own field, so neither wipes out the other's increments.
    let (ta, tb) = (spawn("/inc/a"), spawn("/inc/b"));
    ta.await.unwrap();
    tb.await.unwrap();
    let peek = get_text(&c, format!("http://{addr}/peek")).await;
    assert_eq!(peek, format!("1 {n} {n}"), "count a b");
}

/// Starts the demo example binary (built by `cargo test`) with `args` on a free port.
async fn spawn_demo(args: &[&str]) -> Demo {
    demo::spawn_demo(args, 200, &format!("demo {args:?}")).await
}

fn json(s: String) -> serde_json::Value {
    serde_json::from_str(&s).unwrap()
}

/// The demo example's exact contract, driven through the real binary.
#[tokio::test]
async fn the_demo_binary_serves_its_documented_routes() {
    let d = spawn_demo(&[]).await;
    let base = &d.base;
    let c = client();
    let r = c.get(format!("{base}/peek")).send().await.unwrap();
    assert!(r.headers().get("set-cookie").is_none());
    assert_eq!(
        r.text().await.unwrap(),
        r#"{"user":null,"count":0,"a":0,"b":0}"#,
        "exact shape and order"
    );
    assert_eq!(json(get_text(&c, format!("{base}/")).await)["count"], 1);
    assert_eq!(json(get_text(&c, format!("{base}/inc/a")).await)["a"], 1);
    assert_eq!(json(get_text(&c, format!("{base}/inc/b")).await)["b"], 1);
    let v = json(get_text(&c, format!("{base}/login?user=zoe")).await);
    assert_eq!(v, serde_json::json!({"user":"zoe","count":1,"a":1,"b":1}));
    assert_eq!(
        json(get_text(&c, format!("{base}/peek")).await)["user"],
        "zoe"
    );
    let v = json(get_text(&c, format!("{base}/logout")).await);
    assert_eq!(v, serde_json::json!({"user":null,"count":0,"a":0,"b":0}));
    assert_eq!(json(get_text(&c, format!("{base}/peek")).await)["count"], 0);
}

/// `--idle-timeout 1`: a session used within the second lives on; one left alone for longer
/// is gone (real time, real binary).
#[tokio::test]
async fn demo_idle_timeout_expires_unused_sessions() {
    let d = spawn_demo(&["--idle-timeout", "1"]).await;
    let c = client();
    assert_eq!(json(get_text(&c, format!("{}/", d.base)).await)["count"], 1);
    for expected in 2..=4 {
        tokio::time::sleep(std::time::Duration::from_millis(400)).await;
        assert_eq!(
            json(get_text(&c, format!("{}/", d.base)).await)["count"],
            expected,
            "kept alive by use"
        );
    }
    tokio::time::sleep(std::time::Duration::from_millis(1300)).await;
    assert_eq!(
        json(get_text(&c, format!("{}/peek", d.base)).await)["count"],
        0,
        "expired after 1 s idle"
    );
}

/// `--absolute-timeout 1` with `--idle-timeout 60`: activity cannot keep a session past the cap.
#[tokio::test]
async fn demo_absolute_timeout_caps_active_sessions() {
    let d = spawn_demo(&["--idle-timeout", "60", "--absolute-timeout", "1"]).await;
    let c = client();
    assert_eq!(json(get_text(&c, format!("{}/", d.base)).await)["count"], 1);
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(json(get_text(&c, format!("{}/", d.base)).await)["count"], 2);
    tokio::time::sleep(std::time::Duration::from_millis(700)).await;
    assert_eq!(
        json(get_text(&c, format!("{}/peek", d.base)).await)["count"],
        0,
        "past the absolute cap"
    );
}

/// `--max-age 60 --key K`: a persistent, signed cookie.
#[tokio::test]
async fn demo_max_age_and_key_give_a_persistent_signed_cookie() {
    let key = "ab".repeat(32);
    let d = spawn_demo(&["--max-age", "60", "--key", &key]).await;
    let r = reqwest::Client::new()
        .get(format!("{}/", d.base))
        .send()
        .await
        .unwrap();
    let set = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        set.contains("Max-Age=60") || set.contains("Max-Age=59"),
        "{set}"
    );
    let value = set.split(';').next().unwrap().trim_start_matches("sid=");
    assert_eq!(value.split('.').count(), 2, "ID.TAG: {value}");
    assert_eq!(r.headers()["cache-control"], "no-store");
}

/// `--cookie-store --key K`: no server state; `/big` stays under the 4096-byte cookie limit or
/// answers 500 without a cookie.
#[tokio::test]
async fn demo_cookie_store_keeps_the_session_in_the_cookie_and_refuses_oversize() {
    let key = "cd".repeat(32);
    let d = spawn_demo(&["--cookie-store", "--key", &key]).await;
    let c = client();
    assert_eq!(json(get_text(&c, format!("{}/", d.base)).await)["count"], 1);
    assert_eq!(json(get_text(&c, format!("{}/", d.base)).await)["count"], 2);
    assert!(!get_text(&c, format!("{}/big?bytes=2000", d.base))
        .await
        .is_empty());
    let r = c
        .get(format!("{}/big?bytes=5000", d.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 500);
    assert!(
        r.headers().get("set-cookie").is_none(),
        "never a truncated cookie"
    );
    assert_eq!(
        json(get_text(&c, format!("{}/peek", d.base)).await)["count"],
        2,
        "the old cookie still works"
    );
}
