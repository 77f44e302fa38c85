"""The project's sandbox in its own process (pinned to a core), its counters a line away.

``with sandbox_process(rate_limit_rps=200, cpu=1) as sandbox:`` starts
``python -m benchmarks.sandbox_proc`` and yields a handle with ``base_url``,
``client_id``, ``client_secret`` and ``stats()``: the sandbox's own counters
(token requests, requests per route, the 429s its limits sent, the most requests
it accepted in one second, the server process's CPU seconds). Leaving the block
closes the sandbox's stdin, which stops it; a sandbox that does not stop in time
is killed.

The protocol, one JSON line each way: the process prints its address and
credentials once it serves, then answers every ``stats`` line on stdin with one
JSON line; end of input stops it.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import contextlib
import json
import os
import resource
import subprocess
import sys
from collections.abc import Iterator
from typing import Any, Self

from benchmarks.procs import REPO, pin

_START_TIMEOUT = 30.0
_ANSWER_TIMEOUT = 30.0


class SandboxProcess:
    """A handle on a sandbox running in a child process (see the module docstring)."""

    def __init__(self, argv: list[str]) -> None:
        self._process = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.sandbox_proc", *argv],
            cwd=REPO,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        self._reader = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="sandbox")
        try:
            hello = self._line(_START_TIMEOUT)
        except BaseException:
            self.close()
            raise
        self.base_url: str = hello["base_url"]
        self.client_id: str = hello["client_id"]
        self.client_secret: str = hello["client_secret"]

    @property
    def pid(self) -> int:
        """Return the sandbox process's id."""
        return self._process.pid

    @property
    def env(self) -> dict[str, str]:
        """Return the variables that point `DigipixClient.from_env` (and the CLI) here."""
        return {
            "DIGIPIX_BASE_URL": self.base_url,
            "DIGIPIX_CLIENT_ID": self.client_id,
            "DIGIPIX_CLIENT_SECRET": self.client_secret,
        }

    def _line(self, timeout: float) -> dict[str, Any]:
        assert self._process.stdout is not None
        future = self._reader.submit(self._process.stdout.readline)
        try:
            line = future.result(timeout)
        except concurrent.futures.TimeoutError:
            self._process.kill()
            raise RuntimeError("the sandbox process did not answer in time") from None
        if not line:
            raise RuntimeError(f"the sandbox process ended (exit {self._process.poll()})")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def stats(self) -> dict[str, Any]:
        """Return the sandbox's counters now."""
        assert self._process.stdin is not None
        self._process.stdin.write("stats\n")
        self._process.stdin.flush()
        return self._line(_ANSWER_TIMEOUT)

    def close(self) -> None:
        """Stop the sandbox (end of its input), killing it if it does not stop in 10 s."""
        with contextlib.suppress(OSError, ValueError):
            if self._process.stdin is not None:
                self._process.stdin.close()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait(timeout=10)
        self._reader.shutdown(wait=False, cancel_futures=True)
        if self._process.stdout is not None:
            self._process.stdout.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@contextlib.contextmanager
def sandbox_process(
    *,
    rate_limit_rps: float | None = None,
    max_concurrent: int | None = None,
    latency: float = 0.0,
    token_lifetime: float = 3600,
    max_orders: int | None = None,
    cpu: int | None = None,
) -> Iterator[SandboxProcess]:
    """Run a sandbox in a child process for the block (see the module docstring)."""
    argv = ["--token-lifetime", str(token_lifetime), "--latency", str(latency)]
    if rate_limit_rps is not None:
        argv += ["--rate-limit-rps", str(rate_limit_rps)]
    if max_concurrent is not None:
        argv += ["--max-concurrent", str(max_concurrent)]
    if max_orders is not None:
        argv += ["--max-orders", str(max_orders)]
    if cpu is not None:
        argv += ["--cpu", str(cpu)]
    with SandboxProcess(argv) as sandbox:
        yield sandbox


# -- the child's side ---------------------------------------------------------------------


def _counters(sandbox: Any) -> dict[str, Any]:
    limits = sandbox.limits
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "token_requests": sandbox.token_requests,
        "tokens_issued": sandbox.tokens_issued,
        "requests": sandbox.request_counts(),
        "accepted": limits.accepted,
        "refused_rate": limits.refused_rate,
        "refused_concurrent": limits.refused_concurrent,
        "refused": limits.refused,
        "peak_rps": limits.peak_rps,
        "peak_in_flight": limits.peak_in_flight,
        "cpu_s": usage.ru_utime + usage.ru_stime,
    }


async def _serve(args: argparse.Namespace) -> None:
    from digipix_async.sandbox import SandboxServer

    options: dict[str, Any] = {
        "token_lifetime": args.token_lifetime,
        "rate_limit_rps": args.rate_limit_rps,
        "max_concurrent": args.max_concurrent,
    }
    if args.max_orders is not None:
        options["max_orders"] = args.max_orders
    loop = asyncio.get_running_loop()
    async with SandboxServer(**options) as sandbox:
        if args.latency > 0:
            sandbox.faults.add("latency", seconds=args.latency)
        hello = {
            "base_url": sandbox.base_url,
            "client_id": sandbox.client_id,
            "client_secret": sandbox.client_secret,
            "pid": os.getpid(),
        }
        print(json.dumps(hello), flush=True)
        while True:
            # stdin is read on a thread: the loop keeps serving meanwhile.
            line = await loop.run_in_executor(None, sys.stdin.readline)
            if not line or line.strip() == "quit":
                return
            if line.strip() == "stats":
                print(json.dumps(_counters(sandbox)), flush=True)


def main(argv: list[str] | None = None) -> int:
    """Serve a sandbox until stdin ends; print its counters on each ``stats`` line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate-limit-rps", type=float)
    parser.add_argument("--max-concurrent", type=int)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added per request")
    parser.add_argument("--token-lifetime", type=float, default=3600)
    parser.add_argument("--max-orders", type=int)
    parser.add_argument("--cpu", type=int, help="pin the sandbox to this core")
    args = parser.parse_args(argv)
    pin(args.cpu)
    asyncio.run(_serve(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
