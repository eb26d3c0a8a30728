//! Heap blocks on the hot path, counted by a global allocator that counts per thread.
//!
//! A session of small fields must cost the memory store one heap block (its field map), not one
//! more per field: under glibc, a tiny block kept per new session sent every allocation of that
//! size down the allocator's slow path (BENCHMARKS.md). These tests pin that down where it is
//! decided: encoding a small value, building a field map, making a record.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use session_runtime::store::{FieldMap, Json, Record};

struct Counting;

thread_local! {
    static BLOCKS: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: every call is passed to `System` unchanged; the counter is a const-initialized
// thread-local `Cell`, which allocates nothing.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        BLOCKS.with(|b| b.set(b.get() + 1));
        // SAFETY: the caller's contract is `System`'s.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract is `System`'s.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        BLOCKS.with(|b| b.set(b.get() + 1));
        // SAFETY: the caller's contract is `System`'s.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static COUNTING: Counting = Counting;

/// `f`'s result and how many blocks it allocated (or grew) on this thread.
fn blocks<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let before = BLOCKS.with(Cell::get);
    let out = f();
    (out, BLOCKS.with(Cell::get) - before)
}

#[test]
fn small_values_encode_without_a_heap_block_and_longer_ones_with_one() {
    let (n, count) = blocks(|| Json::encode(&u64::MAX).unwrap());
    assert_eq!((n.as_str(), count), ("18446744073709551615", 0));
    let (b, count) = blocks(|| Json::encode(&true).unwrap());
    assert_eq!((b.as_str(), count), ("true", 0));
    // 22 letters and their quotes: 24 bytes, the most kept inline.
    let name = "a".repeat(22);
    let (s, count) = blocks(|| Json::encode(&name).unwrap());
    assert_eq!((s.as_str().len(), count), (24, 0));
    // One byte more needs a block: also shows the counter counts.
    let name = "a".repeat(23);
    let (s, count) = blocks(|| Json::encode(&name).unwrap());
    assert_eq!((s.as_str().len(), count), (25, 1));
    // Past the stack buffer: serde_json's growing `String`, taken over as it is.
    let long = "z".repeat(1000);
    let (s, count) = blocks(|| Json::encode(&long).unwrap());
    assert_eq!(s.as_str().len(), 1002);
    assert!(count >= 1, "{count}");
}

#[test]
fn a_record_of_small_fields_is_one_heap_block() {
    let count = Json::encode(&7u64).unwrap();
    let user = Json::encode("alice").unwrap();
    let (map, blocks_for_map) = blocks(|| {
        let mut map = FieldMap::new();
        map.insert("count", count.clone());
        map.insert("user", user.clone());
        map
    });
    assert_eq!(blocks_for_map, 0, "two small fields live inside the map");
    let (copy, blocks_for_clone) = blocks(|| map.clone());
    assert_eq!(blocks_for_clone, 0);
    let (record, blocks_for_record) = blocks(|| Record::new(copy, 1, 2));
    assert_eq!(
        blocks_for_record, 1,
        "the shared map, and nothing per field"
    );
    assert_eq!(record.fields.get("count"), Some(&count));
    assert_eq!(
        record.fields.get("user").map(Json::as_str),
        Some("\"alice\"")
    );
}
