"""What the order journal's SQLite file costs by itself, per order: no HTTP, no event loop.

``python -m benchmarks.bench_journal_store [--orders 4000] [--repeats 5]
[--batches 1,6,16]`` (``--smoke``: 200 orders, 1 repeat).

`bench_journal` measures a whole job; this measures the floor under it: the very
statements a job's group commits run (`Store.apply` with a round's intents and the
previous round's outcomes, each outcome carrying a 1.5 KB answer), in rounds of
``batch`` orders, on a file in a new temp dir on the machine's disk. ``batch`` is
how many creates share a commit: 1 when they come one at a time, about 6 in
`bench_journal` at concurrency 16 on loopback.

``FULL`` is what the journal runs (one fsync per commit). ``NORMAL`` (no fsync at
commit) is for reference only, to show what the fsync costs: the journal never
runs it (a power loss could then forget an intent whose request had gone).
CPU is this process's user + system time over the rounds.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

if not __package__:  # run as a script: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.procs import cores, fmt, pin, spread, stamp, write_json

SYNCS = ("FULL", "NORMAL")
ANSWER = b'{"id": "' + b"x" * 1480 + b'"}'  # about a created order's answer


def run_rounds(orders: int, batch: int, sync: str) -> dict[str, Any]:
    """Commit ``orders`` intents and outcomes in rounds of ``batch``; return the costs."""
    from digipix_async.jobs._store import Begin, Finish, Store

    prefix = uuid.uuid4().hex[:12]
    with tempfile.TemporaryDirectory(prefix="bench-store-", dir="/var/tmp") as directory:
        store = Store(os.path.join(directory, "orders.journal"))
        try:
            if sync != "FULL":
                store._db.execute(f"PRAGMA synchronous={sync}")
            outcomes: list[Begin | Finish] = []
            before = resource.getrusage(resource.RUSAGE_SELF)
            started = time.perf_counter()
            for first in range(0, orders, batch):
                keys = [f"{prefix}-{n}" for n in range(first, min(first + batch, orders))]
                intents = [Begin(key, "0" * 64, time.time(), False) for key in keys]
                decisions = store.apply([*outcomes, *intents])[len(outcomes) :]
                outcomes = [
                    Finish(key, decision.attempt, "created", f"o-{key}", ANSWER, None, time.time())
                    for key, decision in zip(keys, decisions, strict=True)
                ]
            store.apply(outcomes)
            wall = time.perf_counter() - started
            after = resource.getrusage(resource.RUSAGE_SELF)
        finally:
            store.close()
    user = after.ru_utime - before.ru_utime
    system = after.ru_stime - before.ru_stime
    return {
        "batch": batch,
        "sync": sync,
        "orders": orders,
        "cpu_us_per_order": 1e6 * (user + system) / orders,
        "user_us_per_order": 1e6 * user / orders,
        "sys_us_per_order": 1e6 * system / orders,
        "wall_us_per_order": 1e6 * wall / orders,
    }


def markdown(runs: list[dict[str, Any]], args: Any) -> str:
    """Render the README's table: medians (min-max) per (batch, sync)."""
    lines = [
        f"Measured {stamp()}",
        "",
        f"{args.orders} orders per run, {args.repeats} repeat(s) interleaved; median (min-max).",
        "",
        "| orders per commit | synchronous | CPU µs/order | user / sys µs | wall µs/order |",
        "|---:|---|---:|---:|---:|",
    ]
    for batch in args.batches:
        for sync in SYNCS:
            group = [r for r in runs if (r["batch"], r["sync"]) == (batch, sync)]
            label = sync if sync == "FULL" else f"{sync} (reference: no fsync)"
            lines.append(
                f"| {batch} | {label} | {fmt(spread(r['cpu_us_per_order'] for r in group), 0)} "
                f"| {spread(r['user_us_per_order'] for r in group)['median']:.0f} / "
                f"{spread(r['sys_us_per_order'] for r in group)['median']:.0f} "
                f"| {fmt(spread(r['wall_us_per_order'] for r in group), 0)} |"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run every (batch, sync) pair ``--repeats`` times, interleaved."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=4_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batches", default="1,6,16", help="orders per commit, comma-separated")
    parser.add_argument("--json", type=Path, help="also write every run here")
    parser.add_argument("--smoke", action="store_true", help="200 orders, 1 repeat")
    args = parser.parse_args(argv)
    args.batches = [int(batch) for batch in args.batches.split(",") if batch]
    if args.smoke:
        args.orders, args.repeats = 200, 1
    pin(cores()[0])
    runs = []
    for repeat in range(args.repeats):
        for batch in args.batches:
            for sync in SYNCS:
                run = run_rounds(args.orders, batch, sync)
                run["repeat"] = repeat
                runs.append(run)
                print(
                    f"[{repeat + 1}/{args.repeats}] batch {batch:<3} {sync:6} "
                    f"{run['cpu_us_per_order']:6.0f} µs CPU {run['wall_us_per_order']:6.0f} µs "
                    "wall per order",
                    file=sys.stderr,
                    flush=True,
                )
    print(markdown(runs, args))
    write_json(args.json, {"runs": runs})
    return 0


if __name__ == "__main__":
    sys.exit(main())
