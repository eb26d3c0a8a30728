//! Per-request session state: what the cookie said, what was loaded, what changed, and the
//! commit that turns the dirty flags into exactly one store operation.

use std::borrow::Cow;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use http::header::HeaderValue;
use smallvec::SmallVec;

use crate::config::{Config, MAX_COOKIE_VALUE};
use crate::data::{SessionData, SessionView, Tracked};
use crate::error::CommitError;
use crate::hooks::{PendingSave, SessionInfo};
use crate::id::{value_tag, CookieValue, Decoded, SessionId, SessionKey};
use crate::keys::CookieKeys;
use crate::store::{
    patch_lists, same_name, Created, DynStore, FieldChange, FieldMap, Json, Patch, PatchList,
    Patched, Record, StoreError, SyncSessionStore, UnixMillis,
};

/// The reserved field holding a per-session lifetime override ("remember me"), in ms.
pub(crate) const TTL_FIELD: &str = "$ttl";
/// Most bytes a browser keeps for one cookie's name plus value.
pub(crate) const COOKIE_SIZE_LIMIT: usize = 4096;

/// Where sessions live.
#[derive(Debug, Clone)]
pub(crate) enum Backend {
    /// In a store; the cookie carries the id.
    Server(Arc<dyn DynStore>),
    /// In the cookie itself, sealed with AES-256-GCM.
    Cookie(CookieKeys),
}

/// Shared by every request that passes through one layer.
#[derive(Debug, Clone)]
pub(crate) struct Shared {
    pub(crate) config: Config,
    pub(crate) backend: Backend,
}

/// Why a session cookie was not used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rejection {
    Duplicated,
    Oversized,
    Malformed,
    Tampered,
}

impl Rejection {
    fn as_str(self) -> &'static str {
        match self {
            Rejection::Duplicated => "duplicated session cookie",
            Rejection::Oversized => "oversized session cookie",
            Rejection::Malformed => "malformed session cookie",
            Rejection::Tampered => "tampered session cookie (signature or encryption check failed)",
        }
    }
}

/// What the request's cookies said about the session.
#[derive(Debug)]
pub(crate) enum Incoming {
    /// No session cookie.
    Absent,
    /// A session cookie that must not be trusted; the request gets a fresh session.
    Rejected,
    /// A well-formed (and, with signing or encryption, authentic) id, not yet looked up.
    Id { id: SessionId, stale_key: bool },
    /// Cookie-store mode: the sealed session, opened on first use.
    Sealed(String),
}

impl Incoming {
    /// Reads the session cookie from the request headers.
    ///
    /// Rules: every `Cookie` header is scanned as bytes (other cookies may hold any text); if
    /// the session cookie appears more than once (for example a planted copy with a narrower
    /// `Path`), none of the copies is trusted and the request gets a fresh session; a session
    /// cookie whose value is not UTF-8 is malformed (ids are checked as bytes, and only ASCII
    /// passes; a sealed cookie is checked for UTF-8 before it is kept).
    pub(crate) fn from_headers(headers: &http::HeaderMap, shared: &Shared) -> Self {
        let config = &shared.config;
        let cookie_name = config.cookie_name.as_bytes();
        let mut found: Option<&[u8]> = None;
        for header in headers.get_all(http::header::COOKIE) {
            let mut rest = header.as_bytes();
            while !rest.is_empty() {
                let end = memchr::memchr(b';', rest).unwrap_or(rest.len());
                let pair = &rest[..end];
                rest = rest.get(end + 1..).unwrap_or_default();
                // `name = value`: a cookie name holds no whitespace, so after the name only
                // whitespace may come before the `=`.
                let Some(value) = pair
                    .trim_ascii_start()
                    .strip_prefix(cookie_name)
                    .and_then(|after| after.trim_ascii_start().strip_prefix(b"="))
                else {
                    continue;
                };
                if let Some(first) = found {
                    return reject(first, Rejection::Duplicated);
                }
                found = Some(value.trim_ascii());
            }
        }
        let Some(value) = found else {
            return Incoming::Absent;
        };
        let value = value
            .strip_prefix(b"\"")
            .and_then(|v| v.strip_suffix(b"\""))
            .unwrap_or(value);
        if value.len() > MAX_COOKIE_VALUE {
            return reject(value, Rejection::Oversized);
        }
        if matches!(shared.backend, Backend::Cookie(_)) {
            return match std::str::from_utf8(value) {
                Ok(sealed) => Incoming::Sealed(sealed.to_owned()),
                Err(_) => reject(value, Rejection::Malformed),
            };
        }
        // Every form of id the codec accepts is ASCII: a value that is not UTF-8 comes back
        // malformed from the codec, with no separate UTF-8 check on the common path.
        match config
            .codec
            .decode(value, &config.cookie_name, config.id_generator.is_some())
        {
            Decoded::Id { id, stale_key } => Incoming::Id { id, stale_key },
            Decoded::Malformed => reject(value, Rejection::Malformed),
            Decoded::Tampered => reject(value, Rejection::Tampered),
        }
    }

    fn had_cookie(&self) -> bool {
        !matches!(self, Incoming::Absent)
    }
}

/// Logs why the session cookie `value` is not used (by a tag of it, never the value) and
/// rejects it. Out of line, like every log of the request path, so that the common path's code
/// stays small.
#[cold]
#[inline(never)]
fn reject(value: &[u8], r: Rejection) -> Incoming {
    if r == Rejection::Tampered {
        tracing::warn!(cookie = %value_tag(value), "session cookie rejected: {}", r.as_str());
    } else {
        tracing::debug!(cookie = %value_tag(value), "session cookie rejected: {}", r.as_str());
    }
    Incoming::Rejected
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    None,
    Regenerate,
    Destroy,
}

/// The stored session this request works on.
#[derive(Debug, Clone)]
enum Existing {
    Server { id: SessionId, key: SessionKey },
    Cookie,
}

impl Existing {
    /// How logs name this session: a tag of its store key (never the id), or "cookie".
    fn log_tag(&self) -> String {
        match self {
            Existing::Server { key, .. } => key.log_tag(),
            Existing::Cookie => "cookie".to_owned(),
        }
    }
}

/// What the commit decided to put on the response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CookieOut {
    Keep,
    Set {
        value: CookieValue,
        max_age: Option<i64>,
    },
    Clear,
}

/// Changes since load or the last save, by stored name: `Some` sets, `None` removes. A request
/// rarely changes more than two fields, which then need no allocation.
pub(crate) type Changes = SmallVec<[FieldChange; 2]>;

#[derive(Debug)]
struct State {
    existing: Option<Existing>,
    /// An older key verified the incoming cookie: re-issue it with the current one.
    stale_key: bool,
    /// The fields as loaded or last saved.
    base: Base,
    created_at: UnixMillis,
    expires_at: UnixMillis,
    /// Changes since load or the last save, by stored name: `Some` sets, `None` removes.
    changes: Changes,
    action: Action,
    /// The stored name of the `#[session(user_id)]` field, once a typed view told us.
    owner_field: Option<&'static str>,
    /// The stored owner of the session (namespaced by the key prefix), as loaded or saved.
    owner: Option<String>,
    /// An encode failure from a dropped view; turns the commit into a 500.
    error: Option<CommitError>,
    /// The cookie decision accumulated by the saves of this request.
    cookie: CookieOut,
    /// A save already ran in this request (a forced save does not write twice).
    saved: bool,
    /// The response is on its way; later changes cannot be saved.
    finished: bool,
}

impl State {
    /// Whether a commit has nothing to decide: no session was `loaded`, or nothing was
    /// written, nothing is pending, no deadline can move (`slides`) and no old key needs
    /// replacing.
    fn nothing_due(&self, loaded: bool, force: bool, slides: bool) -> bool {
        !loaded
            || (self.changes.is_empty()
                && self.action == Action::None
                && !self.stale_key
                && !force
                && !slides)
    }

    /// Ends the request: later changes can no longer be saved; hands out the cookie decision.
    fn close(&mut self, result: Result<(), CommitError>) -> Result<CookieOut, CommitError> {
        self.finished = true;
        result.map(|()| std::mem::replace(&mut self.cookie, CookieOut::Keep))
    }
}

/// One request's view of its session. Cloned (as an `Arc`) into every extractor.
#[derive(Debug)]
pub(crate) struct RequestSession {
    shared: Arc<Shared>,
    incoming: Incoming,
    /// Whether the session was loaded into `state`: set (release) under its lock, so an
    /// extractor that sees it set (acquire) finds the loaded session there without locking
    /// first.
    loaded: AtomicBool,
    state: Mutex<State>,
}

/// The fields of a session as loaded or last saved, shared with the store's copy where the
/// store keeps one in process: `None` for no fields. A request without a stored session (and
/// one that gave its share up for the commit) holds no reference count at all, instead of one
/// of an empty map shared by every request of the layer: two atomic updates fewer per read and
/// four per write, on a cache line that would otherwise pass between the cores of a server
/// with several workers on every request.
#[derive(Debug, Clone, Default)]
struct Base(Option<Arc<FieldMap>>);

impl Base {
    fn of(fields: FieldMap) -> Self {
        Base((!fields.is_empty()).then(|| Arc::new(fields)))
    }

    fn map(&self) -> Option<&FieldMap> {
        self.0.as_deref()
    }

    fn get(&self, name: &str) -> Option<&Json> {
        self.map()?.get(name)
    }

    fn contains_key(&self, name: &str) -> bool {
        self.map().is_some_and(|f| f.contains_key(name))
    }

    /// A copy of the fields to build a new map from.
    fn to_map(&self) -> FieldMap {
        self.map().cloned().unwrap_or_default()
    }
}

fn ttl_of(base: Option<&FieldMap>, changes: &Changes) -> Option<UnixMillis> {
    let raw = match changes.iter().find(|(n, _)| same_name(n, TTL_FIELD)) {
        Some((_, change)) => change.as_ref(),
        None => base.and_then(|b| b.get(TTL_FIELD)),
    };
    raw.and_then(|v| v.decode::<UnixMillis>().ok())
        .filter(|t| *t > 0)
}

fn apply(mut fields: FieldMap, changes: Changes) -> FieldMap {
    fields.reserve(changes.len());
    for (name, change) in changes {
        match change {
            Some(v) => {
                fields.insert(name, v);
            }
            None => {
                fields.remove(name.as_ref());
            }
        }
    }
    fields
}

/// The owner a store indexes for a user id's JSON: namespaced by the layer's key prefix, so
/// revoking a user in one application leaves other applications on the same store alone.
pub(crate) fn owner_tag(prefix: &str, user_json: &str) -> String {
    if prefix.is_empty() {
        user_json.to_owned()
    } else {
        format!("{}:{prefix}:{user_json}", prefix.len())
    }
}

fn owner_json(value: Option<&Json>) -> Option<&str> {
    value.map(Json::as_str).filter(|v| *v != "null")
}

/// Logs that the store does not know the request's id (by the key's tag, never the id).
#[cold]
#[inline(never)]
fn not_found(key: &SessionKey) {
    tracing::debug!(session = %key.log_tag(), "session not found (unknown or expired id); starting a fresh one");
}

/// Logs why a loaded session is not used.
#[cold]
#[inline(never)]
fn refused(existing: &Existing, why: &'static str) {
    tracing::debug!(session = %existing.log_tag(), "{why}");
}

/// Logs that a stored field no longer decodes into its type (its default is used). The
/// session's tag is made only if the log is enabled.
#[cold]
#[inline(never)]
fn undecodable(field: &str, existing: Option<&Existing>, error: &serde_json::Error) {
    tracing::warn!(
        field,
        session = %existing.map_or_else(|| "new".to_owned(), Existing::log_tag),
        %error,
        "stored session field no longer decodes; using its default"
    );
}

/// Logs a change made after the response was committed, which is lost.
#[cold]
#[inline(never)]
fn changed_too_late() {
    tracing::error!(
        "a session was changed after its response was committed; the change is lost \
         (do not move `Session` into a task or response body that outlives the handler)"
    );
}

/// The sealed form of a whole session, for the cookie store.
#[derive(serde::Serialize, serde::Deserialize)]
struct Sealed {
    /// Format version.
    v: u8,
    c: UnixMillis,
    e: UnixMillis,
    f: FieldMap,
}

impl RequestSession {
    /// Always inlined: its one caller, `SessionService::call`, then builds the 432 bytes in
    /// place for `Arc::new` instead of building them elsewhere on the stack and copying them
    /// over (88 instructions per request under callgrind).
    #[inline(always)]
    pub(crate) fn new(shared: Arc<Shared>, incoming: Incoming) -> Self {
        RequestSession {
            shared,
            incoming,
            loaded: AtomicBool::new(false),
            state: Mutex::new(State {
                existing: None,
                stale_key: false,
                base: Base(None),
                created_at: 0,
                expires_at: 0,
                changes: Changes::new(),
                action: Action::None,
                owner_field: None,
                owner: None,
                error: None,
                cookie: CookieOut::Keep,
                saved: false,
                finished: false,
            }),
        }
    }

    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the state half-updated in a way that
        // matters more than the panic itself, so a poisoned lock is simply taken over.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn config(&self) -> &Config {
        &self.shared.config
    }

    fn now(&self) -> UnixMillis {
        self.config().clock.now()
    }

    fn is_loaded(&self) -> bool {
        self.loaded.load(Ordering::Acquire)
    }

    /// The typed view of the request's session (the loaded fields plus this request's earlier
    /// changes), with whether no stored session backs it; loads the session on the first call.
    pub(crate) async fn view<T: SessionData>(
        &self,
        parts: &http::request::Parts,
    ) -> Result<(T::View, bool), StoreError> {
        let mut st = self.loaded_state(parts).await?;
        let is_new = st.existing.is_none();
        Ok((self.materialize::<T>(&mut st), is_new))
    }

    /// As [`view`](Self::view), but only for a stored session: `None` for a new one.
    pub(crate) async fn existing_view<T: SessionData>(
        &self,
        parts: &http::request::Parts,
    ) -> Result<Option<T::View>, StoreError> {
        let mut st = self.loaded_state(parts).await?;
        if st.existing.is_none() {
            return Ok(None);
        }
        Ok(Some(self.materialize::<T>(&mut st)))
    }

    /// The request's state, with the session loaded: by this call if no extractor before it
    /// did. The extractor's one lock (its view is built under the same one).
    async fn loaded_state(
        &self,
        parts: &http::request::Parts,
    ) -> Result<MutexGuard<'_, State>, StoreError> {
        if let Some(loaded) = self.loaded_now(parts) {
            return loaded;
        }
        self.load_waiting(parts).await
    }

    /// [`loaded_state`](Self::loaded_state) without a future: whenever the load cannot wait
    /// (loaded already, no id to look up, a store with a synchronous face, or the cookie
    /// store). `None` when it needs to wait on the store. Not generic and not async, so the
    /// common path is one small function, shared by every session type.
    fn loaded_now(
        &self,
        parts: &http::request::Parts,
    ) -> Option<Result<MutexGuard<'_, State>, StoreError>> {
        if self.is_loaded() {
            return Some(Ok(self.lock()));
        }
        let (found, now) = match (&self.incoming, &self.shared.backend) {
            (Incoming::Id { id, stale_key }, Backend::Server(store)) => {
                let store = store.sync()?;
                let now = self.now();
                let key = id.key(&self.config().key_prefix);
                match store.load_now(&key, now) {
                    Ok(record) => (self.found(id, *stale_key, key, record), now),
                    Err(e) => return Some(Err(e)),
                }
            }
            (Incoming::Sealed(value), Backend::Cookie(keys)) => {
                let now = self.now();
                (self.open_sealed(keys, value, now), now)
            }
            // No session to look up (no cookie, or a rejected one): no clock read either.
            _ => return Some(Ok(self.settle(None, parts, 0))),
        };
        Some(Ok(self.settle(found, parts, now)))
    }

    /// The load from a store that may wait.
    async fn load_waiting(
        &self,
        parts: &http::request::Parts,
    ) -> Result<MutexGuard<'_, State>, StoreError> {
        let now = self.now();
        let found = match (&self.incoming, &self.shared.backend) {
            (Incoming::Id { id, stale_key }, Backend::Server(store)) => {
                let key = id.key(&self.config().key_prefix);
                let record = store.load(&key, now).await?;
                self.found(id, *stale_key, key, record)
            }
            _ => None,
        };
        Ok(self.settle(found, parts, now))
    }

    /// What a store's answer for the request's id means.
    fn found(
        &self,
        id: &SessionId,
        stale_key: bool,
        key: SessionKey,
        record: Option<Record>,
    ) -> Option<(Existing, bool, Record)> {
        match record {
            Some(record) => Some((
                Existing::Server {
                    id: id.clone(),
                    key,
                },
                stale_key,
                record,
            )),
            None => {
                not_found(&key);
                None
            }
        }
    }

    /// Applies the runtime's own checks to a loaded session and takes it into the request's
    /// state (unless another extractor of the request got there first); returns the state,
    /// locked. `now` is the time of the load, read only when a session was `found`.
    fn settle(
        &self,
        found: Option<(Existing, bool, Record)>,
        parts: &http::request::Parts,
        now: UnixMillis,
    ) -> MutexGuard<'_, State> {
        // Checked in place: the loaded session is moved once, into the state.
        let acceptable = found
            .as_ref()
            .is_some_and(|(existing, _, record)| self.acceptable(existing, record, parts, now));
        let mut st = self.lock();
        // Two extractors of one request may both have loaded (joined futures): the first to
        // get here keeps its result.
        if !self.is_loaded() {
            if let Some((existing, stale_key, record)) = found.filter(|_| acceptable) {
                st.existing = Some(existing);
                st.stale_key = stale_key;
                st.base = Base(Some(record.fields));
                st.created_at = record.created_at;
                st.expires_at = record.expires_at;
                st.owner = record.owner;
            }
            self.loaded.store(true, Ordering::Release);
        }
        st
    }

    /// The cookie store's load: opens and checks the sealed session. Out of line: the other
    /// backends' load path stays small without its logs and JSON decoding.
    #[inline(never)]
    fn open_sealed(
        &self,
        keys: &CookieKeys,
        value: &str,
        now: UnixMillis,
    ) -> Option<(Existing, bool, Record)> {
        let Some((plain, index)) = keys.open(&self.config().cookie_name, value) else {
            tracing::warn!(cookie = %value_tag(value), "session cookie rejected: {}", Rejection::Tampered.as_str());
            return None;
        };
        let Ok(sealed) = serde_json::from_slice::<Sealed>(&plain) else {
            tracing::warn!(cookie = %value_tag(value), "sealed session cookie has an unknown format; starting a fresh one");
            return None;
        };
        if sealed.e <= now {
            tracing::debug!(cookie = %value_tag(value), "session expired; starting a fresh one");
            return None;
        }
        let record = Record::new(sealed.f, sealed.c, sealed.e);
        Some((Existing::Cookie, index > 0, record))
    }

    /// The checks the runtime applies on top of the store's own expiry check.
    fn acceptable(
        &self,
        existing: &Existing,
        record: &Record,
        parts: &http::request::Parts,
        now: UnixMillis,
    ) -> bool {
        if self.config().past_absolute(record.created_at, now) {
            refused(
                existing,
                "session expired (absolute timeout); starting a fresh one",
            );
            return false;
        }
        if let Some(valid) = &self.config().validator {
            let info = SessionInfo {
                fields: &record.fields,
                created_at: record.created_at,
                expires_at: record.expires_at,
            };
            if !valid(&info, parts) {
                refused(
                    existing,
                    "session rejected by the validator; starting a fresh one",
                );
                return false;
            }
        }
        true
    }

    /// Whether no stored session backs this request (valid only after load).
    pub(crate) fn is_new(&self) -> bool {
        self.lock().existing.is_none()
    }

    /// Builds typed data from the loaded fields plus this request's earlier changes.
    fn materialize<T: SessionData>(&self, st: &mut State) -> T::View {
        if let Some(owner) = T::FIELDS.iter().find(|f| f.is_user_id() && !f.is_skipped()) {
            st.owner_field = Some(owner.name());
        }
        let mut data = T::default_session();
        for (index, field) in T::FIELDS.iter().enumerate() {
            if field.is_skipped() {
                continue;
            }
            let name = field.name();
            let value = match st.changes.iter().find(|(n, _)| same_name(n, name)) {
                Some((_, change)) => change.as_ref(),
                None => st.base.get(name),
            };
            if let Some(value) = value {
                if let Err(error) = data.decode_field(index, value) {
                    undecodable(name, st.existing.as_ref(), &error);
                    data.reset_field(index);
                }
            }
        }
        T::View::from_tracked(Tracked::new(data))
    }

    /// Takes the dirty fields of a view into the request's changes.
    pub(crate) fn absorb<T: SessionData>(&self, tracked: &mut Tracked<T>) {
        if !tracked.any_dirty() {
            return;
        }
        let mut st = self.lock();
        if st.finished {
            changed_too_late();
            tracked.clear_marks();
            return;
        }
        for index in tracked.dirty().iter() {
            let Some(field) = T::FIELDS.get(index) else {
                continue;
            };
            if field.is_skipped() {
                continue;
            }
            let change = if tracked.is_reset(index) {
                None
            } else {
                match tracked.data().encode_field(index) {
                    Ok(v) => Some(v),
                    Err(source) => {
                        st.error.get_or_insert(CommitError::Encode {
                            field: field.name(),
                            source,
                        });
                        continue;
                    }
                }
            };
            put(&mut st.changes, Cow::Borrowed(field.name()), change);
        }
        tracked.clear_marks();
    }

    /// Marks the session for a new id at commit, keeping its data.
    pub(crate) fn regenerate(&self) {
        let mut st = self.lock();
        if st.action != Action::Destroy {
            st.action = Action::Regenerate;
        }
    }

    /// Marks the session for deletion at commit. Changes made afterwards start a new session.
    pub(crate) fn destroy(&self) {
        let mut st = self.lock();
        st.action = Action::Destroy;
        st.base = Base(None);
        st.changes.clear();
    }

    /// Gives this session its own lifetime ("remember me"): a persistent cookie that lasts
    /// `ttl` from now (capped by the absolute timeout).
    pub(crate) fn remember_for(&self, ttl: std::time::Duration) {
        let ms = crate::config::millis(ttl).max(1);
        let mut st = self.lock();
        put(
            &mut st.changes,
            Cow::Borrowed(TTL_FIELD),
            Json::encode(&ms).ok(),
        );
    }

    /// The end of the request without waiting: when nothing needs the store (the session was
    /// never loaded, nothing about it changed, or changes are not committed automatically), or
    /// when the write due is the common patch that [`commit_patch_now`](Self::commit_patch_now)
    /// makes. `None` means another store write is due: use [`finish`](Self::finish).
    pub(crate) fn finish_now(&self) -> Option<Result<CookieOut, CommitError>> {
        let config = self.config();
        let mut st = self.lock();
        if config.auto_commit && !st.nothing_due(self.is_loaded(), false, config.slides()) {
            // What both synchronous commits need: a store that never waits, and nothing that
            // only `commit` handles (a before-save hook, an error to report, an action).
            let store = match &self.shared.backend {
                Backend::Server(store) => store.sync()?,
                Backend::Cookie(_) => return None,
            };
            if config.before_save.is_some() || st.error.is_some() || st.action != Action::None {
                return None;
            }
            let done = if st.existing.is_some() {
                self.commit_patch_now(store, &mut st)
            } else {
                self.commit_create_now(store, &mut st)
            };
            return done.map(|result| st.close(result));
        }
        if !config.auto_commit && (!st.changes.is_empty() || st.action != Action::None) {
            tracing::debug!("manual commit mode: unsaved session changes discarded");
        }
        let result = st.error.take().map_or(Ok(()), Err);
        Some(st.close(result))
    }

    /// The end-of-request commit of the common write without a future: one patch of an
    /// existing session, in a store with a synchronous face, that sets fields and re-issues no
    /// cookie. `None` leaves every other case to [`finish`](Self::finish), which decides these
    /// the same way: the guards below are the conditions under which its general path makes
    /// exactly this one patch.
    fn commit_patch_now(
        &self,
        store: &dyn SyncSessionStore,
        st: &mut State,
    ) -> Option<Result<(), CommitError>> {
        let config = self.config();
        let Some(Existing::Server { key, .. }) = &st.existing else {
            return None;
        };
        let owner_written = st
            .owner_field
            .is_some_and(|f| st.changes.iter().any(|(n, _)| same_name(n, f)));
        if st.stale_key
            || owner_written
            || st.changes.is_empty()
            || st
                .changes
                .iter()
                .any(|(n, change)| change.is_none() || same_name(n, TTL_FIELD))
        {
            return None;
        }
        let now = self.now();
        // Without an idle timeout or `renew` no deadline slides, whatever the session's own
        // lifetime: the stored one is not even looked up.
        let (slide, ttl) = if config.slides() {
            let ttl = ttl_of(st.base.map(), &st.changes);
            (config.slide(st.created_at, st.expires_at, ttl, now), ttl)
        } else {
            (None, None)
        };
        if slide.is_some() && (config.persistent(ttl) || config.renew) {
            // The moved deadline goes into the cookie too.
            return None;
        }
        let key = *key;
        // As the last commit does: give up the request's share of the fields before writing,
        // so that an in-process store patches its copy in place.
        st.base = Base(None);
        // The guards leave no removals: every change sets a value, which the store may take
        // over instead of copying.
        let written = store.set_now(&key, &mut st.changes, slide, now);
        let result = match written {
            Ok(Patched::Applied) => Ok(()),
            Ok(Patched::Gone) => {
                warn_gone(&key);
                st.cookie = CookieOut::Clear;
                Ok(())
            }
            Err(e) => Err(e.into()),
        };
        // Taken or not, the values are the store's now (or lost with the failed write, which
        // answers 500 and ends the request).
        st.changes.clear();
        Some(result)
    }

    /// The end-of-request commit of a new session without a future: fields were set on a
    /// request that has no stored session, in a store with a synchronous face. `None` leaves
    /// every other case to [`finish`](Self::finish); for this one its general path makes the
    /// same single create (same fields, deadline, owner, id retries and cookie).
    fn commit_create_now(
        &self,
        store: &dyn SyncSessionStore,
        st: &mut State,
    ) -> Option<Result<(), CommitError>> {
        let config = self.config();
        // `finish_now` calls this only for a request without a stored session.
        if st.changes.iter().all(|(_, change)| change.is_none()) {
            return None;
        }
        let now = self.now();
        let changes = std::mem::take(&mut st.changes);
        let ttl = ttl_of(st.base.map(), &changes);
        // Removals of fields a new session does not hold change nothing.
        let fields = apply(FieldMap::default(), changes);
        let expires_at = config.deadline(now, now, ttl);
        let owner = self.owner_of(st.owner_field, &fields);
        let record = Record::new(fields, now, expires_at).with_owner(owner);
        for _ in 0..ID_ATTEMPTS {
            let (id, key) = match self.fresh_id() {
                Ok(fresh) => fresh,
                Err(e) => return Some(Err(e)),
            };
            match store.create_now(&key, &record) {
                Ok(Created::Inserted) => {
                    st.cookie = self.set_id(&id, ttl, expires_at, now);
                    st.existing = Some(Existing::Server { id, key });
                    st.owner = record.owner;
                    st.created_at = now;
                    st.expires_at = expires_at;
                    st.saved = true;
                    return Some(Ok(()));
                }
                Ok(Created::Collision) => warn_collision(),
                Err(e) => return Some(Err(e.into())),
            }
        }
        Some(Err(CommitError::IdCollisions))
    }

    /// Whether no store call of this request can wait: the store has a synchronous face
    /// ([`SessionStore::as_sync`](crate::SessionStore::as_sync)) or the session lives in the
    /// cookie. Then [`finish`](Self::finish) completes within its first poll.
    pub(crate) fn commits_inline(&self) -> bool {
        match &self.shared.backend {
            Backend::Cookie(_) => true,
            Backend::Server(store) => store.sync().is_some(),
        }
    }

    /// The end of the request when [`finish_now`](Self::finish_now) found a store write due:
    /// commits the pending changes and returns the cookie decision of the whole request.
    pub(crate) async fn finish(&self) -> Result<CookieOut, CommitError> {
        let result = self.commit(false, true).await;
        self.lock().close(result)
    }

    /// Makes the store agree with this request's pending changes.
    ///
    /// Exactly one of: nothing; create (new session with data); patch (existing session with
    /// dirty fields, possibly moving its expiry); touch (only the expiry moves); create +
    /// delete (regenerate); delete (+ create if written after destroy). `force` (an explicit
    /// `save()`) also creates an empty new session and refreshes an existing one once.
    ///
    /// `last` marks the end-of-request commit: nothing reads the state afterwards, so the
    /// request gives up its share of the loaded fields before writing (an in-process store can
    /// then patch its copy in place) and does not rebuild them after.
    pub(crate) async fn commit(&self, force: bool, last: bool) -> Result<(), CommitError> {
        let snapshot = {
            let mut st = self.lock();
            if let Some(e) = st.error.take() {
                return Err(e);
            }
            let force = force && !st.saved;
            if st.nothing_due(self.is_loaded(), force, self.config().slides()) {
                return Ok(());
            }
            Snapshot {
                action: st.action,
                existing: if last {
                    st.existing.take()
                } else {
                    st.existing.clone()
                },
                stale_key: st.stale_key,
                changes: std::mem::take(&mut st.changes),
                base: if last {
                    std::mem::take(&mut st.base)
                } else {
                    st.base.clone()
                },
                created_at: st.created_at,
                expires_at: st.expires_at,
                owner_field: st.owner_field,
                owner: st.owner.clone(),
                force,
                last,
            }
        };
        let now = self.now();
        match self.execute(snapshot, now).await {
            Ok(outcome) => {
                let mut st = self.lock();
                if let Some(out) = outcome.cookie {
                    st.cookie = out;
                }
                if let Some(NewState {
                    existing,
                    base,
                    created_at,
                    expires_at,
                    owner,
                }) = outcome.state
                {
                    st.existing = existing;
                    st.owner = owner;
                    st.base = base;
                    st.created_at = created_at;
                    st.expires_at = expires_at;
                    st.stale_key = false;
                    st.action = Action::None;
                    st.saved = true;
                }
                Ok(())
            }
            Err(failed) => {
                let Failed { error, changes } = *failed;
                // Put the changes back so a retry (or the final commit) still has them.
                let mut st = self.lock();
                let later = std::mem::replace(&mut st.changes, changes);
                for (n, c) in later {
                    put(&mut st.changes, n, c);
                }
                Err(error)
            }
        }
    }

    async fn execute(&self, s: Snapshot, now: UnixMillis) -> Result<Outcome, Box<Failed>> {
        let config = self.config();
        let ttl = ttl_of(s.base.map(), &s.changes);
        let ttl_changed = s.changes.iter().any(|(n, _)| same_name(n, TTL_FIELD));
        let mut changes = s.changes;
        // Removing a field the session does not hold changes nothing (typically a flash
        // field read while empty): not worth a write.
        changes.retain(|(name, change)| change.is_some() || s.base.contains_key(name.as_ref()));
        let fail = |e: CommitError, changes: Changes| Err(Failed::new(e, changes));
        // Where an existing session's deadline moves now, if anywhere: a new "remember me"
        // lifetime restarts it, otherwise the idle/renew rule decides.
        let slid = || {
            if ttl_changed {
                Some(config.deadline(s.created_at, now, ttl))
            } else {
                config.slide(s.created_at, s.expires_at, ttl, now)
            }
        };

        match (s.action, s.existing) {
            (Action::None, Some(existing)) => {
                let slide = slid();
                let refresh = s.force && slide.is_none();
                let new_expiry = slide
                    .or(refresh.then(|| config.deadline(s.created_at, now, ttl).max(s.expires_at)));
                if changes.is_empty() && new_expiry.is_none() {
                    // Nothing to write; re-issue a cookie signed or sealed by an older key.
                    if s.stale_key {
                        return match &existing {
                            Existing::Server { id, .. } => {
                                Ok(Outcome::cookie(self.set_id(id, ttl, s.expires_at, now)))
                            }
                            Existing::Cookie => match self.seal(
                                s.base.to_map(),
                                s.created_at,
                                s.expires_at,
                                ttl,
                                now,
                            ) {
                                Ok(out) => Ok(Outcome::cookie(out)),
                                Err(e) => fail(e, changes),
                            },
                        };
                    }
                    return Ok(Outcome::none());
                }
                if !changes.is_empty() {
                    self.before_save(&mut changes, false);
                }
                let expires_at = new_expiry.unwrap_or(s.expires_at);
                let reissue = s.stale_key
                    || s.force
                    || (new_expiry.is_some() && (config.persistent(ttl) || config.renew));
                match existing {
                    Existing::Cookie => {
                        let fields = apply(s.base.to_map(), changes);
                        match self.seal(fields.clone(), s.created_at, expires_at, ttl, now) {
                            Ok(out) => Ok(Outcome::saved(
                                out,
                                Some(Existing::Cookie),
                                fields,
                                s.created_at,
                                expires_at,
                            )),
                            Err(e) => fail(e, Changes::new()),
                        }
                    }
                    Existing::Server { id, key } => {
                        let Backend::Server(store) = &self.shared.backend else {
                            unreachable!("server session without a store")
                        };
                        let base = if s.last {
                            drop(s.base);
                            None
                        } else {
                            Some(s.base)
                        };
                        // The owner changes when this request wrote the `user_id` field.
                        let new_owner: Option<Option<String>> = s
                            .owner_field
                            .and_then(|f| changes.iter().find(|(n, _)| same_name(n, f)))
                            .map(|(_, v)| {
                                owner_json(v.as_ref()).map(|j| owner_tag(&config.key_prefix, j))
                            });
                        let result = if changes.is_empty() {
                            store.touch_any(&key, expires_at, now).await
                        } else {
                            let (set, remove) = patch_lists(&changes);
                            let mut patch = Patch::new();
                            patch.set = PatchList::borrowed(&set);
                            patch.remove = PatchList::borrowed(&remove);
                            if new_expiry.is_some() {
                                patch = patch.expires_at(expires_at);
                            }
                            if let Some(new_owner) = &new_owner {
                                patch.owner = Some(new_owner.as_deref());
                            }
                            store.patch_any(&key, &patch, now).await
                        };
                        match result {
                            Ok(Patched::Applied) => {
                                let cookie = if reissue {
                                    Some(self.set_id(&id, ttl, expires_at, now))
                                } else {
                                    None
                                };
                                let state = base.map(|base| NewState {
                                    existing: Some(Existing::Server { id, key }),
                                    base: Base::of(apply(base.to_map(), changes)),
                                    created_at: s.created_at,
                                    expires_at,
                                    owner: new_owner.unwrap_or(s.owner),
                                });
                                Ok(Outcome { cookie, state })
                            }
                            Ok(Patched::Gone) => {
                                warn_gone(&key);
                                Ok(Outcome::saved(
                                    CookieOut::Clear,
                                    None,
                                    FieldMap::default(),
                                    now,
                                    now,
                                ))
                            }
                            Err(e) => fail(e.into(), changes),
                        }
                    }
                }
            }
            (Action::None, None) => {
                if !s.force && changes.iter().all(|(_, c)| c.is_none()) {
                    // New and never populated: nothing stored, no cookie.
                    return Ok(Outcome::none());
                }
                self.before_save(&mut changes, true);
                let fields = apply(FieldMap::default(), changes);
                let expires_at = config.deadline(now, now, ttl);
                let owner = self.owner_of(s.owner_field, &fields);
                self.create_new(fields, now, expires_at, ttl, owner, now)
                    .await
            }
            (Action::Regenerate, existing) => {
                self.before_save(&mut changes, existing.is_none());
                let fields = apply(s.base.to_map(), changes);
                let (created_at, expires_at) = match &existing {
                    Some(_) => (s.created_at, slid().unwrap_or(s.expires_at)),
                    None => (now, config.deadline(now, now, ttl)),
                };
                let outcome = if fields.is_empty() {
                    let out = if existing.is_some() || self.incoming.had_cookie() {
                        CookieOut::Clear
                    } else {
                        CookieOut::Keep
                    };
                    Outcome::saved(out, None, FieldMap::default(), now, now)
                } else {
                    // Keep the stored owner when this request never saw the `user_id` field.
                    let owner = match s.owner_field {
                        Some(_) => self.owner_of(s.owner_field, &fields),
                        None => s.owner.clone(),
                    };
                    self.create_new(fields, created_at, expires_at, ttl, owner, now)
                        .await?
                };
                if let Some(Existing::Server { key, .. }) = existing {
                    self.delete(&key)
                        .await
                        .map_err(|e| Failed::new(e, Changes::new()))?;
                }
                Ok(outcome)
            }
            (Action::Destroy, existing) => {
                if let Some(Existing::Server { key, .. }) = &existing {
                    if let Err(e) = self.delete(key).await {
                        return fail(e, changes);
                    }
                }
                if changes.iter().any(|(_, c)| c.is_some()) {
                    self.before_save(&mut changes, true);
                    let fields = apply(FieldMap::default(), changes);
                    let ttl = ttl_of(Some(&fields), &Changes::new());
                    let expires_at = config.deadline(now, now, ttl);
                    let owner = self.owner_of(s.owner_field, &fields);
                    return self
                        .create_new(fields, now, expires_at, ttl, owner, now)
                        .await;
                }
                let out = if existing.is_some() || self.incoming.had_cookie() {
                    CookieOut::Clear
                } else {
                    CookieOut::Keep
                };
                Ok(Outcome::saved(out, None, FieldMap::default(), now, now))
            }
        }
    }

    fn before_save(&self, changes: &mut Changes, is_new: bool) {
        if let Some(hook) = &self.config().before_save {
            hook(&mut PendingSave { changes, is_new });
        }
    }

    async fn delete(&self, key: &SessionKey) -> Result<(), CommitError> {
        match &self.shared.backend {
            Backend::Server(store) => Ok(store.delete_any(key).await?),
            Backend::Cookie(_) => Ok(()),
        }
    }

    /// Stores a brand-new session (under a fresh id, or sealed into the cookie).
    async fn create_new(
        &self,
        fields: FieldMap,
        created_at: UnixMillis,
        expires_at: UnixMillis,
        ttl: Option<UnixMillis>,
        owner: Option<String>,
        now: UnixMillis,
    ) -> Result<Outcome, Box<Failed>> {
        let store = match &self.shared.backend {
            Backend::Cookie(_) => {
                return match self.seal(fields.clone(), created_at, expires_at, ttl, now) {
                    Ok(out) => Ok(Outcome::saved(
                        out,
                        Some(Existing::Cookie),
                        fields,
                        created_at,
                        expires_at,
                    )),
                    Err(e) => Err(Failed::new(e, Changes::new())),
                };
            }
            Backend::Server(store) => store,
        };
        let record = Record::new(fields, created_at, expires_at).with_owner(owner.clone());
        for _ in 0..ID_ATTEMPTS {
            let (id, key) = match self.fresh_id() {
                Ok(fresh) => fresh,
                Err(e) => return Err(Failed::new(e, Changes::new())),
            };
            match store.create_any(&key, &record).await {
                Ok(Created::Inserted) => {
                    let out = self.set_id(&id, ttl, expires_at, now);
                    return Ok(Outcome {
                        cookie: Some(out),
                        state: Some(NewState {
                            existing: Some(Existing::Server { id, key }),
                            base: Base(Some(record.fields)),
                            created_at,
                            expires_at,
                            owner,
                        }),
                    });
                }
                Ok(Created::Collision) => warn_collision(),
                Err(e) => return Err(Failed::new(e.into(), Changes::new())),
            }
        }
        Err(Failed::new(CommitError::IdCollisions, Changes::new()))
    }

    fn owner_of(&self, field: Option<&str>, fields: &FieldMap) -> Option<String> {
        owner_json(field.and_then(|f| fields.get(f)))
            .map(|j| owner_tag(&self.config().key_prefix, j))
    }

    /// A new id for a session being created, and its store key.
    fn fresh_id(&self) -> Result<(SessionId, SessionKey), CommitError> {
        let id = match &self.config().id_generator {
            None => SessionId::generate(),
            Some(generate) => {
                SessionId::parse_custom(generate()).ok_or(CommitError::InvalidGeneratedId)?
            }
        };
        let key = id.key(&self.config().key_prefix);
        Ok((id, key))
    }

    fn max_age(
        &self,
        ttl: Option<UnixMillis>,
        expires_at: UnixMillis,
        now: UnixMillis,
    ) -> Option<i64> {
        self.config()
            .persistent(ttl)
            .then(|| (expires_at - now).max(0) / 1000)
    }

    fn set_id(
        &self,
        id: &SessionId,
        ttl: Option<UnixMillis>,
        expires_at: UnixMillis,
        now: UnixMillis,
    ) -> CookieOut {
        let c = self.config();
        CookieOut::Set {
            value: c.codec.encode(id, &c.cookie_name),
            max_age: self.max_age(ttl, expires_at, now),
        }
    }

    /// Seals a whole session into a cookie value, refusing one the browser would drop.
    fn seal(
        &self,
        fields: FieldMap,
        created_at: UnixMillis,
        expires_at: UnixMillis,
        ttl: Option<UnixMillis>,
        now: UnixMillis,
    ) -> Result<CookieOut, CommitError> {
        let Backend::Cookie(keys) = &self.shared.backend else {
            unreachable!("sealing without the cookie store")
        };
        let name = &self.config().cookie_name;
        let plain = serde_json::to_vec(&Sealed {
            v: 1,
            c: created_at,
            e: expires_at,
            f: fields,
        })
        .map_err(|source| CommitError::Encode {
            field: "(whole session)",
            source,
        })?;
        let size = name.len() + CookieKeys::sealed_len(plain.len());
        check_cookie_size(size)?;
        let value = keys.seal(name, &plain);
        Ok(CookieOut::Set {
            value: CookieValue::Text(value),
            max_age: self.max_age(ttl, expires_at, now),
        })
    }

    pub(crate) fn set_cookie_header(&self, out: &CookieOut) -> Option<HeaderValue> {
        let text = match out {
            CookieOut::Keep => return None,
            CookieOut::Set { value, max_age } => {
                self.config().set_cookie(Some(value.as_bytes()), *max_age)
            }
            CookieOut::Clear => self.config().set_cookie(None, None),
        };
        // The cookie name, path and domain were validated and the value is base64url, so
        // this cannot fail; if it ever did, sending no cookie is the safe outcome.
        HeaderValue::try_from(text).ok()
    }
}

/// Refuses a cookie whose name plus value exceeds what browsers keep.
pub(crate) fn check_cookie_size(size: usize) -> Result<(), CommitError> {
    if size > COOKIE_SIZE_LIMIT {
        return Err(CommitError::CookieTooLarge {
            size,
            limit: COOKIE_SIZE_LIMIT,
        });
    }
    Ok(())
}

/// How many fresh ids a create tries before giving up with [`CommitError::IdCollisions`].
const ID_ATTEMPTS: usize = 4;

fn warn_collision() {
    tracing::warn!("session id collision; generating another id");
}

fn warn_gone(key: &SessionKey) {
    tracing::warn!(
        session = %key.log_tag(),
        "session was destroyed or expired while this request changed it; \
         the change was not saved and the cookie is cleared"
    );
}

/// Records a change to field `name`, replacing an earlier change to the same field.
pub(crate) fn put(changes: &mut Changes, name: Cow<'static, str>, change: Option<Json>) {
    match changes.iter_mut().find(|(n, _)| same_name(n, &name)) {
        Some(slot) => slot.1 = change,
        None => changes.push((name, change)),
    }
}

struct Snapshot {
    action: Action,
    existing: Option<Existing>,
    stale_key: bool,
    changes: Changes,
    base: Base,
    created_at: UnixMillis,
    expires_at: UnixMillis,
    owner_field: Option<&'static str>,
    owner: Option<String>,
    force: bool,
    last: bool,
}

/// A failed commit: the error, and the changes it did not save (put back for a retry).
/// Boxed: it is the rare path, and the changes are kept inline.
struct Failed {
    error: CommitError,
    changes: Changes,
}

impl Failed {
    fn new(error: CommitError, changes: Changes) -> Box<Self> {
        Box::new(Failed { error, changes })
    }
}

struct NewState {
    existing: Option<Existing>,
    base: Base,
    created_at: UnixMillis,
    expires_at: UnixMillis,
    owner: Option<String>,
}

struct Outcome {
    cookie: Option<CookieOut>,
    state: Option<NewState>,
}

impl Outcome {
    fn none() -> Self {
        Outcome {
            cookie: None,
            state: None,
        }
    }
    fn cookie(out: CookieOut) -> Self {
        Outcome {
            cookie: Some(out),
            state: None,
        }
    }
    fn saved(
        out: CookieOut,
        existing: Option<Existing>,
        fields: FieldMap,
        created_at: UnixMillis,
        expires_at: UnixMillis,
    ) -> Self {
        let state = NewState {
            existing,
            base: Base::of(fields),
            created_at,
            expires_at,
            owner: None,
        };
        Outcome {
            cookie: Some(out),
            state: Some(state),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cookie_size_limit_is_name_plus_value() {
        assert!(check_cookie_size(COOKIE_SIZE_LIMIT - 1).is_ok());
        assert!(check_cookie_size(COOKIE_SIZE_LIMIT).is_ok());
        assert!(matches!(
            check_cookie_size(COOKIE_SIZE_LIMIT + 1),
            Err(CommitError::CookieTooLarge {
                size: 4097,
                limit: 4096
            })
        ));
    }

    /// A layer's shared part with `config` and a memory store.
    fn server(config: Config) -> Shared {
        Shared {
            config,
            backend: Backend::Server(Arc::new(crate::MemoryStore::new())),
        }
    }

    fn incoming(cookie_headers: &[&[u8]]) -> Incoming {
        let shared = server(Config::default());
        let mut headers = http::HeaderMap::new();
        for h in cookie_headers {
            headers.append(
                http::header::COOKIE,
                http::HeaderValue::from_bytes(h).unwrap(),
            );
        }
        Incoming::from_headers(&headers, &shared)
    }

    #[test]
    fn the_session_cookie_is_found_by_its_exact_name_among_others() {
        let id = SessionId::generate();
        let id = id.as_str();
        let found = |headers: &[&[u8]]| match incoming(headers) {
            Incoming::Id { id: got, .. } => got.as_str() == id,
            _ => false,
        };
        for text in [
            format!("sid={id}"),
            format!("  sid = {id} ;"),
            format!("a=1;sid={id};b=2"),
            format!("sidx=1; xsid=2; sid={id}; sid2=3"),
            format!("name=Zo\u{eb}; sid=\"{id}\""),
            format!("broken; =; sid={id}"),
        ] {
            assert!(found(&[text.as_bytes()]), "{text}");
        }
        let mut other = b"x=\xff\xfe; sid=".to_vec();
        other.extend_from_slice(id.as_bytes());
        assert!(found(&[&other]), "non-UTF-8 bytes in another cookie");
        assert!(found(&[b"a=b", format!("sid={id}").as_bytes()]));
        for text in ["", "sid", "sidx=1", "a=sid=1", "s id=1", ";;;", "xsid=abc"] {
            assert!(
                matches!(incoming(&[text.as_bytes()]), Incoming::Absent),
                "{text}"
            );
        }
        for headers in [
            &[format!("sid={id}; sid={id}").as_bytes()][..],
            &[
                format!("sid={id}").as_bytes(),
                format!("sid={id}").as_bytes(),
            ],
            &[b"sid=\xff\xfe"],
            &[b"sid=short"],
        ] {
            assert!(matches!(incoming(headers), Incoming::Rejected));
        }
    }

    #[test]
    fn a_session_cookie_that_is_not_utf8_is_malformed_in_every_mode() {
        // An id of the right length with one byte that is not UTF-8: checked as bytes, it
        // must still be refused, whatever the codec and whether ids are custom.
        let id = SessionId::generate();
        let mut value = id.as_str().as_bytes().to_vec();
        value[20] = 0xff;
        let mut header = b"sid=".to_vec();
        header.extend_from_slice(&value);
        let keys = CookieKeys::new([[7u8; 32]]).unwrap();
        let configs = [
            Config::default(),
            Config {
                id_generator: Some(Arc::new(|| "abc".to_owned())),
                ..Config::default()
            },
            Config {
                codec: crate::id::Codec::Signed(keys.clone()),
                ..Config::default()
            },
            Config {
                codec: crate::id::Codec::Encrypted(keys.clone()),
                ..Config::default()
            },
        ];
        let mut headers = http::HeaderMap::new();
        headers.append(
            http::header::COOKIE,
            http::HeaderValue::from_bytes(&header).unwrap(),
        );
        for config in configs {
            assert!(matches!(
                Incoming::from_headers(&headers, &server(config)),
                Incoming::Rejected
            ));
        }
        let sealed = Shared {
            backend: Backend::Cookie(keys),
            ..server(Config::default())
        };
        assert!(matches!(
            Incoming::from_headers(&headers, &sealed),
            Incoming::Rejected
        ));
    }
}
