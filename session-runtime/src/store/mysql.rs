//! [`MySqlStore`]: sessions in a MariaDB or MySQL table, one JSON object per session, patched
//! field by field with `JSON_SET` / `JSON_REMOVE` in one `UPDATE`.
//!
//! Written and tested against MariaDB 10.11 (where `JSON` is `LONGTEXT` with a `JSON_VALID`
//! check). It uses only SQL that MySQL 5.7.8+ and 8 have as well, but has not been tested
//! there.
//!
//! # Setting it up
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use session_runtime::{MySqlStore, SessionLayer};
//!
//! // A pool with a 3 s acquire timeout: during an outage, requests get a 503 quickly.
//! let store = MySqlStore::connect("mysql://app:secret@db.internal/app")
//!     .await?
//!     .with_table_name("sessions")?; // the default; [A-Za-z0-9_], at most 64 bytes
//! store.migrate().await?; // idempotent: run it at every start-up
//!
//! // Expired rows are never loaded, but only a sweep deletes them.
//! session_runtime::store::spawn_cleanup(store.clone(), std::time::Duration::from_secs(300));
//!
//! let layer = SessionLayer::new(store);
//! # let _ = layer;
//! # Ok(())
//! # }
//! ```
//!
//! [`MySqlStore::new`] takes a [`MySqlPool`] you built yourself (sharing the application's
//! pool is fine: every operation is one statement). Give that pool a short `acquire_timeout`
//! too: sqlx's default is 30 s, which is how long a request would wait in an outage before its
//! 503.
//!
//! # Schema
//!
//! [`migrate`](MySqlStore::migrate) runs one `CREATE TABLE IF NOT EXISTS` (atomic, so
//! instances starting at once do not race), with `sessions` replaced by the configured name:
//!
//! ```sql
//! CREATE TABLE IF NOT EXISTS `sessions` (
//!     id         BINARY(32) NOT NULL,  -- the SessionKey (SHA-256 of the session id)
//!     data       JSON       NOT NULL,  -- {encoded field name: the field's JSON}
//!     created_at BIGINT     NOT NULL,  -- Unix milliseconds
//!     expires_at BIGINT     NOT NULL,  -- Unix milliseconds
//!     owner      BLOB       NULL,      -- the owner's JSON text, compared byte for byte
//!     PRIMARY KEY (id),
//!     KEY expires_at_idx (expires_at),
//!     KEY owner_idx (owner(255))
//! ) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4
//! ```
//!
//! `owner` is a `BLOB` so that comparisons are exact: the `utf8mb4` collations would make
//! `"Alice"` equal `"alice"` or ignore trailing spaces.
//!
//! # How field names are encoded, and why
//!
//! A patch addresses fields by JSON path (`$."name"`), and the path syntax gives `"` and `\`
//! meanings of their own (MariaDB copies `$."a\"b"` into the key as the raw characters
//! `a\"b`); non-ASCII and control characters in paths are at the mercy of the connection
//! character set. So each field name is stored as a key made only of ASCII letters, digits,
//! `_`, `-` and `.`: those bytes are kept, every other byte of the name's UTF-8 (including `%`)
//! is written `%XX` (upper-case hex). `user_id` stays `user_id`; `😀` becomes
//! `%F0%9F%98%80`; NUL becomes `%00`. Distinct names give distinct keys, and a path built from
//! such a key is always `$."<key>"` with nothing to escape. Paths are sent as bound parameters,
//! never spliced into the SQL text. Loading decodes the keys; a key that this encoding could
//! not have produced is reported as [`StoreError::Corrupt`].
//!
//! Values are stored as plain JSON (MariaDB's JSON is text, so `\u0000` escapes and big
//! numbers are kept as written), so `JSON_EXTRACT(data, '$.user_id')` works from SQL.
//!
//! # Guarantees, and the SQL behind them
//!
//! - `load`: `SELECT data, created_at, expires_at, owner FROM t WHERE id = ? AND
//!   expires_at > ?`: an expired row is never returned, whether or not a sweep ran.
//! - `create`: a plain `INSERT`; the server's duplicate-key error (1062) is reported as
//!   [`Created::Collision`] and nothing is overwritten, live or expired. (Not `INSERT IGNORE`,
//!   which also silences unrelated errors, nor `ON DUPLICATE KEY UPDATE id = id`, whose
//!   affected-row count is 1 both for an insert and for a duplicate when the client sets
//!   `CLIENT_FOUND_ROWS`, which sqlx always does.)
//! - `patch`: one `UPDATE t FORCE INDEX (PRIMARY) SET data = JSON_REMOVE(JSON_SET(data, ?,
//!   JSON_EXTRACT(?, '$'), ...), ?, ...), expires_at = ?, owner = ? WHERE id = ? AND
//!   expires_at > ?`, with a
//!   `JSON_SET` pair per set field, a `JSON_REMOVE` path per removed one, and each assignment
//!   present only if the patch changes that part. InnoDB evaluates the assignment on the
//!   latest row version under the row lock, so concurrent patches to different fields all
//!   survive. The affected-row count is the number of *matched* rows (sqlx sets
//!   `CLIENT_FOUND_ROWS`), so a patch that writes identical values still reports
//!   [`Patched::Applied`], and zero means [`Patched::Gone`].
//! - `touch`: `UPDATE t FORCE INDEX (PRIMARY) SET expires_at = ? WHERE id = ? AND
//!   expires_at > ?`.
//! - `delete`: `DELETE FROM t WHERE id = ?` (idempotent).
//! - `delete_expired`: `DELETE FROM t WHERE expires_at <= ?`, returning the exact row count.
//! - `delete_by_owner`: `DELETE FROM t WHERE owner = ?` (live or expired), returning the
//!   row count.
//!
//! # Locking
//!
//! Each operation is one autocommitted statement. The `UPDATE`s force the primary key:
//! left to itself, MariaDB may scan the `expires_at` index for `expires_at > ?` (it does on
//! small tables), taking gap locks there that deadlock with a concurrent `touch` moving the
//! same row's index entry. A statement InnoDB still picks as a deadlock victim (possible
//! between `delete_expired`'s range scan and concurrent writes) was rolled back whole and is
//! run again, up to 4 times, before the error is returned as [`StoreError::Backend`].
//!
//! # `max_allowed_packet`
//!
//! Every statement the store sends must fit in the server's `max_allowed_packet`: a `create`
//! carries the whole session, a `patch` the fields it sets (a field's JSON text, plus a few
//! bytes per field). MariaDB's default is 16 MiB, MySQL 8's 64 MiB, older MySQL's 4 MiB. It
//! cannot be raised per connection (the session value is read-only): raise it with
//! `SET GLOBAL max_allowed_packet = ...` or in the server configuration. A statement over the
//! limit fails with [`StoreError::Backend`] (server error 1153), never with a truncated
//! record, and the pool replaces the connection the server closed. `migrate` logs a warning
//! when the limit is below 4 MiB. (Reading a session back is not limited by it.)
//!
//! # In an outage
//!
//! Connection-level failures (I/O errors, refused connections, TLS failures, protocol
//! errors, a pool that timed out or was closed, and the server's own "too many connections",
//! "shutdown in progress" and "connection killed" errors) become
//! [`StoreError::Unavailable`], which the layer answers with 503. sqlx's pool pings a
//! connection before handing it out and opens new ones as needed, so the store works again
//! as soon as the server is back, without rebuilding anything. Every other database error
//! is [`StoreError::Backend`].

use std::borrow::Cow;
use std::fmt::Write as _;
use std::sync::Arc;

use sqlx::error::DatabaseError;
use sqlx::mysql::{MySql, MySqlArguments, MySqlDatabaseError, MySqlPool, MySqlQueryResult};
use sqlx::query::Query;
use sqlx::Row as _;

use super::sql::{self, ErrorClasses, FieldEncoding, PathFunctions, Statements, TableNameRules};
use super::{Created, Json, Patch, Patched, Record, SessionStore, StoreError, UnixMillis};
use crate::id::SessionKey;

/// The sqlx crate this store is built on, re-exported so that you can build a [`MySqlPool`] of
/// exactly the matching version (`session_runtime::store::mysql::sqlx::mysql::MySqlPoolOptions`)
/// without a dependency of your own.
pub use sqlx;

pub use super::sql::{InvalidTableName, DEFAULT_TABLE_NAME};

/// The table names [`MySqlStore::with_table_name`] accepts: at most MySQL's identifier limit.
static TABLE_NAMES: TableNameRules = TableNameRules {
    max_len: 64,
    reserved_prefixes: &[],
};

/// Connection-level failures: see "In an outage" in the module docs.
static ERRORS: ErrorClasses = ErrorClasses {
    wire: true,
    database: is_unavailable_code,
};

/// The `data` expression of a patch: `JSON_REMOVE(JSON_SET(data, ?, JSON_EXTRACT(?, '$'), ...),
/// ?, ...)`, each in one call however many fields it names.
static PATCH_DATA: PathFunctions = PathFunctions {
    set: "JSON_SET",
    set_pair: ", ?, JSON_EXTRACT(?, '$')",
    set_pairs_per_call: usize::MAX,
    remove: "JSON_REMOVE",
    remove_paths_per_call: usize::MAX,
};

/// How many times a statement chosen as a deadlock victim is run again.
const DEADLOCK_RETRIES: u32 = 4;

/// `ER_LOCK_DEADLOCK`.
const ER_LOCK_DEADLOCK: u16 = 1213;

/// `ER_NET_PACKET_TOO_LARGE`.
const ER_NET_PACKET_TOO_LARGE: u16 = 1153;

/// Below this `max_allowed_packet`, `migrate` warns.
const SMALL_PACKET: u64 = 4 << 20;

/// Sessions in MariaDB (10.2.7 or later) or MySQL (5.7.8 or later): one row per session, the
/// fields in a JSON object, patched per field in a single `UPDATE`.
///
/// Build it with [`new`](Self::new) (your pool) or [`connect`](Self::connect) (a URL), create
/// the table with [`migrate`](Self::migrate), and purge expired rows with
/// [`spawn_cleanup`](super::spawn_cleanup). Clones share the pool. See the
/// [module docs](self) for the schema, the field-name encoding, the exact SQL and the
/// `max_allowed_packet` requirement.
#[derive(Debug, Clone)]
pub struct MySqlStore {
    pool: MySqlPool,
    sql: Arc<Statements>,
}

/// The statements for one (validated) table name, quoted as `` `<table>` ``.
fn statements(table_name: &str) -> Statements {
    let t = format!("`{table_name}`");
    Statements {
        table_name: table_name.to_owned(),
        load: format!(
            "SELECT data, created_at, expires_at, owner FROM {t} \
             WHERE id = ? AND expires_at > ?"
        ),
        create: format!(
            "INSERT INTO {t} (id, data, created_at, expires_at, owner) VALUES (?, ?, ?, ?, ?)"
        ),
        touch: format!(
            "UPDATE {t} FORCE INDEX (PRIMARY) SET expires_at = ? \
             WHERE id = ? AND expires_at > ?"
        ),
        delete: format!("DELETE FROM {t} WHERE id = ?"),
        delete_expired: format!("DELETE FROM {t} WHERE expires_at <= ?"),
        delete_by_owner: format!("DELETE FROM {t} WHERE owner = ?"),
        table: t,
    }
}

impl MySqlStore {
    /// A store on `pool`, using the table [`DEFAULT_TABLE_NAME`] (`sessions`).
    ///
    /// Nothing is checked or created here: call [`migrate`](Self::migrate) once before use.
    pub fn new(pool: MySqlPool) -> Self {
        MySqlStore {
            pool,
            sql: Arc::new(statements(DEFAULT_TABLE_NAME)),
        }
    }

    /// Connects to `url` (`mysql://user:password@host:port/database?...`, for MariaDB too)
    /// with a pool whose acquire timeout is 3 seconds, so that an outage turns into
    /// [`StoreError::Unavailable`] (a 503) quickly instead of holding requests for sqlx's
    /// default 30 seconds.
    ///
    /// Fails with [`StoreError::Unavailable`] if the server cannot be reached within that time,
    /// and with [`StoreError::Backend`] for a malformed URL or refused credentials.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let pool = sql::pool_options().connect(url).await.map_err(map_err)?;
        Ok(Self::new(pool))
    }

    /// Uses the table `name` instead of `sessions`.
    ///
    /// The name must be 1 to 64 ASCII letters, digits or underscores. Whether `Sessions` and
    /// `sessions` are the same table depends on the server's `lower_case_table_names`.
    pub fn with_table_name(mut self, name: &str) -> Result<Self, InvalidTableName> {
        TABLE_NAMES.check(name)?;
        self.sql = Arc::new(statements(name));
        Ok(self)
    }

    /// The table this store uses.
    pub fn table_name(&self) -> &str {
        &self.sql.table_name
    }

    /// The pool this store uses.
    pub fn pool(&self) -> &MySqlPool {
        &self.pool
    }

    /// Creates the table and its indexes if they do not exist (see the [module docs](self) for
    /// the DDL). Idempotent; one atomic statement, so safe to run from several processes at
    /// once. Logs a warning if the server's `max_allowed_packet` is below 4 MiB.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        let t = &self.sql.table;
        let ddl = format!(
            "CREATE TABLE IF NOT EXISTS {t} (\
             id BINARY(32) NOT NULL, \
             data JSON NOT NULL, \
             created_at BIGINT NOT NULL, \
             expires_at BIGINT NOT NULL, \
             owner BLOB NULL, \
             PRIMARY KEY (id), \
             KEY expires_at_idx (expires_at), \
             KEY owner_idx (owner(255))\
             ) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4"
        );
        sqlx::query(&ddl)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;

        let packet: Option<u64> =
            sqlx::query_scalar("SELECT CAST(@@max_allowed_packet AS UNSIGNED)")
                .fetch_one(&self.pool)
                .await
                .map_err(map_err)?;
        if let Some(packet) = packet.filter(|p| *p < SMALL_PACKET) {
            tracing::warn!(
                max_allowed_packet = packet,
                "the server's max_allowed_packet is small: a session create or patch larger than it \
                 fails; raise it with SET GLOBAL max_allowed_packet"
            );
        }
        Ok(())
    }
}

impl SessionStore for MySqlStore {
    async fn load(&self, key: &SessionKey, now: UnixMillis) -> Result<Option<Record>, StoreError> {
        let row = sqlx::query(&self.sql.load)
            .bind(key.as_bytes().as_slice())
            .bind(now)
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?;
        let Some(row) = row else {
            return Ok(None);
        };
        // Unchecked: MariaDB reports `data` as a binary-collation LONGTEXT and MySQL 8 as JSON,
        // and sqlx's `String` refuses both; the bytes are the JSON text either way (and are
        // still checked to be UTF-8).
        let data: String = row.try_get_unchecked(0).map_err(|_| StoreError::Corrupt {
            reason: "`data` is not UTF-8 text",
        })?;
        let created_at: i64 = sql::column(&row, 1, "`created_at` is not a BIGINT")?;
        let expires_at: i64 = sql::column(&row, 2, "`expires_at` is not a BIGINT")?;
        let owner: Option<Vec<u8>> = sql::column(&row, 3, "`owner` is not a BLOB")?;

        let fields = sql::decode_fields::<EncodedNames>(&data, "`data` is not a JSON object")?;
        let owner = owner
            .map(String::from_utf8)
            .transpose()
            .map_err(|_| StoreError::Corrupt {
                reason: "`owner` is not UTF-8",
            })?;
        Ok(Some(
            Record::new(fields, created_at, expires_at).with_owner(owner),
        ))
    }

    async fn create(&self, key: &SessionKey, record: &Record) -> Result<Created, StoreError> {
        let data = sql::json_object(
            record
                .fields
                .iter()
                .map(|(name, value)| (encode_name(name), value)),
        )?;
        let result = execute(&self.pool, || {
            sqlx::query(&self.sql.create)
                .bind(key.as_bytes().as_slice())
                .bind(data.as_str())
                .bind(record.created_at)
                .bind(record.expires_at)
                .bind(record.owner.as_deref())
        })
        .await;
        match result {
            Ok(_) => Ok(Created::Inserted),
            Err(sqlx::Error::Database(db)) if db.is_unique_violation() => Ok(Created::Collision),
            Err(e) => Err(map_err(e)),
        }
    }

    async fn patch(
        &self,
        key: &SessionKey,
        patch: &Patch<'_>,
        now: UnixMillis,
    ) -> Result<Patched, StoreError> {
        // A patch that changes nothing still counts the live row as affected: sqlx sets
        // CLIENT_FOUND_ROWS.
        let update = format!(
            "UPDATE {} FORCE INDEX (PRIMARY) SET {} WHERE id = ? AND expires_at > ?",
            self.sql.table,
            sql::assignments(PATCH_DATA.data(patch), patch, || "?".to_owned())
        );

        // Parameters in the order of their `?`s: JSON_SET pairs, JSON_REMOVE paths, the
        // expiry, the owner, then the WHERE clause.
        let set_paths: Vec<String> = patch.set.iter().map(|(name, _)| path(name)).collect();
        let remove_paths: Vec<String> = patch.remove.iter().map(|name| path(name)).collect();
        let done = execute(&self.pool, || {
            sql::bind_patch(sqlx::query(&update), patch, &set_paths, &remove_paths)
                .bind(key.as_bytes().as_slice())
                .bind(now)
        })
        .await
        .map_err(map_err)?;
        Ok(sql::patched(done.rows_affected()))
    }

    async fn touch(
        &self,
        key: &SessionKey,
        expires_at: UnixMillis,
        now: UnixMillis,
    ) -> Result<Patched, StoreError> {
        let done = execute(&self.pool, || {
            sqlx::query(&self.sql.touch)
                .bind(expires_at)
                .bind(key.as_bytes().as_slice())
                .bind(now)
        })
        .await
        .map_err(map_err)?;
        Ok(sql::patched(done.rows_affected()))
    }

    async fn delete(&self, key: &SessionKey) -> Result<(), StoreError> {
        execute(&self.pool, || {
            sqlx::query(&self.sql.delete).bind(key.as_bytes().as_slice())
        })
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn delete_expired(&self, now: UnixMillis) -> Result<u64, StoreError> {
        let done = execute(&self.pool, || {
            sqlx::query(&self.sql.delete_expired).bind(now)
        })
        .await
        .map_err(map_err)?;
        Ok(done.rows_affected())
    }

    async fn delete_by_owner(&self, owner: &str) -> Result<u64, StoreError> {
        let done = execute(&self.pool, || {
            sqlx::query(&self.sql.delete_by_owner).bind(owner)
        })
        .await
        .map_err(map_err)?;
        Ok(done.rows_affected())
    }
}

/// Runs the statement `build` makes, and makes and runs it again (at most
/// [`DEADLOCK_RETRIES`] more times) when InnoDB chose it as a deadlock victim: the victim's
/// whole statement was rolled back, so running it again is safe.
async fn execute<'q>(
    pool: &MySqlPool,
    build: impl Fn() -> Query<'q, MySql, MySqlArguments>,
) -> Result<MySqlQueryResult, sqlx::Error> {
    let mut retries = 0;
    loop {
        match build().execute(pool).await {
            Err(sqlx::Error::Database(db))
                if retries < DEADLOCK_RETRIES
                    && mysql_number(db.as_ref()) == Some(ER_LOCK_DEADLOCK) =>
            {
                retries += 1;
                tracing::debug!(
                    retries,
                    "session store statement was a deadlock victim; retrying"
                );
                tokio::task::yield_now().await;
            }
            other => return other,
        }
    }
}

/// The server's error number, if the error came from MySQL / MariaDB.
fn mysql_number(db: &dyn DatabaseError) -> Option<u16> {
    db.try_downcast_ref::<MySqlDatabaseError>()
        .map(MySqlDatabaseError::number)
}

/// Bytes a stored key keeps as they are; every other byte is `%XX`.
fn is_plain(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.')
}

/// A field name as a stored key: see the module docs.
fn encode_name(name: &str) -> Cow<'_, str> {
    if name.bytes().all(is_plain) {
        return Cow::Borrowed(name);
    }
    let mut out = String::with_capacity(name.len() * 3);
    for b in name.bytes() {
        if is_plain(b) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    Cow::Owned(out)
}

/// The inverse of [`encode_name`]; refuses keys it could not have produced.
fn decode_name(key: &str) -> Result<String, StoreError> {
    const BAD: StoreError = StoreError::Corrupt {
        reason: "a stored field name is not in the store's key encoding",
    };
    let bytes = key.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if is_plain(b) {
            out.push(b);
            i += 1;
        } else if b == b'%' {
            let hex = |d: u8| match d {
                b'0'..=b'9' => Some(d - b'0'),
                b'A'..=b'F' => Some(d - b'A' + 10),
                _ => None,
            };
            let (Some(hi), Some(lo)) = (
                bytes.get(i + 1).copied().and_then(hex),
                bytes.get(i + 2).copied().and_then(hex),
            ) else {
                return Err(BAD);
            };
            let decoded = (hi << 4) | lo;
            if is_plain(decoded) {
                // Never produced: a plain byte is always written as itself.
                return Err(BAD);
            }
            out.push(decoded);
            i += 3;
        } else {
            return Err(BAD);
        }
    }
    String::from_utf8(out).map_err(|_| BAD)
}

/// The JSON path of a field: `$."<encoded name>"` (the encoding leaves nothing to escape).
fn path(name: &str) -> String {
    format!("$.\"{}\"", encode_name(name))
}

/// The entries of the stored JSON object: encoded names, values as they are.
struct EncodedNames;

impl FieldEncoding for EncodedNames {
    type Value = Json;

    fn decode(key: String, value: Json) -> Result<(String, Json), StoreError> {
        Ok((decode_name(&key)?, value))
    }
}

/// sqlx errors to [`StoreError`]: connection-level failures are `Unavailable`.
fn map_err(error: sqlx::Error) -> StoreError {
    ERRORS.store_error(error)
}

/// Whether a server error means MySQL / MariaDB cannot serve us right now.
fn is_unavailable_code(db: &dyn DatabaseError) -> bool {
    match mysql_number(db) {
        // "Packet bigger than max_allowed_packet" comes with SQLSTATE 08S01, but it is about
        // this statement's size, not an outage: retrying would not help.
        Some(ER_NET_PACKET_TOO_LARGE) => false,
        // Too many connections, shutdown in progress, shutdown (3), aborted connection (2),
        // connection killed (MariaDB).
        Some(1040 | 1053 | 1077 | 1078 | 1079 | 1152 | 1184 | 1927) => true,
        // SQLSTATE class 08: connection exception.
        _ => sql::is_connection_exception(db),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_the_key_encoding() {
        let names = [
            "user_id",
            "a-b.c",
            "",
            "%",
            "%25",
            "a\0b",
            "quote\"back\\slash",
            "space name",
            "😀",
            "名前",
            "e\u{301}",
            "$.x[0]*",
        ];
        for name in names {
            let key = encode_name(name);
            assert!(
                key.bytes().all(|b| is_plain(b) || b == b'%'),
                "{name:?} -> {key:?}"
            );
            assert_eq!(decode_name(&key).ok().as_deref(), Some(name), "{key:?}");
        }
        assert_eq!(encode_name("user_id"), "user_id");
        assert_eq!(encode_name("😀\0%"), "%F0%9F%98%80%00%25");
        assert_eq!(path("a\"b"), "$.\"a%22b\"");
    }

    #[test]
    fn foreign_keys_are_refused() {
        for key in ["a b", "%", "%4", "%zz", "%41", "%e9", "%FF", "é", "a\"b"] {
            assert!(
                matches!(decode_name(key), Err(StoreError::Corrupt { .. })),
                "{key:?}"
            );
        }
    }
}
