//! The floor server for `scripts/bench-http.sh`: a hand-written, minimal server-side session
//! layer that does only the work any secure server-side session layer applied with
//! `Router::layer` must do, and nothing more. It is a lower bound for the benchmark, NOT a
//! usable session layer: it is deliberately less than a real library does (no expiry, no
//! signing, no logging, no JSON, no configuration, no store trait, sessions are never
//! removed).
//!
//! `cargo run --release --example bench_floor -- --addr 127.0.0.1:38084`
//!
//! Per request, the layer:
//! - scans the `Cookie` header bytes for `sid=` (no allocation); a value of exactly 43
//!   base64url characters gives the store key SHA-256(value);
//! - inserts one `Arc<Slot>` into the request extensions (the handlers' extractor clones it
//!   out);
//! - after the handler, if it left a pending value: writes it under the shard's write lock when
//!   the key exists; otherwise makes a new id (32 bytes of `getrandom`, base64url), stores
//!   SHA-256(id) and appends `Set-Cookie: sid=<id>; Path=/; HttpOnly; SameSite=Lax`.
//!
//! The store is a process-wide `static`: 64 shards of `RwLock<HashMap<key, (count, count2)>>`
//! hashed by the first 8 key bytes (keys are SHA-256 outputs).
//!
//! - `GET /inc`, `GET /inc2` — `count += 1` (`count2`), answer the new value (a request without
//!   a known session gets a new one and its cookie)
//! - `GET /read`, `GET /read2` — answer `count` (`count2`); write nothing, set no cookie
//!
//! `--plus` ("floor+") adds the two things this project requires of every session layer beyond
//! the floor, done as minimally: server-side expiry (each record keeps its deadline, 24 hours
//! after creation; a load reads the clock and treats an expired record as absent, a write
//! reads it again and does not write an expired record) and serialized field values (each of
//! the two fields is kept as serde_json's text, inline in the record; a load decodes both, a
//! write encodes the one field the handler set). floor+ − floor is what those two cost; ours −
//! floor+ is what the rest of a real library costs (BENCHMARKS.md).
//!
//! Flags: `--addr HOST:PORT` (default 127.0.0.1:38084), `--workers N` (tokio worker threads,
//! default 1), `--hold-us N` (wait N µs between reading the field and writing it back in
//! `/inc` and `/inc2`, as `bench_server` does; default 0), `--store URL` (accepted and ignored:
//! the store is always in memory), `--plus` (the variant above).

#[path = "support/bench.rs"]
mod bench;
#[path = "support/floor_map.rs"]
mod floor_map;

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{ready, Context, Poll};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::FromRequestParts;
use axum::http::header::{COOKIE, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Request, Response, StatusCode};
use axum::routing::get;
use axum::Router;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use bench::hold;
use floor_map::{empty_shard, shard, shard_index, Key, Shard, SHARDS};
use sha2::{Digest, Sha256};
use tower::{Layer, Service};

// --- cookie --------------------------------------------------------------------------------

const COOKIE_NAME: &[u8] = b"sid=";
/// 32 random bytes in base64url without padding.
const ID_LEN: usize = 43;
const COOKIE_ATTRS: &str = "; Path=/; HttpOnly; SameSite=Lax";

/// The value of the first `sid` cookie in the `Cookie` headers, without allocating.
fn sid(headers: &HeaderMap) -> Option<&[u8]> {
    for value in headers.get_all(COOKIE) {
        for pair in value.as_bytes().split(|&b| b == b';') {
            let pair = pair.trim_ascii_start();
            if let Some(v) = pair.strip_prefix(COOKIE_NAME) {
                return Some(v.trim_ascii_end());
            }
        }
    }
    None
}

fn is_base64url(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

/// The store key of a well-formed session id (43 base64url characters), else `None`.
fn key_of(id: &[u8]) -> Option<Key> {
    if id.len() == ID_LEN && id.iter().all(|&b| is_base64url(b)) {
        Some(Key(Sha256::digest(id).into()))
    } else {
        None
    }
}

// --- what a session keeps ----------------------------------------------------------------

/// `(count, count2)`: what the handlers read and write.
type Counts = (u64, u64);

/// What the store keeps per session, and how a request reads and writes it: the floor keeps
/// the two counters as they are ([`Counts`]); floor+ adds a deadline and keeps them
/// serialized ([`Plus`]).
trait Stored: Sized + Send + Sync + 'static {
    /// What the handler's writes leave for the commit.
    type Pending: Default + Send;
    /// What the commit writes.
    type Change;
    /// The shard of this kind's store that holds `key`.
    fn shard(key: &Key) -> &'static Shard<Self>;
    /// The session's counters; `None` when the record has expired.
    fn get(&self) -> Option<Counts>;
    /// Notes the handler's new `value` of field `index` (0 or 1) of the `loaded` counters.
    fn put(pending: &mut Self::Pending, loaded: Counts, index: usize, value: u64);
    /// What the commit writes, if the handler wrote anything.
    fn take(pending: &mut Self::Pending) -> Option<Self::Change>;
    /// Writes `change` into the stored record; `false` (and no write) if it has expired.
    fn update(&mut self, change: &Self::Change) -> bool;
    /// A new record holding `change`.
    fn create(change: &Self::Change) -> Self;
}

/// The floor: the handler's counters, stored as they are.
impl Stored for Counts {
    type Pending = Option<Counts>;
    type Change = Counts;

    fn shard(key: &Key) -> &'static Shard {
        shard(key)
    }

    fn get(&self) -> Option<Counts> {
        Some(*self)
    }

    fn put(pending: &mut Option<Counts>, loaded: Counts, index: usize, value: u64) {
        let mut counts = loaded;
        if index == 0 {
            counts.0 = value;
        } else {
            counts.1 = value;
        }
        *pending = Some(counts);
    }

    fn take(pending: &mut Option<Counts>) -> Option<Counts> {
        pending.take()
    }

    fn update(&mut self, change: &Counts) -> bool {
        *self = *change;
        true
    }

    fn create(change: &Counts) -> Counts {
        *change
    }
}

/// floor+: a record with a deadline and each field as its JSON text.
struct Plus {
    fields: [Text; 2],
    /// Unix time in ms after which the record is gone.
    expires_at: u64,
}

/// How long a floor+ record lives after its creation.
const LIFETIME_MS: u64 = 24 * 60 * 60 * 1000;

/// The time by the system clock, in ms since the Unix epoch.
fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// One field's JSON text, inline (a `u64`'s is at most 20 characters); empty for a field
/// never written, which reads as 0.
#[derive(Clone, Copy, Default)]
struct Text {
    len: u8,
    bytes: [u8; 23],
}

impl Text {
    fn encode(value: u64) -> Text {
        let mut bytes = [0u8; 23];
        let mut rest = &mut bytes[..];
        serde_json::to_writer(&mut rest, &value).expect("a u64's JSON fits in 23 bytes");
        let written = 23 - rest.len();
        Text {
            len: u8::try_from(written).expect("at most 23"),
            bytes,
        }
    }

    fn decode(&self) -> u64 {
        match self.len {
            0 => 0,
            n => serde_json::from_slice(&self.bytes[..usize::from(n)]).unwrap_or_default(),
        }
    }
}

static PLUS_STORE: [Shard<Plus>; SHARDS] = [const { empty_shard() }; SHARDS];

impl Stored for Plus {
    /// The fields the handler set, by index.
    type Pending = [Option<u64>; 2];
    /// The JSON of the fields the handler set.
    type Change = [Option<Text>; 2];

    fn shard(key: &Key) -> &'static Shard<Plus> {
        &PLUS_STORE[shard_index(key)]
    }

    fn get(&self) -> Option<Counts> {
        if self.expires_at <= now_ms() {
            return None;
        }
        Some((self.fields[0].decode(), self.fields[1].decode()))
    }

    fn put(pending: &mut [Option<u64>; 2], _loaded: Counts, index: usize, value: u64) {
        pending[index] = Some(value);
    }

    fn take(pending: &mut [Option<u64>; 2]) -> Option<[Option<Text>; 2]> {
        if pending.iter().all(Option::is_none) {
            return None;
        }
        Some(std::mem::take(pending).map(|v| v.map(Text::encode)))
    }

    fn update(&mut self, change: &[Option<Text>; 2]) -> bool {
        if self.expires_at <= now_ms() {
            return false;
        }
        for (field, text) in self.fields.iter_mut().zip(change) {
            if let Some(text) = text {
                *field = *text;
            }
        }
        true
    }

    fn create(change: &[Option<Text>; 2]) -> Plus {
        Plus {
            fields: change.map(Option::unwrap_or_default),
            expires_at: now_ms().saturating_add(LIFETIME_MS),
        }
    }
}

// --- layer ---------------------------------------------------------------------------------

/// What the layer and the handler share for one request.
struct Slot<V: Stored> {
    /// The store key of the request's cookie, if it had a well-formed one.
    key: Option<Key>,
    /// What the handler wants stored, written back after the handler.
    pending: Mutex<V::Pending>,
}

impl<V: Stored> Slot<V> {
    /// The session's `(count, count2)`; `(0, 0)` without a key, for an unknown key or an
    /// expired record.
    fn load(&self) -> Counts {
        match &self.key {
            Some(key) => V::shard(key)
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .get(key)
                .and_then(V::get)
                .unwrap_or_default(),
            None => (0, 0),
        }
    }

    /// Sets field `index` of the `loaded` counters to `value`.
    fn set(&self, loaded: Counts, index: usize, value: u64) {
        let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        V::put(&mut pending, loaded, index, value);
    }
}

struct FloorLayer<V>(PhantomData<fn() -> V>);

impl<V> Clone for FloorLayer<V> {
    fn clone(&self) -> Self {
        FloorLayer(PhantomData)
    }
}

impl<S, V> Layer<S> for FloorLayer<V> {
    type Service = FloorService<S, V>;

    fn layer(&self, inner: S) -> FloorService<S, V> {
        FloorService {
            inner,
            stored: PhantomData,
        }
    }
}

struct FloorService<S, V> {
    inner: S,
    stored: PhantomData<fn() -> V>,
}

impl<S: Clone, V> Clone for FloorService<S, V> {
    fn clone(&self) -> Self {
        FloorService {
            inner: self.inner.clone(),
            stored: PhantomData,
        }
    }
}

impl<S, V, ReqBody, ResBody> Service<Request<ReqBody>> for FloorService<S, V>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    V: Stored,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = FloorFuture<S::Future, V>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        let key = sid(req.headers()).and_then(key_of);
        let slot = Arc::new(Slot {
            key,
            pending: Mutex::default(),
        });
        req.extensions_mut().insert(Sess(Arc::clone(&slot)));
        FloorFuture {
            inner: self.inner.call(req),
            slot: Some(slot),
        }
    }
}

pin_project_lite::pin_project! {
    /// The inner service's future, then the write-back of the slot's pending value.
    struct FloorFuture<F, V: Stored> {
        #[pin]
        inner: F,
        slot: Option<Arc<Slot<V>>>,
    }
}

impl<F, V, ResBody, E> Future for FloorFuture<F, V>
where
    F: Future<Output = Result<Response<ResBody>, E>>,
    V: Stored,
{
    type Output = Result<Response<ResBody>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut res = ready!(this.inner.poll(cx))?;
        if let Some(slot) = this.slot.take() {
            commit(&slot, &mut res);
        }
        Poll::Ready(Ok(res))
    }
}

/// Stores the handler's pending value: in place for a known key (and, with floor+, a live
/// record), else under a new id whose cookie is appended to `res`.
fn commit<B, V: Stored>(slot: &Slot<V>, res: &mut Response<B>) {
    let Some(change) = V::take(&mut slot.pending.lock().unwrap_or_else(PoisonError::into_inner))
    else {
        return;
    };
    if let Some(key) = &slot.key {
        let mut map = V::shard(key)
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(v) = map.get_mut(key) {
            if v.update(&change) {
                return;
            }
        }
        // A well-formed id the store does not know (or, with floor+, an expired record):
        // never adopt a client-chosen id.
    }
    let mut raw = [0u8; 32];
    if getrandom::fill(&mut raw).is_err() {
        *res.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
        return;
    }
    let mut id = [0u8; ID_LEN];
    let n = URL_SAFE_NO_PAD
        .encode_slice(raw, &mut id)
        .expect("32 bytes are 43 base64url characters");
    debug_assert_eq!(n, ID_LEN);
    let key = Key(Sha256::digest(id).into());
    V::shard(&key)
        .write()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(key, V::create(&change));
    // Exactly the capacity needed: `Bytes::from(Vec)` then takes the buffer without a copy or
    // a second allocation.
    let mut cookie = String::with_capacity(COOKIE_NAME.len() + ID_LEN + COOKIE_ATTRS.len());
    cookie.push_str("sid=");
    // The id is base64url: ASCII.
    cookie.extend(id.iter().map(|&b| char::from(b)));
    cookie.push_str(COOKIE_ATTRS);
    let cookie = HeaderValue::try_from(cookie).expect("ASCII cookie");
    res.headers_mut().append(SET_COOKIE, cookie);
}

/// The extractor: the request's [`Slot`], cloned out of the extensions.
struct Sess<V: Stored>(Arc<Slot<V>>);

impl<V: Stored> Clone for Sess<V> {
    fn clone(&self) -> Self {
        Sess(Arc::clone(&self.0))
    }
}

impl<S: Send + Sync, V: Stored> FromRequestParts<S> for Sess<V> {
    type Rejection = StatusCode;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, StatusCode> {
        parts
            .extensions
            .get::<Sess<V>>()
            .cloned()
            .ok_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

// --- handlers ------------------------------------------------------------------------------

async fn inc<V: Stored>(Sess(s): Sess<V>) -> String {
    let loaded = s.load();
    let n = loaded.0 + 1;
    hold().await;
    s.set(loaded, 0, n);
    n.to_string()
}

async fn inc2<V: Stored>(Sess(s): Sess<V>) -> String {
    let loaded = s.load();
    let n = loaded.1 + 1;
    hold().await;
    s.set(loaded, 1, n);
    n.to_string()
}

async fn read<V: Stored>(Sess(s): Sess<V>) -> String {
    s.load().0.to_string()
}

async fn read2<V: Stored>(Sess(s): Sess<V>) -> String {
    s.load().1.to_string()
}

fn app<V: Stored>() -> Router {
    Router::new()
        .route("/inc", get(inc::<V>))
        .route("/inc2", get(inc2::<V>))
        .route("/read", get(read::<V>))
        .route("/read2", get(read2::<V>))
        .layer(FloorLayer::<V>(PhantomData))
}

const USAGE: &str =
    "usage: bench_floor [--addr HOST:PORT] [--workers N] [--hold-us N] [--store IGNORED] [--plus]";

fn main() {
    let mut plus = false;
    let argv: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| {
            let is_plus = a == "--plus";
            plus |= is_plus;
            !is_plus
        })
        .collect();
    let args = bench::args_from("bench_floor", argv, 38084, USAGE, "--store needs a value");
    let variant = if plus { ", floor+" } else { "" };
    let detail = format!("(memory, {} worker(s){variant})", args.workers);
    bench::serve("bench_floor", &args, detail, async move {
        Ok(if plus { app::<Plus>() } else { app::<Counts>() })
    });
}
