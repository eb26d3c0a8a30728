//! Errors raised while committing a session at the end of a request.

use crate::store::StoreError;

/// Why a session could not be saved. The layer logs it and answers 500 without `Set-Cookie`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CommitError {
    /// The store failed.
    #[error("session store failed during commit")]
    Store(#[from] StoreError),
    /// A field value could not be encoded as JSON (for example a map with non-string keys).
    #[error("session field `{field}` could not be encoded")]
    Encode {
        /// The stored name of the field.
        field: &'static str,
        /// What serde_json said.
        #[source]
        source: serde_json::Error,
    },
    /// Freshly generated ids kept colliding with existing records (a broken store or RNG).
    #[error("could not find an unused session id")]
    IdCollisions,
    /// The custom id generator returned an empty, too long (over 256) or non-URL-safe id
    /// (only `[A-Za-z0-9_-]` is allowed).
    #[error("the custom session id generator returned an invalid id")]
    InvalidGeneratedId,
    /// The cookie store's sealed session would exceed what browsers keep for one cookie.
    /// Nothing is sent: a truncated or dropped cookie would lose the session silently.
    #[error(
        "the session cookie would be {size} bytes (name plus value); browsers keep at most {limit}"
    )]
    CookieTooLarge {
        /// Name plus value, in bytes.
        size: usize,
        /// The limit.
        limit: usize,
    },
}
