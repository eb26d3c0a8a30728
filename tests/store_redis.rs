//! `RedisStore` against a real Redis: the whole conformance suite, plus what only this backend
//! has (the key layout, index hygiene, key prefixes, and outages of a server it owns).
//!
//! The shared server comes from `SESSION_TEST_REDIS_URL` (default `redis://127.0.0.1:6379`).
//! If it cannot be reached the tests print one `SKIPPED` line and pass, unless
//! `SESSION_TESTS_REQUIRE_SERVICES=1` (as in CI), where they fail. Every test works under its
//! own key prefix and deletes its keys when done. The outage tests start their own
//! `redis-server` on a free port (and need the binary, under the same skip rule).
#![cfg(feature = "redis")]

#[macro_use]
#[path = "support/conformance.rs"]
mod conformance;

mod support;

use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use conformance::{assert_fields, fields, must_create, must_load, raw, MIN, T0};
use session_runtime::store::redis::{redis, InvalidKeyPrefix, DEFAULT_KEY_PREFIX};
use session_runtime::store::{
    Created, Patch, Patched, Record, SessionStore, StoreError, UnixMillis,
};
use session_runtime::{Clock as _, RedisStore, SessionKey, SystemClock};
use support::engines::{self, free_port, Guarded};

const DEFAULT_URL: &str = "redis://127.0.0.1:6379";

/// The suite's name in `SKIPPED` lines and failures.
const SUITE: &str = "redis store suite";

fn url() -> String {
    std::env::var("SESSION_TEST_REDIS_URL").unwrap_or_else(|_| DEFAULT_URL.to_owned())
}

/// A blocking connection to the shared server (set-up checks and clean-up).
fn sync_connection() -> Result<redis::Connection, String> {
    let url = url();
    let client = redis::Client::open(url.as_str())
        .map_err(|e| format!("SESSION_TEST_REDIS_URL {url:?} is not a Redis URL ({e})"))?;
    client
        .get_connection_with_timeout(Duration::from_secs(2))
        .map_err(|e| format!("cannot reach {url} ({e})"))
}

/// Whether the shared server answers, decided once per test binary.
fn require_server() -> Option<()> {
    static CHECK: OnceLock<Result<(), String>> = OnceLock::new();
    let check = CHECK.get_or_init(|| {
        let mut conn = sync_connection()?;
        redis::cmd("PING")
            .query::<String>(&mut conn)
            .map(drop)
            .map_err(|e| format!("cannot reach {} ({e})", url()))
    });
    engines::require(SUITE, check.clone())
}

/// A key prefix no other test (in this process or another) uses.
fn unique_prefix() -> String {
    format!("sess-test:{}:", engines::unique_suffix())
}

/// Every key of the shared server under a prefix (the prefixes above hold no glob characters).
fn keys_under(conn: &mut redis::Connection, prefix: &str) -> Vec<String> {
    let mut cursor = 0u64;
    let mut keys = Vec::new();
    loop {
        let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(format!("{prefix}*"))
            .arg("COUNT")
            .arg(1000)
            .query(conn)
            .unwrap_or_else(|e| panic!("SCAN: {e}"));
        keys.extend(batch);
        if next == 0 {
            return keys;
        }
        cursor = next;
    }
}

/// Deletes every key under its prefix when the last clone of the store that owns it goes
/// away. Blocking, with its own connection: a `Drop` cannot await, and the test's runtime
/// may be shutting down.
struct DeleteKeys(String);

impl Drop for DeleteKeys {
    fn drop(&mut self) {
        let Ok(mut conn) = sync_connection() else {
            return;
        };
        for chunk in keys_under(&mut conn, &self.0).chunks(500) {
            let _ = redis::cmd("UNLINK").arg(chunk).query::<i64>(&mut conn);
        }
    }
}

/// A `RedisStore` on the shared server under its own prefix, whose keys go with the last clone.
type TestStore = Guarded<RedisStore, DeleteKeys>;

async fn fresh_store() -> Option<TestStore> {
    require_server()?;
    let store = RedisStore::connect(&url())
        .await
        .unwrap_or_else(|e| panic!("redis store suite: cannot connect to {}: {e:?}", url()));
    let prefix = unique_prefix();
    let store = store
        .with_key_prefix(&prefix)
        .unwrap_or_else(|e| panic!("{e}"));
    let guard = DeleteKeys(prefix);
    store
        .migrate()
        .await
        .unwrap_or_else(|e| panic!("migrate: {e:?}"));
    Some(Guarded::new(store, guard))
}

mod redis_store {
    conformance_tests!(match crate::fresh_store().await {
        Some(store) => store,
        None => return,
    });
}

// ---------------------------------------------------------------------------------------------
// Raw access to what the store wrote
// ---------------------------------------------------------------------------------------------

/// An async connection to the shared server, for looking at (and tampering with) the keys.
async fn raw_connection() -> redis::aio::MultiplexedConnection {
    redis::Client::open(url().as_str())
        .unwrap_or_else(|e| panic!("{e}"))
        .get_multiplexed_async_connection()
        .await
        .unwrap_or_else(|e| panic!("raw connection: {e}"))
}

async fn query<T: redis::FromRedisValue>(
    conn: &mut redis::aio::MultiplexedConnection,
    cmd: &redis::Cmd,
) -> T {
    cmd.query_async(conn)
        .await
        .unwrap_or_else(|e| panic!("raw command failed: {e}"))
}

fn session_key(store: &TestStore, key: &SessionKey) -> String {
    format!("{}{{{}}}", store.store.key_prefix(), key.to_hex())
}

fn now() -> UnixMillis {
    SystemClock.now()
}

// ---------------------------------------------------------------------------------------------
// Backend-specific tests on the shared server
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn migrate_is_idempotent() {
    let Some(store) = fresh_store().await else {
        return;
    };
    for _ in 0..3 {
        store
            .store
            .migrate()
            .await
            .unwrap_or_else(|e| panic!("migrate again: {e:?}"));
    }
    let key = SessionKey::random();
    let data = fields(&[("a", "1")]);
    must_create(
        &store,
        &key,
        &Record::new(data.clone(), T0, T0 + MIN),
        "after migrate",
    )
    .await;
    assert_fields(
        &must_load(&store, &key, T0, "after migrate").await,
        &data,
        "after migrate",
    );
}

#[tokio::test]
async fn invalid_key_prefixes_are_refused() {
    let Some(store) = fresh_store().await else {
        return;
    };
    assert_eq!(
        RedisStore::new(store.store.connection_manager().clone()).key_prefix(),
        DEFAULT_KEY_PREFIX
    );
    for bad in ["", "{", "}", "app{1}:", "sess:}"] {
        let err: InvalidKeyPrefix = store
            .store
            .clone()
            .with_key_prefix(bad)
            .expect_err("a prefix with braces or none must be refused");
        assert_eq!(err.prefix, bad);
        assert!(
            err.to_string().contains("must be non-empty"),
            "message: {err}"
        );
    }
    for good in ["s", "app:sessions:", "a b\u{0}é*?[]"] {
        let s = store
            .store
            .clone()
            .with_key_prefix(good)
            .unwrap_or_else(|e| panic!("{good:?} refused: {e}"));
        assert_eq!(s.key_prefix(), good);
    }
}

/// The keys are the documented ones: a hash per session with `$c`/`$e`/`$o` and one field per
/// session field (`$`-names escaped, NUL kept), `PEXPIREAT` at the expiry, the expiry index,
/// the owner map and the owner set.
#[tokio::test]
async fn key_layout_is_the_documented_one() {
    let Some(store) = fresh_store().await else {
        return;
    };
    let prefix = store.store.key_prefix().to_owned();
    let mut conn = raw_connection().await;
    let key = SessionKey::random();
    let hex = key.to_hex();
    let created = now();
    let expires = created + 60 * MIN;
    let data = fields(&[("a", "1"), ("$e", r#""user field""#), ("n\u{0}m", "[true]")]);
    let record = Record::new(data.clone(), created, expires).with_owner(Some(r#""alice""#.into()));
    must_create(&store, &key, &record, "layout").await;

    let skey = session_key(&store, &key);
    assert_eq!(skey, format!("{prefix}{{{hex}}}"));
    let kind: String = query(&mut conn, redis::cmd("TYPE").arg(&skey)).await;
    assert_eq!(kind, "hash");
    let mut hash: Vec<(Vec<u8>, Vec<u8>)> =
        query(&mut conn, redis::cmd("HGETALL").arg(&skey)).await;
    hash.sort();
    let expected: Vec<(Vec<u8>, Vec<u8>)> = vec![
        (b"$$e".to_vec(), br#""user field""#.to_vec()),
        (b"$c".to_vec(), created.to_string().into_bytes()),
        (b"$e".to_vec(), expires.to_string().into_bytes()),
        (b"$o".to_vec(), br#""alice""#.to_vec()),
        (b"a".to_vec(), b"1".to_vec()),
        (b"n\0m".to_vec(), b"[true]".to_vec()),
    ];
    assert_eq!(hash, expected, "the session hash");
    let pttl: i64 = query(&mut conn, redis::cmd("PTTL").arg(&skey)).await;
    assert!(
        (expires - now() - 5_000..=expires - created).contains(&pttl),
        "Redis expires the hash at expires_at: PTTL {pttl} ms, expected about {} ms",
        expires - created
    );

    let score: f64 = query(
        &mut conn,
        redis::cmd("ZSCORE")
            .arg(format!("{prefix}expiry"))
            .arg(&hex),
    )
    .await;
    assert_eq!(score as i64, expires, "expiry index score");
    let tag: String = query(
        &mut conn,
        redis::cmd("HGET").arg(format!("{prefix}owners")).arg(&hex),
    )
    .await;
    assert_eq!(tag.len(), 64, "owner tag {tag:?}");
    let members: Vec<String> = query(
        &mut conn,
        redis::cmd("SMEMBERS").arg(format!("{prefix}owner:{{{tag}}}")),
    )
    .await;
    assert_eq!(members, std::slice::from_ref(&hex), "owner set");

    let mut all = keys_under(&mut sync_connection().unwrap(), &prefix);
    all.sort();
    let mut documented = vec![
        skey.clone(),
        format!("{prefix}expiry"),
        format!("{prefix}owner:{{{tag}}}"),
        format!("{prefix}owners"),
    ];
    documented.sort();
    assert_eq!(all, documented, "no other keys");

    // The `$e` field of the user does not clobber the expiry, and comes back unchanged.
    let loaded = must_load(&store, &key, created, "layout").await;
    assert_fields(&loaded, &data, "layout");
    assert_eq!(loaded.expires_at, expires);
    assert_eq!(loaded.owner.as_deref(), Some(r#""alice""#));

    // Deleting removes every key again.
    store.delete(&key).await.expect("delete");
    let left = keys_under(&mut sync_connection().unwrap(), &prefix);
    assert!(left.is_empty(), "keys left after delete: {left:?}");
}

/// Records that Redis expired by itself leave index entries behind; a sweep removes them
/// (without counting them: this call deleted nothing) and keeps the live ones.
#[tokio::test]
async fn sweep_removes_index_entries_of_sessions_redis_expired() {
    let Some(store) = fresh_store().await else {
        return;
    };
    let prefix = store.store.key_prefix().to_owned();
    let mut conn = raw_connection().await;
    let start = now();
    let live = SessionKey::random();
    let record = |expires| {
        Record::new(fields(&[("a", "1")]), start, expires).with_owner(Some(r#""u""#.into()))
    };
    must_create(&store, &live, &record(start + 60 * MIN), "live").await;
    let mut short = Vec::new();
    for _ in 0..3 {
        let key = SessionKey::random();
        must_create(&store, &key, &record(start + 300), "short-lived").await;
        short.push(key);
    }
    tokio::time::sleep(Duration::from_millis(700)).await;
    for key in &short {
        let exists: i64 = query(
            &mut conn,
            redis::cmd("EXISTS").arg(session_key(&store, key)),
        )
        .await;
        assert_eq!(exists, 0, "Redis purges a session at its expiry by itself");
    }
    let expiry = format!("{prefix}expiry");
    let indexed: i64 = query(&mut conn, redis::cmd("ZCARD").arg(&expiry)).await;
    assert_eq!(
        indexed, 4,
        "the expiry index still lists the purged sessions"
    );

    let removed = store.delete_expired(now()).await.expect("delete_expired");
    assert_eq!(
        removed, 0,
        "the sessions were gone already: nothing to count"
    );
    let members: Vec<String> =
        query(&mut conn, redis::cmd("ZRANGE").arg(&expiry).arg(0).arg(-1)).await;
    assert_eq!(members, [live.to_hex()], "expiry index after the sweep");
    let owners: Vec<String> = query(
        &mut conn,
        redis::cmd("HKEYS").arg(format!("{prefix}owners")),
    )
    .await;
    assert_eq!(owners, [live.to_hex()], "owner map after the sweep");
    let tag: String = query(
        &mut conn,
        redis::cmd("HGET")
            .arg(format!("{prefix}owners"))
            .arg(live.to_hex()),
    )
    .await;
    let set: Vec<String> = query(
        &mut conn,
        redis::cmd("SMEMBERS").arg(format!("{prefix}owner:{{{tag}}}")),
    )
    .await;
    assert_eq!(set, [live.to_hex()], "owner set after the sweep");
    must_load(&store, &live, now(), "live session after the sweep").await;
    assert_eq!(store.delete_by_owner(r#""u""#).await.expect("revoke"), 1);
}

/// Index entries are only hints: a stale owner entry never deletes someone else's session, a
/// too-low expiry score never deletes a live one (and gets corrected), and an entry for a key
/// that never existed is dropped without creating anything.
#[tokio::test]
async fn stale_index_entries_never_delete_or_resurrect() {
    let Some(store) = fresh_store().await else {
        return;
    };
    let prefix = store.store.key_prefix().to_owned();
    let mut conn = raw_connection().await;
    let (alice, bob) = (r#""alice""#, r#""bob""#);
    let data = fields(&[("a", "1")]);
    let a = SessionKey::random();
    let b = SessionKey::random();
    must_create(
        &store,
        &a,
        &Record::new(data.clone(), T0, T0 + 10 * MIN).with_owner(Some(alice.into())),
        "a",
    )
    .await;
    must_create(
        &store,
        &b,
        &Record::new(data.clone(), T0, T0 + 10 * MIN).with_owner(Some(bob.into())),
        "b",
    )
    .await;

    // Bob's session listed in Alice's owner set.
    let owners = format!("{prefix}owners");
    let alice_tag: String = query(&mut conn, redis::cmd("HGET").arg(&owners).arg(a.to_hex())).await;
    let alice_set = format!("{prefix}owner:{{{alice_tag}}}");
    let _: i64 = query(
        &mut conn,
        redis::cmd("SADD").arg(&alice_set).arg(b.to_hex()),
    )
    .await;
    assert_eq!(store.delete_by_owner(alice).await.expect("revoke alice"), 1);
    must_load(&store, &b, T0, "bob's session, listed under alice").await;

    // A score far below the real expiry, and an entry for a key that never existed.
    let expiry = format!("{prefix}expiry");
    let ghost = SessionKey::random();
    let _: i64 = query(
        &mut conn,
        redis::cmd("ZADD").arg(&expiry).arg(0).arg(b.to_hex()),
    )
    .await;
    let _: i64 = query(
        &mut conn,
        redis::cmd("ZADD").arg(&expiry).arg(0).arg(ghost.to_hex()),
    )
    .await;
    assert_eq!(
        store.delete_expired(T0).await.expect("sweep"),
        0,
        "nothing had expired"
    );
    must_load(&store, &b, T0, "bob's session after a sweep").await;
    let score: f64 = query(&mut conn, redis::cmd("ZSCORE").arg(&expiry).arg(b.to_hex())).await;
    assert_eq!(
        score as i64,
        T0 + 10 * MIN,
        "the sweep corrects a low score"
    );
    let ghost_score: Option<f64> = query(
        &mut conn,
        redis::cmd("ZSCORE").arg(&expiry).arg(ghost.to_hex()),
    )
    .await;
    assert_eq!(ghost_score, None, "an entry for a missing key is dropped");
    let exists: i64 = query(
        &mut conn,
        redis::cmd("EXISTS").arg(session_key(&store, &ghost)),
    )
    .await;
    assert_eq!(exists, 0, "the sweep created nothing");
    assert!(store.load(&ghost, T0).await.expect("load").is_none());

    // Index entries for a key whose create failed (here: a touch and an owner patch of a key
    // that never existed) are harmless too.
    assert_eq!(
        store.touch(&ghost, T0 + MIN, T0).await.expect("touch"),
        Patched::Gone
    );
    let p = Patch::new().owner(Some(bob));
    assert_eq!(
        store.patch(&ghost, &p, T0).await.expect("patch"),
        Patched::Gone
    );
    assert_eq!(store.delete_by_owner(bob).await.expect("revoke bob"), 1);
    assert_eq!(
        store.delete_expired(i64::MAX).await.expect("final sweep"),
        0
    );
    // Bob's deleted session was still listed under Alice; her next revoke drops the entry.
    assert_eq!(
        store
            .delete_by_owner(alice)
            .await
            .expect("revoke alice again"),
        0
    );
    let left = keys_under(&mut sync_connection().unwrap(), &prefix);
    assert!(left.is_empty(), "keys left: {left:?}");
}

/// Concurrent owner changes (with field writes) leave the session revocable by exactly its
/// final owner, and every field write survives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_owner_changes_keep_the_session_revocable() {
    let Some(store) = fresh_store().await else {
        return;
    };
    let key = SessionKey::random();
    must_create(
        &store,
        &key,
        &Record::new(fields(&[("n", "0")]), T0, T0 + MIN).with_owner(Some("1".into())),
        "owner",
    )
    .await;
    let mut tasks = Vec::new();
    for i in 0..20 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let owner = (i % 3 + 1).to_string();
            let v = raw(&i.to_string());
            let name = format!("f{i}");
            let p = Patch::new().set(&name, &v).owner(Some(&owner));
            assert_eq!(
                store.patch(&key, &p, T0).await.expect("patch"),
                Patched::Applied
            );
        }));
    }
    for t in tasks {
        t.await.expect("task");
    }
    let loaded = must_load(&store, &key, T0, "after concurrent owner patches").await;
    assert_eq!(loaded.fields.len(), 21, "every field patch survived");
    let owner = loaded.owner.expect("an owner");
    let mut total = 0;
    for candidate in ["1", "2", "3"] {
        let n = store.delete_by_owner(candidate).await.expect("revoke");
        assert_eq!(
            n,
            u64::from(candidate == owner),
            "only the last owner revokes it"
        );
        total += n;
    }
    assert_eq!(total, 1);
}

/// `RedisStore::new` on a manager built by the caller.
#[tokio::test]
async fn new_takes_a_connection_manager() {
    if require_server().is_none() {
        return;
    }
    let client = redis::Client::open(url().as_str()).expect("url");
    let manager = redis::aio::ConnectionManager::new_with_config(
        client,
        RedisStore::connection_manager_config(),
    )
    .await
    .expect("manager");
    let prefix = unique_prefix();
    let _guard = DeleteKeys(prefix.clone());
    let store = RedisStore::new(manager)
        .with_key_prefix(&prefix)
        .expect("prefix");
    assert!(format!("{store:?}").contains(&prefix));
    let key = SessionKey::random();
    let data = fields(&[("x", r#""y""#)]);
    assert_eq!(
        store
            .create(&key, &Record::new(data.clone(), T0, T0 + MIN))
            .await
            .expect("create"),
        Created::Inserted
    );
    let loaded = store.load(&key, T0).await.expect("load").expect("record");
    assert_fields(&loaded, &data, "through new()");
    store.delete(&key).await.expect("delete");
}

// ---------------------------------------------------------------------------------------------
// Outages, on a redis-server of the test's own
// ---------------------------------------------------------------------------------------------

/// A `redis-server` child process on a fixed port, killed when dropped.
struct OwnServer {
    port: u16,
    child: Option<Child>,
}

impl OwnServer {
    /// Starts one on a free port, or `None` (skip) if there is no `redis-server` binary.
    fn start() -> Option<OwnServer> {
        let mut server = OwnServer {
            port: free_port(),
            child: None,
        };
        match server.spawn() {
            Ok(()) => Some(server),
            Err(e) => {
                engines::skip::<()>(SUITE, &format!("cannot start redis-server ({e})"));
                None
            }
        }
    }

    fn spawn(&mut self) -> std::io::Result<()> {
        let port = self.port.to_string();
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port,
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .args([
                "--daemonize",
                "no",
                "--dir",
                &std::env::temp_dir().to_string_lossy(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "redis-server did not listen on {port} within 10 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Sends a signal (`STOP`, `CONT`) to the server.
    fn signal(&self, name: &str) {
        let pid = self.child.as_ref().expect("server running").id();
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(pid.to_string())
            .status()
            .unwrap_or_else(|e| panic!("kill -{name}: {e}"));
        assert!(status.success(), "kill -{name} {pid} failed");
    }
}

impl Drop for OwnServer {
    fn drop(&mut self) {
        if let Some(child) = &self.child {
            // A stopped process still dies of SIGKILL; continue it anyway for tidiness.
            let _ = Command::new("kill")
                .arg("-CONT")
                .arg(child.id().to_string())
                .status();
        }
        self.kill();
    }
}

/// Every operation, each of which must fail with `Unavailable` within `bound`.
async fn assert_all_unavailable(store: &RedisStore, key: &SessionKey, bound: Duration, when: &str) {
    let v = raw("1");
    let record = Record::new(fields(&[("a", "1")]), T0, T0 + MIN);
    let patch = Patch::new().set("a", &v);
    macro_rules! check {
        ($name:literal, $op:expr) => {{
            let start = Instant::now();
            let result = $op.await;
            let took = start.elapsed();
            assert!(
                matches!(result, Err(StoreError::Unavailable(_))),
                "{when}: {} returned {:?}, expected Err(Unavailable)",
                $name,
                result
            );
            assert!(
                took < bound,
                "{when}: {} took {took:?} (bound {bound:?})",
                $name
            );
        }};
    }
    check!("load", store.load(key, T0));
    check!("create", store.create(&SessionKey::random(), &record));
    check!("patch", store.patch(key, &patch, T0));
    check!("touch", store.touch(key, T0 + MIN, T0));
    check!("delete", store.delete(&SessionKey::random()));
    check!("delete_expired", store.delete_expired(T0));
    check!("delete_by_owner", store.delete_by_owner("\"x\""));
    check!("migrate", store.migrate());
}

/// Polls `load` until the store answers again; the first calls after a restart may still
/// report `Unavailable` while the manager reconnects.
async fn wait_until_back(store: &RedisStore, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        match store.load(&SessionKey::random(), T0).await {
            Ok(_) => return,
            Err(StoreError::Unavailable(e)) => {
                assert!(
                    Instant::now() < deadline,
                    "the store did not recover within {within:?}: {e}"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("while the server came back: {e:?}"),
        }
    }
}

/// Kill the server: every operation is `Unavailable`, promptly. Restart it on the same port:
/// the same store works again (the data is gone, nothing was persisted; the scripts reload
/// by themselves).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_server_is_unavailable_and_the_store_recovers_after_restart() {
    let Some(mut server) = OwnServer::start() else {
        return;
    };
    let store = RedisStore::connect(&server.url()).await.expect("connect");
    store.migrate().await.expect("migrate");
    let key = SessionKey::random();
    let data = fields(&[("a", r#""before""#)]);
    let record = Record::new(data.clone(), T0, T0 + 10 * MIN).with_owner(Some("\"o\"".into()));
    assert_eq!(
        store.create(&key, &record).await.expect("create"),
        Created::Inserted
    );
    assert_fields(
        &store.load(&key, T0).await.expect("load").expect("record"),
        &data,
        "before",
    );

    server.kill();
    // Refused connections: well under the 2 s connect timeout.
    for round in 0..2 {
        assert_all_unavailable(
            &store,
            &key,
            Duration::from_secs(3),
            &format!("server down, round {round}"),
        )
        .await;
    }

    server.spawn().expect("restart redis-server");
    wait_until_back(&store, Duration::from_secs(10)).await;
    // Nothing was persisted: the session is gone, and a patch does not bring it back.
    assert!(store
        .load(&key, T0)
        .await
        .expect("load after restart")
        .is_none());
    let v = raw("2");
    assert_eq!(
        store
            .patch(&key, &Patch::new().set("a", &v), T0)
            .await
            .expect("patch"),
        Patched::Gone
    );
    // Every operation works on the same store (the script cache was lost with the restart).
    let fresh = SessionKey::random();
    let after = fields(&[("a", r#""after""#)]);
    let rec = Record::new(after.clone(), T0, T0 + 10 * MIN).with_owner(Some("\"o\"".into()));
    assert_eq!(
        store
            .create(&fresh, &rec)
            .await
            .expect("create after restart"),
        Created::Inserted
    );
    assert_eq!(
        store
            .patch(&fresh, &Patch::new().set("b", &v), T0)
            .await
            .expect("patch"),
        Patched::Applied
    );
    assert_eq!(
        store.touch(&fresh, T0 + 20 * MIN, T0).await.expect("touch"),
        Patched::Applied
    );
    let loaded = store.load(&fresh, T0).await.expect("load").expect("record");
    assert_fields(
        &loaded,
        &fields(&[("a", r#""after""#), ("b", "2")]),
        "after restart",
    );
    assert_eq!(
        store
            .delete_expired(T0 + 20 * MIN)
            .await
            .expect("delete_expired"),
        1
    );
    must_create(&store, &fresh, &rec, "again").await;
    assert_eq!(
        store
            .delete_by_owner("\"o\"")
            .await
            .expect("delete_by_owner"),
        1
    );
    store.delete(&fresh).await.expect("delete");
    store.migrate().await.expect("migrate after restart");
}

/// A server that stops answering (SIGSTOP) is `Unavailable` after the response timeout, and
/// the store works again once it continues.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hung_server_times_out_as_unavailable() {
    let Some(server) = OwnServer::start() else {
        return;
    };
    let store = RedisStore::connect(&server.url()).await.expect("connect");
    let key = SessionKey::random();
    let data = fields(&[("a", "1")]);
    assert_eq!(
        store
            .create(&key, &Record::new(data.clone(), T0, T0 + MIN))
            .await
            .expect("create"),
        Created::Inserted
    );
    server.signal("STOP");
    let start = Instant::now();
    let result = store.load(&key, T0).await;
    let took = start.elapsed();
    assert!(
        matches!(result, Err(StoreError::Unavailable(_))),
        "hung server: {result:?}"
    );
    assert!(
        took < Duration::from_secs(5),
        "a hung server took {took:?} to report"
    );
    server.signal("CONT");
    wait_until_back(&store, Duration::from_secs(10)).await;
    assert_fields(
        &store.load(&key, T0).await.expect("load").expect("record"),
        &data,
        "after SIGCONT",
    );
}

/// Connecting to a port where nothing listens fails fast with `Unavailable`; no server needed.
#[tokio::test]
async fn connect_to_a_dead_port_is_unavailable_quickly() {
    let start = Instant::now();
    let result = RedisStore::connect(&format!("redis://127.0.0.1:{}", free_port())).await;
    assert!(
        matches!(result, Err(StoreError::Unavailable(_))),
        "{result:?}"
    );
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "took {:?}",
        start.elapsed()
    );
    let result = RedisStore::connect("not a url").await;
    assert!(matches!(result, Err(StoreError::Backend(_))), "{result:?}");
}
