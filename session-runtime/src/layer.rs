//! [`SessionLayer`]: the settings, checked once, and where sessions live.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tower_layer::Layer;

use crate::config::{Clock, Config, ConfigError, SameSite};
use crate::hooks::{PendingSave, SessionInfo};
use crate::id::{estimated_bits, Codec};
use crate::keys::CookieKeys;
use crate::manager::SessionManager;
use crate::service::SessionService;
use crate::state::{Backend, Shared};
use crate::store::SessionStore;

/// The tower layer that gives every request behind it a lazily loaded session and commits the
/// dirty fields after the handler.
///
/// Defaults are secure: cookie `sid`, `HttpOnly`, `Secure`, `SameSite=Lax`, `Path=/`, a
/// browser-session cookie and a server-side lifetime of one day.
///
/// Contradictory settings (for example `SameSite=None` without `Secure`, or a `__Host-`
/// cookie with a `Domain`) are reported by [`SessionLayer::check`]; applying an invalid layer
/// to a service panics with the same message, so a misconfiguration stops the application at
/// start-up, never mid-request.
#[derive(Clone, Debug)]
#[must_use]
pub struct SessionLayer {
    /// Built once; every service and manager shares it (axum applies layers per connection,
    /// so applying one must be cheap).
    shared: Arc<Shared>,
    error: Option<ConfigError>,
    /// The result of validating `shared`, computed on first use.
    checked: Arc<OnceLock<Result<(), ConfigError>>>,
}

impl SessionLayer {
    /// A layer that keeps sessions in `store`; the cookie carries only the id.
    pub fn new<S: SessionStore>(store: S) -> Self {
        SessionLayer::from_shared(Shared {
            config: Config::default(),
            backend: Backend::Server(Arc::new(store)),
        })
    }

    /// A layer that keeps each whole session in its own cookie, encrypted and authenticated
    /// with AES-256-GCM (koa-session's default mode, actix's `CookieSessionStore`): no server
    /// state at all.
    ///
    /// The commit rule is the same as with a store: the cookie is re-issued only when a field
    /// was written (or the expiry slides). The expiry travels inside the sealed payload, so an
    /// old cookie is refused after it, whatever the browser does. A session that would not
    /// fit in one cookie (4096 bytes, name plus value) is an error (500), never a truncated
    /// cookie. What it cannot do: revoke a session server-side (a copied cookie stays valid
    /// until it expires), and [`SessionManager::destroy_all_for`] (there is no index).
    pub fn cookie_store(keys: CookieKeys) -> Self {
        SessionLayer::from_shared(Shared {
            config: Config::default(),
            backend: Backend::Cookie(keys),
        })
    }

    fn from_shared(shared: Shared) -> Self {
        SessionLayer {
            shared: Arc::new(shared),
            error: None,
            checked: Arc::default(),
        }
    }

    fn config(&mut self, f: impl FnOnce(&mut Config)) {
        f(&mut Arc::make_mut(&mut self.shared).config);
        self.checked = Arc::default();
    }

    /// The cookie name (default `sid`). Names starting with `__Host-` or `__Secure-` get the
    /// browser-enforced guarantees of those prefixes, and the layer checks their rules.
    pub fn with_cookie_name(mut self, name: impl Into<String>) -> Self {
        let name = name.into();
        self.config(|c| c.cookie_name = name);
        self
    }

    /// The cookie `Path` (default `/`).
    pub fn with_path(mut self, path: impl Into<String>) -> Self {
        let path = path.into();
        self.config(|c| c.path = path);
        self
    }

    /// The cookie `Domain` (default: none, the cookie goes to the exact host only).
    pub fn with_domain(mut self, domain: impl Into<String>) -> Self {
        let domain = domain.into();
        self.config(|c| c.domain = Some(domain));
        self
    }

    /// The `Secure` attribute (default on). Turn it off only for plain-http development:
    /// browsers then send the cookie over unencrypted connections.
    pub fn with_secure(mut self, secure: bool) -> Self {
        self.config(|c| c.secure = secure);
        self
    }

    /// The `HttpOnly` attribute (default on: scripts cannot read the cookie).
    pub fn with_http_only(mut self, http_only: bool) -> Self {
        self.config(|c| c.http_only = http_only);
        self
    }

    /// The `SameSite` attribute (default `Lax`). `None` requires `Secure`.
    pub fn with_same_site(mut self, same_site: SameSite) -> Self {
        self.config(|c| c.same_site = same_site);
        self
    }

    /// The `Partitioned` attribute (CHIPS; default off). Requires `Secure`.
    pub fn with_partitioned(mut self, partitioned: bool) -> Self {
        self.config(|c| c.partitioned = partitioned);
        self
    }

    /// How long a session with a browser-session cookie lives on the server after it is
    /// created (default one day; koa's `maxAge: 'session'`). A session past its lifetime is
    /// never honoured, whether or not the store purged it.
    pub fn with_lifetime(mut self, lifetime: Duration) -> Self {
        self.config(|c| c.lifetime = lifetime);
        self
    }

    /// A persistent cookie: `Max-Age` is set, and the server keeps the session exactly as
    /// long (the cookie's lifetime and the store's expiry always agree).
    pub fn with_max_age(mut self, max_age: Duration) -> Self {
        self.config(|c| c.max_age = Some(max_age));
        self
    }

    /// Sliding expiry (koa/express `rolling`, tower-sessions' `OnInactivity`): a session not
    /// used for this long expires. Each request that uses the session moves the deadline with
    /// the store's cheap `touch` (not a rewrite of the data), at most once per tenth of the
    /// timeout, so read-heavy traffic does not write on every request. Because of that
    /// throttle, a session expires after between 90% and 100% of `idle` without use.
    pub fn with_idle_timeout(mut self, idle: Duration) -> Self {
        self.config(|c| c.idle_timeout = Some(idle));
        self
    }

    /// A hard cap from creation: no activity, no `renew`, no `remember_for` and no cookie edit
    /// can keep a session past this.
    pub fn with_absolute_timeout(mut self, absolute: Duration) -> Self {
        self.config(|c| c.absolute_timeout = Some(absolute));
        self
    }

    /// koa's `renew`: when less than half of the lifetime remains, extend the session and
    /// re-issue the cookie.
    pub fn with_renew(mut self, renew: bool) -> Self {
        self.config(|c| c.renew = renew);
        self
    }

    /// Signs the cookie value (the id) with HMAC-SHA256. The first key signs, every key
    /// verifies; a cookie signed with an older key is re-signed with the first one. A cookie
    /// that fails verification is ignored (the request gets a fresh session).
    pub fn with_signed_cookies(mut self, keys: CookieKeys) -> Self {
        self.set_codec(Codec::Signed(keys));
        self
    }

    /// Encrypts the cookie value (the id) with AES-256-GCM, with the same key rotation as
    /// [`with_signed_cookies`](Self::with_signed_cookies).
    pub fn with_encrypted_cookies(mut self, keys: CookieKeys) -> Self {
        self.set_codec(Codec::Encrypted(keys));
        self
    }

    fn set_codec(&mut self, codec: Codec) {
        if matches!(self.shared.backend, Backend::Cookie(_)) {
            self.error
                .get_or_insert(ConfigError::CookieStoreWithIdCodec);
        }
        self.config(|c| c.codec = codec);
    }

    /// The clock used for expiry (default: the system clock). Meant for tests.
    pub fn with_clock(mut self, clock: impl Clock) -> Self {
        let clock = Arc::new(clock);
        self.config(|c| c.clock = clock);
        self
    }

    /// Generates session ids with `generate` instead of 256 random bits (koa's `genid`). Ids
    /// must be 1–256 characters of `[A-Za-z0-9_-]`. The layer logs a warning at start-up when
    /// a sample id looks like fewer than 128 bits of entropy.
    pub fn with_id_generator(
        mut self,
        generate: impl Fn() -> String + Send + Sync + 'static,
    ) -> Self {
        let sample = generate();
        let bits = estimated_bits(&sample);
        if bits < 128.0 {
            tracing::warn!(
                estimated_bits = bits as u32,
                "the custom session id generator yields ids of fewer than 128 bits; they can be guessed"
            );
        }
        let generate = Arc::new(generate);
        self.config(|c| c.id_generator = Some(generate));
        self
    }

    /// Separates this application's sessions from others sharing the same store: the prefix
    /// is mixed into every store key, so the same id means different records in different
    /// applications. (Table names and key prefixes of the stores themselves are set on the
    /// store.)
    pub fn with_key_prefix(mut self, prefix: impl Into<String>) -> Self {
        let prefix = prefix.into();
        self.config(|c| c.key_prefix = prefix);
        self
    }

    /// Whether dirty sessions are written automatically at the end of each request (default
    /// on). With `false` (koa's `autoCommit: false`) nothing is written unless the handler
    /// calls [`Session::save`](struct@crate::Session).
    pub fn with_auto_commit(mut self, auto_commit: bool) -> Self {
        self.config(|c| c.auto_commit = auto_commit);
        self
    }

    /// koa's `valid`: called for every loaded session; returning `false` discards it (the
    /// request gets a fresh session). Use it to bind sessions to something about the request,
    /// or to retire sessions created before some point.
    pub fn with_validator(
        mut self,
        valid: impl Fn(&SessionInfo<'_>, &http::request::Parts) -> bool + Send + Sync + 'static,
    ) -> Self {
        let valid = Arc::new(valid);
        self.config(|c| c.validator = Some(valid));
        self
    }

    /// koa's `beforeSave`: called just before a write with the fields about to be written;
    /// it may add or remove fields.
    pub fn with_before_save(
        mut self,
        hook: impl Fn(&mut PendingSave<'_>) + Send + Sync + 'static,
    ) -> Self {
        let hook = Arc::new(hook);
        self.config(|c| c.before_save = Some(hook));
        self
    }

    /// A handle for operations outside a request, such as revoking every session of a user.
    pub fn manager(&self) -> SessionManager {
        SessionManager::new(self.shared.clone())
    }

    /// Checks that the settings can work together.
    pub fn check(self) -> Result<Self, ConfigError> {
        self.validation().clone()?;
        Ok(self)
    }

    fn validation(&self) -> &Result<(), ConfigError> {
        self.checked.get_or_init(|| match &self.error {
            Some(e) => Err(e.clone()),
            None => self.shared.config.validate(),
        })
    }
}

impl<S> Layer<S> for SessionLayer {
    type Service = SessionService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        if let Err(e) = self.validation() {
            panic!("invalid session layer configuration: {e}");
        }
        SessionService::new(inner, self.shared.clone())
    }
}
