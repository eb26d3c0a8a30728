//! How the memory store behaves as it grows by one session per request, the case of the
//! benchmark's "new session per request" scenario, without HTTP around it.
//!
//! `cargo run --release --example store_growth -- --sessions 2000000`
//!
//! Creates one-field sessions (`count = 1`, the shape `bench_server` stores) with random keys,
//! in batches, and prints per batch the mean time per create and the process's resident
//! memory per session; at the end, percentiles and the maximum of single creates (a table's
//! resize holds its shard's lock while it moves every record of that shard) and how many took
//! over a millisecond.
//!
//! Flags: `--sessions N` (default 2,000,000), `--batch N` (default 200,000), `--map store|floor`
//! (`floor`: the same creates into the map of `examples/bench_floor.rs`, 64 shards of
//! key → two counters, the least a server-side store can keep; default `store`). Timings
//! depend on the machine and what else it runs; resident memory per session hardly does.

#[path = "support/floor_map.rs"]
mod floor_map;

use std::sync::PoisonError;
use std::time::Instant;

use session_runtime::store::{FieldMap, Json, Record, SyncSessionStore};
use session_runtime::{MemoryStore, SessionKey};

const USAGE: &str = "usage: store_growth [--sessions N] [--batch N] [--map store|floor]";

enum Map {
    /// The memory store, and the encoded `count = 1` every record gets a copy of (as a
    /// request's commit hands over its encoded field).
    Store(MemoryStore, Json),
    /// The floor's process-wide map.
    Floor,
}

impl Map {
    fn create(&self, key: &SessionKey, now: i64) -> Result<(), String> {
        match self {
            Map::Store(store, one) => {
                let mut fields = FieldMap::new();
                fields.insert("count", one.clone());
                let record = Record::new(fields, now, now + 86_400_000);
                store
                    .create_now(key, &record)
                    .map(drop)
                    .map_err(|e| e.to_string())
            }
            Map::Floor => {
                let key = floor_map::Key(*key.as_bytes());
                let mut map = floor_map::shard(&key)
                    .write()
                    .unwrap_or_else(PoisonError::into_inner);
                map.insert(key, (1, 0));
                Ok(())
            }
        }
    }
}

struct Args {
    sessions: usize,
    batch: usize,
    floor: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        sessions: 2_000_000,
        batch: 200_000,
        floor: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        let count = |v: String| match v.parse::<usize>() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err(format!(
                "{flag}: expected a positive whole number, got {v:?}"
            )),
        };
        match flag.as_str() {
            "--sessions" => args.sessions = count(value()?)?,
            "--batch" => args.batch = count(value()?)?,
            "--map" => {
                args.floor = match value()?.as_str() {
                    "store" => false,
                    "floor" => true,
                    other => return Err(format!("--map: expected store or floor, got {other:?}")),
                }
            }
            other => return Err(format!("unknown flag {other:?}")),
        }
    }
    Ok(args)
}

fn resident_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn main() {
    let args = match parse_args() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("store_growth: {e}\n{USAGE}");
            std::process::exit(2);
        }
    };
    // Keys are made before the clock starts: their SHA-256 and randomness are not the store's.
    let keys: Vec<SessionKey> = (0..args.sessions).map(|_| SessionKey::random()).collect();
    let map = if args.floor {
        Map::Floor
    } else {
        match Json::encode(&1u64) {
            Ok(one) => Map::Store(MemoryStore::new(), one),
            Err(e) => {
                eprintln!("store_growth: encoding the field failed: {e}");
                std::process::exit(1);
            }
        }
    };
    let name = if args.floor { "floor" } else { "store" };
    // Written through before the start, so that its pages do not count as the store's.
    let mut latencies = vec![u64::MAX; args.sessions];
    let start_kib = resident_kib();
    let now = 1_800_000_000_000;
    let mut done = 0;
    println!("| map | sessions | ns per create (batch mean) | resident MiB | bytes per session |");
    println!("|---|---:|---:|---:|---:|");
    while done < args.sessions {
        let end = (done + args.batch).min(args.sessions);
        let batch_start = Instant::now();
        for (key, latency) in keys[done..end].iter().zip(&mut latencies[done..end]) {
            let t = Instant::now();
            if let Err(e) = map.create(key, now) {
                eprintln!("store_growth: create failed: {e}");
                std::process::exit(1);
            }
            *latency = u64::try_from(t.elapsed().as_nanos()).unwrap_or(u64::MAX);
        }
        let mean = batch_start.elapsed().as_nanos() as f64 / (end - done) as f64;
        done = end;
        let (mib, per) = match (start_kib, resident_kib()) {
            (Some(a), Some(b)) => {
                let grown = b.saturating_sub(a) as f64;
                (
                    format!("{:.1}", grown / 1024.0),
                    format!("{:.0}", grown * 1024.0 / done as f64),
                )
            }
            _ => ("?".into(), "?".into()),
        };
        println!("| {name} | {done} | {mean:.0} | {mib} | {per} |");
    }
    latencies.sort_unstable();
    let at = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
    let over_1ms = latencies.iter().filter(|&&ns| ns > 1_000_000).count();
    println!(
        "\n{name}: single creates, ns: p50 {}, p99 {}, p99.9 {}, p99.99 {}, max {}; over 1 ms: {over_1ms}",
        at(0.5),
        at(0.99),
        at(0.999),
        at(0.9999),
        latencies.last().copied().unwrap_or(0),
    );
}
