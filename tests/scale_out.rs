//! Several app instances sharing one store, and engine outages, through the real demo binary.
//!
//! - Two demo processes on two ports share one PostgreSQL (and, separately, one Redis): a
//!   session created through one is read and changed through the other, and concurrent
//!   changes to different fields through the two instances both survive.
//! - Outages: the engine goes away mid-run (Redis: a server this test starts on its own port and
//!   kills; PostgreSQL: a TCP proxy this test owns is cut, so the shared server keeps running
//!   for other suites). During the outage requests with a cookie answer 503; afterwards the
//!   same cookie works again, with its data, without restarting the app.
#![cfg(all(feature = "postgres", feature = "redis"))]

mod support;

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use support::demo::{self, Demo};
use support::engines::{self, free_port, Proxy};
use tokio::task::JoinSet;

fn pg_url() -> String {
    std::env::var("SESSION_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

fn redis_url() -> String {
    std::env::var("SESSION_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// Whether `addr` accepts connections; if not, skip (or fail in CI).
async fn engine_or_skip(what: &str, addr: &str) -> bool {
    engines::require(
        &format!("{what} scale-out suite"),
        engines::tcp_reachable(addr),
    )
    .is_some()
}

/// The demo on a free port with `--store store`.
async fn spawn_demo(store: &str) -> Demo {
    demo::spawn_demo(&["--store", store], 400, &format!("demo --store {store}")).await
}

fn json(s: &str) -> serde_json::Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("not JSON ({e}): {s}"))
}

/// One client identity: a fixed cookie sent to whichever instance.
#[derive(Clone)]
struct Browser {
    http: reqwest::Client,
    cookie: Arc<std::sync::Mutex<Option<String>>>,
}

impl Browser {
    fn new() -> Self {
        Browser {
            http: reqwest::Client::new(),
            cookie: Arc::default(),
        }
    }

    async fn get(&self, url: String) -> (u16, String) {
        let mut req = self.http.get(url);
        if let Some(c) = self.cookie.lock().unwrap().clone() {
            req = req.header("cookie", c);
        }
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        if let Some(set) = res.headers().get("set-cookie") {
            let pair = set.to_str().unwrap().split(';').next().unwrap().to_owned();
            *self.cookie.lock().unwrap() = if pair.ends_with('=') {
                None
            } else {
                Some(pair)
            };
        }
        (status, res.text().await.unwrap())
    }

    async fn ok(&self, url: String) -> serde_json::Value {
        let (status, body) = self.get(url).await;
        assert_eq!(status, 200, "{body}");
        json(&body)
    }
}

async fn two_instances_share_sessions(store: &str) {
    let (one, two) = (spawn_demo(store).await, spawn_demo(store).await);
    let b = Browser::new();
    assert_eq!(b.ok(format!("{}/", one.base)).await["count"], 1);
    assert!(
        b.cookie.lock().unwrap().is_some(),
        "instance one issued a cookie"
    );
    // Read and changed through the other instance.
    assert_eq!(
        b.ok(format!("{}/peek", two.base)).await["count"],
        1,
        "instance two sees it"
    );
    assert_eq!(b.ok(format!("{}/", two.base)).await["count"], 2);
    assert_eq!(b.ok(format!("{}/peek", one.base)).await["count"], 2);
    // Login through one, the new id works through two, the old one nowhere.
    let old = b.cookie.lock().unwrap().clone();
    assert_eq!(
        b.ok(format!("{}/login?user=ann", one.base)).await["user"],
        "ann"
    );
    assert_ne!(*b.cookie.lock().unwrap(), old, "regenerated");
    assert_eq!(b.ok(format!("{}/peek", two.base)).await["user"], "ann");
    let stale = Browser::new();
    *stale.cookie.lock().unwrap() = old;
    assert_eq!(
        stale.ok(format!("{}/peek", two.base)).await["count"],
        0,
        "old id is dead everywhere"
    );

    // Concurrent changes to different fields through the two instances.
    let n = 60;
    let mut tasks = JoinSet::new();
    for (base, path) in [(one.base.clone(), "/inc/a"), (two.base.clone(), "/inc/b")] {
        let b = b.clone();
        tasks.spawn(async move {
            for _ in 0..n {
                let (status, body) = b.get(format!("{base}{path}")).await;
                assert_eq!(status, 200, "{body}");
            }
        });
    }
    while let Some(r) = tasks.join_next().await {
        r.unwrap();
    }
    let v = b.ok(format!("{}/peek", one.base)).await;
    assert_eq!(
        (v["a"].as_u64(), v["b"].as_u64(), v["count"].as_u64()),
        (Some(n), Some(n), Some(2)),
        "{v}"
    );
    let v2 = b.ok(format!("{}/peek", two.base)).await;
    assert_eq!(v, v2, "both instances agree");
    b.ok(format!("{}/logout", two.base)).await;
    assert_eq!(
        b.ok(format!("{}/peek", one.base)).await["user"],
        serde_json::Value::Null
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_share_one_postgres() {
    if engine_or_skip("postgres", "127.0.0.1:5432").await {
        two_instances_share_sessions(&pg_url()).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_share_one_redis() {
    if engine_or_skip("redis", "127.0.0.1:6379").await {
        two_instances_share_sessions(&redis_url()).await;
    }
}

/// A redis-server of this test's own, persisting to a temporary directory so that data
/// survives the restart.
struct OwnRedis {
    child: Option<Child>,
    port: u16,
    dir: std::path::PathBuf,
}

impl OwnRedis {
    fn start(port: u16, dir: &std::path::Path) -> Option<Self> {
        let mut r = OwnRedis {
            child: None,
            port,
            dir: dir.to_owned(),
        };
        r.restart().then_some(r)
    }

    fn restart(&mut self) -> bool {
        let child = Command::new("redis-server")
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
            ])
            .args(["--appendonly", "yes", "--appendfsync", "always", "--dir"])
            .arg(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        match child {
            Ok(c) => {
                self.child = Some(c);
                for _ in 0..200 {
                    if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                        return true;
                    }
                    std::thread::sleep(Duration::from_millis(25));
                }
                false
            }
            Err(_) => false,
        }
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn outage_gives_503_then_recovers(
    demo: &Demo,
    stop: impl AsyncFnOnce(),
    start: impl AsyncFnOnce(),
) {
    let b = Browser::new();
    assert_eq!(b.ok(format!("{}/", demo.base)).await["count"], 1);
    assert_eq!(b.ok(format!("{}/inc/a", demo.base)).await["a"], 1);
    stop().await;
    for path in ["/peek", "/", "/inc/b"] {
        let (status, body) = b.get(format!("{}{path}", demo.base)).await;
        assert_eq!(
            status, 503,
            "during the outage {path} must answer 503, got {status}: {body}"
        );
    }
    // Requests that never touch the store still work.
    let fresh = Browser::new();
    let (status, _) = fresh.get(format!("{}/peek", demo.base)).await;
    assert_eq!(status, 200, "no cookie, nothing to load");
    start().await;
    let mut last = (0, String::new());
    for _ in 0..100 {
        last = b.get(format!("{}/peek", demo.base)).await;
        if last.0 == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        last.0, 200,
        "recovered without restarting the app: {}",
        last.1
    );
    let v = json(&last.1);
    assert_eq!(
        (v["count"].as_u64(), v["a"].as_u64()),
        (Some(1), Some(1)),
        "same cookie, same data: {v}"
    );
    assert_eq!(b.ok(format!("{}/", demo.base)).await["count"], 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_outage_answers_503_and_the_same_cookie_works_after() {
    if !engine_or_skip("postgres", "127.0.0.1:5432").await {
        return;
    }
    let url = pg_url();
    let upstream: SocketAddr = "127.0.0.1:5432".parse().unwrap();
    let proxy = Arc::new(tokio::sync::Mutex::new(Proxy::start(upstream).await));
    let port = proxy.lock().await.addr.port();
    let via_proxy = url.replacen("127.0.0.1:5432", &format!("127.0.0.1:{port}"), 1);
    assert_ne!(
        via_proxy, url,
        "SESSION_TEST_POSTGRES_URL must name 127.0.0.1:5432 for this test"
    );
    let demo = spawn_demo(&via_proxy).await;
    let (p1, p2) = (proxy.clone(), proxy.clone());
    outage_gives_503_then_recovers(
        &demo,
        async move || p1.lock().await.down().await,
        async move || p2.lock().await.up().await,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_outage_answers_503_and_the_same_cookie_works_after() {
    if !engine_or_skip("redis", "127.0.0.1:6379").await {
        return;
    }
    let port = free_port();
    let dir = std::env::temp_dir().join(format!(
        "session-redis-outage-{}-{port}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let Some(redis) = OwnRedis::start(port, &dir) else {
        panic!("could not start redis-server on port {port}");
    };
    let redis = Arc::new(std::sync::Mutex::new(redis));
    let demo = spawn_demo(&format!("redis://127.0.0.1:{port}")).await;
    let (r1, r2) = (redis.clone(), redis.clone());
    outage_gives_503_then_recovers(
        &demo,
        async move || r1.lock().unwrap().kill(),
        async move || assert!(r2.lock().unwrap().restart(), "redis-server restarted"),
    )
    .await;
}
