//! What the sqlx-based stores (`sqlite`, `postgres`, `mysql`) have in common: the table-name
//! rules and their error, the fixed statements of one table, the split of sqlx errors into
//! [`StoreError::Unavailable`] and [`StoreError::Backend`], and the engine-neutral parts of
//! reading a row (and its `data` object), writing a `data` object, and building and binding a
//! patch's `UPDATE`.
//!
//! The SQL text itself stays in each backend: only the logic around it is shared here.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{Deserialize, DeserializeOwned, Deserializer, MapAccess, Visitor};
use sqlx::error::DatabaseError;
use sqlx::{ColumnIndex, Database, Decode, Row, Type};

use super::{FieldMap, Json, Patch, Patched, StoreError};

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

/// How one backend keeps a field in its `data` JSON object: under an encoded key, as a value
/// that reads back as the field's JSON.
pub(super) trait FieldEncoding {
    /// What a stored value is read as.
    type Value: DeserializeOwned;

    /// The field (name and JSON) stored under `key` as `value`, or [`StoreError::Corrupt`] if
    /// this encoding could not have written that entry.
    fn decode(key: String, value: Self::Value) -> Result<(String, Json), StoreError>;
}

/// A stored `data` object, read entry by entry straight into a [`FieldMap`] (no intermediate
/// map), each entry decoded by `E`.
///
/// Deserializing fails only if the JSON is not an object of `E::Value`s (whatever `E` thinks
/// of its entries, so that a malformed object is always reported as such); an entry that `E`
/// refuses is the `Err` of [`into_fields`](Self::into_fields).
pub(super) struct StoredFields<E> {
    fields: Result<FieldMap, StoreError>,
    encoding: PhantomData<fn() -> E>,
}

impl<E> StoredFields<E> {
    /// The fields, or the first entry the encoding refused.
    pub(super) fn into_fields(self) -> Result<FieldMap, StoreError> {
        self.fields
    }
}

impl<'de, E: FieldEncoding> Deserialize<'de> for StoredFields<E> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Entries<E>(PhantomData<fn() -> E>);

        impl<'de, E: FieldEncoding> Visitor<'de> for Entries<E> {
            type Value = StoredFields<E>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object of stored session fields")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                // Capped: the hint comes from the stored data.
                let mut fields = FieldMap::with_capacity(map.size_hint().unwrap_or(0).min(64));
                let mut refused = None;
                while let Some((key, value)) = map.next_entry::<String, E::Value>()? {
                    if refused.is_some() {
                        continue; // still read the rest: a malformed object outranks it
                    }
                    match E::decode(key, value) {
                        Ok((name, value)) => {
                            fields.insert(name, value);
                        }
                        Err(error) => refused = Some(error),
                    }
                }
                Ok(StoredFields {
                    fields: refused.map_or(Ok(fields), Err),
                    encoding: PhantomData,
                })
            }
        }

        deserializer.deserialize_map(Entries(PhantomData))
    }
}

/// The fields of a `data` column read as JSON text, or [`StoreError::Corrupt`]: with
/// `not_object` if the text is not a JSON object of `E::Value`s, else as `E` refuses an entry.
#[cfg(any(feature = "sqlite", feature = "mysql"))]
pub(super) fn decode_fields<E: FieldEncoding>(
    data: &str,
    not_object: &'static str,
) -> Result<FieldMap, StoreError> {
    serde_json::from_str::<StoredFields<E>>(data)
        .map_err(|_| StoreError::Corrupt { reason: not_object })?
        .into_fields()
}

/// `entries` as the text of a JSON object (keys and values serialized as they are).
#[cfg(any(feature = "postgres", feature = "mysql"))]
pub(super) fn json_object<I, K, V>(entries: I) -> Result<String, StoreError>
where
    I: Iterator<Item = (K, V)> + Clone,
    K: serde::Serialize,
    V: serde::Serialize,
{
    use serde::ser::{Serialize, SerializeMap, Serializer};

    struct Object<I>(I);

    impl<I, K, V> Serialize for Object<I>
    where
        I: Iterator<Item = (K, V)> + Clone,
        K: Serialize,
        V: Serialize,
    {
        fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            let mut map = serializer.serialize_map(None)?;
            for (key, value) in self.0.clone() {
                map.serialize_entry(&key, &value)?;
            }
            map.end()
        }
    }

    serde_json::to_string(&Object(entries)).map_err(|e| StoreError::Backend(Box::new(e)))
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

/// An engine's JSON functions that rewrite an object by path, for the `data` expression of a
/// patch's `UPDATE`: `remove(set(data, ?, <value>, ...), ?, ...)`, one (path, value) pair per
/// set field and one path per removed field, the placeholders [`bind_patch`] binds.
#[cfg(any(feature = "sqlite", feature = "mysql"))]
pub(super) struct PathFunctions {
    /// The function that sets paths, as `set(json, path, value, ...)`.
    pub(super) set: &'static str,
    /// The arguments one set field adds to a `set` call: `, ?, ` then a value expression
    /// reading the JSON text bound to the second `?`.
    pub(super) set_pair: &'static str,
    /// The most pairs one `set` call may take; more are set by nesting calls.
    pub(super) set_pairs_per_call: usize,
    /// The function that removes paths, as `remove(json, path, ...)`.
    pub(super) remove: &'static str,
    /// The most paths one `remove` call may take; more are removed by nesting calls.
    pub(super) remove_paths_per_call: usize,
}

#[cfg(any(feature = "sqlite", feature = "mysql"))]
impl PathFunctions {
    /// The `data` expression of `patch`, or `None` if it sets and removes no field (see
    /// [`assignments`]).
    pub(super) fn data(&self, patch: &Patch<'_>) -> Option<String> {
        if patch.set.is_empty() && patch.remove.is_empty() {
            return None;
        }
        let mut data = String::from("data");
        for chunk in patch.set.chunks(self.set_pairs_per_call) {
            data = format!("{}({data}{})", self.set, self.set_pair.repeat(chunk.len()));
        }
        for chunk in patch.remove.chunks(self.remove_paths_per_call) {
            data = format!("{}({data}{})", self.remove, ", ?".repeat(chunk.len()));
        }
        Some(data)
    }
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
        query = query.bind(path.as_str()).bind(value.as_str());
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

    /// Keys must start with `k`, which is dropped.
    struct Prefixed;

    impl FieldEncoding for Prefixed {
        type Value = Json;

        fn decode(key: String, value: Json) -> Result<(String, Json), StoreError> {
            match key.strip_prefix('k') {
                Some(name) => Ok((name.to_owned(), value)),
                None => Err(StoreError::Corrupt { reason: "no k" }),
            }
        }
    }

    #[test]
    fn stored_fields_decode_in_one_pass() {
        let read = |data: &str| {
            serde_json::from_str::<StoredFields<Prefixed>>(data).map(StoredFields::into_fields)
        };
        let fields = read(r#"{"ka": [1, 2], "kb": "x", "ka": 3}"#);
        let Ok(Ok(fields)) = fields else {
            panic!("{fields:?}")
        };
        assert_eq!(fields.len(), 2);
        assert_eq!(fields["a"].as_str(), "3", "the last duplicate wins");
        assert_eq!(fields["b"].as_str(), r#""x""#);
        let refused = read(r#"{"ka": 1, "b": 2, "c": 3}"#);
        assert!(
            matches!(refused, Ok(Err(StoreError::Corrupt { reason: "no k" }))),
            "{refused:?}"
        );
        // A malformed object is reported as such, even after an entry the encoding refused.
        for bad in [r#"{"b": 1, "kc": }"#, r#"{"b": 1} x"#, "[1]", "1"] {
            assert!(read(bad).is_err(), "{bad:?}");
        }
    }

    #[cfg(any(feature = "sqlite", feature = "mysql"))]
    #[test]
    fn path_functions_nest_calls_per_limit() {
        let functions = |per_call| PathFunctions {
            set: "S",
            set_pair: ", ?, v(?)",
            set_pairs_per_call: per_call,
            remove: "R",
            remove_paths_per_call: per_call,
        };
        let v = Json::from_string("1".to_owned()).ok();
        let Some(v) = v.as_ref() else { panic!("json") };
        assert_eq!(functions(2).data(&Patch::new().expires_at(1)), None);
        let p = Patch::new().set("a", v).set("b", v).set("c", v).remove("d");
        assert_eq!(
            functions(2).data(&p).as_deref(),
            Some("R(S(S(data, ?, v(?), ?, v(?)), ?, v(?)), ?)")
        );
        assert_eq!(
            functions(usize::MAX).data(&p).as_deref(),
            Some("R(S(data, ?, v(?), ?, v(?), ?, v(?)), ?)")
        );
        let p = Patch::new().remove("d").remove("e").remove("f");
        assert_eq!(
            functions(2).data(&p).as_deref(),
            Some("R(R(data, ?, ?), ?)")
        );
    }

    #[cfg(any(feature = "postgres", feature = "mysql"))]
    #[test]
    fn json_object_writes_entries_as_they_are() {
        let v = Json::from_string(r#"{"x" : 1}"#.to_owned()).ok();
        let Some(v) = v.as_ref() else { panic!("json") };
        let empty: [(&str, &str); 0] = [];
        assert_eq!(json_object(empty.into_iter()).ok().as_deref(), Some("{}"));
        assert_eq!(
            json_object([("a\"", v)].into_iter()).ok().as_deref(),
            Some(r#"{"a\"":{"x" : 1}}"#)
        );
        assert_eq!(
            json_object([("a", v.as_str())].into_iter()).ok().as_deref(),
            Some(r#"{"a":"{\"x\" : 1}"}"#)
        );
    }
}
