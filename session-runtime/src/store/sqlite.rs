//! [`SqliteStore`]: sessions in an embedded, persistent SQLite database (feature `sqlite`).
//!
//! SQLite runs inside the process (the bundled library that ships with `sqlx`), so there is
//! no server to operate: the sessions live in one file and survive restarts. It suits a
//! single-host deployment; several processes on the same host may share the file (WAL needs
//! shared memory, so not over a network file system).
//!
//! # Constructing it
//!
//! ```no_run
//! # async fn demo() -> Result<(), session_runtime::store::StoreError> {
//! use session_runtime::{SessionLayer, SqliteStore};
//!
//! // Creates `sessions.db` if it is missing; WAL mode, `synchronous = NORMAL`, 5 s busy timeout.
//! let store = SqliteStore::connect("sqlite://sessions.db").await?;
//! store.migrate().await?; // creates the table and its indexes if they do not exist
//!
//! // Purge expired rows every 5 minutes (loads never return them either way).
//! session_runtime::store::spawn_cleanup(store.clone(), std::time::Duration::from_secs(300));
//!
//! let layer = SessionLayer::new(store);
//! # let _ = layer;
//! # Ok(())
//! # }
//! ```
//!
//! - [`SqliteStore::connect`] takes `sqlite://PATH` (the file is created if missing; any
//!   other parameters of the URL are kept) or `sqlite::memory:` (a private in-memory
//!   database, for tests: it lives as long as the store and is lost when it is dropped).
//! - [`SqliteStore::new`] takes a [`SqlitePool`] you built yourself (with the re-exported
//!   [`sqlx`], so the versions match). Give it the settings `connect` uses, or concurrent
//!   requests may fail with "database is locked":
//!   `SqliteConnectOptions::journal_mode(SqliteJournalMode::Wal)`,
//!   `.synchronous(SqliteSynchronous::Normal)` and `.busy_timeout(..)` of a few seconds. An
//!   in-memory database exists once per connection, so give such a pool exactly one
//!   connection and no idle timeout or maximum lifetime.
//! - [`SqliteStore::with_table_name`] picks another table than `sessions` (several stores
//!   can share one file).
//! - [`SqliteStore::migrate`] creates the table and indexes; it is idempotent, so calling it
//!   at every start-up is fine. Nothing is created implicitly.
//!
//! # Schema
//!
//! `migrate()` runs, in one `BEGIN IMMEDIATE` transaction (`sessions` being the table name):
//!
//! ```sql
//! CREATE TABLE IF NOT EXISTS "sessions" (
//!     id         TEXT    PRIMARY KEY NOT NULL, -- 64 lower-case hex digits: SHA-256 of the session id
//!     data       TEXT    NOT NULL,             -- JSON object: encoded field name -> field JSON
//!     created_at INTEGER NOT NULL,             -- Unix milliseconds
//!     expires_at INTEGER NOT NULL,             -- Unix milliseconds
//!     owner      TEXT                          -- JSON of the `#[session(user_id)]` field, or NULL
//! );
//! CREATE INDEX IF NOT EXISTS "sessions_expires_at_idx" ON "sessions" (expires_at);
//! CREATE INDEX IF NOT EXISTS "sessions_owner_idx" ON "sessions" (owner) WHERE owner IS NOT NULL;
//! ```
//!
//! The raw session id never reaches the database: a copy of the file yields no usable cookie.
//!
//! A field name made only of ASCII letters, digits and `_` is stored as itself; any other name
//! (empty, or with punctuation, spaces, quotes, backslashes, control characters, NUL or
//! non-ASCII letters) is stored as `~` followed by the lower-case hex of its UTF-8 bytes, so
//! `"user.id"` is the key `"~757365722e6964"`. Every key is then safe inside an SQLite JSON
//! path (`$."key"`), which can express neither `"` nor NUL. Values are the fields' JSON as
//! written (escapes such as `\u0000` included).
//!
//! # How each operation works
//!
//! Every operation is one SQL statement, run on its own (autocommit), with the table name
//! validated and quoted and every value bound as a parameter:
//!
//! - `load`: `SELECT data, created_at, expires_at, owner FROM t WHERE id = ? AND expires_at > ?`
//!   (expiry checked on every load, never trusting that a purge ran).
//! - `create`: `INSERT INTO t (..) VALUES (..) ON CONFLICT(id) DO NOTHING`; no row inserted
//!   means [`Created::Collision`], whether the existing row is live or expired.
//! - `patch`: one `UPDATE t SET data = json_remove(json_set(data, '$."a"', json(?), ..),
//!   '$."b"', ..), expires_at = ?, owner = ? WHERE id = ? AND expires_at > ?` naming only the
//!   dirty fields (the `expires_at` and `owner` assignments only when the patch changes
//!   them). SQLite applies it atomically to the current row, so concurrent patches to
//!   different fields all survive; no row updated means [`Patched::Gone`], and a deleted or
//!   expired record is never recreated.
//! - `touch`: `UPDATE t SET expires_at = ? WHERE id = ? AND expires_at > ?`.
//! - `delete`: `DELETE FROM t WHERE id = ?`.
//! - `delete_expired(now)`: `DELETE FROM t WHERE rowid IN (SELECT rowid FROM t WHERE
//!   expires_at <= ? LIMIT 1000)`, repeated until a batch deletes fewer than 1000 rows, so the
//!   write lock is never held for long; returns the total.
//! - `delete_by_owner`: `DELETE FROM t WHERE owner = ?` (live and expired records).
//!
//! # Cleanup
//!
//! Expired rows are invisible but stay in the file until something deletes them. Run
//! [`spawn_cleanup(store.clone(), interval)`](super::spawn_cleanup) once at start-up (every
//! few minutes is plenty), or call [`delete_expired`](SessionStore::delete_expired) from your
//! own scheduler.
//!
//! # Concurrency
//!
//! With WAL, readers never block the writer and the writer never blocks readers. Writes are
//! serialized by SQLite; because every write is a single autocommit statement (no transaction
//! that reads first and upgrades to a write later), a writer that finds the database busy just
//! waits, up to the busy timeout, and then goes ahead. `synchronous = NORMAL` is durable
//! across application crashes; a power loss may roll back the last few commits, never corrupt
//! the file.
//!
//! # Failures
//!
//! Errors are typed. [`StoreError::Unavailable`] (the layer answers 503 and the client keeps
//! its cookie) covers: a pool that timed out or was closed, I/O errors, a database still
//! locked after the busy timeout (`SQLITE_BUSY`, `SQLITE_LOCKED`), a full disk, a file that
//! cannot be opened (missing directory, permissions, a directory in its place) and the
//! read-only conditions SQLite reports for a file it cannot lock or that was moved. Any other
//! engine error (a missing table because `migrate()` was not run, a file that is not a
//! database, ...) is [`StoreError::Backend`]; a row that cannot be read back is
//! [`StoreError::Corrupt`]. Nothing panics.
//!
//! The pool opens connections on demand, and a connection that hit an I/O error or could not
//! open its file is closed instead of being returned to the pool. So once the file can be
//! opened again (directory restored, disk remounted, permissions fixed) the same store works
//! again without being rebuilt; a database that comes back empty needs `migrate()` first
//! (until then operations fail with `Backend`). Do not delete or replace the database file
//! while the application runs: in WAL mode SQLite does not notice, and the connections already
//! open keep using the old file.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sqlx::error::DatabaseError;
use sqlx::pool::PoolConnection;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteRow, SqliteSynchronous,
};
use sqlx::{Connection as _, Sqlite};

use super::sql::{self, ErrorClasses, FieldEncoding, PathFunctions, Statements, TableNameRules};
use super::{
    Created, FieldMap, Json, Patch, Patched, Record, SessionStore, StoreError, UnixMillis,
};
use crate::id::SessionKey;

/// The sqlx crate this store is built on, re-exported so that you can build a [`SqlitePool`]
/// of exactly the matching version
/// (`session_runtime::store::sqlite::sqlx::sqlite::SqlitePoolOptions`) without a dependency of
/// your own.
pub use sqlx;

pub use super::sql::{InvalidTableName, DEFAULT_TABLE_NAME};

/// The table names [`SqliteStore::with_table_name`] accepts: at most 64 bytes, and not in the
/// `sqlite_` namespace SQLite reserves for itself.
static TABLE_NAMES: TableNameRules = TableNameRules {
    max_len: 64,
    reserved_prefixes: &["sqlite_"],
};
/// What counts as unavailable: see "Failures" in the module docs. SQLite has no wire, and
/// reports misuse (a NUL in a query, ...) as a protocol error.
static ERRORS: ErrorClasses = ErrorClasses {
    wire: false,
    database: is_unavailable_code,
};
/// How long a connection made by [`SqliteStore::connect`] waits for a lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Rows deleted per statement by `delete_expired`.
const PURGE_BATCH: u64 = 1000;
/// The `data` expression of a patch: `json_remove(json_set(data, ?, json(?), ...), ?, ...)`,
/// nesting calls to stay within SQLite's 127 arguments per function (the JSON and 63 pairs,
/// or the JSON and 126 paths).
static PATCH_DATA: PathFunctions = PathFunctions {
    set: "json_set",
    set_pair: ", ?, json(?)",
    set_pairs_per_call: 63,
    remove: "json_remove",
    remove_paths_per_call: 126,
};
/// First byte of an encoded field name (never in a name stored as itself).
const ENCODED_NAME_MARK: char = '~';

/// Sessions in an embedded SQLite database: persistent, no server to run.
///
/// See the [module docs](self) for construction, the schema, the exact SQL of each operation
/// and the behaviour in an outage. Cloning the store is cheap and shares its pool.
#[derive(Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    sql: Arc<Statements>,
}

/// The statements for one (validated) table name, quoted as `"<table>"`, built once.
fn statements(table: &str) -> Statements {
    let t = format!("\"{table}\"");
    Statements {
        table_name: table.to_owned(),
        load: format!(
            "SELECT data, created_at, expires_at, owner FROM {t} WHERE id = ?1 AND expires_at > ?2"
        ),
        create: format!(
            "INSERT INTO {t} (id, data, created_at, expires_at, owner) \
             VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT(id) DO NOTHING"
        ),
        touch: format!("UPDATE {t} SET expires_at = ?1 WHERE id = ?2 AND expires_at > ?3"),
        delete: format!("DELETE FROM {t} WHERE id = ?1"),
        delete_expired: format!(
            "DELETE FROM {t} WHERE rowid IN \
             (SELECT rowid FROM {t} WHERE expires_at <= ?1 LIMIT {PURGE_BATCH})"
        ),
        delete_by_owner: format!("DELETE FROM {t} WHERE owner = ?1"),
        table: t,
    }
}

impl fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteStore")
            .field("table", &self.sql.table_name)
            .field("pool", &self.pool)
            .finish()
    }
}

impl SqliteStore {
    /// A store on an existing pool, using the table `sessions`.
    ///
    /// Nothing is checked or created until the first operation; call
    /// [`migrate`](Self::migrate) once before serving requests. Configure the pool for
    /// concurrency (WAL, a busy timeout) as described in the [module docs](self).
    pub fn new(pool: SqlitePool) -> Self {
        SqliteStore {
            pool,
            sql: Arc::new(statements(DEFAULT_TABLE_NAME)),
        }
    }

    /// Opens (and creates if missing) the database at `url` with settings for concurrent use.
    ///
    /// `url` is `sqlite://PATH` (a relative `PATH` is relative to the working directory;
    /// `sqlite:///abs/path` is absolute) or `sqlite::memory:` for a private in-memory
    /// database. File databases get WAL mode, `synchronous = NORMAL` and a 5 s busy timeout;
    /// an in-memory database gets a pool of exactly one connection that is never recycled,
    /// since the database lives only as long as that connection.
    ///
    /// # Errors
    ///
    /// [`StoreError::Unavailable`] if the file cannot be opened or created (for example its
    /// directory does not exist); [`StoreError::Backend`] for a malformed URL.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(url).map_err(map_error)?;
        let pool = if is_in_memory(url) {
            SqlitePoolOptions::new()
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
                .connect_with(options)
                .await
                .map_err(map_error)?
        } else {
            let options = options
                .create_if_missing(true)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(BUSY_TIMEOUT);
            enable_wal(&options).await.map_err(map_error)?;
            // WAL is a property of the file from now on: the pool's connections need not (and
            // should not, see `enable_wal`) ask for it again.
            SqlitePoolOptions::new()
                .connect_with(options)
                .await
                .map_err(map_error)?
        };
        Ok(Self::new(pool))
    }

    /// Uses the table `name` instead of `sessions` (index names are derived from it).
    ///
    /// # Errors
    ///
    /// [`InvalidTableName`] unless `name` is 1 to 64 ASCII letters, digits and `_`, not
    /// starting with `sqlite_`.
    pub fn with_table_name(mut self, name: &str) -> Result<Self, InvalidTableName> {
        TABLE_NAMES.check(name)?;
        self.sql = Arc::new(statements(name));
        Ok(self)
    }

    /// Creates the table and its indexes if they do not exist (see the [schema](self#schema)).
    ///
    /// Idempotent: safe to call at every start-up, also from several processes at once.
    ///
    /// # Errors
    ///
    /// [`StoreError::Unavailable`] if the database cannot be reached, [`StoreError::Backend`]
    /// if SQLite refuses the DDL (for example a read-only file).
    pub async fn migrate(&self) -> Result<(), StoreError> {
        let name = &self.sql.table_name;
        let t = &self.sql.table;
        let ddl = [
            format!(
                "CREATE TABLE IF NOT EXISTS {t} (\
                 id TEXT PRIMARY KEY NOT NULL, \
                 data TEXT NOT NULL, \
                 created_at INTEGER NOT NULL, \
                 expires_at INTEGER NOT NULL, \
                 owner TEXT)"
            ),
            format!("CREATE INDEX IF NOT EXISTS \"{name}_expires_at_idx\" ON {t} (expires_at)"),
            format!(
                "CREATE INDEX IF NOT EXISTS \"{name}_owner_idx\" ON {t} (owner) \
                 WHERE owner IS NOT NULL"
            ),
        ];
        // IMMEDIATE takes the write lock up front (waiting for it like any write), so a
        // concurrent migration cannot invalidate this one's snapshot half-way.
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(map_error)?;
        for statement in &ddl {
            sqlx::query(statement)
                .execute(&mut *tx)
                .await
                .map_err(map_error)?;
        }
        tx.commit().await.map_err(map_error)
    }

    /// The pool the store runs on (to share it, inspect it or [close](SqlitePool::close) it).
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// The name of the table the store uses.
    pub fn table_name(&self) -> &str {
        &self.sql.table_name
    }

    async fn conn(&self) -> Result<PoolConnection<Sqlite>, StoreError> {
        self.pool.acquire().await.map_err(map_error)
    }
}

/// The `UPDATE` of one patch on `table` (quoted; see the module docs). Placeholders, in
/// order: the path and value of each set field, the path of each removed field, the expiry
/// (if any), the owner (if any), the key, `now`.
fn patch_sql(table: &str, patch: &Patch<'_>) -> String {
    format!(
        "UPDATE {table} SET {} WHERE id = ? AND expires_at > ?",
        sql::assignments(PATCH_DATA.data(patch), patch, || "?".to_owned())
    )
}

/// Switches the database file to WAL mode (a no-op if it is in WAL mode already).
///
/// The switch needs an exclusive lock that SQLite does not wait for with the busy timeout:
/// when several processes open a new file at once, all but one get `SQLITE_BUSY`. So it is
/// done once, on a connection of its own, retried until the busy timeout has passed.
async fn enable_wal(options: &SqliteConnectOptions) -> Result<(), sqlx::Error> {
    let options = options.clone().journal_mode(SqliteJournalMode::Wal);
    let deadline = Instant::now() + BUSY_TIMEOUT;
    let mut backoff = Duration::from_millis(2);
    loop {
        match SqliteConnection::connect_with(&options).await {
            Ok(conn) => return conn.close().await,
            Err(error) if is_busy(&error) && Instant::now() + backoff < deadline => {
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_millis(100));
            }
            Err(error) => return Err(error),
        }
    }
}

/// Whether `url` names an in-memory database (`sqlite::memory:`, `mode=memory`).
fn is_in_memory(url: &str) -> bool {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url);
    let (path, params) = rest.split_once('?').unwrap_or((rest, ""));
    path == ":memory:" || params.split('&').any(|p| p == "mode=memory")
}

/// The JSON object key a field name is stored under (see the module docs).
fn encode_name(name: &str, out: &mut String) {
    if is_plain_name(name) {
        out.push_str(name);
    } else {
        out.push(ENCODED_NAME_MARK);
        for b in name.bytes() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0x0f)]));
        }
    }
}

fn is_plain_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// The SQLite JSON path of a field: `$."<encoded name>"`.
fn json_path(name: &str) -> String {
    let mut path = String::with_capacity(4 + name.len() * 2);
    path.push_str("$.\"");
    encode_name(name, &mut path);
    path.push('"');
    path
}

/// The field name stored under `key`, or `None` if `key` is not an encoded name.
fn decode_name(key: String) -> Option<String> {
    let Some(hex) = key.strip_prefix(ENCODED_NAME_MARK) else {
        return is_plain_name(&key).then_some(key);
    };
    if hex.len() % 2 != 0 {
        return None;
    }
    let bytes = (0..hex.len())
        .step_by(2)
        .map(|i| {
            hex.get(i..i + 2)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        })
        .collect::<Option<Vec<u8>>>()?;
    let name = String::from_utf8(bytes).ok()?;
    // Only names that are not stored as themselves are encoded: one spelling per name.
    (!is_plain_name(&name)).then_some(name)
}

/// The `data` column of a new record: a JSON object of encoded names to the fields' JSON.
fn encode_fields(fields: &FieldMap) -> String {
    let len: usize = fields
        .iter()
        .map(|(k, v)| k.len() * 2 + v.as_str().len() + 5)
        .sum();
    let mut out = String::with_capacity(len + 2);
    out.push('{');
    for (i, (name, value)) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        // Encoded names are ASCII letters, digits, `_` and `~`: nothing to escape.
        out.push('"');
        encode_name(name, &mut out);
        out.push_str("\":");
        out.push_str(value.as_str());
    }
    out.push('}');
    out
}

/// The entries of the `data` column, as [`encode_fields`] writes them.
struct EncodedNames;

impl FieldEncoding for EncodedNames {
    type Value = Json;

    fn decode(key: String, value: Json) -> Result<(String, Json), StoreError> {
        let name = decode_name(key).ok_or(StoreError::Corrupt {
            reason: "the data column has a key that is not an encoded field name",
        })?;
        Ok((name, value))
    }
}

fn decode_row(row: &SqliteRow) -> Result<Record, StoreError> {
    let data: &str = sql::column(row, 0, "the data column is not text")?;
    let created_at: i64 = sql::column(row, 1, "the created_at column is not an integer")?;
    let expires_at: i64 = sql::column(row, 2, "the expires_at column is not an integer")?;
    let owner: Option<String> = sql::column(row, 3, "the owner column is not text")?;
    let fields = sql::decode_fields::<EncodedNames>(data, "the data column is not a JSON object")?;
    Ok(Record::new(fields, created_at, expires_at).with_owner(owner))
}

// SQLite primary result codes (the low byte of an extended code).
const SQLITE_BUSY: i32 = 5;
const SQLITE_LOCKED: i32 = 6;
const SQLITE_READONLY: i32 = 8;
const SQLITE_IOERR: i32 = 10;
const SQLITE_FULL: i32 = 13;
const SQLITE_CANTOPEN: i32 = 14;
const SQLITE_PROTOCOL: i32 = 15;
// Extended `SQLITE_READONLY` codes that mean "the file is not usable right now", as opposed
// to a database opened read-only on purpose.
const SQLITE_READONLY_RECOVERY: i32 = SQLITE_READONLY | (1 << 8);
const SQLITE_READONLY_CANTLOCK: i32 = SQLITE_READONLY | (2 << 8);
const SQLITE_READONLY_DBMOVED: i32 = SQLITE_READONLY | (4 << 8);
const SQLITE_READONLY_CANTINIT: i32 = SQLITE_READONLY | (5 << 8);
const SQLITE_READONLY_DIRECTORY: i32 = SQLITE_READONLY | (6 << 8);

/// The extended SQLite result code of a database error.
fn sqlite_code(db: &dyn DatabaseError) -> Option<i32> {
    db.code().and_then(|c| c.parse().ok())
}

/// Whether `error` is SQLite's "database is locked" (`SQLITE_BUSY`, `SQLITE_LOCKED`).
fn is_busy(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Database(db) => sqlite_code(db.as_ref())
            .is_some_and(|code| matches!(code & 0xff, SQLITE_BUSY | SQLITE_LOCKED)),
        _ => false,
    }
}

/// Whether a database error means the database could not be used right now (→ `Unavailable`,
/// as do I/O errors and a pool that timed out or was closed: see [`ERRORS`]).
fn is_unavailable_code(db: &dyn DatabaseError) -> bool {
    sqlite_code(db).is_some_and(|code| {
        matches!(
            code & 0xff,
            SQLITE_BUSY
                | SQLITE_LOCKED
                | SQLITE_IOERR
                | SQLITE_FULL
                | SQLITE_CANTOPEN
                | SQLITE_PROTOCOL
        ) || matches!(
            code,
            SQLITE_READONLY_RECOVERY
                | SQLITE_READONLY_CANTLOCK
                | SQLITE_READONLY_DBMOVED
                | SQLITE_READONLY_CANTINIT
                | SQLITE_READONLY_DIRECTORY
        )
    })
}

/// Whether the connection that produced `error` should be closed rather than reused: it lost
/// its file (I/O error, deleted or moved file), so a fresh connection may do better.
fn is_connection_broken(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_) | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => sqlite_code(db.as_ref()).is_some_and(|code| {
            matches!(code & 0xff, SQLITE_IOERR | SQLITE_CANTOPEN) || code == SQLITE_READONLY_DBMOVED
        }),
        _ => false,
    }
}

fn map_error(error: sqlx::Error) -> StoreError {
    ERRORS.store_error(error)
}

/// Maps the outcome of a statement run on `conn`, closing `conn` if it is broken.
fn finish<T>(
    conn: &mut PoolConnection<Sqlite>,
    result: Result<T, sqlx::Error>,
) -> Result<T, StoreError> {
    result.map_err(|error| {
        if is_connection_broken(&error) {
            conn.close_on_drop();
        }
        map_error(error)
    })
}

impl SessionStore for SqliteStore {
    async fn load(&self, key: &SessionKey, now: UnixMillis) -> Result<Option<Record>, StoreError> {
        let mut conn = self.conn().await?;
        let row = sqlx::query(&self.sql.load)
            .bind(key.to_hex())
            .bind(now)
            .fetch_optional(&mut *conn)
            .await;
        let row = finish(&mut conn, row)?;
        drop(conn);
        row.as_ref().map(decode_row).transpose()
    }

    async fn create(&self, key: &SessionKey, record: &Record) -> Result<Created, StoreError> {
        let data = encode_fields(&record.fields);
        let mut conn = self.conn().await?;
        let done = sqlx::query(&self.sql.create)
            .bind(key.to_hex())
            .bind(data)
            .bind(record.created_at)
            .bind(record.expires_at)
            .bind(record.owner.as_deref())
            .execute(&mut *conn)
            .await;
        Ok(sql::created(finish(&mut conn, done)?.rows_affected()))
    }

    async fn patch(
        &self,
        key: &SessionKey,
        patch: &Patch<'_>,
        now: UnixMillis,
    ) -> Result<Patched, StoreError> {
        let update = patch_sql(&self.sql.table, patch);
        let set_paths: Vec<String> = patch.set.iter().map(|(name, _)| json_path(name)).collect();
        let remove_paths: Vec<String> = patch.remove.iter().map(|name| json_path(name)).collect();
        let query = sql::bind_patch(sqlx::query(&update), patch, &set_paths, &remove_paths)
            .bind(key.to_hex())
            .bind(now);
        let mut conn = self.conn().await?;
        let done = query.execute(&mut *conn).await;
        Ok(sql::patched(finish(&mut conn, done)?.rows_affected()))
    }

    async fn touch(
        &self,
        key: &SessionKey,
        expires_at: UnixMillis,
        now: UnixMillis,
    ) -> Result<Patched, StoreError> {
        let mut conn = self.conn().await?;
        let done = sqlx::query(&self.sql.touch)
            .bind(expires_at)
            .bind(key.to_hex())
            .bind(now)
            .execute(&mut *conn)
            .await;
        Ok(sql::patched(finish(&mut conn, done)?.rows_affected()))
    }

    async fn delete(&self, key: &SessionKey) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        let done = sqlx::query(&self.sql.delete)
            .bind(key.to_hex())
            .execute(&mut *conn)
            .await;
        finish(&mut conn, done).map(drop)
    }

    async fn delete_expired(&self, now: UnixMillis) -> Result<u64, StoreError> {
        let mut removed = 0u64;
        loop {
            // A connection per batch: other requests get the pool (and the write lock) in
            // between.
            let mut conn = self.conn().await?;
            let done = sqlx::query(&self.sql.delete_expired)
                .bind(now)
                .execute(&mut *conn)
                .await;
            let batch = finish(&mut conn, done)?.rows_affected();
            removed += batch;
            if batch < PURGE_BATCH {
                return Ok(removed);
            }
        }
    }

    async fn delete_by_owner(&self, owner: &str) -> Result<u64, StoreError> {
        let mut conn = self.conn().await?;
        let done = sqlx::query(&self.sql.delete_by_owner)
            .bind(owner)
            .execute(&mut *conn)
            .await;
        Ok(finish(&mut conn, done)?.rows_affected())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_the_encoding() {
        for name in [
            "user",
            "Count_2",
            "",
            "~",
            "~75",
            "user.id",
            "quote\"back\\slash",
            "ctrl\u{0}\u{1f}",
            "😀",
            "e\u{301}",
            "space name",
        ] {
            let mut key = String::new();
            encode_name(name, &mut key);
            assert!(
                key.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'~'),
                "{name:?} encoded as {key:?}"
            );
            assert_eq!(decode_name(key).as_deref(), Some(name));
        }
    }

    #[test]
    fn foreign_keys_are_refused() {
        for key in ["user.id", "~7", "~zz", "~75736572", "~ff", "é", ""] {
            assert_eq!(decode_name(key.to_owned()), None, "{key:?}");
        }
    }

    #[test]
    fn memory_urls_are_recognised() {
        assert!(is_in_memory("sqlite::memory:"));
        assert!(is_in_memory("sqlite://:memory:"));
        assert!(is_in_memory("sqlite://file:x?mode=memory&cache=shared"));
        assert!(!is_in_memory("sqlite://sessions.db"));
        assert!(!is_in_memory("sqlite:///tmp/memory.db?mode=rwc"));
    }

    #[test]
    fn a_patch_nests_function_calls_within_the_argument_limit() {
        let store_sql = |sets: usize, removes: usize| {
            let names: Vec<String> = (0..sets.max(removes)).map(|i| format!("f{i}")).collect();
            let v = Json::from_string("1".to_owned()).expect("json");
            let mut p = Patch::new();
            for n in &names[..sets] {
                p = p.set(n, &v);
            }
            for n in &names[..removes] {
                p = p.remove(n);
            }
            let sql = patch_sql("t", &p);
            (
                sql.matches("json_set(").count(),
                sql.matches("json_remove(").count(),
            )
        };
        assert_eq!(store_sql(63, 0), (1, 0));
        assert_eq!(store_sql(64, 126), (2, 1));
        assert_eq!(store_sql(0, 127), (0, 2));
    }
}
