//! Shared by the benches: session types of 1, 10 and 100 fields, the routers that serve them
//! through `SessionLayer`, and request helpers.
//!
//! Sizes are payload bytes: the `String` fields together hold about that many bytes (the
//! `count: u64` field and the JSON keys come on top). `1f` is the counter alone.

#![allow(dead_code)]

use std::hint::black_box;

use axum::body::Body;
use axum::routing::get;
use axum::Router;
use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion};
use http::header::{COOKIE, SET_COOKIE};
use http::{HeaderValue, Request, Response, StatusCode};
use serde::Serialize;
use session_runtime::store::FieldMap;
use session_runtime::{MemoryStore, ReadSession, Session, SessionData, SessionLayer};
use tokio::runtime::Runtime;
use tower::ServiceExt;

pub type Group<'a> = BenchmarkGroup<'a, WallTime>;

/// Modest settings: two cores, and every bench binary should finish in a couple of minutes.
pub fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(std::time::Duration::from_millis(500))
        .measurement_time(std::time::Duration::from_secs(2))
        .sample_size(30)
        .nresamples(10_000)
        .without_plots()
}

/// A session struct the benches can build, fill and serve.
pub trait Shape: SessionData + Serialize + Clone {
    /// The `String` fields (every shape also has `count: u64`, field index 0).
    const STRINGS: &'static [&'static str];
    /// `count = 0` and every `String` field `len` bytes long.
    fn filled(len: usize) -> Self;
    /// `count += 1` on the plain struct (what koa's handler does to its session object).
    fn bump(&mut self);
    /// Routes behind `SessionLayer::new(store)`:
    /// `/init` (sets every field, filled to `len` bytes), `/inc` (`*s.count_mut() += 1`),
    /// `/read` (`Session<T>`, reads `count`), `/read_ro` (`ReadSession<T>`, reads `count`),
    /// `/none` (no extractor).
    fn router(store: MemoryStore, len: usize) -> Router;
}

macro_rules! session_type {
    ($name:ident { $($f:ident),* $(,)? }) => {
        #[derive(Session, Serialize, Default, Clone, Debug)]
        pub struct $name {
            count: u64,
            $($f: String,)*
        }

        impl Shape for $name {
            const STRINGS: &'static [&'static str] = &[$(stringify!($f)),*];

            fn filled(len: usize) -> Self {
                let _ = len; // unused by the counter-only shape
                $name {
                    count: 0,
                    $($f: filler(stringify!($f), len),)*
                }
            }

            fn bump(&mut self) {
                self.count += 1;
            }

            fn router(store: MemoryStore, len: usize) -> Router {
                Router::new()
                    .route(
                        "/init",
                        get(move |mut s: Session<$name>| async move {
                            let _ = s.set(<$name>::filled(len));
                            StatusCode::NO_CONTENT
                        }),
                    )
                    .route(
                        "/inc",
                        get(|mut s: Session<$name>| async move {
                            *s.count_mut() += 1;
                            StatusCode::NO_CONTENT
                        }),
                    )
                    .route(
                        "/read",
                        get(|s: Session<$name>| async move {
                            black_box(*s.count());
                            StatusCode::NO_CONTENT
                        }),
                    )
                    .route(
                        "/read_ro",
                        get(|s: ReadSession<$name>| async move {
                            black_box(*s.count());
                            StatusCode::NO_CONTENT
                        }),
                    )
                    .route("/none", get(|| async { StatusCode::NO_CONTENT }))
                    .layer(SessionLayer::new(store).with_secure(false))
            }
        }
    };
}

session_type!(Sess1 {});
session_type!(Sess10 {
    s1,
    s2,
    s3,
    s4,
    s5,
    s6,
    s7,
    s8,
    s9
});
session_type!(Sess100 {
    s01,
    s02,
    s03,
    s04,
    s05,
    s06,
    s07,
    s08,
    s09,
    s10,
    s11,
    s12,
    s13,
    s14,
    s15,
    s16,
    s17,
    s18,
    s19,
    s20,
    s21,
    s22,
    s23,
    s24,
    s25,
    s26,
    s27,
    s28,
    s29,
    s30,
    s31,
    s32,
    s33,
    s34,
    s35,
    s36,
    s37,
    s38,
    s39,
    s40,
    s41,
    s42,
    s43,
    s44,
    s45,
    s46,
    s47,
    s48,
    s49,
    s50,
    s51,
    s52,
    s53,
    s54,
    s55,
    s56,
    s57,
    s58,
    s59,
    s60,
    s61,
    s62,
    s63,
    s64,
    s65,
    s66,
    s67,
    s68,
    s69,
    s70,
    s71,
    s72,
    s73,
    s74,
    s75,
    s76,
    s77,
    s78,
    s79,
    s80,
    s81,
    s82,
    s83,
    s84,
    s85,
    s86,
    s87,
    s88,
    s89,
    s90,
    s91,
    s92,
    s93,
    s94,
    s95,
    s96,
    s97,
    s98,
    s99
});

/// Calls `$f::<Shape>($args.., payload)` for every shape of the commit matrix, in order.
#[allow(unused_macros)]
macro_rules! for_each_shape {
    ($f:ident ( $($arg:expr),* )) => {{
        $f::<common::Sess1>($($arg,)* 0);
        $f::<common::Sess10>($($arg,)* 100);
        $f::<common::Sess10>($($arg,)* 4 * 1024);
        $f::<common::Sess10>($($arg,)* 64 * 1024);
        $f::<common::Sess100>($($arg,)* 100);
        $f::<common::Sess100>($($arg,)* 4 * 1024);
        $f::<common::Sess100>($($arg,)* 64 * 1024);
    }};
}

/// Printable, JSON-safe text of `len` bytes, different per field.
fn filler(field: &str, len: usize) -> String {
    field
        .bytes()
        .chain(b"-lorem ipsum dolor sit amet 0123456789 ".iter().copied())
        .cycle()
        .take(len)
        .map(char::from)
        .collect()
}

/// Bytes per `String` field for a payload of `payload` bytes.
pub fn per_field<T: Shape>(payload: usize) -> usize {
    if T::STRINGS.is_empty() {
        0
    } else {
        payload / T::STRINGS.len()
    }
}

/// `10f_4KB`: field count and payload size.
pub fn label<T: Shape>(payload: usize) -> String {
    let fields = T::STRINGS.len() + 1;
    if T::STRINGS.is_empty() {
        return format!("{fields}f_8B");
    }
    let size = if payload >= 1024 {
        format!("{}KB", payload / 1024)
    } else {
        format!("{payload}B")
    };
    format!("{fields}f_{size}")
}

/// The filled session of this shape and its encoded fields (what the store holds).
pub fn filled<T: Shape>(payload: usize) -> (T, FieldMap) {
    let data = T::filled(per_field::<T>(payload));
    let map = T::FIELDS
        .iter()
        .enumerate()
        .map(|(i, f)| (f.name().to_owned(), data.encode_field(i).expect("encode")))
        .collect::<FieldMap>();
    (data, map)
}

/// The filled session of this shape as one JSON object (what a whole-record store holds).
pub fn json_fields<T: Shape>(payload: usize) -> serde_json::Map<String, serde_json::Value> {
    let data = T::filled(per_field::<T>(payload));
    let serde_json::Value::Object(fields) = serde_json::to_value(&data).expect("json") else {
        unreachable!("a session struct serializes to a JSON object")
    };
    fields
}

/// Prints what a shape label stands for.
pub fn describe<T: Shape>(payload: usize) {
    let (data, map) = filled::<T>(payload);
    let json = serde_json::to_string(&data).expect("json");
    let stored: usize = map.iter().map(|(k, v)| k.len() + v.as_str().len()).sum();
    eprintln!(
        "shape {:>10}: {:>3} fields, {:>5} B per string field, whole-session JSON {:>6} B, \
         stored names+values {:>6} B",
        label::<T>(payload),
        T::FIELDS.len(),
        per_field::<T>(payload),
        json.len(),
        stored
    );
}

pub fn runtime() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("tokio runtime")
}

/// An existing session of shape `T` behind a `SessionLayer` over a `MemoryStore`.
pub struct HttpSession {
    pub rt: Runtime,
    pub app: Router,
    pub store: MemoryStore,
    pub cookie: HeaderValue,
}

impl HttpSession {
    pub fn new<T: Shape>(payload: usize) -> Self {
        let rt = runtime();
        let store = MemoryStore::new();
        let app = T::router(store.clone(), per_field::<T>(payload));
        let res = rt
            .block_on(app.clone().oneshot(get_req("/init", None)))
            .unwrap();
        assert_eq!(res.status(), StatusCode::NO_CONTENT);
        let cookie = session_cookie(&res, "sid");
        assert_eq!(store.len(), 1);
        HttpSession {
            rt,
            app,
            store,
            cookie,
        }
    }

    /// One request to `path` carrying the session cookie.
    #[inline]
    pub fn call(&self, path: &str) -> Response<Body> {
        self.rt
            .block_on(self.app.clone().oneshot(get_req(path, Some(&self.cookie))))
            .unwrap()
    }
}

pub fn get_req(path: &str, cookie: Option<&HeaderValue>) -> Request<Body> {
    let mut req = Request::get(path);
    if let Some(c) = cookie {
        req = req.header(COOKIE, c.clone());
    }
    req.body(Body::empty()).unwrap()
}

/// `name=value` from the response's `Set-Cookie` for `name`.
pub fn session_cookie(res: &Response<Body>, name: &str) -> HeaderValue {
    let prefix = format!("{name}=");
    let pair = res
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .find(|p| p.starts_with(&prefix))
        .expect("a session cookie");
    HeaderValue::from_str(pair).unwrap()
}
