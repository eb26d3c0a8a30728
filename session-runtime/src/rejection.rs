//! Why a session extractor refused a request.

use axum_core::response::{IntoResponse, Response};
use http::StatusCode;

use crate::store::StoreError;

/// Rejection of [`Session`](struct@crate::Session) and [`ReadSession`](crate::ReadSession).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SessionRejection {
    /// The route is not wrapped in a [`SessionLayer`](crate::SessionLayer): a server bug, 500.
    #[error("session layer missing: is `SessionLayer` installed on this router?")]
    MissingLayer,
    /// The store could not load the session: 503, so the client can retry with the same
    /// cookie instead of silently getting a new, empty session.
    #[error("session store unavailable")]
    Store(#[source] StoreError),
}

impl SessionRejection {
    /// The status this rejection answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            SessionRejection::MissingLayer => StatusCode::INTERNAL_SERVER_ERROR,
            SessionRejection::Store(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

impl IntoResponse for SessionRejection {
    fn into_response(self) -> Response {
        match &self {
            SessionRejection::MissingLayer => tracing::error!("{self}"),
            SessionRejection::Store(e) => {
                tracing::error!(error = %e, source = ?std::error::Error::source(e), "session load failed")
            }
        }
        (self.status(), self.to_string()).into_response()
    }
}
