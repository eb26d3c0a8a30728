//! One request through a real `Router` with `oneshot`, and what came back.

use axum::body::Body;
use axum::Router;
use http_body_util::BodyExt;
use tower::ServiceExt;

use ::http::{header, request, HeaderMap, Request, StatusCode};

/// A response, read to the end.
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub set_cookies: Vec<String>,
    pub body: String,
}

impl Reply {
    /// The one `Set-Cookie` header, if any (more than one is a failure).
    pub fn set_cookie(&self) -> Option<&str> {
        assert!(
            self.set_cookies.len() <= 1,
            "more than one Set-Cookie: {:?}",
            self.set_cookies
        );
        self.set_cookies.first().map(String::as_str)
    }

    /// `name=value` of the `Set-Cookie` header, ready to send back.
    pub fn cookie(&self) -> Option<String> {
        self.set_cookie()
            .map(|c| c.split(';').next().unwrap().to_owned())
    }

    /// Only the value of the `Set-Cookie` header.
    pub fn value(&self) -> Option<String> {
        self.cookie()
            .map(|c| c.split_once('=').unwrap().1.to_owned())
    }

    /// The `Max-Age` attribute of the `Set-Cookie` header.
    pub fn max_age(&self) -> Option<i64> {
        self.set_cookie()?
            .split("; ")
            .find_map(|a| a.strip_prefix("Max-Age="))
            .map(|v| v.parse().unwrap())
    }

    /// Every value of the header `name`.
    pub fn header_values(&self, name: header::HeaderName) -> Vec<String> {
        self.headers
            .get_all(name)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect()
    }
}

/// A `GET path` request, with a `Cookie` header if `cookie` is given.
pub fn get_request(path: &str, cookie: Option<&str>) -> request::Builder {
    let mut req = Request::get(path);
    if let Some(c) = cookie {
        req = req.header(header::COOKIE, c);
    }
    req
}

/// `GET path`, with a `Cookie` header if `cookie` is given.
pub async fn send(app: &Router, path: &str, cookie: Option<&str>) -> Reply {
    send_req(app, get_request(path, cookie).body(Body::empty()).unwrap()).await
}

/// Sends `req` through a clone of `app`.
pub async fn send_req(app: &Router, req: Request<Body>) -> Reply {
    let res = app.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let set_cookies = headers
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    let body =
        String::from_utf8(res.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap();
    Reply {
        status,
        headers,
        set_cookies,
        body,
    }
}
