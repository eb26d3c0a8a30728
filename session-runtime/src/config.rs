//! Cookie and expiry settings, checked once when the layer is built.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::hooks::{BeforeSave, IdGenerator, Validator};
use crate::id::Codec;
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
    /// The cookie domain has `;`, spaces or control characters, or is empty.
    #[error("invalid session cookie domain `{0}`")]
    InvalidDomain(String),
    /// `SameSite=None` without `Secure`: browsers drop such cookies.
    #[error("`SameSite=None` requires the `Secure` attribute")]
    SameSiteNoneWithoutSecure,
    /// `Partitioned` without `Secure`: browsers drop such cookies.
    #[error("`Partitioned` requires the `Secure` attribute")]
    PartitionedWithoutSecure,
    /// A `__Secure-` cookie without `Secure`.
    #[error("a `__Secure-` cookie requires the `Secure` attribute")]
    SecurePrefixWithoutSecure,
    /// A `__Host-` cookie that is not `Secure`, has a `Domain`, or a `Path` other than `/`.
    #[error("a `__Host-` cookie requires `Secure`, `Path=/` and no `Domain`")]
    HostPrefixMisconfigured,
    /// A duration that must be positive is zero.
    #[error("`{0}` must be longer than zero")]
    ZeroDuration(&'static str),
    /// The client-side cookie store keeps the whole session in the cookie, so a separate
    /// signing or encryption setting for the id makes no sense.
    #[error("the cookie store seals the whole session itself; do not also set signed or encrypted id cookies")]
    CookieStoreWithIdCodec,
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
    pub(crate) partitioned: bool,
    /// Server-side lifetime of a browser-session cookie's session (default one day).
    pub(crate) lifetime: Duration,
    /// A persistent cookie with this max age (and the same server-side lifetime).
    pub(crate) max_age: Option<Duration>,
    /// Sliding expiry: a session unused this long expires.
    pub(crate) idle_timeout: Option<Duration>,
    /// Hard cap from creation.
    pub(crate) absolute_timeout: Option<Duration>,
    /// koa's `renew`: re-issue and extend when less than half the lifetime remains.
    pub(crate) renew: bool,
    pub(crate) codec: Codec,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) id_generator: Option<IdGenerator>,
    pub(crate) key_prefix: String,
    pub(crate) auto_commit: bool,
    pub(crate) validator: Option<Validator>,
    pub(crate) before_save: Option<BeforeSave>,
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
            .field("partitioned", &self.partitioned)
            .field("lifetime", &self.lifetime)
            .field("max_age", &self.max_age)
            .field("idle_timeout", &self.idle_timeout)
            .field("absolute_timeout", &self.absolute_timeout)
            .field("renew", &self.renew)
            .field("codec", &self.codec)
            .field("auto_commit", &self.auto_commit)
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
            partitioned: false,
            lifetime: Duration::from_secs(24 * 60 * 60),
            max_age: None,
            idle_timeout: None,
            absolute_timeout: None,
            renew: false,
            codec: Codec::Plain,
            clock: Arc::new(SystemClock),
            id_generator: None,
            key_prefix: String::new(),
            auto_commit: true,
            validator: None,
            before_save: None,
        }
    }
}

fn is_token_char(c: char) -> bool {
    c.is_ascii_graphic() && !"()<>@,;:\\\"/[]?={}".contains(c)
}

pub(crate) fn millis(d: Duration) -> UnixMillis {
    d.as_millis().min(i64::MAX as u128 / 2) as UnixMillis
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
        if self.partitioned && !self.secure {
            return Err(ConfigError::PartitionedWithoutSecure);
        }
        // Browsers match these prefixes case-insensitively (RFC 6265bis), so must we.
        let has_prefix = |p: &str| {
            self.cookie_name
                .get(..p.len())
                .is_some_and(|h| h.eq_ignore_ascii_case(p))
        };
        if has_prefix("__Secure-") && !self.secure {
            return Err(ConfigError::SecurePrefixWithoutSecure);
        }
        if has_prefix("__Host-") && (!self.secure || self.domain.is_some() || self.path != "/") {
            return Err(ConfigError::HostPrefixMisconfigured);
        }
        for (name, d) in [
            ("lifetime", Some(self.lifetime)),
            ("max_age", self.max_age),
            ("idle_timeout", self.idle_timeout),
            ("absolute_timeout", self.absolute_timeout),
        ] {
            if d.is_some_and(|d| d.is_zero()) {
                return Err(ConfigError::ZeroDuration(name));
            }
        }
        Ok(())
    }

    /// The expiry window of a session: how far ahead of "now" (creation, or the last slide)
    /// its deadline is set. A per-session override ("remember me") wins.
    pub(crate) fn window(&self, session_ttl: Option<UnixMillis>) -> UnixMillis {
        session_ttl
            .unwrap_or_else(|| millis(self.idle_timeout.or(self.max_age).unwrap_or(self.lifetime)))
    }

    /// A deadline, capped by the absolute timeout counted from `created_at`.
    pub(crate) fn cap(&self, created_at: UnixMillis, deadline: UnixMillis) -> UnixMillis {
        match self.absolute_timeout {
            Some(abs) => deadline.min(created_at.saturating_add(millis(abs))),
            None => deadline,
        }
    }

    /// A fresh deadline counted from `now`: the window ahead, capped by the absolute timeout.
    pub(crate) fn deadline(
        &self,
        created_at: UnixMillis,
        now: UnixMillis,
        session_ttl: Option<UnixMillis>,
    ) -> UnixMillis {
        self.cap(created_at, now.saturating_add(self.window(session_ttl)))
    }

    /// Whether the absolute timeout has passed for a session created at `created_at`.
    pub(crate) fn past_absolute(&self, created_at: UnixMillis, now: UnixMillis) -> bool {
        self.absolute_timeout
            .is_some_and(|abs| now >= created_at.saturating_add(millis(abs)))
    }

    /// Whether the deadline of a loaded session should move forward now, and to when.
    ///
    /// With an idle timeout the deadline slides on use, but at most once per tenth of the
    /// window, so read-heavy traffic does not write on every request. With `renew`, it moves
    /// once less than half of the window remains.
    pub(crate) fn slide(
        &self,
        created_at: UnixMillis,
        expires_at: UnixMillis,
        session_ttl: Option<UnixMillis>,
        now: UnixMillis,
    ) -> Option<UnixMillis> {
        let window = self.window(session_ttl);
        let target = self.deadline(created_at, now, session_ttl);
        if target <= expires_at {
            return None;
        }
        let due = if self.idle_timeout.is_some() && session_ttl.is_none() {
            target - expires_at >= window / 10
        } else if self.renew || session_ttl.is_some() && self.idle_timeout.is_some() {
            expires_at - now < window / 2
        } else {
            false
        };
        due.then_some(target)
    }

    /// Whether an untouched session's deadline can ever move (idle timeout or renew).
    pub(crate) fn slides(&self) -> bool {
        self.idle_timeout.is_some() || self.renew
    }

    /// Whether the cookie carries a Max-Age (a persistent cookie).
    pub(crate) fn persistent(&self, session_ttl: Option<UnixMillis>) -> bool {
        session_ttl.is_some() || self.max_age.is_some()
    }

    /// Renders a `Set-Cookie` value. `value = None` clears the cookie; `max_age` makes it
    /// persistent.
    ///
    /// The text is written into one allocation of exactly its length, which the `HeaderValue`
    /// then takes over as is (a buffer with spare capacity would cost it a second allocation).
    /// It is built as bytes: every piece is ASCII (the name, path and domain were validated,
    /// the value is an id or base64url), and the `HeaderValue` checks the bytes anyway, so a
    /// UTF-8 check of the id on the way would be paid twice.
    pub(crate) fn set_cookie(&self, value: Option<&[u8]>, max_age_secs: Option<i64>) -> Vec<u8> {
        let mut digits = [0u8; 20];
        let max_age = max_age_secs.map(|secs| decimal(secs.max(0).unsigned_abs(), &mut digits));
        let mut len = 0;
        self.set_cookie_parts(value, max_age, |part| len += part.len());
        let mut s = Vec::with_capacity(len);
        self.set_cookie_parts(value, max_age, |part| s.extend_from_slice(part));
        s
    }

    /// The pieces of a `Set-Cookie` value, in order (see [`set_cookie`](Self::set_cookie)).
    fn set_cookie_parts(
        &self,
        value: Option<&[u8]>,
        max_age: Option<&[u8]>,
        mut out: impl FnMut(&[u8]),
    ) {
        out(self.cookie_name.as_bytes());
        out(b"=");
        if let Some(v) = value {
            out(v);
        }
        out(b"; Path=");
        out(self.path.as_bytes());
        if let Some(d) = &self.domain {
            out(b"; Domain=");
            out(d.as_bytes());
        }
        match (value, max_age) {
            (None, _) => out(b"; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT"),
            (Some(_), Some(secs)) => {
                out(b"; Max-Age=");
                out(secs);
            }
            (Some(_), None) => {}
        }
        if self.http_only {
            out(b"; HttpOnly");
        }
        if self.secure {
            out(b"; Secure");
        }
        out(b"; SameSite=");
        out(self.same_site.as_str().as_bytes());
        if self.partitioned {
            out(b"; Partitioned");
        }
    }
}

/// `n` in decimal ASCII digits, written into `buf` (no allocation).
fn decimal(mut n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        // `n % 10` is one digit.
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    &buf[i..]
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000;

    fn render(c: &Config, value: Option<&str>, max_age: Option<i64>) -> String {
        String::from_utf8(c.set_cookie(value.map(str::as_bytes), max_age)).unwrap()
    }

    #[test]
    fn defaults_are_secure_and_valid() {
        let c = Config::default();
        c.validate().unwrap();
        assert_eq!(
            render(&c, Some("abc"), None),
            "sid=abc; Path=/; HttpOnly; Secure; SameSite=Lax"
        );
        assert_eq!(
            render(&c, Some("abc"), Some(60)),
            "sid=abc; Path=/; Max-Age=60; HttpOnly; Secure; SameSite=Lax"
        );
        let cleared = render(&c, None, Some(60));
        assert!(cleared.starts_with("sid=; Path=/; Max-Age=0;"), "{cleared}");
        let p = Config {
            partitioned: true,
            ..Config::default()
        };
        assert!(render(&p, Some("a"), None).ends_with("; Partitioned"));
        let d = Config {
            domain: Some("example.com".into()),
            ..Config::default()
        };
        for (secs, shown) in [
            (0, "0"),
            (9, "9"),
            (10, "10"),
            (86_400, "86400"),
            (-5, "0"),
            (i64::MAX, "9223372036854775807"),
        ] {
            let s = d.set_cookie(Some(b"abc"), Some(secs));
            assert_eq!(s.capacity(), s.len(), "one exact allocation");
            let s = String::from_utf8(s).unwrap();
            assert_eq!(
                s,
                format!("sid=abc; Path=/; Domain=example.com; Max-Age={shown}; HttpOnly; Secure; SameSite=Lax")
            );
        }
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
        assert_eq!(c.validate(), Err(ConfigError::ZeroDuration("lifetime")));
        let c = Config {
            idle_timeout: Some(Duration::ZERO),
            ..Config::default()
        };
        assert_eq!(c.validate(), Err(ConfigError::ZeroDuration("idle_timeout")));
        let c = Config {
            partitioned: true,
            secure: false,
            ..Config::default()
        };
        assert_eq!(c.validate(), Err(ConfigError::PartitionedWithoutSecure));
    }

    #[test]
    fn cookie_prefixes_are_enforced() {
        let host = |f: fn(&mut Config)| {
            let mut c = Config {
                cookie_name: "__Host-sid".into(),
                ..Config::default()
            };
            f(&mut c);
            c.validate()
        };
        host(|_| {}).unwrap();
        assert_eq!(
            host(|c| c.secure = false),
            Err(ConfigError::HostPrefixMisconfigured)
        );
        assert_eq!(
            host(|c| c.domain = Some("a.com".into())),
            Err(ConfigError::HostPrefixMisconfigured)
        );
        assert_eq!(
            host(|c| c.path = "/app".into()),
            Err(ConfigError::HostPrefixMisconfigured)
        );
        let c = Config {
            cookie_name: "__Secure-sid".into(),
            secure: false,
            ..Config::default()
        };
        assert_eq!(c.validate(), Err(ConfigError::SecurePrefixWithoutSecure));
        let c = Config {
            cookie_name: "__Secure-sid".into(),
            domain: Some("a.com".into()),
            ..Config::default()
        };
        c.validate().unwrap();
    }

    #[test]
    fn idle_timeout_slides_at_most_once_per_tenth() {
        let c = Config {
            idle_timeout: Some(Duration::from_secs(600)),
            ..Config::default()
        };
        let window = 10 * MIN;
        let (created, expires) = (0, 10 * MIN);
        assert_eq!(
            c.slide(created, expires, None, 30_000),
            None,
            "30 s later: not yet"
        );
        assert_eq!(
            c.slide(created, expires, None, MIN),
            Some(11 * MIN),
            "a tenth later: slide"
        );
        assert_eq!(
            c.slide(created, expires, None, 5 * MIN),
            Some(5 * MIN + window)
        );
    }

    #[test]
    fn absolute_timeout_caps_every_deadline() {
        let c = Config {
            idle_timeout: Some(Duration::from_secs(600)),
            absolute_timeout: Some(Duration::from_secs(1800)),
            ..Config::default()
        };
        assert_eq!(c.cap(0, 10 * MIN), 10 * MIN);
        assert_eq!(
            c.slide(0, 25 * MIN, None, 24 * MIN),
            Some(30 * MIN),
            "capped at 30 min"
        );
        assert_eq!(
            c.slide(0, 30 * MIN, None, 29 * MIN),
            None,
            "cannot pass the cap"
        );
        assert!(!c.past_absolute(0, 30 * MIN - 1));
        assert!(c.past_absolute(0, 30 * MIN));
    }

    #[test]
    fn renew_extends_when_less_than_half_remains() {
        let c = Config {
            renew: true,
            max_age: Some(Duration::from_secs(600)),
            ..Config::default()
        };
        assert_eq!(
            c.slide(0, 10 * MIN, None, 4 * MIN),
            None,
            "6 of 10 min left"
        );
        assert_eq!(
            c.slide(0, 10 * MIN, None, 6 * MIN),
            Some(16 * MIN),
            "4 of 10 min left"
        );
        let plain = Config::default();
        assert_eq!(
            plain.slide(0, 10 * MIN, None, 9 * MIN),
            None,
            "no sliding by default"
        );
    }

    #[test]
    fn a_per_session_lifetime_overrides_the_window() {
        let c = Config {
            idle_timeout: Some(Duration::from_secs(600)),
            ..Config::default()
        };
        let day = 24 * 60 * MIN;
        assert_eq!(c.window(Some(day)), day);
        assert!(c.persistent(Some(day)));
        assert!(!c.persistent(None));
        assert_eq!(
            c.slide(0, day, Some(day), MIN),
            None,
            "a remembered session renews at half"
        );
        assert_eq!(
            c.slide(0, day, Some(day), day / 2 + 1),
            Some(day / 2 + 1 + day)
        );
    }
}
