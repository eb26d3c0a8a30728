//! Typed, dirty-tracked sessions for [axum](https://docs.rs/axum).
//!
//! Derive [`Session`](macro@Session) on a struct, take `Session<YourStruct>` as an extractor, and use the
//! generated accessors. Reads never mark anything; each write marks exactly one field. At the
//! end of the request the layer writes only the dirty fields to the store, in one atomic
//! per-session patch — no hashing, no whole-session comparison, no lost updates between
//! requests that change different fields.
//!
//! # Quick start
//!
//! ```
//! use axum::{routing::get, Router};
//! use session_runtime::{MemoryStore, Session, SessionLayer};
//!
//! #[derive(Session, Default)]
//! struct Visit {
//!     user: Option<String>,
//!     count: u64,
//! }
//!
//! async fn index(mut visit: Session<Visit>) -> String {
//!     *visit.count_mut() += 1; // marks only `count` dirty
//!     visit.count().to_string() // reads never mark anything
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let app = Router::new()
//!     .route("/", get(index))
//!     .layer(SessionLayer::new(MemoryStore::new()));
//!
//! // One request through the router: a new session, so the response sets the cookie.
//! use tower::ServiceExt;
//! let res = app
//!     .oneshot(http::Request::get("/").body(axum::body::Body::empty()).unwrap())
//!     .await
//!     .unwrap();
//! let cookie = res.headers()["set-cookie"].to_str().unwrap();
//! assert!(cookie.starts_with("sid=") && cookie.contains("HttpOnly"));
//! # }
//! ```
//!
//! # What the derive generates
//!
//! For every field `f: T` of `#[derive(Session)] struct S`, the companion type `SFields`
//! (what `Session<S>` dereferences to) has `f() -> &T`, `f_mut() -> &mut T`,
//! `set_f(T) -> T`, `take_f() -> T`, `reset_f()` and `is_f_dirty() -> bool`. A
//! `#[session(flash)]` field's getter takes the value (`f(&mut self) -> T`, removed from the
//! session) and `peek_f()` reads it without taking. See [`macro@Session`] for every
//! `#[session(...)]` attribute.
//!
//! # How a commit works
//!
//! The session is loaded lazily, the first time a handler extracts it; a request that never
//! extracts it does no store I/O. After the handler:
//!
//! | situation | store | `Set-Cookie` |
//! |---|---|---|
//! | nothing written | nothing | none |
//! | new session, nothing written | nothing | none |
//! | new session, fields written | one atomic `create` of those fields | the new id |
//! | existing session, fields written | one `patch`: set the dirty fields, remove the reset ones | none |
//! | `regenerate()` | `create` under a new id, then `delete` of the old one | the new id |
//! | `destroy()` | `delete` | cleared (`Max-Age=0`, same `Path`/`Domain`) |
//! | the session vanished meanwhile (logout elsewhere, expiry) | nothing: a patch never resurrects | cleared |
//!
//! A store failure on load answers 503 (the client keeps its cookie and can retry); on
//! commit it answers 500 with no `Set-Cookie`.
//!
//! # Extractors
//!
//! - [`Session<T>`](struct@Session): read-write; starts a new session if there is none.
//! - `Option<Session<T>>`: `Some` only when a stored session exists; never starts one.
//! - [`ReadSession<T>`]: read-only; setters do not compile; never writes.
//!
//! Several extractors (even of different session types) in one request share one load and
//! one commit; different types see the same stored fields by name.
//!
//! # Security
//!
//! - Ids are 256 bits from the OS CSPRNG, URL-safe base64. An id the store does not know is
//!   never adopted: the request gets a fresh session and, if it writes, a new id.
//! - The store key is SHA-256 of the id, so a store dump yields no usable cookie, and log
//!   lines name sessions by a key prefix, never by id.
//! - Cookies default to `HttpOnly; Secure; SameSite=Lax; Path=/`. Optional HMAC-SHA256
//!   signing or AES-256-GCM encryption of the cookie value, with key rotation
//!   ([`CookieKeys`]); `__Host-`/`__Secure-` prefixes are checked when the layer is built.
//! - Responses that set or clear the cookie get `Cache-Control: no-store` (unless the handler
//!   set one) and `Vary: Cookie`.
//! - A tampered, truncated, oversized, non-UTF-8 or duplicated session cookie gives a fresh
//!   empty session, never an error. When the session cookie appears more than once in a
//!   request (for example a planted copy with a narrower `Path`), no copy is trusted.
//! - A stored field that no longer decodes into its type falls back to its default with a
//!   `tracing` warning; the other fields are kept.
//!
//! # Expiry
//!
//! Browser-session cookie and a one-day server lifetime by default;
//! [`with_max_age`](SessionLayer::with_max_age) for a persistent cookie,
//! [`with_idle_timeout`](SessionLayer::with_idle_timeout) for sliding expiry (a throttled
//! `touch`, never a rewrite), [`with_absolute_timeout`](SessionLayer::with_absolute_timeout)
//! for a hard cap, [`with_renew`](SessionLayer::with_renew) for koa's `renew`, and
//! [`Session::remember_for`](struct@Session) per session. The expiry of record is on the server (or sealed in
//! the cookie for [`SessionLayer::cookie_store`]); an expired session is never honoured.
//!
//! # Hooks and control
//!
//! [`with_validator`](SessionLayer::with_validator) (koa's `valid`),
//! [`with_before_save`](SessionLayer::with_before_save) (`beforeSave`),
//! [`with_id_generator`](SessionLayer::with_id_generator) (`genid`),
//! [`with_key_prefix`](SessionLayer::with_key_prefix),
//! [`with_auto_commit(false)`](SessionLayer::with_auto_commit) with [`Session::save`](struct@Session),
//! `#[session(flash)]` fields, and [`SessionManager::destroy_all_for`] for the sessions of one
//! `#[session(user_id)]`.
//!
//! # Features
//!
//! | Feature | What it adds | Default |
//! |---|---|---|
//! | `memory` | [`MemoryStore`], the in-process store | yes |
//! | `sqlite` | `SqliteStore`: embedded, persistent (sqlx) | no |
//! | `postgres` | `PostgresStore`: `jsonb` per-field patches (sqlx) | no |
//! | `mysql` | `MySqlStore`: MySQL / MariaDB, `JSON_SET`/`JSON_REMOVE` patches (sqlx) | no |
//! | `redis` | `RedisStore`: one hash per session, Lua patches (redis-rs) | no |
//!
//! The client-side cookie store ([`SessionLayer::cookie_store`]) needs no feature.
//!
//! # Stores
//!
//! Every store gives the same guarantees (see [`store`]): atomic insert-if-absent create,
//! update-only per-field patches that never resurrect a deleted or expired session, expiry
//! checked on every load, typed errors with `Unavailable` (503) for an unreachable engine.
//! Create the tables with the store's explicit `migrate()`, and run
//! [`store::spawn_cleanup`] to delete expired records.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

extern crate self as session_runtime;

mod config;
mod data;
mod error;
mod extract;
mod hooks;
mod id;
mod keys;
mod layer;
mod manager;
mod rejection;
mod service;
mod state;
pub mod store;

pub use config::{Clock, ConfigError, SameSite, SystemClock};
pub use data::{FieldInfo, FieldSet, SessionData, SessionView, Tracked};
pub use error::CommitError;
pub use extract::{ReadSession, Session};
pub use hooks::{PendingSave, SessionInfo};
pub use id::SessionKey;
pub use keys::{CookieKeys, KeyError};
pub use layer::SessionLayer;
pub use manager::{ManagerError, SessionManager};
pub use rejection::SessionRejection;
pub use service::{ResponseFuture, SessionService};
#[cfg(feature = "memory")]
pub use store::memory::MemoryStore;
#[cfg(feature = "mysql")]
pub use store::mysql::MySqlStore;
#[cfg(feature = "postgres")]
pub use store::postgres::PostgresStore;
#[cfg(feature = "redis")]
pub use store::redis::RedisStore;
#[cfg(feature = "sqlite")]
pub use store::sqlite::SqliteStore;
pub use store::{SessionStore, SyncSessionStore};

/// The derive: `#[derive(Session)]` on a struct with named fields.
pub use session_derive::Session;

/// Not public API: the paths generated code uses. May change in any release.
#[doc(hidden)]
pub mod __private {
    pub use crate::data::{
        decode_value, encode_value, FieldInfo, SessionData, SessionView, Tracked,
    };
    pub use crate::store::Json;
    pub use core::primitive::{bool, usize};
    pub use serde::de::DeserializeOwned;
    pub use serde::Serialize;
    pub use serde_json::Error as JsonError;
    pub use std::default::Default;
    pub use std::marker::{Send, Sync};
    pub use std::mem::replace;
    pub use std::option::Option;
    pub use std::result::Result;
}
