//! What the suites against real engines (PostgreSQL, MariaDB, Redis, SQLite files, the demo
//! binary on them) share: the skip rule, names no other test uses, stores that clean up after
//! themselves, and a TCP proxy that injects network faults.
//!
//! The skip rule: when an engine cannot be reached, a suite prints one `SKIPPED` line and its
//! tests pass, unless `SESSION_TESTS_REQUIRE_SERVICES=1` (as in CI), where they fail.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::io::Write as _;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use session_runtime::store::{SessionStore, StoreError};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::task::JoinHandle;

use super::stores::{wrapper_store, Call};

// ---------------------------------------------------------------------------------------------
// The skip rule
// ---------------------------------------------------------------------------------------------

/// Whether missing services fail the suites (`SESSION_TESTS_REQUIRE_SERVICES=1`, as in CI).
pub fn services_required() -> bool {
    std::env::var("SESSION_TESTS_REQUIRE_SERVICES").as_deref() == Ok("1")
}

/// `None` (after one `SKIPPED` line per suite) when the services are not required; a panic
/// when they are. `suite` names it, as in "postgres store suite".
#[track_caller]
pub fn skip<T>(suite: &str, reason: &str) -> Option<T> {
    if services_required() {
        panic!("{suite}: {reason} and SESSION_TESTS_REQUIRE_SERVICES=1");
    }
    static SKIPPED: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());
    if SKIPPED.lock().unwrap().insert(suite.to_owned()) {
        // Straight to the process's stderr: libtest captures `eprintln!` of passing tests.
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED {suite}: {reason}; set SESSION_TESTS_REQUIRE_SERVICES=1 to fail instead"
        );
    }
    None
}

/// `Some(())` when `check` passed, else the skip rule with its reason.
#[track_caller]
pub fn require(suite: &str, check: Result<(), String>) -> Option<()> {
    match check {
        Ok(()) => Some(()),
        Err(reason) => skip(suite, &reason),
    }
}

/// Whether `target` (`host:port`) accepts TCP connections, decided once per target and test
/// binary. `Err` carries the reason for the skip (or, in CI, the failure).
pub fn tcp_reachable(target: &str) -> Result<(), String> {
    static CHECKED: Mutex<BTreeMap<String, Result<(), String>>> = Mutex::new(BTreeMap::new());
    CHECKED
        .lock()
        .unwrap()
        .entry(target.to_owned())
        .or_insert_with(|| {
            let addrs: Vec<SocketAddr> = std::net::ToSocketAddrs::to_socket_addrs(target)
                .map_err(|e| format!("cannot reach {target} ({e})"))?
                .collect();
            let mut last = format!("cannot reach {target} (no address)");
            for addr in addrs {
                match std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2)) {
                    Ok(_) => return Ok(()),
                    Err(e) => last = format!("cannot reach {target} ({e})"),
                }
            }
            Err(last)
        })
        .clone()
}

// ---------------------------------------------------------------------------------------------
// Names and ports
// ---------------------------------------------------------------------------------------------

/// A suffix for table names, key prefixes and directories that no other test (in this
/// process or another) uses: process id, counter, clock.
pub fn unique_suffix() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!("{}_{n}_{nanos}", std::process::id())
}

/// A table name no other test uses.
pub fn unique_table() -> String {
    format!("sessions_test_{}", unique_suffix())
}

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("no free port: {e}"))
}

// ---------------------------------------------------------------------------------------------
// Stores that clean up after themselves
// ---------------------------------------------------------------------------------------------

type CleanUpFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Runs an async clean-up (dropping a table, say) when dropped, to completion, on a thread and
/// runtime of its own: a `Drop` cannot await, and the test's runtime may be shutting down.
pub struct CleanUp(Mutex<Option<CleanUpFuture>>);

impl CleanUp {
    /// `cleanup` does not start before the drop.
    pub fn new(cleanup: impl Future<Output = ()> + Send + 'static) -> Self {
        CleanUp(Mutex::new(Some(Box::pin(cleanup))))
    }
}

impl Drop for CleanUp {
    fn drop(&mut self) {
        let Some(cleanup) = self.0.get_mut().ok().and_then(Option::take) else {
            return;
        };
        let runner = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(cleanup);
        });
        let _ = runner.join();
    }
}

/// A store and the guard that cleans up after it (its table, its keys, its directory) when
/// the last clone goes away: the conformance cases get no other clean-up hook.
#[derive(Debug)]
pub struct Guarded<S, G> {
    pub store: S,
    pub guard: Arc<G>,
}

impl<S: Clone, G> Clone for Guarded<S, G> {
    fn clone(&self) -> Self {
        Guarded {
            store: self.store.clone(),
            guard: self.guard.clone(),
        }
    }
}

impl<S, G> Guarded<S, G> {
    pub fn new(store: S, guard: G) -> Self {
        Guarded {
            store,
            guard: Arc::new(guard),
        }
    }

    /// Passes every call on as it is.
    fn before(&self, _call: Call<'_>) -> Result<(), StoreError> {
        Ok(())
    }
}

wrapper_store!([S: SessionStore, G: Send + Sync + 'static] Guarded<S, G>, store);

// ---------------------------------------------------------------------------------------------
// Network faults
// ---------------------------------------------------------------------------------------------

/// A TCP proxy to a real server that the test can cut and restore: a network fault injected
/// between the store (or the app) and a real engine.
pub struct Proxy {
    pub addr: SocketAddr,
    upstream: SocketAddr,
    accept: Option<JoinHandle<()>>,
    conns: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl Proxy {
    /// Listens on a port of its own, on 127.0.0.1.
    pub async fn start(upstream: SocketAddr) -> Proxy {
        let mut proxy = Proxy {
            addr: "127.0.0.1:0".parse().expect("addr"),
            upstream,
            accept: None,
            conns: Arc::default(),
        };
        proxy.up().await;
        proxy
    }

    /// Listens again on the same address (SO_REUSEADDR: the cut connections are in TIME_WAIT).
    pub async fn up(&mut self) {
        let socket = TcpSocket::new_v4().expect("socket");
        socket.set_reuseaddr(true).expect("reuseaddr");
        socket.bind(self.addr).expect("bind proxy");
        let listener: TcpListener = socket.listen(64).expect("listen");
        self.addr = listener.local_addr().expect("addr");
        let (upstream, conns) = (self.upstream, self.conns.clone());
        self.accept = Some(tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let conn = tokio::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                conns.lock().expect("conns").push(conn);
            }
        }));
    }

    /// Stops listening (new connections are refused) and cuts every open connection.
    pub async fn down(&mut self) {
        if let Some(accept) = self.accept.take() {
            accept.abort();
            let _ = accept.await;
        }
        let conns = std::mem::take(&mut *self.conns.lock().expect("conns"));
        for c in &conns {
            c.abort();
        }
        for c in conns {
            let _ = c.await;
        }
    }
}
