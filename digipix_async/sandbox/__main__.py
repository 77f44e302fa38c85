"""Run the sandbox standalone: ``python -m digipix_async.sandbox --port 8080``.

It prints ready-to-paste ``export DIGIPIX_...`` lines; fixed credentials
(``--client-id``/``--client-secret``, or ``DIGIPIX_SANDBOX_CLIENT_ID``/
``DIGIPIX_SANDBOX_CLIENT_SECRET``) keep a developer's shell working across restarts.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import shlex
import signal
import sys
from collections.abc import Sequence

from digipix_async.sandbox._server import SandboxServer


def _share(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {text}")
    return value


def _seconds(text: str) -> float:
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return value


def _positive(text: str) -> float:
    value = float(text)
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """Return the command-line parser."""
    parser = argparse.ArgumentParser(
        prog="python -m digipix_async.sandbox",
        description="Run a stateful, Digipix-compatible API server for development.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="port to bind, 0 for any (8080)")
    parser.add_argument(
        "--client-id",
        help="client_id to accept (default: $DIGIPIX_SANDBOX_CLIENT_ID, else generated)",
    )
    parser.add_argument(
        "--client-secret",
        help="client_secret to accept (default: $DIGIPIX_SANDBOX_CLIENT_SECRET, else generated)",
    )
    parser.add_argument(
        "--token-lifetime", type=_seconds, default=3600, help="token lifetime, seconds (3600)"
    )
    parser.add_argument(
        "--auto-advance",
        type=_seconds,
        metavar="S",
        help="move approved orders one life-cycle step every S seconds",
    )
    parser.add_argument("--collect", action="store_true", help="offer Collect (method 3)")
    limits = parser.add_argument_group("limits, like a real API's (429 with Retry-After)")
    limits.add_argument(
        "--rate-limit-rps",
        type=_positive,
        metavar="N",
        help="requests per second per client id, bursts up to N (default: unlimited)",
    )
    limits.add_argument(
        "--max-concurrent",
        type=int,
        metavar="M",
        help="requests served at once; more get 429 (default: unlimited)",
    )
    faults = parser.add_argument_group("fault injection")
    faults.add_argument("--latency", type=_seconds, default=0, metavar="S", help="added delay")
    faults.add_argument(
        "--rate-limit", type=_share, default=0, metavar="SHARE", help="share of 429 answers"
    )
    faults.add_argument(
        "--retry-after", type=_seconds, default=1, metavar="S", help="Retry-After of 429s (1)"
    )
    faults.add_argument(
        "--error-rate", type=_share, default=0, metavar="SHARE", help="share of 5xx answers"
    )
    faults.add_argument(
        "--error-status", type=int, default=503, choices=(500, 502, 503, 504), help="(503)"
    )
    faults.add_argument(
        "--drop-rate", type=_share, default=0, metavar="SHARE", help="share of dropped connections"
    )
    faults.add_argument(
        "--fault-path", metavar="GLOB", help="apply faults only to matching paths (default: all)"
    )
    faults.add_argument("--seed", type=int, help="seed the fault dice, for reproducible runs")
    parser.add_argument("--access-log", action="store_true", help="log every request")
    return parser


def _configure(args: argparse.Namespace) -> SandboxServer:
    sandbox = SandboxServer(
        host=args.host,
        port=args.port,
        client_id=args.client_id or os.environ.get("DIGIPIX_SANDBOX_CLIENT_ID") or None,
        client_secret=(
            args.client_secret or os.environ.get("DIGIPIX_SANDBOX_CLIENT_SECRET") or None
        ),
        token_lifetime=args.token_lifetime,
        auto_advance=args.auto_advance,
        collect=args.collect,
        seed=args.seed,
        access_log=args.access_log,
        rate_limit_rps=args.rate_limit_rps,
        max_concurrent=args.max_concurrent,
    )
    path = args.fault_path
    if args.latency:
        sandbox.faults.add("latency", seconds=args.latency, path=path)
    if args.drop_rate:
        sandbox.faults.add("drop", rate=args.drop_rate, path=path)
    if args.rate_limit:
        sandbox.faults.add(
            "rate_limit", rate=args.rate_limit, retry_after=args.retry_after, path=path
        )
    if args.error_rate:
        sandbox.faults.add("status", status=args.error_status, rate=args.error_rate, path=path)
    return sandbox


def export_lines(sandbox: SandboxServer) -> str:
    """Return the shell lines that point the SDK and the `digipix` CLI at `sandbox`."""
    variables = {
        "DIGIPIX_BASE_URL": sandbox.base_url,
        "DIGIPIX_CLIENT_ID": sandbox.client_id,
        # The sandbox's own throwaway secret: showing it is the point of this output.
        "DIGIPIX_CLIENT_SECRET": sandbox.client_secret,
    }
    lines = ["# Paste into your shell to point the SDK and the digipix CLI here:"]
    lines += [f"export {name}={shlex.quote(value)}" for name, value in variables.items()]
    return "\n".join(lines)


_FIXED_HINT = (
    "# These credentials are new at every start; to keep them across restarts pass\n"
    "# --client-id/--client-secret or set DIGIPIX_SANDBOX_CLIENT_ID/_CLIENT_SECRET."
)


async def _serve(sandbox: SandboxServer, *, fixed: bool = True) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        # Not available on Windows; Ctrl-C then arrives as KeyboardInterrupt instead.
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signum, stop.set)
    async with sandbox:
        print(f"Digipix sandbox listening on {sandbox.base_url}", flush=True)
        print(export_lines(sandbox), flush=True)
        if not fixed:
            print(_FIXED_HINT, flush=True)
        print("Press Ctrl-C to stop.", flush=True)
        await stop.wait()
    print("Digipix sandbox stopped.", flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments and serve until Ctrl-C or SIGTERM."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    try:
        sandbox = _configure(args)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        fixed = bool(args.client_id or os.environ.get("DIGIPIX_SANDBOX_CLIENT_ID")) and bool(
            args.client_secret or os.environ.get("DIGIPIX_SANDBOX_CLIENT_SECRET")
        )
        asyncio.run(_serve(sandbox, fixed=fixed))
    except KeyboardInterrupt:
        pass
    except OSError as exc:  # the port is taken, the host is not ours...
        print(f"error: cannot serve on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
