"""A fleet of P processes, each with its own client, starting cold at once: with and without Redis.

``python -m benchmarks.bench_fleet [--processes 64] [--calls 20] [--rate 200] [--repeats 1]``
(``--smoke``: 4 processes x 5 calls, seconds).

Issue 13: web apps run many worker processes and bulk jobs shard across machines;
without a shared store each process fetches its own token and meets the rate limit
alone. Here P worker processes (on both cores, or all on one with ``--pin-workers``;
the sandbox, in its own process, and redis-server pinned to the second core) each
build a `DigipixClient` with no token yet, say they are ready, and wait; on one
"go" written to all of them at once, each makes ``--calls`` concurrent
``quotes.create``. The sandbox is limited to R requests a
second per client id, and every process uses the same credentials, as a fleet does.

Variants:

- ``memory``: no store, no ``rate_limit`` (each process alone);
- ``memory+rate_limit``: no store, ``rate_limit=R`` in each process (each thinks the
  whole budget is its own);
- ``redis``: ``store=RedisStore(url)`` (one token, one pause for the fleet);
- ``redis+rate_limit``: ``RedisStore`` and ``rate_limit=R``: one token, one pause and
  one rate budget for the fleet.

A fresh sandbox (and a fresh redis-server, started on a free loopback port in a temp
dir and stopped after) per (repeat, variant). Counted by the sandbox: token requests,
quote requests, 429s. Counted by the workers: calls that failed, the WARNINGs the
SDK logged (a Redis call that timed out falls back to memory with one), the time from
"go" to the last worker's last answer.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import resource
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

if not __package__:  # run as a script: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.procs import (
    REPO,
    cores,
    failed_cell,
    fmt,
    pin,
    rotated,
    spread,
    stamp,
    summed_errors,
    write_json,
)
from benchmarks.redis_proc import redis_server
from benchmarks.sandbox_proc import sandbox_process

VARIANTS = ("memory", "memory+rate_limit", "redis", "redis+rate_limit")
QUOTE_ROUTE = "POST /v1/quote"
_READY_TIMEOUT = 600.0


# -- one worker ----------------------------------------------------------------------------


class _Warnings(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: Counter[str] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        self.messages[record.getMessage()[:80]] += 1


async def _worker(
    calls: int, store_url: str | None, rate: float | None, cpu: int | None
) -> dict[str, Any]:
    from digipix_async import DigipixClient
    from digipix_async.stores import RedisStore

    warnings = _Warnings()
    logging.getLogger("digipix_async").addHandler(warnings)
    store = RedisStore(store_url) if store_url else None
    client = DigipixClient.from_env(rate_limit=rate, store=store)
    errors: Counter[str] = Counter()
    async with client:
        pin(cpu)  # after the imports: a fleet starts up on every core, runs on one
        print("ready", flush=True)
        line = await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        if line.strip() != "go":
            raise SystemExit("no go")
        started = time.perf_counter()
        outcomes = await asyncio.gather(
            *(
                client.quotes.create(
                    zip_code="01311100", items=[{"product_id": "photobook", "quantity": 1}]
                )
                for _ in range(calls)
            ),
            return_exceptions=True,
        )
        wall = time.perf_counter() - started
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                errors[type(outcome).__name__] += 1
        client_429s = client._throttle_count()
    if store is not None:
        await store.aclose()
    return {
        "calls": calls,
        "failed": sum(errors.values()),
        "errors": dict(errors),
        "wall_s": wall,
        "client_429s": client_429s,
        "warnings": dict(warnings.messages),
        "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


# -- the fleet -----------------------------------------------------------------------------


def _start_workers(
    count: int, calls: int, env: dict[str, str], store: str | None, rate: float | None, cpu: Any
) -> list[subprocess.Popen[str]]:
    argv = [sys.executable, "-m", "benchmarks.bench_fleet", "--worker", "--calls", str(calls)]
    if store:
        argv += ["--store", store]
    if rate:
        argv += ["--rate", str(rate)]
    if cpu is not None:
        argv += ["--cpu", str(cpu)]
    return [
        subprocess.Popen(
            argv,
            cwd=REPO,
            env={**os.environ, **env},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(count)
    ]


def _stop(workers: list[subprocess.Popen[str]]) -> None:
    for worker in workers:
        if worker.poll() is None:
            worker.kill()
        worker.wait(timeout=10)


def run_fleet(
    variant: str,
    processes: int,
    calls: int,
    rate: float,
    cpus: tuple[int | None, int | None],
    pin_workers: bool = False,
) -> dict[str, Any]:
    """Run one variant: fresh sandbox (and Redis), P cold workers, one go."""
    client_cpu, server_cpu = cpus
    with sandbox_process(rate_limit_rps=rate, cpu=server_cpu) as sandbox:
        redis = redis_server(server_cpu) if variant.startswith("redis") else None
        with redis or contextlib.nullcontext(None) as url:
            per_process = rate if variant.endswith("+rate_limit") else None
            started = time.perf_counter()
            workers = _start_workers(
                processes, calls, sandbox.env, url, per_process, client_cpu if pin_workers else None
            )
            try:
                for worker in workers:
                    assert worker.stdout is not None
                    left = _READY_TIMEOUT - (time.perf_counter() - started)
                    ready = _readline(worker, left)
                    if ready.strip() != "ready":
                        raise RuntimeError(f"a worker did not start: {_stderr(worker)}")
                start_up = time.perf_counter() - started
                before = sandbox.stats()
                went = time.perf_counter()
                for worker in workers:
                    assert worker.stdin is not None
                    worker.stdin.write("go\n")
                    worker.stdin.flush()
                results = []
                for worker in workers:
                    out, err = worker.communicate(timeout=300)
                    if worker.returncode != 0:
                        raise RuntimeError(f"a worker failed: {err[-2000:]}")
                    results.append(json.loads(out.strip().splitlines()[-1]))
                done = time.perf_counter() - went
                after = sandbox.stats()
            finally:
                _stop(workers)
    quotes = after["requests"].get(QUOTE_ROUTE, 0) - before["requests"].get(QUOTE_ROUTE, 0)
    warnings: Counter[str] = Counter()
    for result in results:
        warnings.update(result["warnings"])
    return {
        "variant": variant,
        "processes": processes,
        "calls": calls,
        "rate": rate,
        "start_up_s": start_up,
        "wall_s": done,
        # Token requests of the whole life (none arrive before "go": the clients are cold).
        "token_requests": after["token_requests"],
        "requests": quotes,
        "server_429s": after["refused"] - before["refused"],
        "share_429": (after["refused"] - before["refused"]) / quotes if quotes else 0.0,
        "failed": sum(r["failed"] for r in results),
        "errors": summed_errors(results),
        "warnings": sum(warnings.values()),
        "warning_kinds": dict(warnings.most_common(5)),
        "worker_rss_mb": max(r["max_rss_mb"] for r in results),
    }


def _readline(worker: subprocess.Popen[str], timeout: float) -> str:
    import selectors

    assert worker.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(worker.stdout, selectors.EVENT_READ)
        if not selector.select(max(timeout, 0.0)):
            raise RuntimeError("a worker was not ready in time")
    return worker.stdout.readline()


def _stderr(worker: subprocess.Popen[str]) -> str:
    worker.kill()
    _, err = worker.communicate(timeout=10)
    return err[-2000:]


def summarize(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Group by variant: medians and ranges."""
    rows = []
    for variant in dict.fromkeys(r["variant"] for r in runs):
        group = [r for r in runs if r["variant"] == variant]
        rows.append(
            {
                "variant": variant,
                "repeats": len(group),
                "token_requests": spread(r["token_requests"] for r in group),
                "server_429s": spread(r["server_429s"] for r in group),
                "share_429": spread(100 * r["share_429"] for r in group),
                "requests": spread(r["requests"] for r in group),
                "failed": spread(r["failed"] for r in group),
                "wall_s": spread(r["wall_s"] for r in group),
                "start_up_s": spread(r["start_up_s"] for r in group),
                "warnings": spread(r["warnings"] for r in group),
                "worker_rss_mb": spread(r["worker_rss_mb"] for r in group),
                "errors": summed_errors(group),
            }
        )
    return rows


def markdown(rows: list[dict[str, Any]], args: Any) -> str:
    """Render the README's table."""
    calls = args.processes * args.calls
    lines = [
        f"Measured {stamp()}",
        "",
        f"{args.processes} processes x {args.calls} concurrent quotes ({calls} calls), cold "
        f"clients, one go; sandbox limited to R = {args.rate:g} req/s for the client id all "
        f"share (floor {calls / args.rate:.1f} s); {args.repeats} repeat(s), median (min-max).",
        "",
        "| variant | token requests | quote requests | 429s (% of requests) | failed calls "
        "| go to last answer s | start-up s | SDK warnings | largest worker RSS MB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        failed = failed_cell(row)
        lines.append(
            f"| {row['variant']} | {fmt(row['token_requests'], 0)} | {fmt(row['requests'], 0)} "
            f"| {fmt(row['server_429s'], 0)} ({fmt(row['share_429'], 1)}%) | {failed} "
            f"| {fmt(row['wall_s'])} | {fmt(row['start_up_s'])} | {fmt(row['warnings'], 0)} "
            f"| {fmt(row['worker_rss_mb'])} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the fleet for every variant (or be one worker, with --worker)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=64)
    parser.add_argument("--calls", type=int, default=20, help="concurrent quotes per process")
    parser.add_argument("--rate", type=float, default=200.0, help="the sandbox's req/s (R)")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated")
    parser.add_argument("--pin-workers", action="store_true", help="all workers on one core")
    parser.add_argument("--json", type=Path, help="also write every run here")
    parser.add_argument("--smoke", action="store_true", help="4 processes x 5 calls")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--store", help=argparse.SUPPRESS)
    parser.add_argument("--cpu", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        result = asyncio.run(_worker(args.calls, args.store, args.rate or None, args.cpu))
        print(json.dumps(result), flush=True)
        return 0
    if args.smoke:  # small unless asked otherwise
        args.repeats = 1
        if args.processes == parser.get_default("processes"):
            args.processes = 4
        if args.calls == parser.get_default("calls"):
            args.calls = 5
    variants = [v for v in args.variants.split(",") if v]
    for variant in variants:
        if variant not in VARIANTS:
            parser.error(f"unknown variant {variant!r}; choose from {VARIANTS}")
    cpus = cores()
    runs = []
    for repeat in range(args.repeats):
        for variant in rotated(variants, repeat):
            run = run_fleet(variant, args.processes, args.calls, args.rate, cpus, args.pin_workers)
            run["repeat"] = repeat
            runs.append(run)
            print(
                f"[{repeat + 1}/{args.repeats}] {variant:18} tokens {run['token_requests']:3d} "
                f"429s {run['server_429s']:5d} failed {run['failed']:4d} "
                f"{run['wall_s']:6.1f} s (start-up {run['start_up_s']:.1f} s)",
                file=sys.stderr,
                flush=True,
            )
    print(markdown(summarize(runs), args))
    write_json(args.json, {"summary": summarize(runs), "runs": runs})
    return 0


if __name__ == "__main__":
    sys.exit(main())
