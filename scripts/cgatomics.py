#!/usr/bin/env python3
"""Atomic read-modify-write instructions executed per request, from a callgrind profile.

callgrind counts an atomic instruction (`lock cmpxchg`, `lock xadd`, `lock inc`, `xchg` with
memory...) as one instruction, like any other, though natively each costs tens of cycles and
orders the memory accesses around it. This script counts how many of them a request executes
and in which functions, so that two servers can be compared on that too (BENCHMARKS.md, the
section "A 5th-generation Xeon again, and axum_session"). It needs a profile taken with
instruction-level positions:

    VALGRIND_ARGS="--dump-instr=yes" SERVERS="ours floor+" SCENARIOS=write \\
        KEEP=/tmp/cgi bash scripts/callgrind.sh
    python3 scripts/cgatomics.py /tmp/cgi/ours.write.callgrind

It reads the profile's own format (every executed instruction's address and count, per
object file), disassembles each object file with `objdump -d`, and sums the counts at the
addresses of atomic instructions (x86-64 only). An instruction's count is the number of times
it ran, since each execution is one "Ir". The profile must hold the counted requests only
(REQUESTS of callgrind.sh, 4000 unless set: pass the same number with --requests).
"""

import argparse
import collections
import re
import sys

from cgcommon import tool_output

NAMED = re.compile(r"(c?)(ob|fl|fi|fe|fn)=\((\d+)\)(?: (.*))?$")
INSN = re.compile(r"\s*([0-9a-f]+):\s+(.*)$")
# `xchg %ax,%ax` and the like are padding (no memory operand): not atomic.
REG_XCHG = re.compile(r"xchg\s+%\w+,%\w+$")


def atomic_instructions(path):
    """{address: mnemonic} of the atomic instructions in the object file at `path`."""
    out = tool_output(["objdump", "-d", "--no-show-raw-insn", path], "binutils")
    found = {}
    for line in out.splitlines():
        m = INSN.match(line)
        if not m:
            continue
        insn = m.group(2).strip()
        if insn.startswith("lock "):
            found[int(m.group(1), 16)] = insn.split()[1]
        elif insn.startswith("xchg") and not REG_XCHG.match(insn):
            found[int(m.group(1), 16)] = "xchg"
    return found


def position(token, last):
    """One position of a cost line: absolute, relative (+/-) or `*` (the same as before)."""
    if token == "*":
        return last
    if token[0] in "+-":
        step = int(token[1:], 0)
        return last + step if token[0] == "+" else last - step
    return int(token, 0)


def executed(path):
    """({(object, address): count}, {(object, address): function}, total count)."""
    names = {}
    ob = fn = None
    counts = collections.Counter()
    where = {}
    last = 0
    call_line = False
    positions = None
    total = 0
    totals = None
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            m = NAMED.match(line)
            if m:
                called, kind, idx, name = m.groups()
                kind = "fl" if kind in ("fi", "fe") else kind
                if name is not None:
                    names[(kind, idx)] = name
                if not called and kind == "ob":
                    ob = names[("ob", idx)]
                elif not called and kind == "fn":
                    fn = names[("fn", idx)]
                continue
            if line.startswith("positions:"):
                positions = line.split()[1:]
                continue
            if line.startswith("totals:"):
                # Not "summary:", which callgrind 3.19 gets wrong in the parts written after
                # a toggle of the instrumentation (scripts/callgrind.sh).
                totals = int(line.split()[1])
                continue
            if line.startswith("calls="):
                call_line = True
                continue
            if not (line[0].isdigit() or line[0] in "+-*"):
                continue  # other header lines (events:, jump=, ...)
            if positions is None or positions[0] != "instr":
                sys.exit(f"{path}: no instruction positions; take it with VALGRIND_ARGS=--dump-instr=yes")
            tokens = line.split()
            last = position(tokens[0], last)
            if call_line:  # the cost of a call: charged to the callee's own lines
                call_line = False
                continue
            count = int(tokens[len(positions)]) if len(tokens) > len(positions) else 0
            counts[(ob, last)] += count
            where[(ob, last)] = fn
            total += count
    if totals is not None and totals != total:
        sys.exit(f"{path}: the counts add up to {total}, not to the profile's totals {totals}")
    return counts, where, total


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("profile", help="a callgrind profile taken with --dump-instr=yes")
    p.add_argument("--requests", type=int, default=4000, help="requests the profile counts (default 4000)")
    p.add_argument("--top", type=int, default=30, help="rows to print (default 30)")
    p.add_argument("--width", type=int, default=110, help="characters of a function name to print")
    args = p.parse_args()
    if args.requests < 1:
        sys.exit("--requests must be at least 1")
    counts, where, total = executed(args.profile)
    atomic = collections.Counter()
    for obj in sorted({o for o, _ in counts if o and o.startswith("/")}):
        addresses = atomic_instructions(obj)
        for (o, address), n in counts.items():
            if o == obj and address in addresses:
                atomic[(where[(o, address)], addresses[address])] += n
    n = sum(atomic.values())
    print(f"{total / args.requests:.0f} instructions per request, {n / args.requests:.2f} of them atomic")
    print(f"{'per req':>8}  {'insn':8} function")
    for (fn, insn), c in atomic.most_common(args.top):
        print(f"{c / args.requests:8.2f}  {insn:8} {(fn or '?')[: args.width]}")


if __name__ == "__main__":
    main()
