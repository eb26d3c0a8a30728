//! The store conformance suite: the guarantees of `session_runtime::store` (module docs of
//! `SessionStore`), checked against any backend.
//!
//! # Using it from a backend's test file
//!
//! ```ignore
//! #[macro_use]
//! #[path = "support/conformance.rs"]
//! mod conformance;
//!
//! mod postgres {
//!     // One `#[tokio::test]` per case. The expression is evaluated afresh inside each
//!     // (async) test, so it may `.await`; attributes after it go on every generated test.
//!     conformance_tests!(crate::fresh_pg_store().await, #[ignore = "needs DATABASE_URL"]);
//! }
//! ```
//!
//! The module must be declared at the crate root under the name `conformance` (the macro
//! calls `$crate::conformance::<case>`). [`run_all`] runs every case in one test instead.
//!
//! # What the factory must give
//!
//! Every call must return an **isolated, empty** store (a fresh memory store, a fresh table /
//! schema / database, a fresh Redis key prefix): cases count records (`delete_expired`) and
//! run in parallel. Clones of one store must share it.
//!
//! Case times are fake `UnixMillis` around [`T0`] (year 2096), passed explicitly, so expiry is
//! tested without sleeping; only [`spawn_cleanup_purges_expired_and_keeps_live`] uses the
//! system clock, because `spawn_cleanup` does.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::Value;
use session_runtime::store::{Created, FieldMap, Json, Patch, Patched, Record, UnixMillis};
use session_runtime::{Clock as _, SessionKey, SessionStore, SystemClock};

/// Expands to one `#[tokio::test]` per conformance case, each on a fresh store from `$make`.
///
/// `$make` is evaluated inside each async test, so it may contain `.await`. Optional
/// attributes after it (`conformance_tests!(make(), #[ignore = "..."])`) are put on every
/// generated test.
macro_rules! conformance_tests {
    ($make:expr $(, #[$attr:meta])* $(,)?) => {
        conformance_tests!(@case $(#[$attr])* [$make] create_then_load_round_trips);
        conformance_tests!(@case $(#[$attr])* [$make] create_on_live_key_collides);
        conformance_tests!(@case $(#[$attr])* [$make] create_on_expired_unpurged_key_collides);
        conformance_tests!(@case $(#[$attr])* [$make] patch_changes_only_named_fields);
        conformance_tests!(@case $(#[$attr])* [$make] patch_and_touch_never_resurrect);
        conformance_tests!(@case $(#[$attr])* [$make] touch_moves_expiry_only);
        conformance_tests!(@case $(#[$attr])* [$make] load_hides_expired_records);
        conformance_tests!(@case $(#[$attr])* [$make] delete_is_idempotent);
        conformance_tests!(@case $(#[$attr])* [$make] delete_expired_removes_exactly_the_expired);
        conformance_tests!(@case $(#[$attr])* [$make] large_and_unicode_values_round_trip);
        conformance_tests!(@case_mt $(#[$attr])* [$make] concurrent_patches_to_different_fields_all_survive);
        conformance_tests!(@case $(#[$attr])* [$make] spawn_cleanup_purges_expired_and_keeps_live);
        conformance_tests!(@case $(#[$attr])* [$make] owners_are_kept_patched_and_revoked);
    };
    (@case $(#[$attr:meta])* [$make:expr] $case:ident) => {
        #[tokio::test]
        $(#[$attr])*
        async fn $case() {
            let store = $make;
            $crate::conformance::$case(store).await;
        }
    };
    (@case_mt $(#[$attr:meta])* [$make:expr] $case:ident) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        $(#[$attr])*
        async fn $case() {
            let store = $make;
            $crate::conformance::$case(store).await;
        }
    };
}

/// Runs every case, each on a fresh store from `make`, in the order of the macro.
///
/// Prefer [`conformance_tests!`] (one named test per case). Call this from a multi-thread
/// runtime so the concurrency case really runs in parallel.
pub async fn run_all<S: SessionStore + Clone>(make: impl Fn() -> S) {
    create_then_load_round_trips(make()).await;
    create_on_live_key_collides(make()).await;
    create_on_expired_unpurged_key_collides(make()).await;
    patch_changes_only_named_fields(make()).await;
    patch_and_touch_never_resurrect(make()).await;
    touch_moves_expiry_only(make()).await;
    load_hides_expired_records(make()).await;
    delete_is_idempotent(make()).await;
    delete_expired_removes_exactly_the_expired(make()).await;
    large_and_unicode_values_round_trip(make()).await;
    concurrent_patches_to_different_fields_all_survive(make()).await;
    spawn_cleanup_purges_expired_and_keeps_live(make()).await;
    owners_are_kept_patched_and_revoked(make()).await;
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// The base of every fake time: 2096-10-02, far from the system clock, so that a cleanup on
/// the real clock would never touch these records.
pub const T0: UnixMillis = 4_000_000_000_000;
/// One minute, in milliseconds.
pub const MIN: UnixMillis = 60_000;

/// A JSON value from its text.
pub fn raw(json: &str) -> Json {
    Json::from_string(json.to_owned())
        .unwrap_or_else(|e| panic!("test bug: {json:?} is not JSON: {e}"))
}

/// A JSON value from anything serializable.
pub fn to_raw<T: serde::Serialize + ?Sized>(value: &T) -> Json {
    Json::encode(value).expect("test bug: value does not serialize")
}

/// A field map from `(name, json text)` pairs.
pub fn fields(pairs: &[(&str, &str)]) -> FieldMap {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), raw(v)))
        .collect()
}

/// A field map's contents as parsed JSON, for comparison. Stores may re-serialize JSON
/// (whitespace, key order of nested objects), so fields are compared by value, not by text.
pub fn json_of(fields: &FieldMap) -> BTreeMap<String, Value> {
    fields
        .iter()
        .map(|(k, v)| {
            let parsed = v.decode().unwrap_or_else(|e| {
                panic!(
                    "stored field {k:?} came back as invalid JSON {:?}: {e}",
                    v.as_str()
                )
            });
            (k.to_owned(), parsed)
        })
        .collect()
}

fn show(map: &BTreeMap<String, Value>) -> String {
    let mut s = String::from("{");
    for (i, (k, v)) in map.iter().enumerate() {
        if i > 0 {
            s.push_str(", ");
        }
        let mut v = v.to_string();
        if v.len() > 200 {
            let mut cut = 200;
            while !v.is_char_boundary(cut) {
                cut -= 1;
            }
            v = format!("{}... ({} bytes)", &v[..cut], v.len());
        }
        s.push_str(&format!("{k:?}: {v}"));
    }
    s.push('}');
    s
}

/// Asserts that `record` holds exactly `expected` (compared as JSON values).
#[track_caller]
pub fn assert_fields(record: &Record, expected: &FieldMap, what: &str) {
    let actual = json_of(&record.fields);
    let expected = json_of(expected);
    if actual != expected {
        let missing: Vec<_> = expected
            .keys()
            .filter(|k| !actual.contains_key(*k))
            .collect();
        let extra: Vec<_> = actual
            .keys()
            .filter(|k| !expected.contains_key(*k))
            .collect();
        let changed: Vec<_> = expected
            .iter()
            .filter(|(k, v)| actual.get(*k).is_some_and(|a| a != *v))
            .map(|(k, _)| k)
            .collect();
        panic!(
            "{what}: stored fields differ\n  missing fields: {missing:?}\n  unexpected fields: \
             {extra:?}\n  fields with other values: {changed:?}\n  expected: {}\n  actual:   {}",
            show(&expected),
            show(&actual),
        );
    }
}

/// Loads a record that must be there.
pub async fn must_load<S: SessionStore>(
    store: &S,
    key: &SessionKey,
    now: UnixMillis,
    what: &str,
) -> Record {
    match store.load(key, now).await {
        Ok(Some(record)) => record,
        Ok(None) => panic!("{what}: load({key:?}, now = {now}) returned None, expected the record"),
        Err(e) => panic!("{what}: load({key:?}, now = {now}) failed: {e:?}"),
    }
}

/// Asserts that no record is visible under `key` at `now`.
pub async fn must_be_absent<S: SessionStore>(
    store: &S,
    key: &SessionKey,
    now: UnixMillis,
    what: &str,
) {
    match store.load(key, now).await {
        Ok(None) => {}
        Ok(Some(r)) => panic!(
            "{what}: load({key:?}, now = {now}) returned a record (created_at {}, expires_at {}, \
             fields {}), expected None",
            r.created_at,
            r.expires_at,
            show(&json_of(&r.fields)),
        ),
        Err(e) => panic!("{what}: load({key:?}, now = {now}) failed: {e:?}"),
    }
}

/// Creates a record that must be inserted.
pub async fn must_create<S: SessionStore>(
    store: &S,
    key: &SessionKey,
    record: &Record,
    what: &str,
) {
    match store.create(key, record).await {
        Ok(Created::Inserted) => {}
        Ok(Created::Collision) => {
            panic!("{what}: create({key:?}) on a fresh random key reported Collision")
        }
        Err(e) => panic!("{what}: create({key:?}) failed: {e:?}"),
    }
}

async fn patch_ok<S: SessionStore>(
    store: &S,
    key: &SessionKey,
    patch: &Patch<'_>,
    now: UnixMillis,
    what: &str,
) -> Patched {
    store
        .patch(key, patch, now)
        .await
        .unwrap_or_else(|e| panic!("{what}: patch({key:?}, now = {now}) failed: {e:?}"))
}

async fn touch_ok<S: SessionStore>(
    store: &S,
    key: &SessionKey,
    expires_at: UnixMillis,
    now: UnixMillis,
    what: &str,
) -> Patched {
    store.touch(key, expires_at, now).await.unwrap_or_else(|e| {
        panic!("{what}: touch({key:?}, expires_at = {expires_at}, now = {now}) failed: {e:?}")
    })
}

#[track_caller]
fn assert_times(record: &Record, created_at: UnixMillis, expires_at: UnixMillis, what: &str) {
    assert_eq!(record.created_at, created_at, "{what}: created_at changed");
    assert_eq!(
        record.expires_at, expires_at,
        "{what}: expires_at is not the expected one"
    );
}

/// xorshift64*: a tiny seeded PRNG for the randomised interleavings.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed (0 is replaced by a fixed non-zero constant).
    pub fn new(seed: u64) -> Self {
        Rng(if seed == 0 {
            0x9E37_79B9_7F4A_7C15
        } else {
            seed
        })
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// Shuffles a slice in place (Fisher-Yates).
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            items.swap(i, j);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Cases
// ---------------------------------------------------------------------------------------------

/// Case 1: `create` then `load` returns the same fields and times; an unknown key loads as `None`.
pub async fn create_then_load_round_trips<S: SessionStore + Clone>(store: S) {
    let what = "create then load";
    let key = SessionKey::random();
    let other = SessionKey::random();
    let data = fields(&[
        ("user", r#""alice""#),
        ("count", "42"),
        ("flag", "true"),
        ("nothing", "null"),
        ("ratio", "0.1"),
        ("big", "18446744073709551615"),
        ("neg", "-9223372036854775808"),
        ("list", r#"[1, "two", {"three": [3]}]"#),
        ("nested", r#"{"z": 1, "a": {"b": [true, false, null]}}"#),
    ]);
    let created_at = T0 + 1_234;
    let expires_at = T0 + 30 * MIN + 567;

    must_be_absent(&store, &key, T0, "load of a key never created").await;
    must_create(
        &store,
        &key,
        &Record::new(data.clone(), created_at, expires_at),
        what,
    )
    .await;

    let loaded = must_load(&store, &key, T0 + 2_000, what).await;
    assert_fields(&loaded, &data, what);
    assert_times(&loaded, created_at, expires_at, what);

    // Loading does not consume or change the record.
    let again = must_load(&store, &key, T0 + 3_000, "second load").await;
    assert_fields(&again, &data, "second load");
    assert_times(&again, created_at, expires_at, "second load");

    must_be_absent(
        &store,
        &other,
        T0 + 2_000,
        "load of an unknown key next to a stored one",
    )
    .await;
}

/// Case 2: `create` on a key that holds a live record reports `Collision` and changes nothing.
pub async fn create_on_live_key_collides<S: SessionStore + Clone>(store: S) {
    let what = "create on an existing key";
    let key = SessionKey::random();
    let original = fields(&[("who", r#""original""#), ("only_in_original", "1")]);
    must_create(
        &store,
        &key,
        &Record::new(original.clone(), T0, T0 + 10 * MIN),
        what,
    )
    .await;

    let intruder = Record::new(
        fields(&[("who", r#""intruder""#), ("only_in_intruder", "2")]),
        T0 + MIN,
        T0 + 60 * MIN,
    );
    let outcome = store
        .create(&key, &intruder)
        .await
        .unwrap_or_else(|e| panic!("{what}: {e:?}"));
    assert_eq!(
        outcome,
        Created::Collision,
        "{what}: the second create must report Collision"
    );

    let loaded = must_load(&store, &key, T0 + 2 * MIN, what).await;
    assert_fields(
        &loaded,
        &original,
        "after a colliding create (original must be unchanged)",
    );
    assert_times(&loaded, T0, T0 + 10 * MIN, "after a colliding create");
    // The intruder's longer expiry was not applied either.
    must_be_absent(
        &store,
        &key,
        T0 + 10 * MIN,
        "after a colliding create, at the original expiry",
    )
    .await;
}

/// Case 3: `create` on a key whose record has expired but was not purged still reports
/// `Collision` and never overwrites it.
pub async fn create_on_expired_unpurged_key_collides<S: SessionStore + Clone>(store: S) {
    let what = "create on an expired, unpurged key";
    let key = SessionKey::random();
    let original = fields(&[("who", r#""original""#)]);
    must_create(
        &store,
        &key,
        &Record::new(original.clone(), T0, T0 + MIN),
        what,
    )
    .await;

    // Created after the original expired: the original is expired, but nothing purged it
    // (no load, patch, delete or cleanup has run since; a load could legitimately purge).
    let replacement = Record::new(
        fields(&[("who", r#""replacement""#)]),
        T0 + 2 * MIN,
        T0 + 60 * MIN,
    );
    let outcome = store
        .create(&key, &replacement)
        .await
        .unwrap_or_else(|e| panic!("{what}: {e:?}"));
    assert_eq!(
        outcome,
        Created::Collision,
        "{what}: create must never overwrite an existing record, even an expired one (a store \
         that purges expired records during create must check for the key before purging)"
    );
    // The original is untouched: still there (visible at a time it was live), same data, and
    // still expired at its own expiry.
    let loaded = must_load(
        &store,
        &key,
        T0,
        "the original record, loaded at a time it was live",
    )
    .await;
    assert_fields(
        &loaded,
        &original,
        "after a colliding create on an expired key",
    );
    assert_times(
        &loaded,
        T0,
        T0 + MIN,
        "after a colliding create on an expired key",
    );
    must_be_absent(
        &store,
        &key,
        T0 + 2 * MIN,
        "the expired record after the colliding create",
    )
    .await;
}

/// Case 4: `patch` sets and removes exactly the named fields; `expires_at: Some` moves the expiry,
/// `None` keeps it.
///
/// A key is only probed at or after its expiry as the last step of its life: a store may
/// purge an expired record as soon as it sees a `now` past its expiry.
pub async fn patch_changes_only_named_fields<S: SessionStore + Clone>(store: S) {
    let key = SessionKey::random();
    let bystander = SessionKey::random();
    let created_at = T0;
    let exp = T0 + 10 * MIN;
    let start = fields(&[
        ("keep", r#""kept""#),
        ("overwrite", r#""old""#),
        ("drop", r#""dropped""#),
        ("nested", r#"{"a": 1}"#),
    ]);
    must_create(
        &store,
        &key,
        &Record::new(start.clone(), created_at, exp),
        "patch",
    )
    .await;
    must_create(
        &store,
        &bystander,
        &Record::new(start.clone(), created_at, exp),
        "patch",
    )
    .await;

    // Set one existing field, add a new one, remove one (and one that does not exist);
    // expiry kept.
    let new_val = raw(r#"{"now": ["new"]}"#);
    let added = raw("7");
    let p = Patch::new()
        .set("overwrite", &new_val)
        .set("added", &added)
        .remove("drop")
        .remove("never_existed");
    let what = "patch set+remove";
    assert_eq!(
        patch_ok(&store, &key, &p, T0 + MIN, what).await,
        Patched::Applied,
        "{what}"
    );
    let loaded = must_load(&store, &key, T0 + MIN, what).await;
    let expected = fields(&[
        ("keep", r#""kept""#),
        ("overwrite", r#"{"now": ["new"]}"#),
        ("nested", r#"{"a": 1}"#),
        ("added", "7"),
    ]);
    assert_fields(&loaded, &expected, what);
    assert_times(
        &loaded,
        created_at,
        exp,
        "patch with expires_at None must keep the expiry",
    );

    // The other record is untouched.
    let other = must_load(&store, &bystander, T0 + MIN, "record next to a patched one").await;
    assert_fields(&other, &start, "record next to a patched one");
    assert_times(&other, created_at, exp, "record next to a patched one");

    // An expiry-only patch that extends the session: visible after the old expiry.
    let later = exp + 20 * MIN;
    let p = Patch::new().expires_at(later);
    let what = "expiry-only patch (extend)";
    assert_eq!(
        patch_ok(&store, &key, &p, T0 + 2 * MIN, what).await,
        Patched::Applied,
        "{what}"
    );
    let loaded = must_load(&store, &key, exp, "extended record, at the old expiry").await;
    assert_fields(&loaded, &expected, "expiry-only patch must not change data");
    assert_times(&loaded, created_at, later, what);
    must_load(
        &store,
        &key,
        later - 1,
        "extended record, 1 ms before the new expiry",
    )
    .await;

    // A data patch that also shortens the expiry.
    let shorter = later - 5 * MIN;
    let v = raw(r#""again""#);
    let p = Patch::new()
        .set("keep", &v)
        .remove("added")
        .expires_at(shorter);
    let what = "patch with data and a shorter expiry";
    assert_eq!(
        patch_ok(&store, &key, &p, exp + MIN, what).await,
        Patched::Applied,
        "{what}"
    );
    let loaded = must_load(&store, &key, shorter - 1, what).await;
    let expected = fields(&[
        ("keep", r#""again""#),
        ("overwrite", r#"{"now": ["new"]}"#),
        ("nested", r#"{"a": 1}"#),
    ]);
    assert_fields(&loaded, &expected, what);
    assert_times(&loaded, created_at, shorter, what);
    must_be_absent(&store, &key, shorter, "shortened record, at its new expiry").await;

    // Removing every field (no expiry in the patch) leaves an empty, existing record that
    // still expires at its original time.
    let what = "patch removing every field";
    let p = Patch::new()
        .remove("keep")
        .remove("overwrite")
        .remove("drop")
        .remove("nested");
    assert_eq!(
        patch_ok(&store, &bystander, &p, T0 + 4 * MIN, what).await,
        Patched::Applied
    );
    let loaded = must_load(&store, &bystander, exp - 1, what).await;
    assert_fields(&loaded, &FieldMap::default(), what);
    assert_times(&loaded, created_at, exp, what);
    must_be_absent(
        &store,
        &bystander,
        exp,
        "patch with expires_at None, at the kept expiry",
    )
    .await;
}

/// Case 5: `patch` and `touch` never recreate a record that was deleted or has expired.
pub async fn patch_and_touch_never_resurrect<S: SessionStore + Clone>(store: S) {
    let v = raw(r#""zombie""#);
    let far = T0 + 24 * 60 * MIN;

    // Deleted.
    let key = SessionKey::random();
    must_create(
        &store,
        &key,
        &Record::new(fields(&[("a", "1")]), T0, T0 + 10 * MIN),
        "setup",
    )
    .await;
    store
        .delete(&key)
        .await
        .unwrap_or_else(|e| panic!("delete failed: {e:?}"));
    must_be_absent(&store, &key, T0 + MIN, "after delete").await;

    let what = "patch after delete";
    let p = Patch::new().set("a", &v).set("b", &v).expires_at(far);
    assert_eq!(
        patch_ok(&store, &key, &p, T0 + MIN, what).await,
        Patched::Gone,
        "{what}"
    );
    must_be_absent(&store, &key, T0 + MIN, what).await;
    must_be_absent(
        &store,
        &key,
        T0,
        "patch after delete (load at an earlier time)",
    )
    .await;

    let what = "touch after delete";
    assert_eq!(
        touch_ok(&store, &key, far, T0 + MIN, what).await,
        Patched::Gone,
        "{what}"
    );
    must_be_absent(&store, &key, T0 + MIN, what).await;
    must_be_absent(
        &store,
        &key,
        T0,
        "touch after delete (load at an earlier time)",
    )
    .await;

    // Data-only patch after delete (no expiry in the patch) is Gone as well.
    let what = "data-only patch after delete";
    let p = Patch::new().set("a", &v);
    assert_eq!(
        patch_ok(&store, &key, &p, T0 + MIN, what).await,
        Patched::Gone,
        "{what}"
    );
    must_be_absent(&store, &key, T0, what).await;

    // Expired at `now` (expires_at == now), never purged.
    let exp = T0 + 10 * MIN;
    let key = SessionKey::random();
    let data = fields(&[("a", "1")]);
    must_create(&store, &key, &Record::new(data.clone(), T0, exp), "setup").await;

    let what = "patch of a record expired at now (expires_at == now)";
    let p = Patch::new().set("a", &v).expires_at(far);
    assert_eq!(
        patch_ok(&store, &key, &p, exp, what).await,
        Patched::Gone,
        "{what}"
    );
    must_be_absent(&store, &key, exp, what).await;
    must_be_absent(&store, &key, exp + MIN, what).await;

    let what = "touch of a record expired at now (expires_at == now)";
    assert_eq!(
        touch_ok(&store, &key, far, exp, what).await,
        Patched::Gone,
        "{what}"
    );
    must_be_absent(&store, &key, exp, what).await;
    must_be_absent(&store, &key, exp + MIN, what).await;

    let what = "patch and touch of a record expired well before now";
    let p = Patch::new().set("a", &v);
    assert_eq!(
        patch_ok(&store, &key, &p, exp + MIN, what).await,
        Patched::Gone,
        "{what}"
    );
    assert_eq!(
        touch_ok(&store, &key, far, exp + MIN, what).await,
        Patched::Gone,
        "{what}"
    );
    must_be_absent(&store, &key, exp + MIN, what).await;

    // The refused writes did not change the record either. (A store may have purged it by now;
    // if it still holds it, a load at a time it was live shows it unchanged.)
    let seen = store
        .load(&key, exp - 1)
        .await
        .unwrap_or_else(|e| panic!("load: {e:?}"));
    if let Some(loaded) = seen {
        assert_fields(
            &loaded,
            &data,
            "refused patches must not write an expired record's data",
        );
        assert_times(
            &loaded,
            T0,
            exp,
            "refused patches and touches must not move the expiry",
        );
    }

    // Never-created key.
    let what = "patch and touch of a key never created";
    let key = SessionKey::random();
    let p = Patch::new().set("a", &v).expires_at(far);
    assert_eq!(
        patch_ok(&store, &key, &p, T0, what).await,
        Patched::Gone,
        "{what}"
    );
    assert_eq!(
        touch_ok(&store, &key, far, T0, what).await,
        Patched::Gone,
        "{what}"
    );
    must_be_absent(&store, &key, T0, what).await;
}

/// Case 6: `touch` moves only the expiry: the data is unchanged, and the record is visible after
/// the old expiry and before the new one.
pub async fn touch_moves_expiry_only<S: SessionStore + Clone>(store: S) {
    let key = SessionKey::random();
    let data = fields(&[("a", r#""alpha""#), ("b", r#"[1, 2, 3]"#)]);
    let old_exp = T0 + 10 * MIN;
    let new_exp = T0 + 40 * MIN;
    must_create(
        &store,
        &key,
        &Record::new(data.clone(), T0, old_exp),
        "touch",
    )
    .await;

    let what = "touch (extend)";
    assert_eq!(
        touch_ok(&store, &key, new_exp, T0 + 5 * MIN, what).await,
        Patched::Applied
    );
    for now in [old_exp, old_exp + MIN, new_exp - 1] {
        let loaded = must_load(
            &store,
            &key,
            now,
            "touched record between old and new expiry",
        )
        .await;
        assert_fields(&loaded, &data, "touch must not change data");
        assert_times(&loaded, T0, new_exp, what);
    }

    // Activity after the old expiry (creates of other records, which a store may use to purge
    // what has expired by their creation time) must not purge the extended record. The keys
    // vary in every byte position a store might shard on.
    let later = old_exp + MIN;
    for i in 0..=255u8 {
        let mut bytes = *SessionKey::random().as_bytes();
        bytes[i as usize % 32] = i;
        bytes[8] = i;
        let other = SessionKey::from_bytes(bytes);
        let filler = Record::new(FieldMap::default(), later, later + MIN);
        must_create(&store, &other, &filler, "filler").await;
    }
    let what = "touched record after creates made past its old expiry";
    let loaded = must_load(&store, &key, later, what).await;
    assert_fields(&loaded, &data, what);
    assert_times(&loaded, T0, new_exp, what);

    // A touch after a patch keeps the patched data; a touch can also shorten the expiry.
    let v = raw(r#""patched""#);
    let p = Patch::new().set("a", &v);
    assert_eq!(
        patch_ok(&store, &key, &p, later, "patch").await,
        Patched::Applied
    );
    let short_exp = T0 + 20 * MIN;
    let what = "touch (shorten) after a patch";
    assert_eq!(
        touch_ok(&store, &key, short_exp, later + 1, what).await,
        Patched::Applied
    );
    let loaded = must_load(&store, &key, short_exp - 1, what).await;
    assert_fields(
        &loaded,
        &fields(&[("a", r#""patched""#), ("b", "[1,2,3]")]),
        what,
    );
    assert_times(&loaded, T0, short_exp, what);
    must_be_absent(
        &store,
        &key,
        short_exp,
        "shortened record at its new expiry",
    )
    .await;
}

/// Case 7: `load` at or after `expires_at` returns `None` even though nothing purged the record;
/// 1 ms before, it returns the record.
pub async fn load_hides_expired_records<S: SessionStore + Clone>(store: S) {
    let key = SessionKey::random();
    let exp = T0 + 10 * MIN;
    let data = fields(&[("a", "1")]);
    must_create(&store, &key, &Record::new(data.clone(), T0, exp), "expiry").await;

    let loaded = must_load(&store, &key, exp - 1, "load 1 ms before expires_at").await;
    assert_fields(&loaded, &data, "load 1 ms before expires_at");
    must_be_absent(&store, &key, exp, "load at exactly expires_at").await;
    must_be_absent(&store, &key, exp + 1, "load 1 ms after expires_at").await;
    must_be_absent(
        &store,
        &key,
        exp + 365 * 24 * 60 * MIN,
        "load a year after expires_at",
    )
    .await;

    // A record created already expired is never visible at or after its expiry.
    let key = SessionKey::random();
    must_create(
        &store,
        &key,
        &Record::new(data.clone(), T0, T0),
        "zero-lifetime record",
    )
    .await;
    must_be_absent(
        &store,
        &key,
        T0,
        "record with expires_at == created_at, at created_at",
    )
    .await;
}

/// Case 8: `delete` is idempotent: deleting an unknown or already-deleted key is `Ok`, and it
/// touches no other record.
pub async fn delete_is_idempotent<S: SessionStore + Clone>(store: S) {
    let unknown = SessionKey::random();
    store
        .delete(&unknown)
        .await
        .unwrap_or_else(|e| panic!("delete of an unknown key: {e:?}"));
    store
        .delete(&unknown)
        .await
        .unwrap_or_else(|e| panic!("second delete of unknown key: {e:?}"));

    let key = SessionKey::random();
    let keep = SessionKey::random();
    let data = fields(&[("a", "1")]);
    must_create(
        &store,
        &key,
        &Record::new(data.clone(), T0, T0 + MIN),
        "delete",
    )
    .await;
    must_create(
        &store,
        &keep,
        &Record::new(data.clone(), T0, T0 + MIN),
        "delete",
    )
    .await;

    store
        .delete(&key)
        .await
        .unwrap_or_else(|e| panic!("delete of a live key: {e:?}"));
    must_be_absent(&store, &key, T0, "after delete").await;
    store
        .delete(&key)
        .await
        .unwrap_or_else(|e| panic!("second delete of a deleted key: {e:?}"));
    must_be_absent(&store, &key, T0, "after a second delete").await;

    let loaded = must_load(&store, &keep, T0, "record next to deleted ones").await;
    assert_fields(&loaded, &data, "record next to deleted ones");

    // Deleting an expired, unpurged record works too, and a delete frees the key for create.
    let expired = SessionKey::random();
    must_create(
        &store,
        &expired,
        &Record::new(data.clone(), T0, T0 + 1),
        "delete",
    )
    .await;
    store
        .delete(&expired)
        .await
        .unwrap_or_else(|e| panic!("delete of an expired key: {e:?}"));
    must_be_absent(
        &store,
        &expired,
        T0,
        "expired record after delete (load before expiry)",
    )
    .await;
    let fresh = fields(&[("b", "2")]);
    must_create(
        &store,
        &expired,
        &Record::new(fresh.clone(), T0, T0 + MIN),
        "create after delete",
    )
    .await;
    let loaded = must_load(&store, &expired, T0, "create after delete").await;
    assert_fields(
        &loaded,
        &fresh,
        "create after delete must store exactly the new record",
    );
}

/// Case 9: `delete_expired(now)` removes exactly the records with `expires_at <= now`, returns how
/// many, and leaves the live ones loadable.
pub async fn delete_expired_removes_exactly_the_expired<S: SessionStore + Clone>(store: S) {
    let now = T0 + 60 * MIN;
    let data = fields(&[("a", r#""x""#)]);
    // Expiries relative to `now`: expired ones at or before it, live ones after it.
    let expired_offsets = [-59 * MIN, -MIN, -1, 0];
    let live_offsets = [1, MIN, 24 * 60 * MIN];

    let mut expired = Vec::new();
    for off in expired_offsets {
        let key = SessionKey::random();
        must_create(
            &store,
            &key,
            &Record::new(data.clone(), T0, now + off),
            "setup",
        )
        .await;
        expired.push((key, now + off));
    }
    let mut live = Vec::new();
    for off in live_offsets {
        let key = SessionKey::random();
        must_create(
            &store,
            &key,
            &Record::new(data.clone(), T0, now + off),
            "setup",
        )
        .await;
        live.push((key, now + off));
    }
    // Records whose expiry was moved after creation: created short-lived then extended (live),
    // created long-lived then shortened (expired).
    let extended = SessionKey::random();
    must_create(
        &store,
        &extended,
        &Record::new(data.clone(), T0, T0 + MIN),
        "setup",
    )
    .await;
    assert_eq!(
        touch_ok(&store, &extended, now + MIN, T0, "extend").await,
        Patched::Applied
    );
    live.push((extended, now + MIN));
    let shortened = SessionKey::random();
    must_create(
        &store,
        &shortened,
        &Record::new(data.clone(), T0, now + 60 * MIN),
        "setup",
    )
    .await;
    let p = Patch::new().expires_at(now - 2);
    assert_eq!(
        patch_ok(&store, &shortened, &p, T0, "shorten").await,
        Patched::Applied
    );
    expired.push((shortened, now - 2));

    let removed = store
        .delete_expired(now)
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(
        removed,
        expired.len() as u64,
        "delete_expired(now) must report the {} records with expires_at <= now \
         (expires_at == now counts as expired)",
        expired.len()
    );
    for (key, exp) in &expired {
        // Seen from a time when it was live, a record still held would load: it must not.
        must_be_absent(
            &store,
            key,
            T0,
            &format!("record (expires_at {exp}) after delete_expired"),
        )
        .await;
    }
    for (key, exp) in &live {
        let loaded = must_load(&store, key, now, "live record after delete_expired").await;
        assert_fields(&loaded, &data, "live record after delete_expired");
        assert_eq!(
            loaded.expires_at, *exp,
            "live record after delete_expired: expiry changed"
        );
    }

    let again = store
        .delete_expired(now)
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(
        again, 0,
        "a second delete_expired(now) must find nothing left to remove"
    );

    // Later, the live ones expire in turn.
    let later = now + MIN;
    let removed = store
        .delete_expired(later)
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(
        removed, 3,
        "delete_expired(now + 1 min) must remove the 3 records expiring by then"
    );
    let (last, last_exp) = live[2];
    must_load(&store, &last, later, "the one record still live").await;
    assert_eq!(
        store
            .delete_expired(last_exp)
            .await
            .unwrap_or_else(|e| panic!("{e:?}")),
        1,
        "delete_expired at the last record's expiry"
    );
    must_be_absent(
        &store,
        &last,
        T0,
        "the last record after its delete_expired",
    )
    .await;
    assert_eq!(
        store
            .delete_expired(i64::MAX)
            .await
            .unwrap_or_else(|e| panic!("{e:?}")),
        0
    );
}

/// Case 10: Large values, unicode and control characters in names and values, empty strings and
/// the empty field map all round-trip.
pub async fn large_and_unicode_values_round_trip<S: SessionStore + Clone>(store: S) {
    // 1 MiB string with varied content (so a truncation or a chunk reordering shows).
    let mut big = String::with_capacity(1 << 20);
    let mut i = 0u32;
    while big.len() < (1 << 20) {
        big.push_str(&format!("{i:08x}"));
        i += 1;
    }
    big.truncate(1 << 20);
    let big_raw = to_raw(&big);
    let nested_big = to_raw(&serde_json::json!({ "inner": [big.clone(), 1, null] }));

    let key = SessionKey::random();
    let mut data = FieldMap::default();
    data.insert("big".to_owned(), big_raw);
    data.insert("nested_big".to_owned(), nested_big);
    must_create(
        &store,
        &key,
        &Record::new(data.clone(), T0, T0 + MIN),
        "1 MiB value",
    )
    .await;
    let loaded = must_load(&store, &key, T0, "1 MiB value").await;
    let got: String = serde_json::from_str(
        loaded
            .fields
            .get("big")
            .unwrap_or_else(|| panic!("1 MiB value: field `big` missing"))
            .as_str(),
    )
    .expect("1 MiB value: not a JSON string any more");
    assert_eq!(got.len(), big.len(), "1 MiB value: length changed");
    assert!(got == big, "1 MiB value: content changed");
    assert_fields(&loaded, &data, "1 MiB value");

    // Patching large values in: over an existing small field, and as a new field.
    let key2 = SessionKey::random();
    must_create(
        &store,
        &key2,
        &Record::new(fields(&[("big", r#""small""#)]), T0, T0 + MIN),
        "1 MiB patch",
    )
    .await;
    let big2 = to_raw(&big.chars().rev().collect::<String>());
    let p = Patch::new().set("big", &big2).set("big_added", &big2);
    assert_eq!(
        patch_ok(&store, &key2, &p, T0, "1 MiB patch").await,
        Patched::Applied
    );
    let loaded = must_load(&store, &key2, T0, "1 MiB patch").await;
    let mut expected = FieldMap::default();
    expected.insert("big".to_owned(), big2.clone());
    expected.insert("big_added".to_owned(), big2.clone());
    assert_fields(&loaded, &expected, "1 MiB values set by patch");

    // Unicode and control characters, in names and values.
    let texts: &[&str] = &[
        "emoji 😀🎉👩‍👩‍👧‍👦🏳️‍🌈",
        "CJK 漢字かなカナ한국어",
        "combining e\u{301} a\u{308}\u{323} Z\u{335}\u{30c}",
        "control \u{0} \u{1} \u{8} \u{b} \u{c} \u{1b} \u{1f} \u{7f} end",
        "quotes \" backslash \\ slash / newline \n tab \t cr \r",
        "bidi \u{202e}txet\u{202c} zwj \u{200d} bom \u{feff} nbsp \u{a0}",
        "astral 𝄞 \u{10ffff} surrogate-pair 🜁",
        "",
    ];
    let names: &[&str] = &[
        "😀",
        "名前",
        "e\u{301}",
        "ctrl\u{0}\u{1f}",
        "quote\"back\\slash",
        "space name",
        "Ünïcödé",
    ];
    let mut data = FieldMap::default();
    for (i, text) in texts.iter().enumerate() {
        data.insert(format!("value_{i}"), to_raw(text));
    }
    for (i, name) in names.iter().enumerate() {
        data.insert((*name).to_owned(), to_raw(&texts[i % texts.len()]));
    }
    // JSON written with escapes rather than literal characters; compared by value.
    data.insert(
        "escaped".to_owned(),
        raw(r#""\u0000 \u001f \u00e9 \u6f22 \ud83d\ude00 \"""#),
    );
    data.insert(
        "object".to_owned(),
        to_raw(&serde_json::json!({ "😀": "名前", "\u{0}": [""] })),
    );
    data.insert("empty".to_owned(), raw(r#""""#));
    data.insert("empty_object".to_owned(), raw("{}"));
    data.insert("empty_array".to_owned(), raw("[]"));

    let key3 = SessionKey::random();
    must_create(
        &store,
        &key3,
        &Record::new(data.clone(), T0, T0 + MIN),
        "unicode",
    )
    .await;
    let loaded = must_load(&store, &key3, T0, "unicode").await;
    assert_fields(&loaded, &data, "unicode names and values after create");

    // Through a patch too (fresh record, every field set by patch, one removed).
    let key4 = SessionKey::random();
    must_create(
        &store,
        &key4,
        &Record::new(FieldMap::default(), T0, T0 + MIN),
        "unicode",
    )
    .await;
    let mut p = Patch::new();
    for (name, value) in &data {
        p = p.set(name, value);
    }
    assert_eq!(
        patch_ok(&store, &key4, &p, T0, "unicode patch").await,
        Patched::Applied
    );
    let p = Patch::new().remove("ctrl\u{0}\u{1f}");
    assert_eq!(
        patch_ok(&store, &key4, &p, T0, "unicode remove").await,
        Patched::Applied
    );
    data.remove("ctrl\u{0}\u{1f}");
    let loaded = must_load(&store, &key4, T0, "unicode").await;
    assert_fields(&loaded, &data, "unicode names and values after patch");

    // Empty field map.
    let key5 = SessionKey::random();
    must_create(
        &store,
        &key5,
        &Record::new(FieldMap::default(), T0, T0 + MIN),
        "empty map",
    )
    .await;
    let loaded = must_load(&store, &key5, T0, "empty field map").await;
    assert!(
        loaded.fields.is_empty(),
        "empty field map came back with fields: {}",
        show(&json_of(&loaded.fields))
    );
    assert_times(&loaded, T0, T0 + MIN, "empty field map");
}

/// Case 11: Concurrent patches to different fields of one session all survive: 50 rounds of 20
/// tasks (1000 patches), in random order with random yields, plus concurrent touches.
pub async fn concurrent_patches_to_different_fields_all_survive<S: SessionStore + Clone>(store: S) {
    const ROUNDS: usize = 50;
    const TASKS: usize = 20;
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64);
    let mut rng = Rng::new(seed);

    let key = SessionKey::random();
    let exp = T0 + 60 * MIN;
    let mut start = FieldMap::default();
    for t in 0..TASKS {
        start.insert(format!("field_{t}"), to_raw("initial"));
    }
    start.insert("untouched".to_owned(), raw(r#""never patched""#));
    must_create(&store, &key, &Record::new(start, T0, exp), "concurrency").await;

    let value = |round: usize, task: usize| format!("round {round} task {task}");
    for round in 0..ROUNDS {
        let now = T0 + round as UnixMillis;
        let mut order: Vec<usize> = (0..TASKS).collect();
        rng.shuffle(&mut order);
        let mut handles = Vec::with_capacity(TASKS + 2);
        for task in order {
            let store = store.clone();
            let yields = rng.below(4);
            // Some tasks patch twice (the second write is the one that must survive).
            let twice = rng.below(3) == 0;
            let text = value(round, task);
            handles.push(tokio::spawn(async move {
                for _ in 0..yields {
                    tokio::task::yield_now().await;
                }
                let name = format!("field_{task}");
                if twice {
                    let v = to_raw(&format!("{text} (first write)"));
                    let p = Patch::new().set(&name, &v);
                    let r = store.patch(&key, &p, now).await;
                    assert!(
                        matches!(r, Ok(Patched::Applied)),
                        "seed {seed}, round {round}, task {task}: first patch returned {r:?}"
                    );
                    tokio::task::yield_now().await;
                }
                let v = to_raw(&text);
                let p = Patch::new().set(&name, &v);
                let r = store.patch(&key, &p, now).await;
                assert!(
                    matches!(r, Ok(Patched::Applied)),
                    "seed {seed}, round {round}, task {task}: patch returned {r:?}"
                );
            }));
        }
        // Two concurrent touches per round: they must not clobber the fields being patched.
        for _ in 0..2 {
            let store = store.clone();
            let yields = rng.below(4);
            let at = exp + rng.below(1_000) as UnixMillis;
            handles.push(tokio::spawn(async move {
                for _ in 0..yields {
                    tokio::task::yield_now().await;
                }
                let r = store.touch(&key, at, now).await;
                assert!(
                    matches!(r, Ok(Patched::Applied)),
                    "seed {seed}, round {round}: touch returned {r:?}"
                );
            }));
        }
        for h in handles {
            if let Err(e) = h.await {
                std::panic::resume_unwind(e.into_panic());
            }
        }

        let loaded = must_load(&store, &key, now, "concurrency").await;
        let mut expected = FieldMap::default();
        for t in 0..TASKS {
            expected.insert(format!("field_{t}"), to_raw(&value(round, t)));
        }
        expected.insert("untouched".to_owned(), raw(r#""never patched""#));
        assert_fields(
            &loaded,
            &expected,
            &format!(
                "seed {seed}, after round {round} of {TASKS} concurrent patches to different \
                 fields (a lost update shows as an old value)"
            ),
        );
        assert!(
            (exp..exp + 1_000).contains(&loaded.expires_at),
            "seed {seed}, round {round}: expires_at {} is not one of the touched values",
            loaded.expires_at
        );
        assert_eq!(
            loaded.created_at, T0,
            "seed {seed}, round {round}: created_at changed"
        );
    }
}

/// Case 12: `spawn_cleanup` purges the records expired by the system clock and keeps the live ones.
pub async fn spawn_cleanup_purges_expired_and_keeps_live<S: SessionStore + Clone>(store: S) {
    let now = SystemClock.now();
    let hour = 60 * MIN;
    let live_data = fields(&[("state", r#""live""#)]);
    let dead_data = fields(&[("state", r#""expired""#)]);

    // Live ones first: a store may purge expired records on create, by the new record's time.
    let mut live = Vec::new();
    for _ in 0..3 {
        let key = SessionKey::random();
        must_create(
            &store,
            &key,
            &Record::new(live_data.clone(), now, now + hour),
            "setup",
        )
        .await;
        live.push(key);
    }
    let mut expired = Vec::new();
    for _ in 0..5 {
        let key = SessionKey::random();
        must_create(&store, &key, &Record::new(dead_data.clone(), 0, 1), "setup").await;
        expired.push(key);
    }
    // A record expired by the system clock is still held (and visible at `now = 0`, when it
    // was live) until something purges it. A store may also have purged it already on its own.
    let mut held = 0;
    for key in &expired {
        if store
            .load(key, 0)
            .await
            .unwrap_or_else(|e| panic!("load: {e:?}"))
            .is_some()
        {
            held += 1;
        }
    }
    if held == 0 {
        eprintln!(
            "spawn_cleanup case: the store purged expired records by itself; the cleanup task's \
             effect cannot be observed, only that it keeps live records"
        );
    }

    let handle = session_runtime::store::spawn_cleanup(store.clone(), Duration::from_millis(50));
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let mut remaining = 0;
        for key in &expired {
            if store
                .load(key, 0)
                .await
                .unwrap_or_else(|e| panic!("load: {e:?}"))
                .is_some()
            {
                remaining += 1;
            }
        }
        if remaining == 0 {
            break;
        }
        assert!(
            !handle.is_finished(),
            "the spawn_cleanup task stopped while {remaining} expired records remained"
        );
        assert!(
            Instant::now() < deadline,
            "spawn_cleanup(every 50 ms) left {remaining} of {} expired records after 5 s",
            expired.len()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Let at least one more pass run, then check it kept the live records.
    tokio::time::sleep(Duration::from_millis(120)).await;
    assert!(
        !handle.is_finished(),
        "the spawn_cleanup task must keep running"
    );
    handle.abort();

    let left = store
        .delete_expired(SystemClock.now())
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(
        left, 0,
        "after spawn_cleanup, delete_expired(system now) still found {left} records"
    );
    for key in &live {
        let loaded = must_load(
            &store,
            key,
            SystemClock.now(),
            "live record after spawn_cleanup",
        )
        .await;
        assert_fields(&loaded, &live_data, "live record after spawn_cleanup");
        assert_times(&loaded, now, now + hour, "live record after spawn_cleanup");
    }
}

/// Case 13: Owners: a record keeps its owner through loads and owner-less patches; a patch can set
/// or clear it; `delete_by_owner` removes exactly that owner's records (live or expired) and
/// counts them.
pub async fn owners_are_kept_patched_and_revoked<S: SessionStore + Clone>(store: S) {
    let alice = r#""alice""#;
    let bob = r#""bob""#;
    let rec = |owner: Option<&str>, expires: UnixMillis| {
        Record::new(fields(&[("n", "1")]), T0 - 2 * MIN, expires)
            .with_owner(owner.map(str::to_owned))
    };
    let (a1, a2, a_expired, b1, b2, none) = (
        SessionKey::random(),
        SessionKey::random(),
        SessionKey::random(),
        SessionKey::random(),
        SessionKey::random(),
        SessionKey::random(),
    );
    must_create(&store, &a1, &rec(Some(alice), T0 + MIN), "owner a1").await;
    must_create(&store, &a2, &rec(Some(alice), T0 + MIN), "owner a2").await;
    must_create(
        &store,
        &a_expired,
        &rec(Some(alice), T0 - MIN),
        "owner a_expired",
    )
    .await;
    must_create(&store, &b1, &rec(Some(bob), T0 + MIN), "owner b1").await;
    must_create(&store, &b2, &rec(Some(bob), T0 + MIN), "owner b2").await;
    must_create(&store, &none, &rec(None, T0 + MIN), "no owner").await;

    let loaded = must_load(&store, &a1, T0, "owned record").await;
    assert_eq!(
        loaded.owner.as_deref(),
        Some(alice),
        "the owner is stored and loaded"
    );
    let loaded = must_load(&store, &none, T0, "owner-less record").await;
    assert_eq!(loaded.owner, None, "no owner stays no owner");

    // A patch that does not mention the owner keeps it.
    let v = raw("2");
    let patched = store
        .patch(&b1, &Patch::new().set("n", &v), T0)
        .await
        .expect("patch");
    assert_eq!(patched, Patched::Applied);
    assert_eq!(
        must_load(&store, &b1, T0, "b1").await.owner.as_deref(),
        Some(bob),
        "owner kept by a field patch"
    );
    // A patch can set and clear it.
    let patched = store
        .patch(&none, &Patch::new().owner(Some(alice)), T0)
        .await
        .expect("patch owner");
    assert_eq!(patched, Patched::Applied);
    assert_eq!(
        must_load(&store, &none, T0, "none").await.owner.as_deref(),
        Some(alice),
        "owner set by patch"
    );
    let patched = store
        .patch(&b2, &Patch::new().owner(None), T0)
        .await
        .expect("clear owner");
    assert_eq!(patched, Patched::Applied);
    assert_eq!(
        must_load(&store, &b2, T0, "b2").await.owner,
        None,
        "owner cleared by patch"
    );

    // Revoke alice: a1, a2, the expired one and the one that became hers.
    let n = store.delete_by_owner(alice).await.expect("delete_by_owner");
    assert_eq!(
        n, 4,
        "every record of alice, live or expired, is deleted and counted"
    );
    for (k, what) in [(&a1, "a1"), (&a2, "a2"), (&none, "re-owned")] {
        must_be_absent(&store, k, T0, what).await;
    }
    assert_eq!(
        store.delete_expired(T0).await.expect("delete_expired"),
        0,
        "the expired record of alice went too"
    );
    must_load(&store, &b1, T0, "bob's session survives revoking alice").await;
    must_load(&store, &b2, T0, "an owner-less session survives").await;
    assert_eq!(
        store.delete_by_owner(alice).await.expect("again"),
        0,
        "nothing left"
    );
    assert_eq!(
        store.delete_by_owner("\"nobody\"").await.expect("nobody"),
        0
    );
    assert_eq!(
        store.delete_by_owner(bob).await.expect("bob"),
        1,
        "only b1 still belongs to bob"
    );
    must_be_absent(&store, &b1, T0, "b1 revoked").await;
}
