//! [`SessionLayer`]: the settings, checked once, and the store.

use std::sync::Arc;
use std::time::Duration;

use tower_layer::Layer;

use crate::config::{Clock, Config, ConfigError, SameSite};
use crate::id::SigningKeys;
use crate::service::SessionService;
use crate::state::Shared;
use crate::store::SessionStore;

/// The tower layer that gives every request behind it a lazily loaded session and commits the
/// dirty fields after the handler.
///
/// Defaults are secure: cookie `sid`, `HttpOnly`, `Secure`, `SameSite=Lax`, `Path=/`, a
/// browser-session cookie and a server-side lifetime of one day.
///
/// Contradictory settings (for example `SameSite=None` without `Secure`) are reported by
/// [`SessionLayer::check`]; applying an invalid layer to a service panics with the same
/// message, so a misconfiguration stops the application at start-up, never mid-request.
#[derive(Clone, Debug)]
#[must_use]
pub struct SessionLayer {
    config: Config,
    store: Arc<dyn crate::store::DynStore>,
}

impl SessionLayer {
    /// A layer that keeps sessions in `store`.
    pub fn new<S: SessionStore>(store: S) -> Self {
        SessionLayer {
            config: Config::default(),
            store: Arc::new(store),
        }
    }

    /// The cookie name (default `sid`).
    pub fn with_cookie_name(mut self, name: impl Into<String>) -> Self {
        self.config.cookie_name = name.into();
        self
    }

    /// The cookie `Path` (default `/`).
    pub fn with_path(mut self, path: impl Into<String>) -> Self {
        self.config.path = path.into();
        self
    }

    /// The cookie `Domain` (default: none, the cookie goes to the exact host only).
    pub fn with_domain(mut self, domain: impl Into<String>) -> Self {
        self.config.domain = Some(domain.into());
        self
    }

    /// The `Secure` attribute (default on). Turn it off only for plain-http development:
    /// browsers then send the cookie over unencrypted connections.
    pub fn with_secure(mut self, secure: bool) -> Self {
        self.config.secure = secure;
        self
    }

    /// The `HttpOnly` attribute (default on: scripts cannot read the cookie).
    pub fn with_http_only(mut self, http_only: bool) -> Self {
        self.config.http_only = http_only;
        self
    }

    /// The `SameSite` attribute (default `Lax`). `None` requires `Secure`.
    pub fn with_same_site(mut self, same_site: SameSite) -> Self {
        self.config.same_site = same_site;
        self
    }

    /// How long a session lives on the server after it is created (default one day). A
    /// session past its lifetime is never honoured, whether or not the store purged it.
    pub fn with_lifetime(mut self, lifetime: Duration) -> Self {
        self.config.lifetime = lifetime;
        self
    }

    /// Signs the cookie value with HMAC-SHA256. The first key signs, every key verifies; a
    /// cookie signed with an older key is re-signed with the first one. A cookie that fails
    /// verification is ignored (the request gets a fresh session).
    pub fn with_signing_keys(mut self, keys: SigningKeys) -> Self {
        self.config.keys = Some(keys);
        self
    }

    /// The clock used for expiry (default: the system clock). Meant for tests.
    pub fn with_clock(mut self, clock: impl Clock) -> Self {
        self.config.clock = Arc::new(clock);
        self
    }

    /// Checks that the settings can work together.
    pub fn check(self) -> Result<Self, ConfigError> {
        self.config.validate()?;
        Ok(self)
    }
}

impl<S> Layer<S> for SessionLayer {
    type Service = SessionService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        if let Err(e) = self.config.validate() {
            panic!("invalid session layer configuration: {e}");
        }
        let shared = Arc::new(Shared {
            config: self.config.clone(),
            store: self.store.clone(),
        });
        SessionService::new(inner, shared)
    }
}
