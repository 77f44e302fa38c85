"""A/B: the shared deadline timers against ``asyncio.timeout_at`` per call, network taken out.

``python -m benchmarks.bench_deadline [--calls 2000] [--blocks 15]``

In the style of ``bench_overhead``: two clients in one process over a transport that
answers at once (`bench_overhead.InstantTransport`), each holding a valid token:

- ``shared``: the SDK as it is (``digipix_async._deadline``: calls whose deadlines fall
  in one 50 ms slot share one loop timer; guarding a call is a set insert and removal);
- ``per-call``: the same client with every call's deadline on its own
  ``asyncio.timeout_at`` (`ab_peers.PerCallTimeouts`: a loop timer armed and cancelled
  per call, what ``asyncio.timeout`` or aiohttp's total timeout cost).

64 worker coroutines make the calls and yield to the loop after each (as calls on
sockets do, so the loop runs and sweeps cancelled timers as it would). The clients
alternate in blocks of ``--calls`` calls (A B A B ...); CPU per call is
``time.process_time`` per block; the difference is the median of the differences of
adjacent blocks, so drift on the machine cancels out. The end-to-end figure (over
sockets, against nginx) is the ``sdk+asyncio.timeout`` peer of ``bench_before_after``.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path
from typing import Any

if not __package__:  # run as a script: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import payloads
from benchmarks.ab_peers import PerCallTimeouts
from benchmarks.bench_overhead import ORDER_BODY, QUOTE_BODY, InstantTransport
from benchmarks.procs import stamp
from digipix_async import DigipixClient
from digipix_async._auth import AccessToken, TokenGrant

WORKERS = 64


def _client(body: bytes, per_call: bool) -> DigipixClient:
    client = DigipixClient(
        payloads.CLIENT_ID,
        payloads.CLIENT_SECRET,
        base_url="http://x",
        transport=InstantTransport(body),  # type: ignore[arg-type]
    )
    # Benchmark seams: hold a valid token; for B, one loop timer per call.
    client._shared.auth._current = AccessToken.from_grant(
        TokenGrant("bench-token", 3600), sent_at=time.monotonic()
    )
    if per_call:
        client._shared.deadlines = PerCallTimeouts()  # type: ignore[assignment]
    return client


def _call(client: DigipixClient, op: str) -> Any:
    if op == "quotes.create":
        return client.quotes.create(zip_code="01311100", items=payloads.SDK_QUOTE_ITEMS)
    return client.orders.get(payloads.ORDER_ID)


async def _block(client: DigipixClient, op: str, calls: int) -> float:
    """Return the CPU µs per call of ``calls`` calls by 64 workers."""
    left = calls

    async def worker() -> None:
        nonlocal left
        while left > 0:
            left -= 1
            await _call(client, op)
            await asyncio.sleep(0)

    started = time.process_time()
    await asyncio.gather(*(worker() for _ in range(WORKERS)))
    return (time.process_time() - started) / calls * 1e6


async def measure(op: str, calls: int, blocks: int) -> dict[str, Any]:
    """Alternate the two clients in blocks; return medians and the paired difference."""
    body = QUOTE_BODY if op == "quotes.create" else ORDER_BODY
    shared, per_call = _client(body, False), _client(body, True)
    for client in (shared, per_call):  # warm up: readers built, caches filled
        await _block(client, op, calls)
    a, b = [], []
    for number in range(blocks):
        pair = ((shared, a), (per_call, b)) if number % 2 == 0 else ((per_call, b), (shared, a))
        for client, found in pair:
            found.append(await _block(client, op, calls))
    return {
        "op": op,
        "shared_us": statistics.median(a),
        "per_call_us": statistics.median(b),
        "added_us": statistics.median(y - x for x, y in zip(a, b, strict=True)),
    }


def main(argv: list[str] | None = None) -> int:
    """Print the A/B as a markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2_000, help="calls per block")
    parser.add_argument("--blocks", type=int, default=15, help="blocks per client")
    parser.add_argument("--smoke", action="store_true", help="200 calls x 2 blocks")
    args = parser.parse_args(argv)
    if args.smoke:
        args.calls, args.blocks = 200, 2
    rows = [asyncio.run(measure(op, args.calls, args.blocks)) for op in payloads_ops()]
    print(f"Measured {stamp()}\n")
    print(
        "| op | shared timers µs/call | asyncio.timeout_at per call µs/call "
        "| per-call timer adds µs (median of paired blocks) | share of the call |"
    )
    print("|---|---:|---:|---:|---:|")
    for row in rows:
        print(
            f"| {row['op']} | {row['shared_us']:.1f} | {row['per_call_us']:.1f} "
            f"| {row['added_us']:.2f} | {100 * row['added_us'] / row['per_call_us']:.1f}% |"
        )
    return 0


def payloads_ops() -> tuple[str, ...]:
    """The two benchmarked operations."""
    return ("quotes.create", "orders.get")


if __name__ == "__main__":
    sys.exit(main())
