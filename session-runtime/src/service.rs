//! [`SessionService`]: parses the cookie before the handler, commits after it.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::header::{CACHE_CONTROL, SET_COOKIE, VARY};
use http::{HeaderValue, Request, Response, StatusCode};
use tower_service::Service;

use crate::state::{Incoming, RequestSession, Shared};

/// The service produced by [`SessionLayer`](crate::SessionLayer).
#[derive(Clone, Debug)]
pub struct SessionService<S> {
    inner: S,
    shared: Arc<Shared>,
}

impl<S> SessionService<S> {
    pub(crate) fn new(inner: S, shared: Arc<Shared>) -> Self {
        SessionService { inner, shared }
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for SessionService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Send,
    S::Future: Send + 'static,
    ResBody: Default + Send + 'static,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        let incoming = Incoming::from_headers(req.headers(), &self.shared);
        let session = Arc::new(RequestSession::new(self.shared.clone(), incoming));
        req.extensions_mut().insert(session.clone());
        let fut = self.inner.call(req);
        Box::pin(async move {
            let mut response = fut.await?;
            match session.finish().await {
                Ok(out) => {
                    if let Some(v) = session.set_cookie_header(&out) {
                        let headers = response.headers_mut();
                        headers.append(SET_COOKIE, v);
                        // A response that sets or clears the session cookie must not be
                        // stored by shared caches and is specific to the request's cookie.
                        if !headers.contains_key(CACHE_CONTROL) {
                            headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
                        }
                        let varies = headers.get_all(VARY).iter().any(|v| {
                            v.to_str().is_ok_and(|v| {
                                v.split(',').any(|p| {
                                    let p = p.trim();
                                    p == "*" || p.eq_ignore_ascii_case("cookie")
                                })
                            })
                        });
                        if !varies {
                            headers.append(VARY, HeaderValue::from_static("Cookie"));
                        }
                    }
                    Ok(response)
                }
                Err(error) => {
                    tracing::error!(
                        error = %error,
                        source = ?std::error::Error::source(&error),
                        "session commit failed; answering 500"
                    );
                    let mut failed = Response::new(ResBody::default());
                    *failed.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
                    Ok(failed)
                }
            }
        })
    }
}
