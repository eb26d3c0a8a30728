//! [`SessionService`]: parses the cookie before the handler, commits after it.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use http::header::{CACHE_CONTROL, SET_COOKIE, VARY};
use http::{HeaderMap, HeaderValue, Request, Response, StatusCode};
use pin_project_lite::pin_project;
use tower_service::Service;

use crate::error::CommitError;
use crate::state::{CookieOut, Incoming, RequestSession, Shared};
use crate::store::StoreError;

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
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: Default + Send + 'static,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, ResBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        let incoming = Incoming::from_headers(req.headers(), &self.shared);
        let session = Arc::new(RequestSession::new(self.shared.clone(), incoming));
        req.extensions_mut().insert(session.clone());
        ResponseFuture {
            inner: self.inner.call(req),
            session,
            commit: None,
        }
    }
}

/// A commit waiting on the store, carrying the inner response to its end.
type Commit<B> =
    Pin<Box<dyn Future<Output = (Response<B>, Result<CookieOut, CommitError>)> + Send>>;

pin_project! {
    /// The response future of [`SessionService`]: the inner service's response, then the
    /// commit. A commit that needs no store write (a read, or no session at all), or whose
    /// store never waits, finishes within the same poll, without allocating.
    pub struct ResponseFuture<F, B> {
        #[pin]
        inner: F,
        session: Arc<RequestSession>,
        // Set while a commit waits on the store.
        commit: Option<Commit<B>>,
    }
}

impl<F, B> std::fmt::Debug for ResponseFuture<F, B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}

impl<F, B, E> Future for ResponseFuture<F, B>
where
    F: Future<Output = Result<Response<B>, E>>,
    B: Default + Send + 'static,
{
    type Output = Result<Response<B>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let commit = match this.commit {
            Some(commit) => commit,
            None => {
                let response = ready!(this.inner.poll(cx))?;
                if let Some(result) = this.session.finish_now() {
                    return Poll::Ready(Ok(respond(this.session, response, result)));
                }
                if this.session.commits_inline() {
                    let result = run_inline(this.session.finish());
                    return Poll::Ready(Ok(respond(this.session, response, result)));
                }
                let session = this.session.clone();
                this.commit.insert(Box::pin(async move {
                    let result = session.finish().await;
                    (response, result)
                }))
            }
        };
        let (response, result) = ready!(commit.as_mut().poll(cx));
        *this.commit = None;
        Poll::Ready(Ok(respond(this.session, response, result)))
    }
}

/// Runs a commit whose every store call completes at once (see
/// [`RequestSession::commits_inline`]) without allocating a future for it: such a commit has
/// no await point that can wait, so its first poll finishes it. Should that ever not hold, the
/// commit is reported as failed (logged, 500) instead of being dropped unnoticed.
fn run_inline<F: Future<Output = Result<CookieOut, CommitError>>>(
    commit: F,
) -> Result<CookieOut, CommitError> {
    let mut commit = std::pin::pin!(commit);
    let mut cx = Context::from_waker(std::task::Waker::noop());
    for _ in 0..8 {
        if let Poll::Ready(result) = commit.as_mut().poll(&mut cx) {
            return result;
        }
    }
    Err(CommitError::Store(StoreError::Backend(
        "a synchronous session store did not complete its operation at once".into(),
    )))
}

/// The response as the commit leaves it: with the cookie decision applied, or a bare 500 when
/// the commit failed.
fn respond<B: Default>(
    session: &RequestSession,
    mut response: Response<B>,
    result: Result<CookieOut, CommitError>,
) -> Response<B> {
    match result {
        Ok(out) => {
            if let Some(cookie) = session.set_cookie_header(&out) {
                add_cookie_headers(response.headers_mut(), cookie);
            }
            response
        }
        Err(error) => failed(&error),
    }
}

/// `Set-Cookie`, and what a response that sets or clears the session cookie needs besides: it
/// must not be stored by shared caches (`Cache-Control: no-store`, unless the handler chose a
/// policy) and is specific to the request's cookie (`Vary: Cookie`, unless it already varies
/// on it or on everything). The handler's few headers are scanned once, instead of looking
/// each name up in the map (a hash and a probe each).
fn add_cookie_headers(headers: &mut HeaderMap, cookie: HeaderValue) {
    let (mut cache_control, mut varies) = (false, false);
    for (name, value) in headers.iter() {
        if *name == CACHE_CONTROL {
            cache_control = true;
        } else if *name == VARY && varies_on_cookie(value) {
            varies = true;
        }
    }
    headers.append(SET_COOKIE, cookie);
    if !cache_control {
        headers.append(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if !varies {
        headers.append(VARY, HeaderValue::from_static("Cookie"));
    }
}

/// Whether one `Vary` value names `Cookie` (or `*`).
fn varies_on_cookie(value: &HeaderValue) -> bool {
    value.to_str().is_ok_and(|v| {
        v.split(',').any(|p| {
            let p = p.trim();
            p == "*" || p.eq_ignore_ascii_case("cookie")
        })
    })
}

/// The answer to a failed commit: logged, and a bare 500 without `Set-Cookie`. Out of line, so
/// that the common path's code stays small.
#[cold]
#[inline(never)]
fn failed<B: Default>(error: &CommitError) -> Response<B> {
    tracing::error!(
        error = %error,
        source = ?std::error::Error::source(error),
        "session commit failed; answering 500"
    );
    let mut failed = Response::new(B::default());
    *failed.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    failed
}
