"""What the order journal costs per order: journaled vs plain ``orders.create_many``.

``python -m benchmarks.bench_journal [--orders 2000] [--repeats 5] [--concurrency 16,1]
[--latency 0.05]`` (``--smoke``: 50 orders, 1 repeat, seconds).

Issue 14 asks that writing an order's intent before it is sent and its outcome after
(`digipix_async.jobs.OrderJournal`, SQLite in WAL mode, one fsync per group commit)
cost under 10% of the call. Against one sandbox in its own process (on the other
core), each (repeat, concurrency, variant) is a fresh client process (on this core)
that warms up with ``--warmup`` (100) unjournaled creates, then times ``--orders`` creates
(pre-approved, ``shipment_method=CHEAPEST``, a fresh ``partner_order_id`` each):

- ``plain``: ``client.orders.create_many(orders, concurrency=C)``;
- ``journaled``: the same with ``journal=OrderJournal(path)``, the file in a new temp
  dir on the machine's disk (opened before the clock starts).

``--latency`` makes the sandbox answer every request that many seconds later, as a
real API's create (tens to hundreds of ms) would: the journal's cost against the
call's cost as a job sees it.

CPU is the client process's user + system time (``getrusage(RUSAGE_SELF)``: the
journal's SQLite thread included) over the timed loop; wall is the loop's clock
time. The overhead is the median of the per-repeat ratios journaled / plain. The
journal's thread is also clocked on its own (its CPU clock, read from the event
loop's thread): its SQLite statements and fsync'd commits, apart from what the
journal adds on the event loop.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

if not __package__:  # run as a script: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.procs import child_json, cores, fmt, pin, rotated, spread, stamp, write_json
from benchmarks.sandbox_proc import sandbox_process

VARIANTS = ("plain", "journaled")
WARMUP = 100
RECIPIENT = {
    "name": "Maria da Silva",
    "zip_code": "01311-100",
    "street": "Avenida Paulista",
    "number": "1000",
    "city": "Sao Paulo",
    "state": "SP",
    "country": "BR",
}
ITEMS = [
    {
        "product_id": "print-10x15",
        "quantity": 20,
        "parts": [{"id": "photo", "url": "https://files.example.com/beach.jpg"}],
    }
]


def orders(count: int, prefix: str) -> Iterator[dict[str, Any]]:
    """Yield ``count`` pre-approved orders with fresh partner order ids."""
    for number in range(count):
        yield {
            "recipient": RECIPIENT,
            "items": ITEMS,
            "shipment_method": 1,
            "partner_order_id": f"{prefix}-{number}",
        }


async def _create_all(client: Any, source: Any, concurrency: int, journal: Any) -> int:
    failed = 0
    options = {"journal": journal} if journal is not None else {}
    async with client.orders.create_many(source, concurrency=concurrency, **options) as results:
        async for result in results:
            failed += not result.ok
    return failed


async def run_child(variant: str, count: int, concurrency: int, warmup: int) -> dict[str, Any]:
    """Warm up, then time ``count`` creates, journaled or not."""
    from digipix_async import DigipixClient
    from digipix_async.jobs import OrderJournal

    prefix = uuid.uuid4().hex[:12]
    with tempfile.TemporaryDirectory(prefix="bench-journal-", dir="/var/tmp") as directory:
        async with DigipixClient.from_env() as client:
            await _create_all(client, orders(warmup, f"warm-{prefix}"), concurrency, None)
            journal = None
            journal_clock = None
            if variant == "journaled":
                journal = OrderJournal(Path(directory) / "orders.journal")
                await journal.open()
                journal_clock = _journal_thread_clock()
            try:
                journal_before = _read(journal_clock)
                before = resource.getrusage(resource.RUSAGE_SELF)
                started = time.perf_counter()
                failed = await _create_all(client, orders(count, prefix), concurrency, journal)
                wall = time.perf_counter() - started
                after = resource.getrusage(resource.RUSAGE_SELF)
                journal_cpu = _read(journal_clock) - journal_before
            finally:
                if journal is not None:
                    await journal.aclose()
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {
        "variant": variant,
        "orders": count,
        "concurrency": concurrency,
        "failed": failed,
        "wall_s": wall,
        "cpu_s": cpu,
        "wall_us_per_order": 1e6 * wall / count,
        "cpu_us_per_order": 1e6 * cpu / count,
        "user_us_per_order": 1e6 * (after.ru_utime - before.ru_utime) / count,
        "sys_us_per_order": 1e6 * (after.ru_stime - before.ru_stime) / count,
        "journal_thread_us_per_order": 1e6 * journal_cpu / count,
    }


def _journal_thread_clock() -> int:
    """Return the CPU clock of the journal's worker thread (started by ``open``)."""
    [thread] = [t for t in threading.enumerate() if t.name.startswith("digipix-journal")]
    assert thread.ident is not None
    return time.pthread_getcpuclockid(thread.ident)


def _read(clock: int | None) -> float:
    return time.clock_gettime(clock) if clock is not None else 0.0


def summarize(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Medians per (concurrency, variant), and the per-repeat ratios journaled / plain."""
    by_key = {(r["concurrency"], r["variant"], r["repeat"]): r for r in runs}
    rows = []
    for concurrency in dict.fromkeys(r["concurrency"] for r in runs):
        for variant in VARIANTS:
            group = [r for r in runs if (r["concurrency"], r["variant"]) == (concurrency, variant)]
            if not group:
                continue
            row: dict[str, Any] = {
                "concurrency": concurrency,
                "variant": variant,
                "repeats": len(group),
                "wall_us": spread(r["wall_us_per_order"] for r in group),
                "cpu_us": spread(r["cpu_us_per_order"] for r in group),
                "user_us": spread(r["user_us_per_order"] for r in group),
                "sys_us": spread(r["sys_us_per_order"] for r in group),
                "failed": sum(r["failed"] for r in group),
            }
            plain = [by_key.get((concurrency, "plain", r["repeat"])) for r in group]
            pairs = [(r, p) for r, p in zip(group, plain, strict=True) if p is not None]
            if variant == "journaled" and pairs:
                row["wall_ratio"] = spread(r["wall_s"] / p["wall_s"] for r, p in pairs)
                row["cpu_ratio"] = spread(r["cpu_s"] / p["cpu_s"] for r, p in pairs)
                row["cpu_added_us"] = spread(
                    r["cpu_us_per_order"] - p["cpu_us_per_order"] for r, p in pairs
                )
                row["journal_thread_us"] = spread(r["journal_thread_us_per_order"] for r in group)
                row["loop_added_us"] = spread(
                    r["cpu_us_per_order"] - r["journal_thread_us_per_order"] - p["cpu_us_per_order"]
                    for r, p in pairs
                )
            rows.append(row)
    return rows


def markdown(rows: list[dict[str, Any]], args: Any) -> str:
    """Render the README's table."""
    lines = [
        f"Measured {stamp()}",
        "",
        f"{args.orders} orders per run after {args.warmup} warm-up creates, {args.repeats} "
        "repeat(s) interleaved in fresh processes; median (min-max); ratios within a repeat; "
        f"the sandbox adds {1000 * args.latency:g} ms to every answer.",
        "",
        "| concurrency | variant | wall µs/order | client CPU µs/order | user / sys µs "
        "| journaled / plain, wall | journaled / plain, CPU | CPU added µs/order "
        "| of which journal thread | of which the rest | failed |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        compared = " | ".join(
            fmt(row[key], digits, suffix) if key in row else ""  # the plain rows have none
            for key, digits, suffix in _COMPARED
        )
        lines.append(
            f"| {row['concurrency']} | {row['variant']} | {fmt(row['wall_us'], 0)} "
            f"| {fmt(row['cpu_us'], 0)} "
            f"| {row['user_us']['median']:.0f} / {row['sys_us']['median']:.0f} "
            f"| {compared} | {row['failed']} |"
        )
    return "\n".join(lines)


#: The journaled rows' columns against plain: (key, digits, suffix).
_COMPARED = (
    ("wall_ratio", 3, "x"),
    ("cpu_ratio", 3, "x"),
    ("cpu_added_us", 0, ""),
    ("journal_thread_us", 0, ""),
    ("loop_added_us", 0, ""),
)


def main(argv: list[str] | None = None) -> int:
    """Run the interleaved comparison (or one run, with --child)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=2_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--concurrency", default="16,1", help="comma-separated levels")
    parser.add_argument("--warmup", type=int, default=WARMUP, help="unjournaled creates first")
    parser.add_argument(
        "--latency",
        type=float,
        default=0.0,
        help="seconds the sandbox adds to every answer (a real API's create takes longer)",
    )
    parser.add_argument("--json", type=Path, help="also write every run here")
    parser.add_argument("--smoke", action="store_true", help="50 orders, 1 repeat")
    parser.add_argument("--child", choices=VARIANTS, help=argparse.SUPPRESS)
    parser.add_argument("--cpu", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    levels = [int(level) for level in args.concurrency.split(",") if level]
    if args.child:
        pin(args.cpu)
        result = asyncio.run(run_child(args.child, args.orders, levels[0], args.warmup))
        print(json.dumps(result), flush=True)
        return 0
    if args.smoke:
        args.orders, args.repeats, args.warmup, levels = 50, 1, 10, [4]
    client_cpu, server_cpu = cores()
    runs = []
    total = args.repeats * len(levels) * len(VARIANTS) * (args.orders + args.warmup)
    with sandbox_process(
        cpu=server_cpu, max_orders=max(20_000, total + 1), latency=args.latency
    ) as sandbox:
        for repeat in range(args.repeats):
            for concurrency in levels:
                for variant in rotated(list(VARIANTS), repeat):
                    argv = ["benchmarks.bench_journal", "--child", variant]
                    argv += ["--orders", str(args.orders), "--concurrency", str(concurrency)]
                    argv += ["--warmup", str(args.warmup)]
                    if client_cpu is not None:
                        argv += ["--cpu", str(client_cpu)]
                    run = child_json(argv, timeout=120 + args.orders * 0.05, env=sandbox.env)
                    run["repeat"] = repeat
                    runs.append(run)
                    print(
                        f"[{repeat + 1}/{args.repeats}] c={concurrency:<3} {variant:9} "
                        f"{run['wall_us_per_order']:7.0f} µs wall {run['cpu_us_per_order']:7.0f} "
                        f"µs CPU per order, failed {run['failed']}",
                        file=sys.stderr,
                        flush=True,
                    )
    rows = summarize(runs)
    print(markdown(rows, args))
    write_json(args.json, {"summary": rows, "runs": runs})
    return 0


if __name__ == "__main__":
    sys.exit(main())
