"""One measurement in a fresh process: ``n`` calls of one operation by one peer.

Run by `benchmarks.run`; prints one JSON line. CPU is ``getrusage(RUSAGE_SELF)``
user+sys around the timed loop only (imports, start-up and warm-up excluded);
``ops_per_s`` is wall-clock over the same loop; ``max_rss_kb`` is the peak RSS;
``gc_us_per_op`` is the time the cyclic garbage collector ran inside the loop.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import resource
import sys
import time
from typing import Any

from benchmarks.ab_peers import AB_PEERS
from benchmarks.peers import OPS, PEERS, Peer

#: Every peer a child can run: the report's three, and the SDK with a shortcut taken out.
ALL_PEERS = {**PEERS, **AB_PEERS}


async def _drive(peer: Peer, op: str, n: int, concurrency: int) -> None:
    """Make ``n`` calls with ``concurrency`` worker coroutines (bounded: n calls in all)."""
    call = OPS[op]
    remaining = n

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            await call(peer)

    async with asyncio.TaskGroup() as group:
        for _ in range(min(concurrency, n)):
            group.create_task(worker())


class _GcClock:
    """Total time and number of cyclic-GC passes while installed (gc.callbacks)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.collections = [0, 0, 0]
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.seconds += time.perf_counter() - self._started
            self.collections[info["generation"]] += 1


async def measure(
    peer_name: str, op: str, base_url: str, *, n: int, concurrency: int, warmup: int
) -> dict[str, Any]:
    """Warm up, then time ``n`` calls; return CPU µs/op, ops/s and peak RSS."""
    async with ALL_PEERS[peer_name](base_url) as peer:
        await _drive(peer, op, warmup, concurrency)
        gc.collect()
        gc_clock = _GcClock()
        gc.callbacks.append(gc_clock)
        before = resource.getrusage(resource.RUSAGE_SELF)
        started = time.perf_counter()
        await _drive(peer, op, n, concurrency)
        wall = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_SELF)
        gc.callbacks.remove(gc_clock)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {
        "peer": peer_name,
        "op": op,
        "n": n,
        "concurrency": concurrency,
        "cpu_s": cpu,
        "wall_s": wall,
        "cpu_us_per_op": cpu / n * 1e6,
        "user_us_per_op": (after.ru_utime - before.ru_utime) / n * 1e6,
        "sys_us_per_op": (after.ru_stime - before.ru_stime) / n * 1e6,
        "ops_per_s": n / wall,
        "max_rss_kb": after.ru_maxrss,
        # Cyclic GC inside the timed loop: wall time, which is CPU time on a busy loop.
        "gc_us_per_op": gc_clock.seconds / n * 1e6,
        "gc_collections": gc_clock.collections,
    }


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments, pin to a core, measure, print one JSON line."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--peer", choices=sorted(ALL_PEERS), required=True)
    parser.add_argument("--op", choices=sorted(OPS), required=True)
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--warmup", type=int, default=2_000)
    parser.add_argument("--cpu", type=int, default=None, help="pin this process to a core")
    args = parser.parse_args(argv)
    if args.cpu is not None:
        with contextlib.suppress(OSError):
            os.sched_setaffinity(0, {args.cpu})
    result = asyncio.run(
        measure(
            args.peer,
            args.op,
            args.base_url,
            n=args.n,
            concurrency=args.concurrency,
            warmup=args.warmup,
        )
    )
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
