#!/usr/bin/env python3
"""Per-function difference of two callgrind profiles, in instructions per request.

The per-function tables of BENCHMARKS.md ("where a write's instructions over floor+ go") come
from this script, run on the profiles `scripts/callgrind.sh` keeps:

    SERVERS="ours floor+" SCENARIOS="write" KEEP=/tmp/cg bash scripts/callgrind.sh
    python3 scripts/cgdiff.py /tmp/cg/ours.write.callgrind /tmp/cg/floor+.write.callgrind

Each profile holds the counted requests only (REQUESTS of callgrind.sh, 4000 unless set: pass
the same number with --requests). Functions are matched by name, without their object file
(the two servers are different binaries) and without the source file callgrind_annotate puts
in front of them; the rows are sorted by the size of the difference. Instructions are
self cost ("exclusive"): a function's own instructions, not those of what it calls. Which
function an instruction is charged to depends on what the compiler inlined, so two servers
may charge the same work to differently named functions (hyper's and axum's futures
especially): read a row together with the rows around it, and the total.

With --event, another event of the profiles than instructions ("Ir"): for example I1mr, the
simulated instruction-cache misses of profiles taken with VALGRIND_ARGS=--cache-sim=yes.
"""

import argparse
import collections
import re
import sys

from cgcommon import tool_output

LINE = re.compile(r"\s*([\d,]+)\s+\([^)]*\)\s+(.*)$")
OBJECT = re.compile(r"\s*\[[^\]]*\]\s*$")
SOURCE = re.compile(r"^(\?\?\?|[./][^: ]*):")


def self_cost(path, requests, event):
    out = tool_output(
        ["callgrind_annotate", "--inclusive=no", "--threshold=100", f"--show={event}", f"--sort={event}", path],
        "valgrind",
    )
    cost = collections.Counter()
    for line in out.splitlines():
        m = LINE.match(line)
        if not m or m.group(2).startswith("PROGRAM TOTALS"):
            continue
        name = SOURCE.sub("", OBJECT.sub("", m.group(2)))
        cost[name] += int(m.group(1).replace(",", "")) / requests
    if not cost:
        sys.exit(f"no functions in {path}: not a callgrind profile?")
    return cost


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("a", help="profile A (for example ours.write.callgrind)")
    p.add_argument("b", help="profile B (for example floor+.write.callgrind)")
    p.add_argument("--requests", type=int, default=4000, help="requests each profile counts (default 4000)")
    p.add_argument("--top", type=int, default=40, help="rows to print (default 40)")
    p.add_argument("--width", type=int, default=160, help="characters of a function name to print")
    p.add_argument("--event", default="Ir", help="the event to compare (default Ir, instructions; I1mr with --cache-sim=yes)")
    args = p.parse_args()
    if args.requests < 1:
        sys.exit("--requests must be at least 1")
    a = self_cost(args.a, args.requests, args.event)
    b = self_cost(args.b, args.requests, args.event)
    rows = sorted(set(a) | set(b), key=lambda k: (-abs(a[k] - b[k]), k))
    what = "instructions" if args.event == "Ir" else args.event
    print(f"{'A - B':>8} {'A':>8} {'B':>8}  function ({what} per request, self cost)")
    for name in rows[: args.top]:
        print(f"{a[name] - b[name]:+8.0f} {a[name]:8.0f} {b[name]:8.0f}  {name[: args.width]}")
    ta, tb = sum(a.values()), sum(b.values())
    print(f"{ta - tb:+8.0f} {ta:8.0f} {tb:8.0f}  total")


if __name__ == "__main__":
    main()
