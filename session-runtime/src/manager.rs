//! [`SessionManager`]: session operations outside a request.

use std::sync::Arc;

use axum_core::extract::FromRequestParts;
use http::request::Parts;

use crate::rejection::SessionRejection;
use crate::state::{Backend, RequestSession, Shared};
use crate::store::StoreError;

/// Why a [`SessionManager`] operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ManagerError {
    /// The store failed.
    #[error("session store failed")]
    Store(#[from] StoreError),
    /// The value identifying the user could not be encoded as JSON.
    #[error("the user id could not be encoded")]
    Encode(#[source] serde_json::Error),
    /// The client-side cookie store keeps no server state, so it cannot find (or revoke)
    /// the sessions of a user.
    #[error("the cookie store cannot revoke sessions: it keeps no server-side state")]
    Unsupported,
}

/// Session operations that are not about the current request, such as revoking every
/// session of one user after a password change.
///
/// Get one from [`SessionLayer::manager`](crate::SessionLayer::manager) (to keep in your
/// application state) or extract it in a handler behind the layer.
#[derive(Clone, Debug)]
pub struct SessionManager {
    shared: Arc<Shared>,
}

impl SessionManager {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        SessionManager { shared }
    }

    /// Deletes every session of this application (its
    /// [`key prefix`](crate::SessionLayer::with_key_prefix)) whose `#[session(user_id)]` field
    /// equals `user`, live or expired; returns how many were deleted. `user` must serialize exactly like that field
    /// (for an `Option<String>` field, pass the `String` or the `&str`).
    pub async fn destroy_all_for<U: serde::Serialize + ?Sized>(
        &self,
        user: &U,
    ) -> Result<u64, ManagerError> {
        let json = serde_json::to_string(user).map_err(ManagerError::Encode)?;
        let owner = crate::state::owner_tag(&self.shared.config.key_prefix, &json);
        match &self.shared.backend {
            Backend::Server(store) => Ok(store.delete_by_owner(&owner).await?),
            Backend::Cookie(_) => Err(ManagerError::Unsupported),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for SessionManager {
    type Rejection = SessionRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let handle = parts
            .extensions
            .get::<Arc<RequestSession>>()
            .ok_or(SessionRejection::MissingLayer)?;
        Ok(SessionManager::new(handle.shared().clone()))
    }
}
