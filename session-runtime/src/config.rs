//! Cookie and expiry settings, checked once when the layer is built.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::id::SigningKeys;
use crate::store::UnixMillis;

/// The `SameSite` attribute of the session cookie.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SameSite {
    /// Sent only on same-site requests.
    Strict,
    /// Sent on same-site requests and top-level navigations (the default).
    #[default]
    Lax,
    /// Sent on every request; requires `Secure`.
    None,
}

impl SameSite {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            SameSite::Strict => "Strict",
            SameSite::Lax => "Lax",
            SameSite::None => "None",
        }
    }
}

/// A source of the current time, so expiry can be tested without sleeping.
pub trait Clock: Send + Sync + 'static {
    /// Milliseconds since the Unix epoch.
    fn now(&self) -> UnixMillis;
}

/// The system clock (the default).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> UnixMillis {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as UnixMillis)
    }
}

/// A settings combination that cannot work; reported when the layer is built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The cookie name is empty or contains characters not allowed in a cookie name.
    #[error("invalid session cookie name `{0}`")]
    InvalidCookieName(String),
    /// The cookie path is empty, does not start with `/`, or has `;` or control characters.
    #[error("invalid session cookie path `{0}`: it must start with `/` and contain no `;`")]
    InvalidPath(String),
    /// The cookie domain has `;` or control characters, or is empty.
    #[error("invalid session cookie domain `{0}`")]
    InvalidDomain(String),
    /// `SameSite=None` without `Secure`: browsers drop such cookies.
    #[error("`SameSite=None` requires the `Secure` attribute")]
    SameSiteNoneWithoutSecure,
    /// A lifetime of zero.
    #[error("the session lifetime must be longer than zero")]
    ZeroLifetime,
}

/// Everything the layer needs to know about cookies and expiry.
#[derive(Clone)]
pub(crate) struct Config {
    pub(crate) cookie_name: String,
    pub(crate) path: String,
    pub(crate) domain: Option<String>,
    pub(crate) secure: bool,
    pub(crate) http_only: bool,
    pub(crate) same_site: SameSite,
    /// Server-side lifetime of a session from its creation.
    pub(crate) lifetime: Duration,
    pub(crate) keys: Option<SigningKeys>,
    pub(crate) clock: Arc<dyn Clock>,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("cookie_name", &self.cookie_name)
            .field("path", &self.path)
            .field("domain", &self.domain)
            .field("secure", &self.secure)
            .field("http_only", &self.http_only)
            .field("same_site", &self.same_site)
            .field("lifetime", &self.lifetime)
            .field("keys", &self.keys)
            .finish_non_exhaustive()
    }
}

/// Longest cookie value the layer will even look at; anything longer is treated as absent.
pub(crate) const MAX_COOKIE_VALUE: usize = 4096;

impl Default for Config {
    fn default() -> Self {
        Config {
            cookie_name: "sid".to_owned(),
            path: "/".to_owned(),
            domain: None,
            secure: true,
            http_only: true,
            same_site: SameSite::Lax,
            lifetime: Duration::from_secs(24 * 60 * 60),
            keys: None,
            clock: Arc::new(SystemClock),
        }
    }
}

fn is_token_char(c: char) -> bool {
    c.is_ascii_graphic() && !"()<>@,;:\\\"/[]?={}".contains(c)
}

impl Config {
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        if self.cookie_name.is_empty() || !self.cookie_name.chars().all(is_token_char) {
            return Err(ConfigError::InvalidCookieName(self.cookie_name.clone()));
        }
        if !self.path.starts_with('/') || self.path.contains(|c: char| c == ';' || c.is_control()) {
            return Err(ConfigError::InvalidPath(self.path.clone()));
        }
        if let Some(d) = &self.domain {
            if d.is_empty() || d.contains(|c: char| c == ';' || c.is_control() || c == ' ') {
                return Err(ConfigError::InvalidDomain(d.clone()));
            }
        }
        if self.same_site == SameSite::None && !self.secure {
            return Err(ConfigError::SameSiteNoneWithoutSecure);
        }
        if self.lifetime.is_zero() {
            return Err(ConfigError::ZeroLifetime);
        }
        Ok(())
    }

    pub(crate) fn lifetime_ms(&self) -> UnixMillis {
        self.lifetime.as_millis().min(i64::MAX as u128) as UnixMillis
    }

    /// Renders a `Set-Cookie` value. `value = None` clears the cookie.
    pub(crate) fn set_cookie(&self, value: Option<&str>) -> String {
        let mut s = String::with_capacity(160);
        s.push_str(&self.cookie_name);
        s.push('=');
        if let Some(v) = value {
            s.push_str(v);
        }
        s.push_str("; Path=");
        s.push_str(&self.path);
        if let Some(d) = &self.domain {
            s.push_str("; Domain=");
            s.push_str(d);
        }
        if value.is_none() {
            s.push_str("; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT");
        }
        if self.http_only {
            s.push_str("; HttpOnly");
        }
        if self.secure {
            s.push_str("; Secure");
        }
        s.push_str("; SameSite=");
        s.push_str(self.same_site.as_str());
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_secure_and_valid() {
        let c = Config::default();
        c.validate().unwrap();
        let v = c.set_cookie(Some("abc"));
        assert_eq!(v, "sid=abc; Path=/; HttpOnly; Secure; SameSite=Lax");
        let cleared = c.set_cookie(None);
        assert!(cleared.starts_with("sid=; Path=/; Max-Age=0;"), "{cleared}");
    }

    #[test]
    fn contradictions_are_refused() {
        let mut c = Config {
            same_site: SameSite::None,
            secure: false,
            ..Config::default()
        };
        assert_eq!(c.validate(), Err(ConfigError::SameSiteNoneWithoutSecure));
        c.secure = true;
        c.validate().unwrap();
        for bad in ["", "a b", "a;b", "a=b"] {
            let c = Config {
                cookie_name: bad.into(),
                ..Config::default()
            };
            assert!(
                matches!(c.validate(), Err(ConfigError::InvalidCookieName(_))),
                "{bad}"
            );
        }
        let c = Config {
            path: "x".into(),
            ..Config::default()
        };
        assert!(matches!(c.validate(), Err(ConfigError::InvalidPath(_))));
        let c = Config {
            domain: Some("a;b".into()),
            ..Config::default()
        };
        assert!(matches!(c.validate(), Err(ConfigError::InvalidDomain(_))));
        let c = Config {
            lifetime: Duration::ZERO,
            ..Config::default()
        };
        assert_eq!(c.validate(), Err(ConfigError::ZeroLifetime));
    }
}
