"""The SDK's own CPU per call, with the network taken out.

``python -m benchmarks.bench_overhead [--n 20000] [--json PATH]``

The client runs its whole pipeline (build and validate the request, scope check,
token, retry loop, encode, decode, structure into models) over a transport that
answers at once with the fixed bodies of ``benchmarks/payloads.py``. The baseline
is the JSON work hand-written aiohttp code does for the same call
(``json.dumps`` of the body, ``json.loads`` of the answer to dicts). The
difference is what the SDK adds on top of any aiohttp client, measured without
the noise of sockets and a server: the number to optimise against; the
side-by-side run in ``benchmarks/run.py`` is the one that proves it end to end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from benchmarks import payloads
from digipix_async import DigipixClient
from digipix_async._auth import AccessToken, TokenGrant
from digipix_async._sansio import Response

QUOTE_BODY = json.dumps(payloads.QUOTE_RESPONSE).encode()
ORDER_BODY = json.dumps(payloads.ORDER_RESPONSE).encode()


class InstantTransport:
    """Answers every request at once with one fixed body (the `Transport` interface)."""

    def __init__(self, body: bytes) -> None:
        self.body = body

    async def send(self, method: str, url: str, **_: Any) -> Response:
        return Response(200, {}, self.body)

    async def aclose(self) -> None:
        return None


def _best_us_per_call(call: Callable[[], Awaitable[Any]], n: int, repeats: int = 5) -> float:
    async def loop() -> float:
        best = float("inf")
        for _ in range(repeats):
            started = time.process_time()
            for _ in range(n):
                await call()
            best = min(best, (time.process_time() - started) / n * 1e6)
        return best

    return asyncio.run(loop())


def _hand_written(request: dict[str, Any] | None, answer: bytes) -> Callable[[], Awaitable[Any]]:
    async def call() -> Any:
        if request is not None:
            json.dumps(request).encode()
        return json.loads(answer)

    return call


def _sdk_call(client: DigipixClient, op: str) -> Callable[[], Awaitable[Any]]:
    if op == "quotes.create":
        return lambda: client.quotes.create(zip_code="01311100", items=payloads.SDK_QUOTE_ITEMS)
    return lambda: client.orders.get(payloads.ORDER_ID)


def measure(n: int) -> list[dict[str, Any]]:
    """Return, per operation, µs of CPU per call for the SDK and the hand-written JSON work."""
    results = []
    for op, body, hand in (
        ("quotes.create", QUOTE_BODY, _hand_written(payloads.QUOTE_REQUEST, QUOTE_BODY)),
        ("orders.get", ORDER_BODY, _hand_written(None, ORDER_BODY)),
    ):
        client = DigipixClient(payloads.CLIENT_ID, payloads.CLIENT_SECRET, base_url="http://x")
        # Benchmark seam: swap the aiohttp transport for one without I/O, and hold
        # a valid token so the loop measures calls, not a token request.
        client._shared.transport = InstantTransport(body)  # type: ignore[assignment]
        client._shared.auth._current = AccessToken.from_grant(
            TokenGrant("bench-token", 3600), sent_at=time.monotonic()
        )
        sdk = _best_us_per_call(_sdk_call(client, op), n)
        baseline = _best_us_per_call(hand, n)
        results.append(
            {"op": op, "sdk_us": sdk, "hand_json_us": baseline, "added_us": sdk - baseline}
        )
    return results


def main(argv: list[str] | None = None) -> int:
    """Print the SDK's added CPU per call as a markdown table (and JSON with --json)."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--n", type=int, default=20_000, help="calls per timing")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    results = measure(args.n)
    print("| op | SDK µs/call (no network) | hand-written JSON µs/call | SDK adds µs |")
    print("|---|---:|---:|---:|")
    for row in results:
        print(
            f"| {row['op']} | {row['sdk_us']:.1f} | {row['hand_json_us']:.1f} "
            f"| {row['added_us']:.1f} |"
        )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
