"""Token storms: how many token requests the server sees when many calls need a token at once.

For each client: ``--calls`` concurrent ``quotes.create`` on a cold client (no token
yet), then, once its token has expired (``--lifetime`` seconds, the sandbox's
``token_lifetime``), the same storm again. The server is the project's embedded
sandbox (`digipix_async.sandbox.SandboxServer`), in this process; its
``token_requests`` counts every ``POST /v1/oauth/token`` that arrived.

The authlib peer needs a token before its first call (authlib raises
MissingTokenError otherwise), so its calls do what a user writes: ``if not
client.token: await client.fetch_token()``. After expiry authlib itself refreshes,
under its lock; its ``leeway`` is set to 1 s (default 60 s, longer than the short
lifetime used here, which would make every call refresh).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections import Counter
from typing import Any

from benchmarks.peers import HttpxAuthlibPeer, Peer, SdkPeer
from digipix_async.sandbox import SandboxServer

CLIENTS = ("sdk", "httpx_authlib")
#: Bound on one storm; a storm that takes longer is reported as failed calls.
STORM_TIMEOUT = 120.0


def _peer(name: str, sandbox: SandboxServer) -> Peer:
    credentials = {"client_id": sandbox.client_id, "client_secret": sandbox.client_secret}
    if name == "sdk":
        return SdkPeer(sandbox.base_url, **credentials)
    return HttpxAuthlibPeer(sandbox.base_url, leeway=1, **credentials)


async def _storm(
    name: str, label: str, sandbox: SandboxServer, peer: Peer, calls: int
) -> dict[str, Any]:
    before = sandbox.token_requests
    started = time.perf_counter()
    async with asyncio.timeout(STORM_TIMEOUT):
        outcomes = await asyncio.gather(
            *(peer.quote() for _ in range(calls)), return_exceptions=True
        )
    errors = Counter(type(o).__name__ for o in outcomes if isinstance(o, BaseException))
    return {
        "client": name,
        "storm": label,
        "calls": calls,
        "token_requests": sandbox.token_requests - before,
        "ok": calls - sum(errors.values()),
        "errors": dict(errors),
        "seconds": round(time.perf_counter() - started, 3),
    }


async def storms(name: str, *, calls: int, lifetime: int) -> list[dict[str, Any]]:
    """Run the cold and the after-expiry storm for one client against a fresh sandbox."""
    async with SandboxServer(token_lifetime=lifetime) as sandbox, _peer(name, sandbox) as peer:
        cold = await _storm(name, "cold client", sandbox, peer, calls)
        # Every token of the cold storm was requested before it ended: once `lifetime`
        # has passed since then, client and server both hold it expired.
        await asyncio.sleep(lifetime + 0.5)
        expired = await _storm(name, "just after token expiry", sandbox, peer, calls)
    return [cold, expired]


def main(argv: list[str] | None = None) -> int:
    """Run the storms and print them as one JSON list."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1000)
    # Longer than a slow client's cold storm, so no token expires during it.
    parser.add_argument("--lifetime", type=int, default=30, help="token lifetime, seconds")
    parser.add_argument("--clients", default=",".join(CLIENTS), help="comma-separated")
    args = parser.parse_args(argv)
    rows: list[dict[str, Any]] = []
    for name in args.clients.split(","):
        if name not in CLIENTS:
            parser.error(f"unknown client {name!r}; choose from {CLIENTS}")
        rows += asyncio.run(storms(name, calls=args.calls, lifetime=args.lifetime))
    print(json.dumps(rows), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
