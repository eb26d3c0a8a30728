//! Cookie security through a real `Router` with `oneshot`: signed and encrypted ids with key
//! rotation, the `__Host-` / `__Secure-` prefixes and other attribute rules checked when the
//! layer is built, and the cache headers added to responses that set or clear the cookie.

mod support;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Duration;

use axum::routing::get;
use axum::Router;
use http::header::{CACHE_CONTROL, VARY};
use http::StatusCode;
use session_runtime::{ConfigError, MemoryStore, ReadSession, SameSite, Session, SessionLayer};
use support::clock::ManualClock;
use support::cookies::{
    b64_decode, b64_encode, flip_char, keys, one_bit_flips, recording_id_generator,
};
use support::http::{send, Reply};
use support::stores::Spy;

#[derive(Session, Default, Debug)]
struct Visit {
    count: u64,
}

fn routes() -> Router {
    Router::new()
        .route(
            "/peek",
            get(|s: ReadSession<Visit>| async move { format!("{}:{}", s.count(), s.is_new()) }),
        )
        .route(
            "/inc",
            get(|mut s: Session<Visit>| async move {
                *s.count_mut() += 1;
                s.count().to_string()
            }),
        )
        .route(
            "/logout",
            get(|mut s: Session<Visit>| async move {
                s.destroy();
                "bye"
            }),
        )
        .route(
            "/own-cache",
            get(|mut s: Session<Visit>| async move {
                *s.count_mut() += 1;
                ([(CACHE_CONTROL, "private, max-age=5")], "cached privately")
            }),
        )
        .route(
            "/own-cache-read",
            get(|s: ReadSession<Visit>| async move {
                (
                    [(CACHE_CONTROL, "public, max-age=60")],
                    s.count().to_string(),
                )
            }),
        )
        .route(
            "/vary",
            get(|mut s: Session<Visit>| async move {
                *s.count_mut() += 1;
                ([(VARY, "Accept-Encoding")], "varies")
            }),
        )
        .route(
            "/vary-cookie",
            get(|mut s: Session<Visit>| async move {
                *s.count_mut() += 1;
                ([(VARY, "Accept-Encoding, cookie")], "varies")
            }),
        )
}

// ---------------------------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------------------------

fn signed(store: &MemoryStore, ids: &[u8]) -> Router {
    routes().layer(SessionLayer::new(store.clone()).with_signed_cookies(keys(ids)))
}

fn encrypted(store: &MemoryStore, ids: &[u8]) -> Router {
    routes().layer(SessionLayer::new(store.clone()).with_encrypted_cookies(keys(ids)))
}

/// Asserts that `cookie` gets a fresh, empty session: 200, `0:true`, nothing set.
async fn assert_fresh(app: &Router, cookie: &str, what: &str) {
    let r = send(app, "/peek", Some(cookie)).await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "{what}: a bad cookie is never an error"
    );
    assert_eq!(r.body, "0:true", "{what}: expected a fresh empty session");
    assert!(
        r.set_cookies.is_empty(),
        "{what}: a read of a fresh session sets nothing: {:?}",
        r.set_cookies
    );
}

// ---------------------------------------------------------------------------------------------
// Signed cookies
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_signed_cookie_is_id_dot_tag_and_verifies() {
    let store = MemoryStore::new();
    let app = signed(&store, &[1]);
    let r = send(&app, "/inc", None).await;
    let value = r.value().expect("a new session sets the cookie");
    let (id, tag) = value.split_once('.').expect("a signed cookie is ID.TAG");
    assert_eq!(id.len(), 43, "the id part is the 256-bit id: {value}");
    assert_eq!(
        tag.len(),
        43,
        "the tag is HMAC-SHA256 as base64url: {value}"
    );
    assert!(
        value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.'),
        "URL-safe: {value}"
    );
    let cookie = r.cookie().unwrap();
    let r = send(&app, "/peek", Some(&cookie)).await;
    assert_eq!(r.body, "1:false", "the signed cookie loads its session");
    assert!(
        r.set_cookies.is_empty(),
        "a cookie signed with the current key is not re-issued: {:?}",
        r.set_cookies
    );
    assert_fresh(&app, &format!("sid={id}"), "the id without its tag").await;
}

#[tokio::test]
async fn a_rotated_key_list_re_signs_an_old_cookie_even_on_a_read_request() {
    let store = MemoryStore::new();
    let (old, rotated, removed) = (
        signed(&store, &[1]),
        signed(&store, &[2, 1]),
        signed(&store, &[2]),
    );
    let k1_cookie = send(&old, "/inc", None).await.cookie().unwrap();
    let (k1_id, k1_tag) = k1_cookie["sid=".len()..].split_once('.').unwrap();

    let r = send(&rotated, "/peek", Some(&k1_cookie)).await;
    assert_eq!(
        r.body, "1:false",
        "the old key still verifies after rotation"
    );
    let k2_cookie = r
        .cookie()
        .expect("a read-only request re-issues a cookie signed with an older key");
    let (k2_id, k2_tag) = k2_cookie["sid=".len()..].split_once('.').unwrap();
    assert_eq!(k2_id, k1_id, "re-signing keeps the session id");
    assert_ne!(k2_tag, k1_tag, "re-signed with the first (new) key");
    let set = r.set_cookie().unwrap();
    for attr in ["; Path=/", "; HttpOnly", "; Secure", "; SameSite=Lax"] {
        assert!(
            set.contains(attr),
            "the re-issued cookie keeps {attr}: {set}"
        );
    }

    assert_eq!(
        send(&removed, "/peek", Some(&k2_cookie)).await.body,
        "1:false",
        "the re-signed cookie verifies with the new key alone"
    );
    assert_fresh(&removed, &k1_cookie, "a cookie signed with a removed key").await;
    let r = send(&rotated, "/peek", Some(&k2_cookie)).await;
    assert!(
        r.set_cookies.is_empty(),
        "a cookie already signed with the first key is not re-issued: {:?}",
        r.set_cookies
    );
}

#[tokio::test]
async fn a_re_signed_persistent_cookie_keeps_its_remaining_lifetime() {
    let store = MemoryStore::new();
    let clock = ManualClock::new();
    let layer = |ids: &[u8]| {
        routes().layer(
            SessionLayer::new(store.clone())
                .with_clock(clock.clone())
                .with_max_age(Duration::from_secs(600))
                .with_signed_cookies(keys(ids)),
        )
    };
    let (old, rotated) = (layer(&[1]), layer(&[2, 1]));
    let cookie = send(&old, "/inc", None).await.cookie().unwrap();
    clock.at(Duration::from_secs(100));
    let r = send(&rotated, "/peek", Some(&cookie)).await;
    let set = r.set_cookie().expect("re-signed").to_owned();
    assert!(
        set.contains("; Max-Age=500"),
        "re-signing does not extend the cookie past the server expiry: {set}"
    );
}

#[tokio::test]
async fn flipping_any_character_of_a_signed_cookie_gives_a_fresh_session() {
    let store = MemoryStore::new();
    let app = signed(&store, &[1]);
    let cookie = send(&app, "/inc", None).await.cookie().unwrap();
    let value = &cookie["sid=".len()..];
    let dot = value.find('.').unwrap();
    for i in (0..value.len()).filter(|i| *i != dot) {
        let part = if i < dot { "id" } else { "tag" };
        let forged = format!("sid={}", flip_char(value, i));
        assert_fresh(&app, &forged, &format!("{part} character {i} flipped")).await;
    }
    assert_eq!(
        send(&app, "/peek", Some(&cookie)).await.body,
        "1:false",
        "the genuine cookie still works"
    );
}

// ---------------------------------------------------------------------------------------------
// Encrypted cookies
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn an_encrypted_cookie_does_not_reveal_the_id() {
    let store = MemoryStore::new();
    let (issued, generator) = recording_id_generator();
    let app = routes().layer(
        SessionLayer::new(store.clone())
            .with_id_generator(generator)
            .with_encrypted_cookies(keys(&[1])),
    );
    let r = send(&app, "/inc", None).await;
    let value = r.value().unwrap();
    let ids = issued.lock().unwrap().clone();
    assert!(!ids.is_empty(), "the custom generator was used");
    for id in &ids {
        assert!(
            !value.contains(id.as_str()) && !value.contains(&id[..12]),
            "the encrypted cookie {value} shows the id {id}"
        );
    }
    assert_eq!(
        b64_decode(&value).len(),
        12 + 40 + 16,
        "nonce + sealed 40-byte id + tag"
    );
    assert_eq!(
        send(&app, "/peek", Some(&r.cookie().unwrap())).await.body,
        "1:false"
    );

    // With the default generator too: not the id, and not ID.TAG.
    let app = encrypted(&store, &[1]);
    let r = send(&app, "/inc", None).await;
    let value = r.value().unwrap();
    assert!(!value.contains('.'), "{value}");
    assert_eq!(b64_decode(&value).len(), 12 + 43 + 16, "{value}");
    assert_eq!(
        send(&app, "/peek", Some(&r.cookie().unwrap())).await.body,
        "1:false"
    );
}

#[tokio::test]
async fn flipping_any_bit_of_an_encrypted_cookie_gives_a_fresh_session() {
    let store = MemoryStore::new();
    let app = encrypted(&store, &[1]);
    let cookie = send(&app, "/inc", None).await.cookie().unwrap();
    let value = &cookie["sid=".len()..];
    let raw = b64_decode(value);
    assert_eq!(b64_encode(&raw), value, "the test's base64url round-trips");
    let (nonce, tag) = (12, 16);
    assert_eq!(raw.len(), nonce + 43 + tag, "nonce ‖ ciphertext ‖ tag");
    for (forged, what) in one_bit_flips(&raw, nonce, tag) {
        assert_fresh(&app, &format!("sid={forged}"), &what).await;
    }
    assert_fresh(&app, &format!("sid={}", &value[..40]), "truncated").await;
    assert_eq!(
        send(&app, "/peek", Some(&cookie)).await.body,
        "1:false",
        "the genuine cookie still works"
    );
}

#[tokio::test]
async fn a_rotated_key_list_re_encrypts_an_old_cookie_on_a_read_request() {
    let store = MemoryStore::new();
    let (old, rotated, removed) = (
        encrypted(&store, &[1]),
        encrypted(&store, &[2, 1]),
        encrypted(&store, &[2]),
    );
    let k1_cookie = send(&old, "/inc", None).await.cookie().unwrap();
    let r = send(&rotated, "/peek", Some(&k1_cookie)).await;
    assert_eq!(r.body, "1:false", "the old key still opens the cookie");
    let k2_cookie = r
        .cookie()
        .expect("a read-only request re-issues a cookie sealed with an older key");
    assert_ne!(k2_cookie, k1_cookie);
    assert_eq!(
        send(&removed, "/peek", Some(&k2_cookie)).await.body,
        "1:false",
        "the re-encrypted cookie opens with the new key alone"
    );
    assert_fresh(&removed, &k1_cookie, "a cookie sealed with a removed key").await;
    assert!(
        send(&rotated, "/peek", Some(&k2_cookie))
            .await
            .set_cookies
            .is_empty(),
        "a cookie already sealed with the first key is not re-issued"
    );
}

#[tokio::test]
async fn signed_and_encrypted_cookies_are_bound_to_the_cookie_name() {
    let store = MemoryStore::new();
    for (what, layer) in [
        (
            "signed",
            SessionLayer::new(store.clone()).with_signed_cookies(keys(&[1])),
        ),
        (
            "encrypted",
            SessionLayer::new(store.clone()).with_encrypted_cookies(keys(&[1])),
        ),
    ] {
        let a = routes().layer(layer.clone());
        let b = routes().layer(layer.with_cookie_name("other"));
        let value = send(&a, "/inc", None).await.value().unwrap();
        assert_eq!(
            send(&a, "/peek", Some(&format!("sid={value}"))).await.body,
            "1:false"
        );
        let r = send(&b, "/peek", Some(&format!("other={value}"))).await;
        assert_eq!(
            r.body, "0:true",
            "{what}: a value issued for `sid` is refused under another name"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Prefixes and attribute rules
// ---------------------------------------------------------------------------------------------

fn host_layer() -> SessionLayer {
    SessionLayer::new(MemoryStore::new()).with_cookie_name("__Host-sid")
}

fn panics_when_applied(layer: SessionLayer) -> bool {
    catch_unwind(AssertUnwindSafe(|| routes().layer(layer))).is_err()
}

#[tokio::test]
async fn a_host_prefixed_cookie_works_with_the_defaults() {
    let layer = host_layer()
        .check()
        .expect("__Host- is valid with the defaults");
    let app = routes().layer(layer);
    let r = send(&app, "/inc", None).await;
    let set = r.set_cookie().unwrap();
    assert!(set.starts_with("__Host-sid="), "{set}");
    assert!(
        set.contains("; Path=/;") || set.ends_with("; Path=/"),
        "{set}"
    );
    assert!(set.contains("; Secure"), "{set}");
    assert!(
        !set.contains("Domain"),
        "a __Host- cookie has no Domain: {set}"
    );
    assert_eq!(
        send(&app, "/peek", Some(&r.cookie().unwrap())).await.body,
        "1:false"
    );
}

#[test]
fn host_prefix_misconfigurations_are_refused_when_the_layer_is_built() {
    let cases = [
        ("with a Domain", host_layer().with_domain("example.com")),
        ("with Path=/app", host_layer().with_path("/app")),
        ("without Secure", host_layer().with_secure(false)),
    ];
    for (what, layer) in cases {
        assert_eq!(
            layer.clone().check().unwrap_err(),
            ConfigError::HostPrefixMisconfigured,
            "__Host- {what}"
        );
        assert!(
            panics_when_applied(layer),
            "__Host- {what}: applying the layer must panic at start-up"
        );
    }
}

#[test]
fn secure_prefix_samesite_none_and_partitioned_require_secure() {
    let base = || SessionLayer::new(MemoryStore::new());
    let refused = [
        (
            "__Secure- without Secure",
            base().with_cookie_name("__Secure-sid").with_secure(false),
            ConfigError::SecurePrefixWithoutSecure,
        ),
        (
            "SameSite=None without Secure",
            base().with_same_site(SameSite::None).with_secure(false),
            ConfigError::SameSiteNoneWithoutSecure,
        ),
        (
            "Partitioned without Secure",
            base().with_partitioned(true).with_secure(false),
            ConfigError::PartitionedWithoutSecure,
        ),
    ];
    for (what, layer, expected) in refused {
        assert_eq!(layer.clone().check().unwrap_err(), expected, "{what}");
        assert!(panics_when_applied(layer), "{what}: applying must panic");
    }
    for (what, layer) in [
        ("__Secure-", base().with_cookie_name("__Secure-sid")),
        ("SameSite=None", base().with_same_site(SameSite::None)),
        ("Partitioned", base().with_partitioned(true)),
    ] {
        assert!(layer.check().is_ok(), "{what} with Secure is fine");
    }
}

#[test]
fn prefix_rules_apply_whatever_the_case_of_the_prefix() {
    // RFC 6265bis (since draft 11) and current browsers match `__Host-` / `__Secure-`
    // case-insensitively, so these cookies would be dropped by the browser.
    let cases = [
        (
            "__host- with a Domain",
            SessionLayer::new(MemoryStore::new())
                .with_cookie_name("__host-sid")
                .with_domain("example.com"),
        ),
        (
            "__HOST- with Path=/app",
            SessionLayer::new(MemoryStore::new())
                .with_cookie_name("__HOST-sid")
                .with_path("/app"),
        ),
        (
            "__secure- without Secure",
            SessionLayer::new(MemoryStore::new())
                .with_cookie_name("__secure-sid")
                .with_secure(false),
        ),
    ];
    for (what, layer) in cases {
        assert!(
            layer.check().is_err(),
            "{what}: browsers drop this cookie, so the layer must refuse it"
        );
    }
}

#[tokio::test]
async fn partitioned_and_samesite_none_appear_in_the_cookie() {
    let app = routes().layer(
        SessionLayer::new(MemoryStore::new())
            .with_partitioned(true)
            .with_same_site(SameSite::None),
    );
    let r = send(&app, "/inc", None).await;
    let set = r.set_cookie().unwrap();
    assert!(set.contains("; Partitioned"), "{set}");
    assert!(set.contains("; SameSite=None"), "{set}");
    assert!(set.contains("; Secure"), "{set}");
    let r = send(&app, "/logout", Some(&r.cookie().unwrap())).await;
    let cleared = r.set_cookie().unwrap();
    assert!(
        cleared.contains("Max-Age=0") && cleared.contains("; Partitioned"),
        "the clearing cookie must carry Partitioned too, or it does not match: {cleared}"
    );
}

// ---------------------------------------------------------------------------------------------
// Cache headers
// ---------------------------------------------------------------------------------------------

fn vary_has_cookie(r: &Reply) -> usize {
    r.header_values(VARY)
        .iter()
        .flat_map(|v| v.split(',').map(|p| p.trim().to_ascii_lowercase()))
        .filter(|p| p == "cookie")
        .count()
}

#[tokio::test]
async fn a_response_that_sets_the_cookie_is_not_cacheable_and_varies_on_cookie() {
    let app = routes().layer(SessionLayer::new(Spy::new()));
    let r = send(&app, "/inc", None).await;
    assert!(r.set_cookie().is_some());
    assert_eq!(r.header_values(CACHE_CONTROL), vec!["no-store"]);
    assert_eq!(vary_has_cookie(&r), 1, "Vary: {:?}", r.header_values(VARY));
}

#[tokio::test]
async fn a_response_that_clears_the_cookie_is_not_cacheable_and_varies_on_cookie() {
    let app = routes().layer(SessionLayer::new(Spy::new()));
    let cookie = send(&app, "/inc", None).await.cookie().unwrap();
    let r = send(&app, "/logout", Some(&cookie)).await;
    assert!(r.set_cookie().unwrap().contains("Max-Age=0"));
    assert_eq!(r.header_values(CACHE_CONTROL), vec!["no-store"]);
    assert_eq!(vary_has_cookie(&r), 1, "Vary: {:?}", r.header_values(VARY));
}

#[tokio::test]
async fn a_response_without_set_cookie_gets_no_cache_headers() {
    let app = routes().layer(SessionLayer::new(Spy::new()));
    let cookie = send(&app, "/inc", None).await.cookie().unwrap();
    for (path, cookie) in [
        ("/peek", None),
        ("/peek", Some(cookie.as_str())),
        ("/inc", Some(cookie.as_str())),
    ] {
        let r = send(&app, path, cookie).await;
        assert_eq!(r.status, StatusCode::OK);
        assert!(r.set_cookies.is_empty(), "{path}: {:?}", r.set_cookies);
        assert!(
            r.header_values(CACHE_CONTROL).is_empty(),
            "{path} with cookie {}: {:?}",
            cookie.is_some(),
            r.header_values(CACHE_CONTROL)
        );
        assert!(r.header_values(VARY).is_empty(), "{path}");
    }
    let r = send(&app, "/own-cache-read", Some(&cookie)).await;
    assert_eq!(
        r.header_values(CACHE_CONTROL),
        vec!["public, max-age=60"],
        "the handler's own header is untouched"
    );
    assert!(r.header_values(VARY).is_empty());
}

#[tokio::test]
async fn a_handlers_own_cache_control_is_kept_and_vary_cookie_still_added() {
    let app = routes().layer(SessionLayer::new(Spy::new()));
    let r = send(&app, "/own-cache", None).await;
    assert!(r.set_cookie().is_some());
    assert_eq!(
        r.header_values(CACHE_CONTROL),
        vec!["private, max-age=5"],
        "the handler's Cache-Control is kept, not replaced or doubled"
    );
    assert_eq!(vary_has_cookie(&r), 1, "Vary: {:?}", r.header_values(VARY));
}

#[tokio::test]
async fn an_existing_vary_is_kept_and_cookie_added_once() {
    let app = routes().layer(SessionLayer::new(Spy::new()));
    let r = send(&app, "/vary", None).await;
    assert!(r.set_cookie().is_some());
    let vary = r.header_values(VARY);
    assert!(
        vary.iter().any(|v| v.contains("Accept-Encoding")),
        "the handler's Vary is kept: {vary:?}"
    );
    assert_eq!(vary_has_cookie(&r), 1, "Cookie added: {vary:?}");
    let r = send(&app, "/vary-cookie", None).await;
    assert!(r.set_cookie().is_some());
    assert_eq!(
        vary_has_cookie(&r),
        1,
        "a Vary that already names Cookie is not doubled: {:?}",
        r.header_values(VARY)
    );
}
