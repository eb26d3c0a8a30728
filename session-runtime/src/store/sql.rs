//! What the sqlx-based stores (`sqlite`, `postgres`, `mysql`) have in common: the table-name
//! rules and their error, the fixed statements of one table, the split of sqlx errors into
//! [`StoreError::Unavailable`] and [`StoreError::Backend`], and the engine-neutral parts of
//! reading a row and of building and binding a patch's `UPDATE`.
//!
//! The SQL text itself stays in each backend: only the logic around it is shared here.

use std::fmt;

use sqlx::error::DatabaseError;
use sqlx::{ColumnIndex, Database, Decode, Row, Type};

use super::{Patch, Patched, StoreError};

/// The table name used unless the store's `with_table_name` says otherwise.
pub const DEFAULT_TABLE_NAME: &str = "sessions";

/// Which table names one engine accepts. A table name is interpolated into SQL (quoted), so
/// only ASCII letters, digits and `_` are ever accepted.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct TableNameRules {
    /// The longest accepted name, in bytes.
    pub(super) max_len: usize,
    /// Prefixes the engine reserves, compared ignoring ASCII case.
    pub(super) reserved_prefixes: &'static [&'static str],
}

impl TableNameRules {
    /// `Ok` if `name` is 1 to `max_len` ASCII letters, digits or `_` and starts with none of
    /// the reserved prefixes.
    pub(super) fn check(&'static self, name: &str) -> Result<(), InvalidTableName> {
        let valid = !name.is_empty()
            && name.len() <= self.max_len
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            && !self.reserved_prefixes.iter().any(|prefix| {
                name.get(..prefix.len())
                    .is_some_and(|p| p.eq_ignore_ascii_case(prefix))
            });
        if valid {
            Ok(())
        } else {
            Err(InvalidTableName {
                name: name.to_owned(),
                rules: self,
            })
        }
    }
}

/// A table name that a SQL store's `with_table_name` refused.
///
/// A table name is interpolated into SQL, so only 1 to N ASCII letters, digits and `_` are
/// accepted: N is 48 for PostgreSQL (the index names derived from it must stay within its
/// 63-byte identifiers) and 64 for MySQL / MariaDB and SQLite. SQLite also refuses names
/// starting with `sqlite_` (reserved by SQLite). The message states the rules of the store
/// that refused the name.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct InvalidTableName {
    /// The name that was refused.
    pub name: String,
    /// The rules it broke.
    rules: &'static TableNameRules,
}

impl fmt::Debug for InvalidTableName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InvalidTableName")
            .field("name", &self.name)
            .finish()
    }
}

impl fmt::Display for InvalidTableName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid session table name `{}`: use 1 to {} ASCII letters, digits or underscores",
            self.name, self.rules.max_len
        )?;
        for (i, prefix) in self.rules.reserved_prefixes.iter().enumerate() {
            let joint = if i == 0 { ", not starting with" } else { " or" };
            write!(f, "{joint} `{prefix}`")?;
        }
        Ok(())
    }
}

impl std::error::Error for InvalidTableName {}

/// The fixed statements of one table name (validated, then quoted for the engine), built once
/// per store by the backend, which writes the SQL.
#[derive(Debug)]
pub(super) struct Statements {
    /// The table name as configured.
    pub(super) table_name: String,
    /// The table name quoted for the engine.
    pub(super) table: String,
    pub(super) load: String,
    pub(super) create: String,
    pub(super) touch: String,
    pub(super) delete: String,
    pub(super) delete_expired: String,
    pub(super) delete_by_owner: String,
}

/// How long the pool of a server store's `connect` waits for a connection before giving up,
/// so that an outage becomes [`StoreError::Unavailable`] (a 503) quickly.
#[cfg(any(feature = "postgres", feature = "mysql"))]
const CONNECT_ACQUIRE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

/// The pool options of a server store's `connect`: sqlx's defaults, but an acquire timeout of
/// 3 seconds instead of 30.
#[cfg(any(feature = "postgres", feature = "mysql"))]
pub(super) fn pool_options<DB: Database>() -> sqlx::pool::PoolOptions<DB> {
    sqlx::pool::PoolOptions::new().acquire_timeout(CONNECT_ACQUIRE_TIMEOUT)
}

/// Which sqlx errors of one engine mean that the engine cannot be reached
/// ([`StoreError::Unavailable`]); every other error is [`StoreError::Backend`].
///
/// I/O errors, a pool that timed out or was closed and a crashed worker always count.
pub(super) struct ErrorClasses {
    /// Whether TLS and protocol errors count too: for a server behind a socket they mean a
    /// broken connection, while SQLite reports misuse (a NUL in a query, ...) as `Protocol`.
    pub(super) wire: bool,
    /// Whether an error reported by the engine itself counts (its own codes).
    pub(super) database: fn(&dyn DatabaseError) -> bool,
}

impl ErrorClasses {
    /// Whether `error` means the engine could not be used right now.
    pub(super) fn is_unavailable(&self, error: &sqlx::Error) -> bool {
        match error {
            sqlx::Error::Io(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed => true,
            sqlx::Error::Tls(_) | sqlx::Error::Protocol(_) => self.wire,
            sqlx::Error::Database(db) => (self.database)(db.as_ref()),
            _ => false,
        }
    }

    /// `error` as a [`StoreError`]: `Unavailable` or `Backend`, as [`is_unavailable`] says.
    ///
    /// [`is_unavailable`]: Self::is_unavailable
    pub(super) fn store_error(&self, error: sqlx::Error) -> StoreError {
        if self.is_unavailable(&error) {
            StoreError::Unavailable(Box::new(error))
        } else {
            StoreError::Backend(Box::new(error))
        }
    }
}

/// Whether a server error has SQLSTATE class 08 (connection exception).
#[cfg(any(feature = "postgres", feature = "mysql"))]
pub(super) fn is_connection_exception(db: &dyn DatabaseError) -> bool {
    db.code().is_some_and(|code| code.starts_with("08"))
}

/// Column `index` of `row`, or [`StoreError::Corrupt`] with `reason` if it does not decode as
/// a `T`.
pub(super) fn column<'r, R, T>(
    row: &'r R,
    index: usize,
    reason: &'static str,
) -> Result<T, StoreError>
where
    R: Row,
    usize: ColumnIndex<R>,
    T: Decode<'r, R::Database> + Type<R::Database>,
{
    row.try_get(index)
        .map_err(|_| StoreError::Corrupt { reason })
}

/// What an insert-if-absent that affected `rows_affected` rows did.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(super) fn created(rows_affected: u64) -> super::Created {
    if rows_affected == 0 {
        super::Created::Collision
    } else {
        super::Created::Inserted
    }
}

/// What an update of a live row that affected `rows_affected` rows did.
pub(super) fn patched(rows_affected: u64) -> Patched {
    if rows_affected == 0 {
        Patched::Gone
    } else {
        Patched::Applied
    }
}

/// The `SET` list of a patch's `UPDATE`: `data = <data>` if there is a `data` expression
/// (the engine's, for a patch that sets or removes fields), then `expires_at = <p>` and
/// `owner = <p>` if the patch changes them, each `<p>` the next placeholder from `param`. A
/// patch that changes nothing gets `expires_at = expires_at`: the statement still matches
/// only a live row, so the caller still learns whether the record is live.
pub(super) fn assignments(
    data: Option<String>,
    patch: &Patch<'_>,
    mut param: impl FnMut() -> String,
) -> String {
    let mut assignments: Vec<String> = Vec::with_capacity(3);
    if let Some(data) = data {
        assignments.push(format!("data = {data}"));
    }
    if patch.expires_at.is_some() {
        assignments.push(format!("expires_at = {}", param()));
    }
    if patch.owner.is_some() {
        assignments.push(format!("owner = {}", param()));
    }
    if assignments.is_empty() {
        assignments.push("expires_at = expires_at".to_owned());
    }
    assignments.join(", ")
}

/// Binds the parameters of a patch whose `data` expression takes one JSON path and one JSON
/// text per set field, then one JSON path per removed field, followed by the [`assignments`]:
/// the new expiry and the new owner, if the patch changes them. `set_paths` and
/// `remove_paths` are the paths of `patch.set` and `patch.remove`, in order.
#[cfg(any(feature = "sqlite", feature = "mysql"))]
pub(super) fn bind_patch<'q, DB>(
    mut query: sqlx::query::Query<'q, DB, DB::Arguments<'q>>,
    patch: &Patch<'q>,
    set_paths: &'q [String],
    remove_paths: &'q [String],
) -> sqlx::query::Query<'q, DB, DB::Arguments<'q>>
where
    DB: Database,
    &'q str: sqlx::Encode<'q, DB> + Type<DB>,
    Option<&'q str>: sqlx::Encode<'q, DB> + Type<DB>,
    i64: sqlx::Encode<'q, DB> + Type<DB>,
{
    for (path, (_, value)) in set_paths.iter().zip(&patch.set) {
        query = query.bind(path.as_str()).bind(value.get());
    }
    for path in remove_paths {
        query = query.bind(path.as_str());
    }
    if let Some(at) = patch.expires_at {
        query = query.bind(at);
    }
    if let Some(owner) = patch.owner {
        query = query.bind(owner);
    }
    query
}

#[cfg(test)]
mod tests {
    use super::*;

    static PLAIN: TableNameRules = TableNameRules {
        max_len: 8,
        reserved_prefixes: &[],
    };
    static RESERVED: TableNameRules = TableNameRules {
        max_len: 64,
        reserved_prefixes: &["sqlite_"],
    };

    #[test]
    fn table_name_rules() {
        for bad in ["", "a-b", "a b", "a\"b", "é", "abcdefghi"] {
            assert!(PLAIN.check(bad).is_err(), "{bad:?}");
        }
        for good in ["a", "A_1", "abcdefgh", "sqlite_x"] {
            assert!(PLAIN.check(good).is_ok(), "{good:?}");
        }
        for bad in ["sqlite_", "SQLite_master", "sqlite_x"] {
            assert!(RESERVED.check(bad).is_err(), "{bad:?}");
        }
        for good in ["sqlite", "sqlitex", "my_sqlite_t"] {
            assert!(RESERVED.check(good).is_ok(), "{good:?}");
        }
    }

    #[test]
    fn invalid_table_name_messages() {
        let err =
            |rules: &'static TableNameRules, name| rules.check(name).err().map(|e| e.to_string());
        assert_eq!(
            err(&PLAIN, "a-b").as_deref(),
            Some(
                "invalid session table name `a-b`: use 1 to 8 ASCII letters, digits or underscores"
            )
        );
        assert_eq!(
            err(&RESERVED, "sqlite_x").as_deref(),
            Some(
                "invalid session table name `sqlite_x`: use 1 to 64 ASCII letters, digits or \
                 underscores, not starting with `sqlite_`"
            )
        );
        let e = PLAIN.check("").err();
        assert_eq!(
            e.map(|e| format!("{e:?}")).as_deref(),
            Some("InvalidTableName { name: \"\" }")
        );
    }

    #[test]
    fn assignments_in_order() {
        let p = Patch::new();
        assert_eq!(
            assignments(None, &p, || "?".to_owned()),
            "expires_at = expires_at"
        );
        let p = Patch::new().expires_at(5).owner(None);
        let mut n = 0;
        let s = assignments(Some("f(data)".to_owned()), &p, || {
            n += 1;
            format!("${n}")
        });
        assert_eq!(s, "data = f(data), expires_at = $1, owner = $2");
    }
}
