#!/bin/bash
# What a session create costs Redis itself, command by command, without HTTP or a client library:
# redis-benchmark (32 connections, random keys, on core 1) runs, in alternating rounds,
#   set    — SET key <62 bytes> PXAT: tower-sessions-redis-store's create, one serialized value
#   create — EVALSHA of our create script, read from session-runtime/src/store/redis.rs (one field)
#   one    — the same script with one HSET of every field instead of an HSET per field
# and prints Redis's own CPU per operation (INFO cpu, used_cpu_user + used_cpu_sys).
# Talks to Redis at 127.0.0.1:6379 (redis-cli's and redis-benchmark's default). Environment: N
# (operations per run, default 200000), ROUNDS (default 3). Deletes the keys it made (rb:*) at
# the end.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-200000}
ROUNDS=${ROUNDS:-3}
command -v redis-benchmark >/dev/null || { echo "redis-benchmark is missing (Debian's redis-tools)" >&2; exit 1; }
redis-cli ping >/dev/null || { echo "no Redis at 127.0.0.1:6379" >&2; exit 1; }

CREATE=$(sed -n '/^const CREATE: &str = r"$/,/^";$/p' session-runtime/src/store/redis.rs | sed '1d;$d')
[ -n "$CREATE" ] || { echo "could not read CREATE from session-runtime/src/store/redis.rs" >&2; exit 1; }
ONE="if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local a = {'\$c', ARGV[1], '\$e', ARGV[2]}
if ARGV[3] == '1' then a[5] = '\$o'; a[6] = ARGV[4] end
for i = 5, #ARGV do a[#a + 1] = ARGV[i] end
redis.call('HSET', KEYS[1], unpack(a))
redis.call('PEXPIREAT', KEYS[1], ARGV[2])
return 1"
SHA_CREATE=$(redis-cli script load "$CREATE")
SHA_ONE=$(redis-cli script load "$ONE")

cpu() { redis-cli info cpu | tr -d '\r' | awk -F: '/^used_cpu_(sys|user):/ { s += $2 } END { printf "%.6f", s }'; }
bench() { taskset -c 1 redis-benchmark -q -n "$N" -c 32 -r 100000000 "$@" >/dev/null; }
VALUE=$(printf 'x%.0s' $(seq 62))
for round in $(seq "$ROUNDS"); do
    for kind in set create one; do
        c0=$(cpu)
        case $kind in
        set) bench SET rb:__rand_int__ "$VALUE" PXAT 4102444800000 ;;
        create) bench EVALSHA "$SHA_CREATE" 1 rb:__rand_int__ 1765000000000 4102444800000 0 '' count 1 ;;
        one) bench EVALSHA "$SHA_ONE" 1 rb:__rand_int__ 1765000000000 4102444800000 0 '' count 1 ;;
        esac
        c1=$(cpu)
        awk -v a="$c0" -v b="$c1" -v n="$N" -v k="$kind" -v r="$round" \
            'BEGIN { printf "round %d  %-6s  %6.2f µs of Redis CPU per operation\n", r, k, (b - a) * 1e6 / n }'
    done
done
redis-cli --scan --pattern 'rb:*' | xargs -r -n 1000 redis-cli del >/dev/null
