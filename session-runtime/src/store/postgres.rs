//! [`PostgresStore`]: sessions in a PostgreSQL table, one `jsonb` object per session, patched
//! field by field in one `UPDATE`.
//!
//! # Setting it up
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use session_runtime::{PostgresStore, SessionLayer};
//!
//! // A pool with a 3 s acquire timeout: during an outage, requests get a 503 quickly.
//! let store = PostgresStore::connect("postgres://app@db.internal/app")
//!     .await?
//!     .with_table_name("sessions")?; // the default; [A-Za-z0-9_], at most 48 bytes
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
//! [`PostgresStore::new`] takes a [`PgPool`] you built yourself (sharing the application's
//! pool is fine: every operation is one statement, except `migrate`). Give that pool a short
//! `acquire_timeout` too: sqlx's default is 30 s, which is how long a request would wait in an
//! outage before its 503.
//!
//! # Schema
//!
//! [`migrate`](PostgresStore::migrate) runs, in one transaction holding an advisory lock (so
//! that several instances starting at once do not race), with `sessions` replaced by the
//! configured table name:
//!
//! ```sql
//! CREATE TABLE IF NOT EXISTS "sessions" (
//!     id         BYTEA  PRIMARY KEY,   -- the 32-byte SessionKey (SHA-256 of the session id)
//!     data       JSONB  NOT NULL,      -- {escaped field name: "the field's JSON text"}
//!     created_at BIGINT NOT NULL,      -- Unix milliseconds
//!     expires_at BIGINT NOT NULL,      -- Unix milliseconds
//!     owner      TEXT                  -- escaped owner (see below), NULL if none
//! );
//! CREATE INDEX IF NOT EXISTS "sessions_expires_at_idx" ON "sessions" (expires_at);
//! CREATE INDEX IF NOT EXISTS "sessions_owner_idx" ON "sessions" (owner) WHERE owner IS NOT NULL;
//! ```
//!
//! # How fields are encoded, and why
//!
//! PostgreSQL's `jsonb` and `text` cannot hold the character U+0000: `'{"a":"\u0000"}'::jsonb`
//! fails with "unsupported Unicode escape sequence", and so does a NUL in an object key. Session
//! fields are arbitrary JSON and field names arbitrary strings, so both may contain it. The
//! store therefore keeps `data` as a `jsonb` object in which
//!
//! - each **value** is a JSON *string* whose content is the field's JSON text, byte for byte:
//!   the field `"a\u0000b"` (JSON text, 10 characters) is stored as the jsonb string
//!   `"\"a\\u0000b\""`. JSON text never contains a raw NUL (JSON requires control characters
//!   to be escaped), so the stored string never does either; the escape sequence is six
//!   ordinary characters to PostgreSQL. A side effect: values come back exactly as they were
//!   written (number precision, whitespace and key order of nested objects included).
//! - each **key** is the field name with `%` written as `%25` and NUL as `%00` (nothing else
//!   changes, so names stay readable in `psql`). Loading reverses it; a key with any other `%`
//!   sequence is reported as [`StoreError::Corrupt`].
//! - the **owner** column is escaped the same way, and [`delete_by_owner`] escapes its
//!   argument before comparing.
//!
//! Because the object stays keyed by field name, a patch still names only its fields, in one
//! statement (next section). The price is that SQL cannot look *inside* a field's value
//! without `(data ->> 'name')::jsonb` (which fails for values containing `\u0000`).
//!
//! # Guarantees, and the SQL behind them
//!
//! - `load`: `SELECT data, created_at, expires_at, owner FROM t WHERE id = $1 AND
//!   expires_at > $now`: an expired row is never returned, whether or not a sweep ran.
//! - `create`: `INSERT ... ON CONFLICT (id) DO NOTHING`; zero rows affected means the key is
//!   taken (by a live or an expired, unpurged row) and is reported as
//!   [`Created::Collision`]; nothing is overwritten.
//! - `patch`: one `UPDATE t SET data = (data || $set::jsonb) - $removed::text[],
//!   expires_at = $exp, owner = $owner WHERE id = $1 AND expires_at > $now`, where each
//!   assignment is present only if the patch changes that part (a touch-only patch does not
//!   rewrite `data`). `||` replaces only the named keys and `-` removes only the named ones;
//!   under `READ COMMITTED`, a concurrent `UPDATE` of the same row waits for the first and
//!   then re-evaluates the expression on the new row version, so concurrent patches to
//!   different fields all survive. Zero rows affected: [`Patched::Gone`] (deleted, expired,
//!   or never created): an update never resurrects a row.
//! - `touch`: `UPDATE t SET expires_at = $2 WHERE id = $1 AND expires_at > $now`.
//! - `delete`: `DELETE FROM t WHERE id = $1` (idempotent).
//! - `delete_expired`: `DELETE FROM t WHERE expires_at <= $now`, returning the row count.
//! - `delete_by_owner`: `DELETE FROM t WHERE owner = $1` (live or expired), returning the
//!   row count.
//!
//! [`delete_by_owner`]: SessionStore::delete_by_owner
//!
//! # In an outage
//!
//! Connection-level failures (I/O errors, refused connections, TLS failures, protocol
//! errors, a pool that timed out or was closed, and the server's own "shutting down",
//! "starting up", "too many connections" and connection-exception errors) become
//! [`StoreError::Unavailable`], which the layer answers with 503. sqlx's pool pings a
//! connection before handing it out and opens new ones as needed, so the store works again
//! as soon as the server is back, without rebuilding anything. Every other database error
//! is [`StoreError::Backend`].

use std::borrow::Cow;
use std::sync::Arc;

use sqlx::error::DatabaseError;
use sqlx::postgres::PgPool;
use sqlx::types::Json;

use super::sql::{self, ErrorClasses, FieldEncoding, Statements, StoredFields, TableNameRules};
use super::Json as FieldJson;
use super::{Created, Patch, Patched, Record, SessionStore, StoreError, UnixMillis};
use crate::id::SessionKey;

/// The sqlx crate this store is built on, re-exported so that you can build a [`PgPool`] of
/// exactly the matching version (`session_runtime::store::postgres::sqlx::postgres::PgPoolOptions`)
/// without a dependency of your own.
pub use sqlx;

pub use super::sql::{InvalidTableName, DEFAULT_TABLE_NAME};

/// The table names [`PostgresStore::with_table_name`] accepts: at most 48 bytes, so that the
/// index names derived from them (`<table>_expires_at_idx`) stay within PostgreSQL's 63-byte
/// identifier limit.
static TABLE_NAMES: TableNameRules = TableNameRules {
    max_len: 48,
    reserved_prefixes: &[],
};

/// Connection-level failures: see "In an outage" in the module docs.
static ERRORS: ErrorClasses = ErrorClasses {
    wire: true,
    database: is_unavailable_code,
};

/// Sessions in PostgreSQL (9.5 or later): one row per session, the fields in a `jsonb`
/// object, patched per field in a single `UPDATE`.
///
/// Build it with [`new`](Self::new) (your pool) or [`connect`](Self::connect) (a URL), create
/// the table with [`migrate`](Self::migrate), and purge expired rows with
/// [`spawn_cleanup`](super::spawn_cleanup). Clones share the pool. See the
/// [module docs](self) for the schema, the field encoding and the exact SQL.
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
    sql: Arc<Statements>,
}

/// The statements for one (validated) table name, quoted as `"<table>"`.
fn statements(table_name: &str) -> Statements {
    let t = format!("\"{table_name}\"");
    Statements {
        table_name: table_name.to_owned(),
        load: format!(
            "SELECT data, created_at, expires_at, owner FROM {t} \
             WHERE id = $1 AND expires_at > $2"
        ),
        create: format!(
            "INSERT INTO {t} (id, data, created_at, expires_at, owner) \
             VALUES ($1, $2::jsonb, $3, $4, $5) ON CONFLICT (id) DO NOTHING"
        ),
        touch: format!("UPDATE {t} SET expires_at = $2 WHERE id = $1 AND expires_at > $3"),
        delete: format!("DELETE FROM {t} WHERE id = $1"),
        delete_expired: format!("DELETE FROM {t} WHERE expires_at <= $1"),
        delete_by_owner: format!("DELETE FROM {t} WHERE owner = $1"),
        table: t,
    }
}

impl PostgresStore {
    /// A store on `pool`, using the table [`DEFAULT_TABLE_NAME`] (`sessions`).
    ///
    /// Nothing is checked or created here: call [`migrate`](Self::migrate) once before use.
    pub fn new(pool: PgPool) -> Self {
        PostgresStore {
            pool,
            sql: Arc::new(statements(DEFAULT_TABLE_NAME)),
        }
    }

    /// Connects to `url` (`postgres://user:password@host:port/database?...`) with a pool whose
    /// acquire timeout is 3 seconds, so that an outage turns into
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
    /// The name must be 1 to 48 ASCII letters, digits or underscores; it is used as a quoted
    /// identifier, so its case is kept (`Sessions` and `sessions` are two tables).
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
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Creates the table and its indexes if they do not exist (see the [module docs](self) for
    /// the DDL). Idempotent, and safe to run from several processes at once: it runs in one
    /// transaction that first takes an advisory lock derived from the table name.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        let name = &self.sql.table_name;
        let t = &self.sql.table;
        let mut tx = self.pool.begin().await.map_err(map_err)?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(migrate_lock_key(name))
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        let ddl = [
            format!(
                "CREATE TABLE IF NOT EXISTS {t} (\
                 id BYTEA PRIMARY KEY, \
                 data JSONB NOT NULL, \
                 created_at BIGINT NOT NULL, \
                 expires_at BIGINT NOT NULL, \
                 owner TEXT)"
            ),
            format!("CREATE INDEX IF NOT EXISTS \"{name}_expires_at_idx\" ON {t} (expires_at)"),
            format!(
                "CREATE INDEX IF NOT EXISTS \"{name}_owner_idx\" ON {t} (owner) \
                 WHERE owner IS NOT NULL"
            ),
        ];
        for statement in &ddl {
            sqlx::query(statement)
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
        }
        tx.commit().await.map_err(map_err)
    }
}

impl SessionStore for PostgresStore {
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
        let Json(data): Json<StoredFields<Escaped>> =
            sql::column(&row, 0, "`data` is not a JSON object of strings")?;
        let created_at: i64 = sql::column(&row, 1, "`created_at` is not a BIGINT")?;
        let expires_at: i64 = sql::column(&row, 2, "`expires_at` is not a BIGINT")?;
        let owner: Option<String> = sql::column(&row, 3, "`owner` is not TEXT")?;

        let fields = data.into_fields()?;
        let owner = owner.map(unescape).transpose()?;
        Ok(Some(
            Record::new(fields, created_at, expires_at).with_owner(owner),
        ))
    }

    async fn create(&self, key: &SessionKey, record: &Record) -> Result<Created, StoreError> {
        let data = encode_fields(record.fields.iter())?;
        let done = sqlx::query(&self.sql.create)
            .bind(key.as_bytes().as_slice())
            .bind(data)
            .bind(record.created_at)
            .bind(record.expires_at)
            .bind(record.owner.as_deref().map(escape))
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(sql::created(done.rows_affected()))
    }

    async fn patch(
        &self,
        key: &SessionKey,
        patch: &Patch<'_>,
        now: UnixMillis,
    ) -> Result<Patched, StoreError> {
        // $1 = id, $2 = now; then one parameter per assignment, in this order.
        let mut next = 3;
        let mut param = || {
            let p = format!("${next}");
            next += 1;
            p
        };
        let data = match (patch.set.is_empty(), patch.remove.is_empty()) {
            (false, false) => {
                let (s, r) = (param(), param());
                Some(format!("(data || {s}::jsonb) - {r}::text[]"))
            }
            (false, true) => Some(format!("data || {}::jsonb", param())),
            (true, false) => Some(format!("data - {}::text[]", param())),
            (true, true) => None,
        };
        let update = format!(
            "UPDATE {} SET {} WHERE id = $1 AND expires_at > $2",
            self.sql.table,
            sql::assignments(data, patch, param)
        );

        let mut query = sqlx::query(&update)
            .bind(key.as_bytes().as_slice())
            .bind(now);
        if !patch.set.is_empty() {
            query = query.bind(encode_fields(patch.set.iter().copied())?);
        }
        if !patch.remove.is_empty() {
            let removed: Vec<String> = patch
                .remove
                .iter()
                .map(|n| escape(n).into_owned())
                .collect();
            query = query.bind(removed);
        }
        if let Some(at) = patch.expires_at {
            query = query.bind(at);
        }
        if let Some(owner) = patch.owner {
            query = query.bind(owner.map(escape));
        }
        let done = query.execute(&self.pool).await.map_err(map_err)?;
        Ok(sql::patched(done.rows_affected()))
    }

    async fn touch(
        &self,
        key: &SessionKey,
        expires_at: UnixMillis,
        now: UnixMillis,
    ) -> Result<Patched, StoreError> {
        let done = sqlx::query(&self.sql.touch)
            .bind(key.as_bytes().as_slice())
            .bind(expires_at)
            .bind(now)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(sql::patched(done.rows_affected()))
    }

    async fn delete(&self, key: &SessionKey) -> Result<(), StoreError> {
        sqlx::query(&self.sql.delete)
            .bind(key.as_bytes().as_slice())
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn delete_expired(&self, now: UnixMillis) -> Result<u64, StoreError> {
        let done = sqlx::query(&self.sql.delete_expired)
            .bind(now)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(done.rows_affected())
    }

    async fn delete_by_owner(&self, owner: &str) -> Result<u64, StoreError> {
        let done = sqlx::query(&self.sql.delete_by_owner)
            .bind(escape(owner))
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(done.rows_affected())
    }
}

/// Field names (and owners) as stored: `%` becomes `%25` and NUL becomes `%00`, because
/// PostgreSQL text cannot hold NUL. Every other character is kept.
fn escape(name: &str) -> Cow<'_, str> {
    if !name.contains(['%', '\0']) {
        return Cow::Borrowed(name);
    }
    let mut out = String::with_capacity(name.len() + 8);
    for c in name.chars() {
        match c {
            '%' => out.push_str("%25"),
            '\0' => out.push_str("%00"),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// The inverse of [`escape`]; any other `%` sequence means the row was not written by this
/// store.
fn unescape(stored: String) -> Result<String, StoreError> {
    if !stored.contains('%') {
        return Ok(stored);
    }
    let mut out = String::with_capacity(stored.len());
    let mut rest = stored.as_str();
    while let Some(i) = rest.find('%') {
        out.push_str(&rest[..i]);
        match rest.get(i + 1..i + 3) {
            Some("25") => out.push('%'),
            Some("00") => out.push('\0'),
            _ => {
                return Err(StoreError::Corrupt {
                    reason: "a stored field name or owner has an invalid `%` escape",
                })
            }
        }
        rest = &rest[i + 3..];
    }
    out.push_str(rest);
    Ok(out)
}

/// `{escaped name: "JSON text", ...}`: the jsonb object `create` inserts and `patch` merges.
fn encode_fields<'a>(
    fields: impl Iterator<Item = (&'a str, &'a FieldJson)> + Clone,
) -> Result<String, StoreError> {
    sql::json_object(fields.map(|(name, value)| (escape(name), value.as_str())))
}

/// The entries of the stored jsonb object, as [`encode_fields`] writes them.
struct Escaped;

impl FieldEncoding for Escaped {
    type Value = String;

    fn decode(key: String, json: String) -> Result<(String, FieldJson), StoreError> {
        let value = FieldJson::from_string(json).map_err(|_| StoreError::Corrupt {
            reason: "a stored field value is not JSON text",
        })?;
        Ok((unescape(key)?, value))
    }
}

/// The advisory-lock key `migrate` serializes on: FNV-1a of a fixed prefix and the table name.
fn migrate_lock_key(table_name: &str) -> i64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in b"session_runtime.migrate:"
        .iter()
        .chain(table_name.as_bytes())
    {
        hash ^= u64::from(*b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash as i64
}

/// sqlx errors to [`StoreError`]: connection-level failures are `Unavailable`.
fn map_err(error: sqlx::Error) -> StoreError {
    ERRORS.store_error(error)
}

/// Whether a server error means PostgreSQL cannot serve us right now: SQLSTATE class 08
/// (connection exception); 57P01..57P03: admin shutdown, crash shutdown, cannot connect now
/// (starting up); 53300: too many connections.
fn is_unavailable_code(db: &dyn DatabaseError) -> bool {
    sql::is_connection_exception(db)
        || db
            .code()
            .is_some_and(|code| matches!(&*code, "57P01" | "57P02" | "57P03" | "53300"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_round_trips() {
        for name in [
            "plain",
            "",
            "%",
            "%%00",
            "%00",
            "a\0b",
            "\0\0%",
            "😀%25\0",
            "100%",
        ] {
            let stored = escape(name);
            assert!(!stored.contains('\0'), "{name:?} escaped to {stored:?}");
            assert_eq!(unescape(stored.into_owned()).ok().as_deref(), Some(name));
        }
        assert!(matches!(escape("no escapes"), Cow::Borrowed(_)));
    }

    #[test]
    fn unescape_refuses_foreign_escapes() {
        for stored in ["%", "%2", "%41", "a%zz", "%0"] {
            assert!(
                matches!(unescape(stored.to_owned()), Err(StoreError::Corrupt { .. })),
                "{stored:?}"
            );
        }
    }

    #[test]
    fn fields_encode_as_strings_of_json_text() {
        let v = FieldJson::from_string(r#"{"x": "\u0000"}"#.to_owned()).ok();
        let v = v.as_ref().map(|v| encode_fields([("a\0%", v)].into_iter()));
        assert_eq!(
            v.and_then(Result::ok).as_deref(),
            Some(r#"{"a%00%25":"{\"x\": \"\\u0000\"}"}"#)
        );
    }

    #[test]
    fn table_names_are_validated() {
        let opts = "postgres://localhost/x".parse::<sqlx::postgres::PgConnectOptions>();
        let Ok(opts) = opts else { panic!("options") };
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build();
        let Ok(rt) = rt else { panic!("runtime") };
        rt.block_on(async {
            let store =
                PostgresStore::new(sqlx::postgres::PgPoolOptions::new().connect_lazy_with(opts));
            assert_eq!(store.table_name(), "sessions");
            for bad in ["", "a-b", "a b", "a\"b", "x;drop", "é", &"x".repeat(49)] {
                assert!(store.clone().with_table_name(bad).is_err(), "{bad:?}");
            }
            for good in ["s", "Sessions_2", &"x".repeat(48)] {
                let s = store.clone().with_table_name(good);
                assert_eq!(
                    s.map(|s| s.table_name().to_owned()).ok().as_deref(),
                    Some(good)
                );
            }
        });
    }
}
