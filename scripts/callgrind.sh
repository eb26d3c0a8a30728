#!/usr/bin/env bash
# Instructions per request under callgrind: the repeatable counterpart of bench-http.sh.
#
# Throughput on a shared virtual machine moves by 10-20% between runs (BENCHMARKS.md); an
# instruction count hardly does: the same binary and requests give the same count whatever
# else the machine is doing, up to a spread of ~0.4% between processes (~90 instructions per
# request at most: hash maps' random seeds differ). This script runs each benchmark server (ours, the floor, bare axum,
# tower-sessions; memory stores, one tokio worker; on request also floor+, the floor with
# server-side expiry and serialized field values: `bench_floor --plus`) under `valgrind
# --tool=callgrind` and, for each scenario of bench-http.sh, sends WARMUP requests uncounted,
# then REQUESTS counted ones, all on one keep-alive connection, and prints the instructions
# per request:
#   read  — GET /read with the session cookie (the bare server gets a cookie of the same size)
#   write — GET /inc with the session cookie
#   new   — GET /inc without a cookie (every request creates a session)
#
#   bash scripts/callgrind.sh
#   REQUESTS=2000 SERVERS="ours floor" bash scripts/callgrind.sh
#   SERVERS="floor floor+ ours" bash scripts/callgrind.sh   # what expiry and serialization cost
#   KEEP=/tmp/cg bash scripts/callgrind.sh   # keep the profiles for callgrind_annotate
#   VALGRIND_ARGS="--cache-sim=yes --branch-sim=yes" KEEP=/tmp/cg bash scripts/callgrind.sh
#                                            # also simulated cache misses and mispredicted
#                                            # branches (callgrind_annotate shows them)
#
# Environment: REQUESTS (default 4000), WARMUP (default 3000), SERVERS (default "bare floor
# ours tower-sessions"; also known: floor+, and axum_session, the standalone project
# scripts/axum-session of bench-http.sh's AXUM_SESSION=1, which this script then builds),
# SCENARIOS (default "read write new"), KEEP (a directory for the profiles, one file per
# server and scenario; without it they are deleted), OUT (markdown file), BASE_PORT (default 38180), VALGRIND_ARGS (more callgrind
# options, split on spaces; the table stays instructions per request).
#
# Under valgrind the CPU's SHA extensions are hidden, so SHA-256 runs in software (~3,500
# instructions a hash instead of ~400): every session server, the floor included, counts
# ~3,000 more per request than it executes natively. The client is Python's http.client; the
# headers it sends are part of what every server parses, so counts taken with another client
# differ by a constant. Needs valgrind (callgrind_control), python3 and curl.

set -euo pipefail

REQUESTS=${REQUESTS:-4000}
WARMUP=${WARMUP:-3000}
SERVERS=${SERVERS:-bare floor ours tower-sessions}
SCENARIOS=${SCENARIOS:-read write new}
KEEP=${KEEP:-}
OUT=${OUT:-}
BASE_PORT=${BASE_PORT:-38180}
read -r -a VALGRIND_EXTRA <<<"${VALGRIND_ARGS:-}"

SCRIPT=callgrind
# shellcheck source=scripts/common.sh
. "$(dirname "$0")/common.sh"
is_int "$REQUESTS" 1 1000000 || die "REQUESTS=$REQUESTS: expected 1..1000000"
is_int "$WARMUP" 0 1000000 || die "WARMUP=$WARMUP: expected 0..1000000"
is_int "$BASE_PORT" 1024 65000 || die "BASE_PORT=$BASE_PORT: expected 1024..65000"
for tool in valgrind callgrind_control python3 curl cargo; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool is missing (valgrind: apt-get install valgrind)"
done
declare -A EXAMPLE=([ours]=bench_server [floor]=bench_floor [floor+]=bench_floor [bare]=bench_bare [tower-sessions]=bench_tower_sessions)
declare -A SERVER_ARGS=([floor+]=--plus)
for s in $SERVERS; do
    [ -n "${EXAMPLE[$s]:-}" ] || [ "$s" = axum_session ] ||
        die "unknown server $s (ours, floor, floor+, bare, tower-sessions, axum_session)"
done
for sc in $SCENARIOS; do
    case "$sc" in read | write | new) ;; *) die "unknown scenario $sc (read, write, new)" ;; esac
done

cd "$(dirname "$0")/.."
examples=()
for s in $SERVERS; do if [ -n "${EXAMPLE[$s]:-}" ]; then examples+=(--example "${EXAMPLE[$s]}"); fi; done
if [ "${#examples[@]}" -gt 0 ]; then
    echo "== building the benchmark servers (release)"
    cargo build --release "${examples[@]}"
fi
TARGET_DIR=${CARGO_TARGET_DIR:-$(target_dir Cargo.toml)}
declare -A BIN_OF=()
for s in $SERVERS; do
    if [ -n "${EXAMPLE[$s]:-}" ]; then BIN_OF[$s]=$TARGET_DIR/release/examples/${EXAMPLE[$s]}; fi
done
if [[ " $SERVERS " == *" axum_session "* ]]; then
    build_axum_session
    BIN_OF[axum_session]=$AS_BIN
fi

WORK=$(mktemp -d)
VG_PID=
cleanup() {
    if [ -n "$VG_PID" ]; then kill -KILL "$VG_PID" 2>/dev/null || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT
if [ -n "$KEEP" ]; then mkdir -p "$KEEP"; fi

# The client: N requests for PATH on one keep-alive connection, with COOKIE if not empty;
# fails on any answer other than 200.
cat >"$WORK/client.py" <<'EOF'
import http.client, sys
port, path, cookie, n = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
headers = {"Cookie": cookie} if cookie else {}
for _ in range(n):
    conn.request("GET", path, headers=headers)
    r = conn.getresponse()
    r.read()
    if r.status != 200:
        sys.exit(f"GET {path}: status {r.status}")
EOF

# The total of a callgrind profile ("totals:"; after a toggle of the instrumentation
# callgrind 3.19 writes a wrong "summary:" into the later parts).
total_of() { awk '$1 == "totals:" { print $2; exit }' "$1"; }

declare -A IR=()
port=$BASE_PORT
for s in $SERVERS; do
    port=$((port + 1))
    prof=$WORK/$s.callgrind
    extra=()
    if [ -n "${SERVER_ARGS[$s]:-}" ]; then extra=("${SERVER_ARGS[$s]}"); fi
    valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$prof" "${VALGRIND_EXTRA[@]}" \
        "${BIN_OF[$s]}" --addr "127.0.0.1:$port" "${extra[@]}" >"$WORK/$s.log" 2>&1 &
    VG_PID=$!
    if ! wait_http "$VG_PID" "$port" 600 0.2; then
        kill -0 "$VG_PID" 2>/dev/null || die "$s exited under valgrind: $(tail -n 5 "$WORK/$s.log")"
        die "$s did not answer on 127.0.0.1:$port under valgrind"
    fi
    dumps=0
    for sc in $SCENARIOS; do
        case "$sc" in read) path=/read ;; *) path=/inc ;; esac
        cookie=
        if [ "$sc" != new ]; then
            if [ "$s" = bare ]; then
                cookie=$BARE_COOKIE
            else
                cookie=$(get_cookie "$port")
                [ -n "$cookie" ] || die "$s set no cookie on GET /inc"
            fi
        fi
        if [ "$WARMUP" -gt 0 ]; then python3 "$WORK/client.py" "$port" "$path" "$cookie" "$WARMUP"; fi
        callgrind_control -i on "$VG_PID" >/dev/null 2>&1 || die "callgrind_control failed for $s"
        python3 "$WORK/client.py" "$port" "$path" "$cookie" "$REQUESTS"
        callgrind_control -d "$VG_PID" >/dev/null 2>&1 || die "callgrind_control failed for $s"
        callgrind_control -i off "$VG_PID" >/dev/null 2>&1 || die "callgrind_control failed for $s"
        dumps=$((dumps + 1))
        dump=$prof.$dumps
        for _ in $(seq 1 100); do [ -s "$dump" ] && grep -q '^totals:' "$dump" && break; sleep 0.1; done
        total=$(total_of "$dump")
        [ -n "$total" ] || die "no callgrind profile for $s, $sc ($dump)"
        IR[$s.$sc]=$((total / REQUESTS))
        printf '   %-15s %-6s %8d instructions per request\n' "$s" "$sc" "${IR[$s.$sc]}"
        if [ -n "$KEEP" ]; then cp "$dump" "$KEEP/$s.$sc.callgrind"; fi
    done
    kill -KILL "$VG_PID" 2>/dev/null || true
    wait "$VG_PID" 2>/dev/null || true
    VG_PID=
done

TABLE=$WORK/table.md
{
    echo "### Instructions per request (callgrind; $REQUESTS requests after $WARMUP, one keep-alive connection)"
    echo
    printf '| scenario |'
    for s in $SERVERS; do printf ' %s |' "$s"; done
    echo
    printf '|---|'
    for _ in $SERVERS; do printf -- '---:|'; done
    echo
    for sc in $SCENARIOS; do
        printf '| %s |' "$sc"
        for s in $SERVERS; do printf ' %s |' "${IR[$s.$sc]}"; done
        echo
    done
    if [ -n "$KEEP" ]; then
        echo
        echo "Profiles in $KEEP (callgrind_annotate $KEEP/ours.read.callgrind)."
    fi
} >"$TABLE"
echo
cat "$TABLE"
if [ -n "$OUT" ]; then cp "$TABLE" "$OUT" && echo "(written to $OUT)"; fi
