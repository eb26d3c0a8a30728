//! Per-request session state: what the cookie said, what was loaded, what changed, and the
//! commit that turns the dirty flags into exactly one store operation.

use std::sync::{Arc, Mutex, MutexGuard};

use http::header::{HeaderValue, SET_COOKIE};
use serde_json::value::RawValue;

use crate::config::{Config, MAX_COOKIE_VALUE};
use crate::data::{SessionData, SessionView, Tracked};
use crate::error::CommitError;
use crate::id::{decode_cookie_value, encode_cookie_value, Decoded, SessionId, SessionKey};
use crate::store::{Created, DynStore, FieldMap, Patch, Patched, Record, StoreError, UnixMillis};

/// Shared by every request that passes through one layer.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) config: Config,
    pub(crate) store: Arc<dyn DynStore>,
}

/// What the request's cookies said about the session.
#[derive(Debug)]
pub(crate) enum Incoming {
    /// No session cookie.
    Absent,
    /// A session cookie that must not be trusted; the request gets a fresh session.
    Rejected(&'static str),
    /// A well-formed (and, with signing, authentic) id, not yet looked up.
    Id { id: SessionId, stale_key: bool },
}

impl Incoming {
    /// Reads the session cookie from the request headers.
    ///
    /// Rules: every `Cookie` header is scanned; a header that is not valid UTF-8 is ignored;
    /// if the session cookie appears more than once (for example a planted copy with a
    /// narrower `Path`), none of the copies is trusted and the request gets a fresh session.
    pub(crate) fn from_headers(headers: &http::HeaderMap, config: &Config) -> Self {
        let mut found: Option<&str> = None;
        for header in headers.get_all(http::header::COOKIE) {
            let Ok(text) = header.to_str() else { continue };
            for pair in text.split(';') {
                let Some((name, value)) = pair.split_once('=') else {
                    continue;
                };
                if name.trim() != config.cookie_name {
                    continue;
                }
                if found.is_some() {
                    return Incoming::Rejected("duplicated session cookie");
                }
                found = Some(value.trim());
            }
        }
        let Some(value) = found else {
            return Incoming::Absent;
        };
        let value = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or(value);
        if value.len() > MAX_COOKIE_VALUE {
            return Incoming::Rejected("oversized session cookie");
        }
        match decode_cookie_value(value, &config.cookie_name, config.keys.as_ref()) {
            Decoded::Id { id, stale_key } => Incoming::Id { id, stale_key },
            Decoded::Invalid => Incoming::Rejected("malformed or tampered session cookie"),
        }
    }

    fn had_cookie(&self) -> bool {
        !matches!(self, Incoming::Absent)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    None,
    Regenerate,
    Destroy,
}

#[derive(Debug)]
struct Existing {
    id: SessionId,
    key: SessionKey,
    stale_key: bool,
}

#[derive(Debug)]
struct State {
    loaded: bool,
    /// The stored session this request is working on, if any.
    existing: Option<Existing>,
    /// The fields as loaded (or as they will be copied on regenerate).
    base: Arc<FieldMap>,
    created_at: UnixMillis,
    expires_at: UnixMillis,
    /// Changes since load, by stored name: `Some` sets, `None` removes.
    changes: Vec<(&'static str, Option<Box<RawValue>>)>,
    action: Action,
    /// An encode failure from a dropped view; turns the commit into a 500.
    error: Option<CommitError>,
    committed: bool,
}

/// One request's view of its session. Cloned (as an `Arc`) into every extractor.
#[derive(Debug)]
pub(crate) struct RequestSession {
    shared: Arc<Shared>,
    incoming: Incoming,
    state: Mutex<State>,
}

/// What the commit decided to put on the response.
pub(crate) enum CookieOut {
    Keep,
    Set(String),
    Clear,
}

impl RequestSession {
    pub(crate) fn new(shared: Arc<Shared>, incoming: Incoming) -> Self {
        if let Incoming::Rejected(reason) = &incoming {
            tracing::debug!(
                reason,
                "session cookie ignored; a fresh session will be used"
            );
        }
        RequestSession {
            shared,
            incoming,
            state: Mutex::new(State {
                loaded: false,
                existing: None,
                base: Arc::default(),
                created_at: 0,
                expires_at: 0,
                changes: Vec::new(),
                action: Action::None,
                error: None,
                committed: false,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the state half-updated in a way that
        // matters more than the panic itself, so a poisoned lock is simply taken over.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn now(&self) -> UnixMillis {
        self.shared.config.clock.now()
    }

    /// Loads the session from the store once per request.
    pub(crate) async fn ensure_loaded(&self) -> Result<(), StoreError> {
        if self.lock().loaded {
            return Ok(());
        }
        let loaded = match &self.incoming {
            Incoming::Id { id, stale_key } => {
                let key = id.key();
                match self.shared.store.load(&key, self.now()).await? {
                    Some(record) => Some((id.clone(), key, *stale_key, record)),
                    None => {
                        tracing::debug!(session = %key.log_tag(), "unknown or expired session id; a fresh session will be used");
                        None
                    }
                }
            }
            _ => None,
        };
        let mut st = self.lock();
        if !st.loaded {
            st.loaded = true;
            if let Some((id, key, stale_key, record)) = loaded {
                st.existing = Some(Existing { id, key, stale_key });
                st.base = record.fields;
                st.created_at = record.created_at;
                st.expires_at = record.expires_at;
            }
        }
        Ok(())
    }

    /// Whether no stored session backs this request (valid only after load).
    pub(crate) fn is_new(&self) -> bool {
        self.lock().existing.is_none()
    }

    /// Builds typed data from the loaded fields plus this request's earlier changes.
    pub(crate) fn materialize<T: SessionData>(&self) -> T::View {
        let st = self.lock();
        let mut data = T::default_session();
        for (index, field) in T::FIELDS.iter().enumerate() {
            if field.is_skipped() {
                continue;
            }
            let name = field.name();
            let value = match st.changes.iter().find(|(n, _)| *n == name) {
                Some((_, change)) => change.as_deref(),
                None => st.base.get(name).map(|v| &**v),
            };
            if let Some(value) = value {
                if let Err(error) = data.decode_field(index, value) {
                    tracing::warn!(
                        field = name,
                        session = %st.existing.as_ref().map(|e| e.key.log_tag()).unwrap_or_default(),
                        %error,
                        "stored session field no longer decodes; using its default"
                    );
                    data.reset_field(index);
                }
            }
        }
        T::View::from_tracked(Tracked::new(data))
    }

    /// Takes the dirty fields of a view that is going away into the request's changes.
    pub(crate) fn absorb<T: SessionData>(&self, tracked: &mut Tracked<T>) {
        if !tracked.any_dirty() {
            return;
        }
        let mut st = self.lock();
        if st.committed {
            tracing::error!(
                "a session was changed after its response was committed; the change is lost \
                 (do not move `Session` into a task or response body that outlives the handler)"
            );
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
            match st.changes.iter_mut().find(|(n, _)| *n == field.name()) {
                Some(slot) => slot.1 = change,
                None => st.changes.push((field.name(), change)),
            }
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
        st.base = Arc::default();
        st.changes.clear();
    }

    /// Makes the store agree with this request's changes and says what to do with the cookie.
    ///
    /// Exactly one of: nothing; create (new session with data); patch (existing session with
    /// dirty fields); create + delete (regenerate); delete (+ create if written after destroy).
    pub(crate) async fn commit(&self) -> Result<CookieOut, CommitError> {
        let (action, existing, changes, base, created_at, expires_at) = {
            let mut st = self.lock();
            st.committed = true;
            if let Some(e) = st.error.take() {
                return Err(e);
            }
            if !st.loaded {
                return Ok(CookieOut::Keep);
            }
            (
                st.action,
                st.existing.take(),
                std::mem::take(&mut st.changes),
                std::mem::take(&mut st.base),
                st.created_at,
                st.expires_at,
            )
        };
        let store = &self.shared.store;
        let config = &self.shared.config;
        let now = self.now();

        match (action, existing) {
            (Action::None, Some(existing)) => {
                // Release this request's share of the loaded fields first, so an in-process
                // store can patch its copy in place instead of copying the whole map.
                drop(base);
                if changes.is_empty() {
                    return Ok(if existing.stale_key {
                        // Signed with an older key: re-sign with the current one.
                        CookieOut::Set(self.cookie_value(&existing.id))
                    } else {
                        CookieOut::Keep
                    });
                }
                let mut patch = Patch::new();
                for (name, change) in &changes {
                    patch = match change {
                        Some(v) => patch.set(name, v),
                        None => patch.remove(name),
                    };
                }
                match store.patch(&existing.key, &patch, now).await? {
                    Patched::Applied if existing.stale_key => {
                        Ok(CookieOut::Set(self.cookie_value(&existing.id)))
                    }
                    Patched::Applied => Ok(CookieOut::Keep),
                    Patched::Gone => {
                        tracing::warn!(
                            session = %existing.key.log_tag(),
                            "session was destroyed or expired while this request changed it; \
                             the change was not saved and the cookie is cleared"
                        );
                        Ok(CookieOut::Clear)
                    }
                }
            }
            (Action::None, None) => {
                if changes.iter().all(|(_, c)| c.is_none()) {
                    // New and never populated: nothing stored, no cookie.
                    return Ok(CookieOut::Keep);
                }
                let fields = apply(FieldMap::new(), changes);
                let id = self.create(fields, now, now + config.lifetime_ms()).await?;
                Ok(CookieOut::Set(self.cookie_value(&id)))
            }
            (Action::Regenerate, existing) => {
                let fields = apply(Arc::unwrap_or_clone(base), changes);
                let (created_at, expires_at) = match &existing {
                    Some(_) => (created_at, expires_at),
                    None => (now, now + config.lifetime_ms()),
                };
                let out = if fields.is_empty() {
                    if existing.is_some() || self.incoming.had_cookie() {
                        CookieOut::Clear
                    } else {
                        CookieOut::Keep
                    }
                } else {
                    let id = self.create(fields, created_at, expires_at).await?;
                    CookieOut::Set(self.cookie_value(&id))
                };
                if let Some(old) = existing {
                    store.delete(&old.key).await?;
                }
                Ok(out)
            }
            (Action::Destroy, existing) => {
                if let Some(old) = existing {
                    store.delete(&old.key).await?;
                }
                let fields = apply(FieldMap::new(), changes);
                if fields.is_empty() {
                    Ok(if self.incoming.had_cookie() {
                        CookieOut::Clear
                    } else {
                        CookieOut::Keep
                    })
                } else {
                    let id = self.create(fields, now, now + config.lifetime_ms()).await?;
                    Ok(CookieOut::Set(self.cookie_value(&id)))
                }
            }
        }
    }

    /// Inserts a new record under a fresh id, re-rolling the id on a collision.
    async fn create(
        &self,
        fields: FieldMap,
        created_at: UnixMillis,
        expires_at: UnixMillis,
    ) -> Result<SessionId, CommitError> {
        let record = Record::new(fields, created_at, expires_at);
        for _ in 0..4 {
            let id = SessionId::generate();
            match self.shared.store.create(&id.key(), &record).await? {
                Created::Inserted => return Ok(id),
                Created::Collision => {
                    tracing::warn!("session id collision; generating another id");
                }
            }
        }
        Err(CommitError::IdCollisions)
    }

    fn cookie_value(&self, id: &SessionId) -> String {
        let c = &self.shared.config;
        encode_cookie_value(id, &c.cookie_name, c.keys.as_ref())
    }

    pub(crate) fn set_cookie_header(&self, out: &CookieOut) -> Option<HeaderValue> {
        let text = match out {
            CookieOut::Keep => return None,
            CookieOut::Set(value) => self.shared.config.set_cookie(Some(value)),
            CookieOut::Clear => self.shared.config.set_cookie(None),
        };
        // The cookie name, path and domain were validated and the value is base64url, so
        // this cannot fail; if it ever did, sending no cookie is the safe outcome.
        HeaderValue::try_from(text).ok()
    }
}

fn apply(mut fields: FieldMap, changes: Vec<(&'static str, Option<Box<RawValue>>)>) -> FieldMap {
    for (name, change) in changes {
        match change {
            Some(v) => {
                fields.insert(name.to_owned(), v);
            }
            None => {
                fields.remove(name);
            }
        }
    }
    fields
}

pub(crate) const SET_COOKIE_HEADER: http::header::HeaderName = SET_COOKIE;
