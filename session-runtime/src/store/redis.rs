//! [`RedisStore`]: sessions in Redis, one hash per session, patched field by field by a Lua
//! script, on redis-rs's reconnecting [`ConnectionManager`].
//!
//! # Setting it up
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use session_runtime::{RedisStore, SessionLayer};
//!
//! // 2 s connect timeout, 3 s response timeout: in an outage, requests get a 503 quickly.
//! let store = RedisStore::connect("redis://cache.internal:6379/0")
//!     .await?
//!     .with_key_prefix("sess:")?; // the default; anything non-empty without `{` or `}`
//! store.migrate().await?; // checks the server and loads the scripts; there is no schema
//!
//! // Redis deletes expired sessions by itself; the sweep removes their index entries
//! // (without it, the expiry and owner indexes only grow).
//! session_runtime::store::spawn_cleanup(store.clone(), std::time::Duration::from_secs(300));
//!
//! let layer = SessionLayer::new(store);
//! # let _ = layer;
//! # Ok(())
//! # }
//! ```
//!
//! [`RedisStore::new`] takes a [`ConnectionManager`] you built yourself; start from
//! [`RedisStore::connection_manager_config`] so that it has the same timeouts (redis-rs's
//! defaults have none, and retry a lost connection for more than a minute while requests
//! wait). The manager reconnects by itself after the server restarts; the store needs no
//! rebuilding. Redis 6.2 or newer is required (`ZADD LT|GT`, `ZMSCORE`); Valkey works too.
//!
//! # Key layout
//!
//! There is no schema to create: [`migrate`](RedisStore::migrate) only checks that the server
//! answers and is recent enough, and loads the Lua scripts. With the prefix `sess:` (the
//! default), a session whose [`SessionKey`] has the hex form `ab12…` (64 digits) uses:
//!
//! | key | type | holds |
//! |---|---|---|
//! | `sess:{ab12…}` | hash | the session: one hash field per session field (name → the field's JSON text), plus `$c` (created at, Unix ms), `$e` (expires at, Unix ms) and `$o` (the owner, if any); `PEXPIREAT` at `$e` |
//! | `sess:expiry` | sorted set | expiry index: member `ab12…`, score at most its `$e` |
//! | `sess:owners` | hash | `ab12…` → owner tag, to clean the owner index after Redis expired a session |
//! | `sess:owner:{<tag>}` | set | owner index: the key hex of every session of that owner; `<tag>` is the SHA-256 hex of the owner text |
//!
//! Hash fields are binary-safe, so field names may hold any UTF-8, NUL included. Names
//! starting with `$` are reserved for the metadata: the derive never produces one, and a
//! name that does start with `$` (given to the store directly) is stored with one more `$`
//! in front (`$x` as `$$x`) and read back unchanged, so it can never clobber `$e`.
//!
//! The braces are Redis Cluster hash tags: everything a script touches is the one session
//! hash, so every script runs in one hash slot. The index keys live in other slots and are
//! maintained by separate single-key commands (next sections).
//!
//! # Guarantees, and the scripts behind them
//!
//! - `load`: `HGETALL sess:{k}`; the record is returned only if its `$e` is after `now`,
//!   checked on every load whatever Redis's own expiry did.
//! - `create`: a script: `if EXISTS → collision; else HSET $c $e [$o] fields…; PEXPIREAT $e`.
//!   An existing hash, live or expired-but-not-purged, is never overwritten.
//! - `patch` / `touch`: one script: the record must exist and have `$e > now`, else
//!   [`Patched::Gone`] and nothing is written (a patch never recreates a key). Then
//!   `HSET`/`HDEL` of exactly the named fields, and, if the patch has one, the new `$e`
//!   with `PEXPIREAT`, and the new `$o`. Redis runs a script atomically, so concurrent
//!   patches to different fields all survive.
//! - `delete`: a script `HGET $o; DEL`, then the index entries go.
//! - `delete_expired(now)`: `ZRANGEBYSCORE sess:expiry -inf now` in batches of 100, then per
//!   member one script that re-checks `$e <= now` and only then deletes; a member whose
//!   record was extended gets its score raised to the real `$e`, and a member whose hash is
//!   gone (Redis expired it, or a delete was cut short) is dropped from the indexes. The
//!   count is exactly the hashes this call deleted, so it is exact even when Redis has not
//!   expired them yet (fake clocks, or `now` ahead of the server's clock).
//! - Redis's own expiry follows the server's clock: a session whose expiry is already past
//!   on that clock when it is created or patched is deleted by Redis at once (the create
//!   still reports [`Created::Inserted`]; a later load finds nothing, whatever its `now`).
//! - `delete_by_owner(owner)`: `SMEMBERS sess:owner:{tag}`, then per member a script that
//!   deletes the hash only if its `$o` equals `owner` (live or expired); the count is the
//!   hashes deleted. A stale member can therefore never delete someone else's session.
//!
//! # The index consistency window
//!
//! A script may only touch one hash slot, so the indexes are updated by separate single-key
//! commands around it:
//!
//! 1. **Before** the session script, in the same pipeline (so in this order on the server):
//!    `ZADD sess:expiry LT <expiry>` (which only ever lowers a score), and for a new owner
//!    `HSET sess:owners` and `SADD sess:owner:{tag}`. An index therefore lists a session
//!    *before* the session exists or has that owner; a crash in between leaves only a stale
//!    entry, never a session missing from an index.
//! 2. **After** a delete (best effort: a failure is logged, not returned, because the delete
//!    itself succeeded): `SREM` from the owner's set, then `ZREM` and `HDEL`. In that order, a
//!    crash in between leaves the expiry entry, through which a sweep finds the rest.
//!
//! An owner change does *not* remove the session from the previous owner's set: with two
//! changes in flight (A→B and B→A), a removal can land after the other request re-added the
//! entry, leaving a session its owner cannot revoke. The entry stays until the session is
//! gone; then that owner's next `delete_by_owner` drops it (a member that is gone and not in
//! the expiry index is stale: a create indexes its expiry before its owner).
//!
//! So the indexes may list sessions that no longer exist or belong to someone else, and an
//! expiry score may be lower than the real expiry. Both are harmless: every entry is
//! re-checked by the per-session script before anything is deleted, and `delete_expired`
//! drops or corrects what it visits. Index maintenance never writes a session hash, so it
//! cannot resurrect a session or lose a field write; those are decided by the atomic
//! scripts alone. What is left:
//!
//! - If `delete_expired` raises a score while another request *shortens* the same session's
//!   expiry, the score can end up above the real expiry, and `delete_expired(now)` for a
//!   `now` between the two misses that session. Redis still deletes it at its real expiry
//!   (`PEXPIREAT`), loads never return it, and a later sweep drops the entry.
//! - Stale entries cost memory until they are swept: owner-set entries of sessions that
//!   changed owner stay until that owner's next `delete_by_owner`.
//! - A key deleted and re-created concurrently (session keys are random 256-bit values, so
//!   only deliberate reuse does this) can lose its index entries; Redis's own expiry still
//!   deletes the session.
//!
//! The order of step 1 relies on the manager's single connection, which delivers a pipeline
//! to one server in order; a cluster client would have to await each step.
//!
//! # In an outage
//!
//! Connection-level failures (I/O errors, refused or dropped connections, timeouts, a
//! failed reconnect, and the server's `LOADING`, `CLUSTERDOWN`, `TRYAGAIN` and `MASTERDOWN`
//! replies) become [`StoreError::Unavailable`], which the layer answers with 503. With the
//! timeouts of [`connect`](RedisStore::connect) (2 s to connect, 3 s per reply), a request
//! fails within a few seconds; a refused connection fails at once. The
//! [`ConnectionManager`] starts a reconnect after a connection-level failure; once the
//! server is back, the next operations succeed on the same store (the first one after the
//! return may still report `Unavailable`). Redis forgets its script cache on restart: the
//! store notices (`NOSCRIPT`) and loads the scripts again by itself. Every other error is
//! [`StoreError::Backend`].
//!
//! [`SessionKey`]: crate::SessionKey

use std::borrow::Cow;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{ErrorKind, RedisError, Script, ToRedisArgs, Value};
use sha2::{Digest as _, Sha256};

use super::{
    Created, FieldMap, Json, Patch, Patched, Record, SessionStore, StoreError, UnixMillis,
};
use crate::id::SessionKey;

/// The redis crate this store is built on, re-exported so that you can build a
/// [`ConnectionManager`] of exactly the matching version
/// (`session_runtime::store::redis::redis::Client`) without a dependency of your own.
pub use redis;

/// The key prefix used unless [`RedisStore::with_key_prefix`] says otherwise.
pub const DEFAULT_KEY_PREFIX: &str = "sess:";

/// How long [`RedisStore::connect`]'s manager waits for a connection to be set up.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// How long [`RedisStore::connect`]'s manager waits for the answer to one command.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(3);
/// Members handled per round trip by `delete_expired` and `delete_by_owner`.
const BATCH: usize = 100;

/// A key prefix that [`RedisStore::with_key_prefix`] refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid session key prefix `{prefix}`: it must be non-empty and contain no `{{` or `}}`")]
#[non_exhaustive]
pub struct InvalidKeyPrefix {
    /// The prefix that was refused.
    pub prefix: String,
}

/// The server is older than Redis 6.2, which introduced `ZADD LT|GT` and `ZMSCORE`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Redis {version} is too old for the session store: 6.2 or newer is required")]
#[non_exhaustive]
pub struct UnsupportedServer {
    /// The `redis_version` the server reported.
    pub version: String,
}

/// A reply of a shape the store never asks for (another program wrote to its keys, or a
/// proxy in between rewrote the reply).
#[derive(Debug, thiserror::Error)]
#[error("unexpected reply from Redis to {command}")]
struct UnexpectedReply {
    command: &'static str,
}

fn unexpected(command: &'static str) -> StoreError {
    StoreError::Backend(Box::new(UnexpectedReply { command }))
}

/// Sessions in Redis: one hash per session, a hash field per session field, patched per field
/// by one atomic Lua script.
///
/// Build it with [`connect`](Self::connect) (a URL) or [`new`](Self::new) (your
/// [`ConnectionManager`]), optionally call [`migrate`](Self::migrate), and run
/// [`spawn_cleanup`](super::spawn_cleanup) to keep the indexes tidy. Clones share the
/// connection. See the [module docs](self) for the key layout and the scripts.
#[derive(Clone)]
pub struct RedisStore {
    conn: ConnectionManager,
    keys: Arc<Keys>,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("key_prefix", &self.keys.prefix)
            .finish_non_exhaustive()
    }
}

/// The key names for one prefix.
#[derive(Debug)]
struct Keys {
    prefix: String,
    /// `<prefix>expiry`: sorted set, member = key hex, score <= the record's `$e`.
    expiry: String,
    /// `<prefix>owners`: hash, key hex -> owner tag.
    owners: String,
}

impl Keys {
    fn new(prefix: &str) -> Self {
        Keys {
            prefix: prefix.to_owned(),
            expiry: format!("{prefix}expiry"),
            owners: format!("{prefix}owners"),
        }
    }

    /// `<prefix>{<hex>}`: the session hash.
    fn session(&self, hex: &str) -> String {
        format!("{}{{{hex}}}", self.prefix)
    }

    /// `<prefix>owner:{<tag>}`: the set of one owner's sessions.
    fn owner_set(&self, tag: &str) -> String {
        format!("{}owner:{{{tag}}}", self.prefix)
    }
}

/// The owner index tag: SHA-256 hex of the owner text (which may contain braces).
fn owner_tag(owner: &str) -> String {
    crate::id::hex(&Sha256::digest(owner.as_bytes()))
}

/// Whether an index member is a key hex this store wrote (64 lower-case hex digits).
fn is_key_hex(member: &str) -> bool {
    member.len() == 64
        && member
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// A session field name as stored: names starting with `$` get one more `$` in front, so
/// that they never collide with the metadata fields.
fn stored_name(name: &str) -> Cow<'_, [u8]> {
    if name.starts_with('$') {
        let mut escaped = Vec::with_capacity(name.len() + 1);
        escaped.push(b'$');
        escaped.extend_from_slice(name.as_bytes());
        Cow::Owned(escaped)
    } else {
        Cow::Borrowed(name.as_bytes())
    }
}

fn validate_prefix(prefix: &str) -> Result<(), InvalidKeyPrefix> {
    if prefix.is_empty() || prefix.contains(['{', '}']) {
        return Err(InvalidKeyPrefix {
            prefix: prefix.to_owned(),
        });
    }
    Ok(())
}

/// redis-rs errors to [`StoreError`]: connection-level failures are `Unavailable`.
fn map_err(error: RedisError) -> StoreError {
    let unavailable = error.is_io_error()
        || error.is_connection_refusal()
        || error.is_connection_dropped()
        || error.is_timeout()
        || matches!(
            error.kind(),
            ErrorKind::BusyLoadingError
                | ErrorKind::ClusterDown
                | ErrorKind::TryAgain
                | ErrorKind::MasterDown
                | ErrorKind::ClusterConnectionNotFound
        );
    if unavailable {
        StoreError::Unavailable(Box::new(error))
    } else {
        StoreError::Backend(Box::new(error))
    }
}

// ---------------------------------------------------------------------------------------------
// The scripts. Each touches KEYS[1] only: one session hash, one hash slot.
// Times are decimal Unix milliseconds; Lua compares them as doubles, exact below 2^53 ms.
// ---------------------------------------------------------------------------------------------

/// ARGV: created_at, expires_at, has_owner ("1"/"0"), owner, then name/value pairs.
/// Returns 1 (inserted) or 0 (the key exists: collision, nothing written).
const CREATE: &str = r"
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], '$c', ARGV[1], '$e', ARGV[2])
if ARGV[3] == '1' then redis.call('HSET', KEYS[1], '$o', ARGV[4]) end
for i = 5, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
redis.call('PEXPIREAT', KEYS[1], ARGV[2])
return 1
";

/// The start of the scripts that need the record's expiry: reads `$e` into `e` (its text) and
/// `en` (its number), returning {0} if there is no such key and {-1} if the hash has no usable
/// `$e`. (A macro, so that `concat!` can prepend it to a script's literal.)
macro_rules! expiry_lua {
    () => {
        r"
local e = redis.call('HGET', KEYS[1], '$e')
if not e then
  if redis.call('EXISTS', KEYS[1]) == 1 then return {-1} end
  return {0}
end
local en = tonumber(e)
if not en then return {-1} end
"
    };
}

/// ARGV: now, new expires_at or '', owner op ('' keep, 's' set, 'c' clear), owner, number of
/// set pairs n, n name/value pairs, then the names to remove.
/// Returns {1} (applied), {0} (gone or expired) or {-1} (no usable `$e`).
const PATCH: &str = concat!(
    expiry_lua!(),
    r"if en <= tonumber(ARGV[1]) then return {0} end
local last = 5 + 2 * tonumber(ARGV[5])
for i = 6, last, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
for i = last + 1, #ARGV do redis.call('HDEL', KEYS[1], ARGV[i]) end
if ARGV[2] ~= '' then
  redis.call('HSET', KEYS[1], '$e', ARGV[2])
  redis.call('PEXPIREAT', KEYS[1], ARGV[2])
end
if ARGV[3] == 's' then
  redis.call('HSET', KEYS[1], '$o', ARGV[4])
elseif ARGV[3] == 'c' then
  redis.call('HDEL', KEYS[1], '$o')
end
return {1}
"
);

/// Returns {number of keys deleted (0 or 1), owner or false}.
const DELETE: &str = r"
local o = redis.call('HGET', KEYS[1], '$o')
return {redis.call('DEL', KEYS[1]), o}
";

/// ARGV: now. Returns {1, owner or false} (was expired: deleted), {2, expires_at} (live),
/// {0} (no such key) or {-1} (a hash without a usable `$e`).
const REAP: &str = concat!(
    expiry_lua!(),
    r"if en <= tonumber(ARGV[1]) then
  local o = redis.call('HGET', KEYS[1], '$o')
  redis.call('DEL', KEYS[1])
  return {1, o}
end
return {2, e}
"
);

/// ARGV: owner. Returns 1 (it was this owner's: deleted), 2 (it exists but is not this
/// owner's: kept) or 0 (no such key).
const REVOKE: &str = r"
local o = redis.call('HGET', KEYS[1], '$o')
if o == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
if o or redis.call('EXISTS', KEYS[1]) == 1 then return 2 end
return 0
";

/// Every script's source, for `SCRIPT LOAD`.
const ALL_SCRIPTS: [&str; 5] = [CREATE, PATCH, DELETE, REAP, REVOKE];

struct Scripts {
    create: Script,
    patch: Script,
    delete: Script,
    reap: Script,
    revoke: Script,
}

static SCRIPTS: LazyLock<Scripts> = LazyLock::new(|| Scripts {
    create: Script::new(CREATE),
    patch: Script::new(PATCH),
    delete: Script::new(DELETE),
    reap: Script::new(REAP),
    revoke: Script::new(REVOKE),
});

/// `EVALSHA` of `script` on the one key `key`, with room for `args` more arguments: a few
/// numbers and flags, and text of `text` bytes in all. The caller adds the script's ARGV and
/// queues it with [`add_command`](redis::Pipeline::add_command).
///
/// This is the command `Pipeline::invoke_script` queues, but each argument is written once,
/// straight into it: a `ScriptInvocation` first copies every argument into a `Vec` of its
/// own, then all of them again into the command (for a create, every field's JSON).
fn eval(script: &Script, key: &str, args: usize, text: usize) -> redis::Cmd {
    // "EVALSHA", the 40-digit SHA-1 and "1" (48), and three 20-digit times with their flags.
    let mut cmd = redis::Cmd::with_capacity(4 + args, 128 + key.len() + text);
    cmd.arg("EVALSHA").arg(script.get_hash()).arg(1).arg(key);
    cmd
}

/// The bytes of the names and JSON of `fields`.
fn text_len<'a>(fields: impl Iterator<Item = (&'a str, &'a Json)>) -> usize {
    fields
        .map(|(name, value)| name.len() + value.as_str().len())
        .sum()
}

// ---------------------------------------------------------------------------------------------
// Replies
// ---------------------------------------------------------------------------------------------

fn int(value: &Value) -> Option<i64> {
    match value {
        Value::Int(n) => Some(*n),
        Value::BulkString(b) => std::str::from_utf8(b).ok()?.parse().ok(),
        Value::SimpleString(s) => s.parse().ok(),
        _ => None,
    }
}

/// A bulk string, or `None` for nil / Lua `false`.
fn opt_bytes(value: Value) -> Result<Option<Vec<u8>>, ()> {
    match value {
        Value::Nil | Value::Boolean(false) => Ok(None),
        Value::BulkString(b) => Ok(Some(b)),
        Value::SimpleString(s) => Ok(Some(s.into_bytes())),
        _ => Err(()),
    }
}

fn opt_string(value: Value, command: &'static str) -> Result<Option<String>, StoreError> {
    match opt_bytes(value) {
        Ok(None) => Ok(None),
        Ok(Some(b)) => String::from_utf8(b)
            .map(Some)
            .map_err(|_| StoreError::Corrupt {
                reason: "a stored owner is not UTF-8",
            }),
        Err(()) => Err(unexpected(command)),
    }
}

/// A script's table reply: its status code and the remaining items.
fn status_reply(value: Value, command: &'static str) -> Result<(i64, Vec<Value>), StoreError> {
    match value {
        Value::Array(items) => {
            let mut items = items.into_iter();
            let status = items
                .next()
                .as_ref()
                .and_then(int)
                .ok_or_else(|| unexpected(command))?;
            Ok((status, items.collect()))
        }
        _ => Err(unexpected(command)),
    }
}

/// The owner that ends a script's table reply (after the status), or `None` for nil / Lua
/// `false` or no such item.
fn last_owner(mut rest: Vec<Value>, command: &'static str) -> Result<Option<String>, StoreError> {
    match rest.pop() {
        Some(v) => opt_string(v, command),
        None => Ok(None),
    }
}

/// A session hash as (field, value) pairs, as `HGETALL` returns it.
type HashPairs = Vec<(Vec<u8>, Vec<u8>)>;

/// An `HGETALL`-style reply (a flat RESP2 array or a RESP3 map) as pairs.
fn into_pairs(value: Value) -> Result<HashPairs, StoreError> {
    let bulk = |v: Value| match v {
        Value::BulkString(b) => Ok(b),
        Value::SimpleString(s) => Ok(s.into_bytes()),
        _ => Err(unexpected("HGETALL")),
    };
    match value {
        Value::Nil => Ok(Vec::new()),
        Value::Map(pairs) => pairs
            .into_iter()
            .map(|(k, v)| Ok((bulk(k)?, bulk(v)?)))
            .collect(),
        Value::Array(items) => {
            if items.len() % 2 != 0 {
                return Err(unexpected("HGETALL"));
            }
            let mut pairs = Vec::with_capacity(items.len() / 2);
            let mut items = items.into_iter();
            while let (Some(k), Some(v)) = (items.next(), items.next()) {
                pairs.push((bulk(k)?, bulk(v)?));
            }
            Ok(pairs)
        }
        _ => Err(unexpected("HGETALL")),
    }
}

fn parse_millis(bytes: &[u8], reason: &'static str) -> Result<UnixMillis, StoreError> {
    std::str::from_utf8(bytes)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or(StoreError::Corrupt { reason })
}

/// Builds a record from a session hash, or `None` if it has expired by `now`.
fn decode_record(pairs: HashPairs, now: UnixMillis) -> Result<Option<Record>, StoreError> {
    let expires_at = match pairs.iter().find(|(name, _)| name == b"$e") {
        Some((_, value)) => parse_millis(value, "the stored expiry `$e` is not an integer")?,
        None => {
            return Err(StoreError::Corrupt {
                reason: "the session hash has no expiry field `$e`",
            })
        }
    };
    if expires_at <= now {
        return Ok(None);
    }
    let mut created_at = None;
    let mut owner = None;
    let mut fields = FieldMap::with_capacity(pairs.len().saturating_sub(2));
    for (name, value) in pairs {
        let user_name = match name.as_slice() {
            [b'$', b'$', ..] => name[1..].to_vec(),
            b"$c" => {
                created_at = Some(parse_millis(
                    &value,
                    "the stored creation time `$c` is not an integer",
                )?);
                continue;
            }
            b"$o" => {
                owner = Some(String::from_utf8(value).map_err(|_| StoreError::Corrupt {
                    reason: "a stored owner is not UTF-8",
                })?);
                continue;
            }
            // `$e`, and metadata a later version may add.
            [b'$', ..] => continue,
            _ => name,
        };
        let name = String::from_utf8(user_name).map_err(|_| StoreError::Corrupt {
            reason: "a stored field name is not UTF-8",
        })?;
        let text = String::from_utf8(value).map_err(|_| StoreError::Corrupt {
            reason: "a stored field value is not UTF-8",
        })?;
        let json = Json::from_string(text).map_err(|_| StoreError::Corrupt {
            reason: "a stored field value is not JSON",
        })?;
        fields.insert(name, json);
    }
    let created_at = created_at.ok_or(StoreError::Corrupt {
        reason: "the session hash has no creation time `$c`",
    })?;
    Ok(Some(
        Record::new(fields, created_at, expires_at).with_owner(owner),
    ))
}

// ---------------------------------------------------------------------------------------------
// The store
// ---------------------------------------------------------------------------------------------

impl RedisStore {
    /// A store on `manager`, using the key prefix [`DEFAULT_KEY_PREFIX`] (`sess:`).
    ///
    /// Nothing is sent to the server here. Build the manager with
    /// [`connection_manager_config`](Self::connection_manager_config) (or timeouts of your
    /// own), or an outage will hold requests instead of failing them.
    pub fn new(manager: ConnectionManager) -> Self {
        RedisStore {
            conn: manager,
            keys: Arc::new(Keys::new(DEFAULT_KEY_PREFIX)),
        }
    }

    /// The [`ConnectionManagerConfig`] that [`connect`](Self::connect) uses: 2 s to set up a
    /// connection, 3 s for each reply, and no delayed retries of a lost connection (the next
    /// operation starts a new attempt), so that an outage becomes
    /// [`StoreError::Unavailable`] within about 3 s.
    pub fn connection_manager_config() -> ConnectionManagerConfig {
        ConnectionManagerConfig::new()
            .set_connection_timeout(CONNECT_TIMEOUT)
            .set_response_timeout(RESPONSE_TIMEOUT)
            .set_number_of_retries(0)
    }

    /// Connects to `url` (`redis://[user:password@]host:port[/db]`, `rediss://` for TLS if
    /// redis-rs was built with it) through a [`ConnectionManager`] configured by
    /// [`connection_manager_config`](Self::connection_manager_config).
    ///
    /// Fails with [`StoreError::Unavailable`] if the server cannot be reached within 2 s, and
    /// with [`StoreError::Backend`] for a malformed URL or refused credentials.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let client = redis::Client::open(url).map_err(|e| StoreError::Backend(Box::new(e)))?;
        let manager = ConnectionManager::new_with_config(client, Self::connection_manager_config())
            .await
            .map_err(map_err)?;
        Ok(Self::new(manager))
    }

    /// Uses `prefix` in front of every key instead of `sess:`.
    ///
    /// Stores with different prefixes on one server are fully separate. The prefix must be
    /// non-empty and must not contain `{` or `}` (the session keys use braces as Redis
    /// Cluster hash tags).
    pub fn with_key_prefix(mut self, prefix: &str) -> Result<Self, InvalidKeyPrefix> {
        validate_prefix(prefix)?;
        self.keys = Arc::new(Keys::new(prefix));
        Ok(self)
    }

    /// The key prefix this store uses.
    pub fn key_prefix(&self) -> &str {
        &self.keys.prefix
    }

    /// The connection manager this store uses.
    pub fn connection_manager(&self) -> &ConnectionManager {
        &self.conn
    }

    /// Checks that the server answers and is Redis 6.2 or newer, and loads the Lua scripts.
    ///
    /// There is no schema: Redis needs no DDL, and the keys are created as sessions are. This
    /// only moves the first `SCRIPT LOAD`s to start-up and fails early on an unreachable or
    /// too old server ([`UnsupportedServer`], as [`StoreError::Backend`]). Idempotent, and
    /// optional: the scripts also load themselves on first use and after a server restart.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        let info: String = redis::cmd("INFO")
            .arg("server")
            .query_async(&mut conn)
            .await
            .map_err(map_err)?;
        if let Some(version) = info
            .lines()
            .find_map(|line| line.strip_prefix("redis_version:"))
        {
            let version = version.trim();
            let mut parts = version.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
            let major = parts.next().unwrap_or(0);
            let minor = parts.next().unwrap_or(0);
            if (major, minor) < (6, 2) {
                return Err(StoreError::Backend(Box::new(UnsupportedServer {
                    version: version.to_owned(),
                })));
            }
        }
        load_scripts(&mut conn).await
    }

    /// Runs a pipeline; if a script in it was not loaded (first use, a server restart, a
    /// `SCRIPT FLUSH`), loads every script and runs it once more. Every pipeline this store
    /// builds can be re-run: its index commands are idempotent, and a `NOSCRIPT` script did
    /// not run.
    async fn query(&self, pipe: &redis::Pipeline) -> Result<Vec<Value>, StoreError> {
        let mut conn = self.conn.clone();
        match pipe.query_async::<Vec<Value>>(&mut conn).await {
            Err(e) if e.kind() == ErrorKind::NoScriptError => {
                load_scripts(&mut conn).await?;
                pipe.query_async(&mut conn).await.map_err(map_err)
            }
            other => other.map_err(map_err),
        }
    }

    /// Index clean-up after a session script: best effort, logged on failure (the session
    /// write itself succeeded, and a stale index entry is harmless).
    async fn tidy(&self, pipe: redis::Pipeline, what: &'static str) {
        if pipe.is_empty() {
            return;
        }
        if let Err(error) = self.query(&pipe).await {
            tracing::warn!(%error, what, "redis session store: index clean-up failed; a later sweep will finish it");
        }
    }

    /// The single reply of a pipeline whose other commands were all `ignore`d.
    fn last(mut replies: Vec<Value>, command: &'static str) -> Result<Value, StoreError> {
        replies.pop().ok_or_else(|| unexpected(command))
    }

    /// Queues, ignoring their replies, the index entries that must precede a session script
    /// (see "The index consistency window" in the module docs): `ZADD LT` of the expiry, if
    /// the script sets one, and the owner's `HSET` and `SADD`, if it sets an owner.
    fn index(
        &self,
        pipe: &mut redis::Pipeline,
        hex: &str,
        expires_at: Option<UnixMillis>,
        owner: Option<&str>,
    ) {
        if let Some(at) = expires_at {
            pipe.cmd("ZADD")
                .arg(&self.keys.expiry)
                .arg("LT")
                .arg(at)
                .arg(hex)
                .ignore();
        }
        if let Some(owner) = owner {
            let tag = owner_tag(owner);
            pipe.cmd("HSET")
                .arg(&self.keys.owners)
                .arg(hex)
                .arg(&tag)
                .ignore();
            pipe.cmd("SADD")
                .arg(self.keys.owner_set(&tag))
                .arg(hex)
                .ignore();
        }
    }

    /// Queues, ignoring its reply, the removal of `members` from the set of the owner whose
    /// tag is `tag`.
    fn unindex_owner(&self, pipe: &mut redis::Pipeline, tag: &str, members: impl ToRedisArgs) {
        pipe.cmd("SREM")
            .arg(self.keys.owner_set(tag))
            .arg(members)
            .ignore();
    }

    /// Queues, ignoring their replies, the removal of `members` from the expiry index and
    /// from the member → owner tag hash.
    fn unindex_expiry(&self, pipe: &mut redis::Pipeline, members: impl ToRedisArgs + Copy) {
        pipe.cmd("ZREM")
            .arg(&self.keys.expiry)
            .arg(members)
            .ignore();
        pipe.cmd("HDEL")
            .arg(&self.keys.owners)
            .arg(members)
            .ignore();
    }
}

async fn load_scripts(conn: &mut ConnectionManager) -> Result<(), StoreError> {
    let mut pipe = redis::pipe();
    for code in ALL_SCRIPTS {
        pipe.cmd("SCRIPT").arg("LOAD").arg(code).ignore();
    }
    pipe.query_async::<()>(conn).await.map_err(map_err)
}

impl SessionStore for RedisStore {
    async fn load(&self, key: &SessionKey, now: UnixMillis) -> Result<Option<Record>, StoreError> {
        let mut conn = self.conn.clone();
        let reply: Value = redis::cmd("HGETALL")
            .arg(self.keys.session(&key.to_hex()))
            .query_async(&mut conn)
            .await
            .map_err(map_err)?;
        let pairs = into_pairs(reply)?;
        if pairs.is_empty() {
            return Ok(None);
        }
        decode_record(pairs, now)
    }

    async fn create(&self, key: &SessionKey, record: &Record) -> Result<Created, StoreError> {
        let hex = key.to_hex();
        let mut pipe = redis::pipe();
        // Before the script: the index entries (stale, and harmless, if this is a collision).
        let owner = record.owner.as_deref();
        self.index(&mut pipe, &hex, Some(record.expires_at), owner);
        let fields = record.fields.iter();
        let mut script = eval(
            &SCRIPTS.create,
            &self.keys.session(&hex),
            4 + 2 * record.fields.len(),
            owner.map_or(0, str::len) + text_len(fields),
        );
        script.arg(record.created_at).arg(record.expires_at);
        match owner {
            Some(owner) => script.arg("1").arg(owner),
            None => script.arg("0").arg(""),
        };
        for (name, value) in record.fields.iter() {
            script.arg(&*stored_name(name)).arg(value.as_str());
        }
        pipe.add_command(script);

        let reply = Self::last(self.query(&pipe).await?, "the create script")?;
        match int(&reply) {
            Some(1) => Ok(Created::Inserted),
            Some(0) => Ok(Created::Collision),
            _ => Err(unexpected("the create script")),
        }
    }

    // The patch script, with the index steps that must precede it.
    async fn patch(
        &self,
        key: &SessionKey,
        patch: &Patch<'_>,
        now: UnixMillis,
    ) -> Result<Patched, StoreError> {
        let hex = key.to_hex();
        let mut pipe = redis::pipe();
        let owner = patch.owner.flatten();
        // Before the script: index entries for the new expiry and the new owner.
        self.index(&mut pipe, &hex, patch.expires_at, owner);
        let mut script = eval(
            &SCRIPTS.patch,
            &self.keys.session(&hex),
            5 + 2 * patch.set.len() + patch.remove.len(),
            owner.map_or(0, str::len)
                + text_len(patch.set.iter().copied())
                + patch.remove.iter().map(|name| name.len()).sum::<usize>(),
        );
        script.arg(now);
        match patch.expires_at {
            Some(at) => script.arg(at),
            None => script.arg(""),
        };
        match patch.owner {
            None => script.arg("").arg(""),
            Some(Some(owner)) => script.arg("s").arg(owner),
            Some(None) => script.arg("c").arg(""),
        };
        script.arg(patch.set.len());
        for (name, value) in &patch.set {
            script.arg(&*stored_name(name)).arg(value.as_str());
        }
        for name in &patch.remove {
            script.arg(&*stored_name(name));
        }
        pipe.add_command(script);

        let reply = Self::last(self.query(&pipe).await?, "the patch script")?;
        let (status, _) = status_reply(reply, "the patch script")?;
        match status {
            // Nothing after the script: the previous owner's set keeps its (now stale) entry.
            // See "The index consistency window" in the module docs for why removing it is
            // unsafe.
            1 => Ok(Patched::Applied),
            0 => Ok(Patched::Gone),
            -1 => Err(StoreError::Corrupt {
                reason: "the session hash has no usable expiry field `$e`",
            }),
            _ => Err(unexpected("the patch script")),
        }
    }

    async fn touch(
        &self,
        key: &SessionKey,
        expires_at: UnixMillis,
        now: UnixMillis,
    ) -> Result<Patched, StoreError> {
        self.patch(key, &Patch::new().expires_at(expires_at), now)
            .await
    }

    async fn delete(&self, key: &SessionKey) -> Result<(), StoreError> {
        let hex = key.to_hex();
        let mut conn = self.conn.clone();
        let reply: Value = SCRIPTS
            .delete
            .key(self.keys.session(&hex))
            .invoke_async(&mut conn)
            .await
            .map_err(map_err)?;
        let (_deleted, rest) = status_reply(reply, "the delete script")?;
        let owner = last_owner(rest, "the delete script")?;
        // After the script: owner index first, so that a crash in between leaves the expiry
        // entry, through which a sweep finds (and removes) the owner entry.
        let mut tidy = redis::pipe();
        if let Some(owner) = owner {
            self.unindex_owner(&mut tidy, &owner_tag(&owner), &hex);
        }
        self.unindex_expiry(&mut tidy, &hex);
        self.tidy(tidy, "delete").await;
        Ok(())
    }

    async fn delete_expired(&self, now: UnixMillis) -> Result<u64, StoreError> {
        let mut conn = self.conn.clone();
        let mut removed = 0u64;
        let mut previous: Vec<String> = Vec::new();
        loop {
            let members: Vec<String> = redis::cmd("ZRANGEBYSCORE")
                .arg(&self.keys.expiry)
                .arg("-inf")
                .arg(now)
                .arg("LIMIT")
                .arg(0)
                .arg(BATCH)
                .query_async(&mut conn)
                .await
                .map_err(map_err)?;
            // Every member handled below leaves the range (removed, or its score raised past
            // `now`); the same batch again means concurrent writers keep lowering them.
            if members.is_empty() || members == previous {
                break;
            }
            let (valid, junk): (Vec<&String>, Vec<&String>) =
                members.iter().partition(|m| is_key_hex(m));

            let mut pipe = redis::pipe();
            for m in &valid {
                pipe.invoke_script(SCRIPTS.reap.key(self.keys.session(m)).arg(now));
            }
            if !valid.is_empty() {
                pipe.cmd("HMGET").arg(&self.keys.owners).arg(&valid);
            }
            let mut replies = self.query(&pipe).await?;
            let tags: Vec<Option<String>> = if valid.is_empty() {
                Vec::new()
            } else {
                match replies.pop() {
                    Some(Value::Array(items)) if items.len() == valid.len() => items
                        .into_iter()
                        .map(|v| {
                            opt_bytes(v)
                                .ok()
                                .flatten()
                                .and_then(|b| String::from_utf8(b).ok())
                        })
                        .collect(),
                    _ => return Err(unexpected("HMGET")),
                }
            };
            if replies.len() != valid.len() {
                return Err(unexpected("the reap script"));
            }

            let mut tidy = redis::pipe();
            let mut forget: Vec<&str> = junk.iter().map(|m| m.as_str()).collect();
            for ((member, reply), tag) in valid.iter().zip(replies).zip(tags) {
                let (status, mut rest) = status_reply(reply, "the reap script")?;
                match status {
                    // Deleted by this call.
                    1 => {
                        removed += 1;
                        let owner = last_owner(rest, "the reap script")?;
                        let owner_tag = owner.as_deref().map(owner_tag);
                        if let Some(t) = &owner_tag {
                            self.unindex_owner(&mut tidy, t, *member);
                        }
                        if let Some(t) = tag.filter(|t| Some(t) != owner_tag.as_ref()) {
                            self.unindex_owner(&mut tidy, &t, *member);
                        }
                        forget.push(member);
                    }
                    // Live: its record was extended; move the entry to its real expiry.
                    2 => {
                        let at = rest
                            .pop()
                            .as_ref()
                            .and_then(int)
                            .ok_or_else(|| unexpected("the reap script"))?;
                        tidy.cmd("ZADD")
                            .arg(&self.keys.expiry)
                            .arg("GT")
                            .arg(at)
                            .arg(*member)
                            .ignore();
                    }
                    // Gone already (Redis expired it, or a delete was cut short).
                    0 => {
                        if let Some(t) = tag {
                            self.unindex_owner(&mut tidy, &t, *member);
                        }
                        forget.push(member);
                    }
                    -1 => {
                        tracing::warn!(
                            key = &member[..12],
                            "redis session store: a hash without a usable `$e` is indexed; \
                             dropping it from the expiry index"
                        );
                        forget.push(member);
                    }
                    _ => return Err(unexpected("the reap script")),
                }
            }
            if !forget.is_empty() {
                self.unindex_expiry(&mut tidy, &forget);
            }
            // Unlike other index clean-ups, this one must succeed for the loop to progress.
            if !tidy.is_empty() {
                self.query(&tidy).await?;
            }
            previous = members;
        }
        Ok(removed)
    }

    async fn delete_by_owner(&self, owner: &str) -> Result<u64, StoreError> {
        let mut conn = self.conn.clone();
        let set = self.keys.owner_set(&owner_tag(owner));
        let members: Vec<String> = redis::cmd("SMEMBERS")
            .arg(&set)
            .query_async(&mut conn)
            .await
            .map_err(map_err)?;
        let (valid, junk): (Vec<&String>, Vec<&String>) =
            members.iter().partition(|m| is_key_hex(m));
        let mut removed = 0u64;
        for chunk in valid.chunks(BATCH) {
            let mut pipe = redis::pipe();
            for m in chunk {
                pipe.invoke_script(SCRIPTS.revoke.key(self.keys.session(m)).arg(owner));
            }
            pipe.cmd("ZMSCORE").arg(&self.keys.expiry).arg(chunk);
            let mut replies = self.query(&pipe).await?;
            let scores = match replies.pop() {
                Some(Value::Array(scores)) if scores.len() == chunk.len() => scores,
                _ => return Err(unexpected("ZMSCORE")),
            };
            let mut deleted = Vec::new();
            let mut orphans = Vec::new();
            for ((member, reply), score) in chunk.iter().zip(&replies).zip(&scores) {
                match int(reply) {
                    Some(1) => deleted.push(member.as_str()),
                    // Gone and not in the expiry index either: no create is in flight for it
                    // (a create indexes its expiry before its owner), so the entry is stale.
                    Some(0) if matches!(score, Value::Nil) => orphans.push(member.as_str()),
                    // Gone but still expiry-indexed (a sweep will remove it), or someone
                    // else's session: kept.
                    Some(0) | Some(2) => {}
                    _ => return Err(unexpected("the revoke script")),
                }
            }
            removed += deleted.len() as u64;
            let mut tidy = redis::pipe();
            if !deleted.is_empty() || !orphans.is_empty() {
                tidy.cmd("SREM")
                    .arg(&set)
                    .arg(&deleted)
                    .arg(&orphans)
                    .ignore();
            }
            if !deleted.is_empty() {
                self.unindex_expiry(&mut tidy, &deleted);
            }
            self.tidy(tidy, "delete_by_owner").await;
        }
        if !junk.is_empty() {
            let mut tidy = redis::pipe();
            tidy.cmd("SREM").arg(&set).arg(&junk).ignore();
            self.tidy(tidy, "delete_by_owner").await;
        }
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_are_validated() {
        assert!(validate_prefix("sess:").is_ok());
        assert!(validate_prefix("a").is_ok());
        assert!(validate_prefix("app:v2:*?[x]").is_ok());
        for bad in ["", "{", "}", "a{b", "sess:{x}:"] {
            let err = validate_prefix(bad).expect_err(bad);
            assert_eq!(err.prefix, bad);
        }
    }

    #[test]
    fn key_names_use_hash_tags() {
        let keys = Keys::new("sess:");
        let hex = "ab".repeat(32);
        assert_eq!(keys.session(&hex), format!("sess:{{{hex}}}"));
        assert_eq!(keys.expiry, "sess:expiry");
        assert_eq!(keys.owners, "sess:owners");
        let tag = owner_tag("\"alice\"");
        assert_eq!(tag.len(), 64);
        assert!(is_key_hex(&tag));
        assert_eq!(keys.owner_set(&tag), format!("sess:owner:{{{tag}}}"));
        // The owner text may contain braces; the tag never does.
        assert!(!owner_tag("{\"id\":{}}").contains(['{', '}']));
    }

    #[test]
    fn dollar_names_are_escaped_and_decoded() {
        assert_eq!(&*stored_name("plain"), b"plain");
        assert_eq!(&*stored_name("$e"), b"$$e");
        assert_eq!(&*stored_name("$$x"), b"$$$x");
        assert_eq!(&*stored_name("a$"), b"a$");
        let pairs = vec![
            (b"$c".to_vec(), b"10".to_vec()),
            (b"$e".to_vec(), b"20".to_vec()),
            (b"$o".to_vec(), b"\"bob\"".to_vec()),
            (b"$$e".to_vec(), b"1".to_vec()),
            (b"$$$x".to_vec(), b"2".to_vec()),
            (b"$future".to_vec(), b"ignored".to_vec()),
            (b"n\0m".to_vec(), b"[true]".to_vec()),
        ];
        let record = decode_record(pairs.clone(), 19).unwrap().unwrap();
        assert_eq!((record.created_at, record.expires_at), (10, 20));
        assert_eq!(record.owner.as_deref(), Some("\"bob\""));
        let mut names: Vec<_> = record.fields.keys().collect();
        names.sort();
        assert_eq!(names, ["$$x", "$e", "n\0m"]);
        assert!(decode_record(pairs, 20).unwrap().is_none());
    }

    #[test]
    fn corrupt_hashes_are_reported() {
        let no_expiry = vec![(b"$c".to_vec(), b"1".to_vec())];
        assert!(matches!(
            decode_record(no_expiry, 0),
            Err(StoreError::Corrupt { .. })
        ));
        let bad_json = vec![
            (b"$c".to_vec(), b"1".to_vec()),
            (b"$e".to_vec(), b"9".to_vec()),
            (b"f".to_vec(), b"{not json".to_vec()),
        ];
        assert!(matches!(
            decode_record(bad_json, 0),
            Err(StoreError::Corrupt { .. })
        ));
    }

    #[test]
    fn errors_map_to_unavailable_or_backend() {
        let refused = RedisError::from(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        assert!(matches!(map_err(refused), StoreError::Unavailable(_)));
        let timeout = RedisError::from(std::io::Error::from(std::io::ErrorKind::TimedOut));
        assert!(matches!(map_err(timeout), StoreError::Unavailable(_)));
        let loading = RedisError::from((ErrorKind::BusyLoadingError, "loading"));
        assert!(matches!(map_err(loading), StoreError::Unavailable(_)));
        let down = RedisError::from((ErrorKind::ClusterDown, "down"));
        assert!(matches!(map_err(down), StoreError::Unavailable(_)));
        let wrong = RedisError::from((ErrorKind::ResponseError, "WRONGTYPE"));
        assert!(matches!(map_err(wrong), StoreError::Backend(_)));
    }
}
