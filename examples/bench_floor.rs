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
//! Flags: `--addr HOST:PORT` (default 127.0.0.1:38084), `--workers N` (tokio worker threads,
//! default 1), `--hold-us N` (wait N µs between reading the field and writing it back in
//! `/inc` and `/inc2`, as `bench_server` does; default 0), `--store URL` (accepted and ignored:
//! the store is always in memory).

#[path = "support/bench.rs"]
mod bench;
#[path = "support/floor_map.rs"]
mod floor_map;

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{ready, Context, Poll};

use axum::extract::FromRequestParts;
use axum::http::header::{COOKIE, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Request, Response, StatusCode};
use axum::routing::get;
use axum::Router;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use bench::hold;
use floor_map::{shard, Key};
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

// --- layer ---------------------------------------------------------------------------------

/// What the layer and the handler share for one request.
struct Slot {
    /// The store key of the request's cookie, if it had a well-formed one.
    key: Option<Key>,
    /// The value the handler wants stored, written back after the handler.
    pending: Mutex<Option<(u64, u64)>>,
}

impl Slot {
    /// The session's `(count, count2)`; `(0, 0)` without a key or for an unknown key.
    fn load(&self) -> (u64, u64) {
        match &self.key {
            Some(key) => shard(key)
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .get(key)
                .copied()
                .unwrap_or_default(),
            None => (0, 0),
        }
    }

    fn set(&self, value: (u64, u64)) {
        *self.pending.lock().unwrap_or_else(PoisonError::into_inner) = Some(value);
    }
}

#[derive(Clone, Copy)]
struct FloorLayer;

impl<S> Layer<S> for FloorLayer {
    type Service = FloorService<S>;

    fn layer(&self, inner: S) -> FloorService<S> {
        FloorService { inner }
    }
}

#[derive(Clone)]
struct FloorService<S> {
    inner: S,
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for FloorService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = FloorFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        let key = sid(req.headers()).and_then(key_of);
        let slot = Arc::new(Slot {
            key,
            pending: Mutex::new(None),
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
    struct FloorFuture<F> {
        #[pin]
        inner: F,
        slot: Option<Arc<Slot>>,
    }
}

impl<F, ResBody, E> Future for FloorFuture<F>
where
    F: Future<Output = Result<Response<ResBody>, E>>,
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

/// Stores the handler's pending value: in place for a known key, else under a new id whose
/// cookie is appended to `res`.
fn commit<B>(slot: &Slot, res: &mut Response<B>) {
    let Some(value) = slot
        .pending
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .take()
    else {
        return;
    };
    if let Some(key) = &slot.key {
        let mut map = shard(key).write().unwrap_or_else(PoisonError::into_inner);
        if let Some(v) = map.get_mut(key) {
            *v = value;
            return;
        }
        // A well-formed id the store does not know: never adopt a client-chosen id.
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
    shard(&key)
        .write()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(key, value);
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
#[derive(Clone)]
struct Sess(Arc<Slot>);

impl<S: Send + Sync> FromRequestParts<S> for Sess {
    type Rejection = StatusCode;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, StatusCode> {
        parts
            .extensions
            .get::<Sess>()
            .cloned()
            .ok_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

// --- handlers ------------------------------------------------------------------------------

async fn inc(Sess(s): Sess) -> String {
    let (count, count2) = s.load();
    let n = count + 1;
    hold().await;
    s.set((n, count2));
    n.to_string()
}

async fn inc2(Sess(s): Sess) -> String {
    let (count, count2) = s.load();
    let n = count2 + 1;
    hold().await;
    s.set((count, n));
    n.to_string()
}

async fn read(Sess(s): Sess) -> String {
    s.load().0.to_string()
}

async fn read2(Sess(s): Sess) -> String {
    s.load().1.to_string()
}

fn app() -> Router {
    Router::new()
        .route("/inc", get(inc))
        .route("/inc2", get(inc2))
        .route("/read", get(read))
        .route("/read2", get(read2))
        .layer(FloorLayer)
}

const USAGE: &str =
    "usage: bench_floor [--addr HOST:PORT] [--workers N] [--hold-us N] [--store IGNORED]";

fn main() {
    let args = bench::args("bench_floor", 38084, USAGE, "--store needs a value");
    let detail = format!("(memory, {} worker(s))", args.workers);
    bench::serve("bench_floor", &args, detail, async move { Ok(app()) });
}
