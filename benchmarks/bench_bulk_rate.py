"""A bulk-quote job against a rate-limited sandbox: ours, fixed concurrency, botocore's way.

``python -m benchmarks.bench_bulk_rate [--carts 10000] [--rate 200] [--repeats 1]``
(``--smoke``: 150 carts at 100 req/s, seconds).

Issue 13's scenario: ``--carts`` carts quoted against `SandboxServer(rate_limit_rps=R)`
(a token bucket per client id, bursts up to R, 429 with a whole-second ``Retry-After``)
running in its own process on the other core. Every (repeat, variant) gets a fresh
sandbox and a fresh client process; variants rotate their position each repeat.

Variants (all drive ``client.quotes.create`` of the same client options, with the
SDK's default retries unless said otherwise):

- ``adaptive-16``, ``adaptive-64``: ``client.quotes.create_many(carts, concurrency=C)``,
  the SDK's AIMD window (halved on 429s, grown on success, 429'd carts put back);
- ``adaptive-64+rate_limit``: the same with ``DigipixClient(rate_limit=R)``: the
  client's own token bucket at the server's rate;
- ``fixed-16``, ``fixed-64``: C workers calling ``client.quotes.create`` one cart
  after another, no adaptation (the public ``create_many`` always adapts, so the
  fixed-concurrency baseline is written here with plain asyncio); the client's
  shared pause on ``Retry-After`` still applies, as it does today;
- ``botocore-64``: 64 workers, each call through `adaptive_botocore.BotocoreAdaptive`
  (a client-side token bucket whose rate follows CUBIC after the first throttle, the
  measured send rate smoothed, standard-mode retries: 3 attempts, a retry quota),
  on a client with ``max_retries=0`` whose transport hides ``Retry-After``.

``--latency S`` makes the sandbox answer S seconds later (its latency fault), as a
distant API does; without it an answer takes a few ms on loopback.

Before the runs, a probe quotes ``--probe-carts`` carts against an unlimited sandbox
(``create_many``, concurrency 64) to show what this machine sustains, so R can be
judged against it.

Reported per variant (median, min-max over repeats): wall time and its ratio to
``carts / R`` (the floor: a bucket full at the start saves R requests' worth, so a
perfect run is slightly under 1.00x); the sandbox's 429s as a share of the quote
requests it received; carts that failed; requests sent; the most requests the sandbox
accepted within one second; the client process's CPU per cart.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

if not __package__:  # run as a script: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.procs import (
    child_json,
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
from benchmarks.sandbox_proc import sandbox_process

VARIANTS = (
    "adaptive-16",
    "adaptive-64",
    "adaptive-64+rate_limit",
    "fixed-16",
    "fixed-64",
    "botocore-64",
)
QUOTE_ROUTE = "POST /v1/quote"
_ZIPS = ("01311100", "20040002", "30130010", "40010000", "70040010", "80010000", "90010150")
_PRODUCTS = (
    ("photobook", 24),
    ("print-10x15", None),
    ("canvas-30x40", None),
    ("calendar-a4", 12),
    ("mug", None),
)


def carts(count: int) -> Iterator[dict[str, Any]]:
    """Yield ``count`` quote requests: 1 to 3 items each, zip codes of every region."""
    for number in range(count):
        items = []
        for offset in range(1 + number % 3):
            product, pages = _PRODUCTS[(number + offset) % len(_PRODUCTS)]
            item: dict[str, Any] = {"product_id": product, "quantity": 1 + (number + offset) % 4}
            if pages is not None:
                item["pages"] = pages
            items.append(item)
        yield {"zip_code": _ZIPS[number % len(_ZIPS)], "items": items}


# -- one variant, in a fresh process -------------------------------------------------------


def _client(variant: str, rate: float | None) -> tuple[Any, Any]:
    """Return (client, transport to close or None) for ``variant``, from the environment."""
    from digipix_async import DigipixClient

    if variant == "botocore-64":
        from benchmarks.adaptive_botocore import HideRetryAfter
        from digipix_async._transport import AiohttpTransport  # the default transport

        inner = AiohttpTransport()
        client = DigipixClient.from_env(max_retries=0, transport=HideRetryAfter(inner))
        return client, inner
    options: dict[str, Any] = {}
    if variant.endswith("+rate_limit"):
        options["rate_limit"] = rate
    return DigipixClient.from_env(**options), None


async def _adaptive(client: Any, count: int, concurrency: int, out: dict[str, Any]) -> Counter[str]:
    errors: Counter[str] = Counter()
    smallest = concurrency
    async with client.quotes.create_many(carts(count), concurrency=concurrency) as results:
        async for result in results:
            if not result.ok:
                errors[type(result.error).__name__] += 1
            smallest = min(smallest, results.concurrency)
        out["final_window"] = results.concurrency
    out["smallest_window"] = smallest
    return errors


async def _workers(client: Any, count: int, concurrency: int, call: Any) -> Counter[str]:
    errors: Counter[str] = Counter()
    source = carts(count)  # shared: each worker takes the next cart when it is free

    async def worker() -> None:
        for cart in source:
            try:
                await call(cart)
            except Exception as error:  # a failed cart is counted, the job goes on
                errors[type(error).__name__] += 1

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return errors


async def run_variant(variant: str, count: int, rate: float | None) -> dict[str, Any]:
    """Quote ``count`` carts the way ``variant`` does; return what the client saw."""
    client, inner = _client(variant, rate)
    out: dict[str, Any] = {"variant": variant, "carts": count}
    concurrency = int(variant.split("-")[1].split("+")[0])
    try:
        async with client:
            await client.products.list()  # the token and a connection, before timing
            throttled_before = client._throttle_count()
            before = resource.getrusage(resource.RUSAGE_SELF)
            started = time.perf_counter()
            if variant.startswith("adaptive"):
                errors = await _adaptive(client, count, concurrency, out)
            elif variant.startswith("fixed"):
                errors = await _workers(
                    client, count, concurrency, lambda cart: client.quotes.create(**cart)
                )
            else:
                from benchmarks.adaptive_botocore import BotocoreAdaptive

                botocore = BotocoreAdaptive()
                errors = await _workers(
                    client,
                    count,
                    concurrency,
                    lambda cart: botocore.call(client.quotes.create, cart),
                )
                out["botocore"] = {
                    "throttles": botocore.throttles,
                    "retries": botocore.retries,
                    "quota_left": botocore.quota,
                    "quota_refusals": botocore.quota_refusals,
                    "final_rate": round(botocore.bucket.rate, 1),
                    "lowest_rate": botocore.lowest_rate and round(botocore.lowest_rate, 1),
                }
            wall = time.perf_counter() - started
            after = resource.getrusage(resource.RUSAGE_SELF)
            out["client_429s"] = client._throttle_count() - throttled_before
    finally:
        if inner is not None:
            await inner.aclose()
    failed = sum(errors.values())
    out.update(
        wall_s=wall,
        ok=count - failed,
        failed=failed,
        errors=dict(errors),
        cpu_s=(after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
    )
    return out


# -- the parent: sandboxes, rotation, report -----------------------------------------------


def measure_once(
    variant: str,
    count: int,
    rate: float | None,
    cpus: tuple[int | None, int | None],
    latency: float = 0.0,
) -> dict[str, Any]:
    """Run one variant against a fresh sandbox process; add what the sandbox counted."""
    client_cpu, server_cpu = cpus
    with sandbox_process(rate_limit_rps=rate, cpu=server_cpu, latency=latency) as sandbox:
        before = sandbox.stats()
        argv = ["benchmarks.bench_bulk_rate", "--child", variant, "--carts", str(count)]
        argv += ["--rate", str(rate or 0)]
        if client_cpu is not None:
            argv += ["--cpu", str(client_cpu)]
        floor = count / rate if rate else count / 500
        result: dict[str, Any] = child_json(argv, timeout=120 + 6 * floor, env=sandbox.env)
        after = sandbox.stats()
    quotes = after["requests"].get(QUOTE_ROUTE, 0) - before["requests"].get(QUOTE_ROUTE, 0)
    refused = after["refused"] - before["refused"]
    result.update(
        requests=quotes,
        server_429s=refused,
        share_429=refused / quotes if quotes else 0.0,
        token_requests=after["token_requests"] - before["token_requests"],
        peak_rps=after["peak_rps"],
        server_cpu_s=after["cpu_s"] - before["cpu_s"],
        rate=rate,
        floor_s=count / rate if rate else None,
    )
    if rate:
        result["x_floor"] = result["wall_s"] / (count / rate)
    return result


def summarize(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Group the runs by variant: medians and ranges of every figure."""
    rows = []
    for variant in dict.fromkeys(r["variant"] for r in runs):
        group = [r for r in runs if r["variant"] == variant]
        rows.append(
            {
                "variant": variant,
                "repeats": len(group),
                "wall_s": spread(r["wall_s"] for r in group),
                "x_floor": spread(r.get("x_floor", 0.0) for r in group),
                "share_429": spread(100 * r["share_429"] for r in group),
                "server_429s": spread(r["server_429s"] for r in group),
                "failed": spread(r["failed"] for r in group),
                "requests": spread(r["requests"] for r in group),
                "peak_rps": spread(r["peak_rps"] for r in group),
                "cpu_us_per_cart": spread(1e6 * r["cpu_s"] / r["carts"] for r in group),
                "errors": summed_errors(group),
            }
        )
    return rows


def markdown(rows: list[dict[str, Any]], probe: dict[str, Any] | None, args: Any) -> str:
    """Render the summary as the README's table."""
    lines = [f"Measured {stamp()}", ""]
    if probe is not None:
        lines += [
            f"What this machine sustains (unlimited sandbox, `create_many` concurrency 64, "
            f"{probe['carts']} carts): **{probe['carts'] / probe['wall_s']:.0f} quotes/s**, "
            f"client CPU {1e6 * probe['cpu_s'] / probe['carts']:.0f} µs/cart, sandbox CPU "
            f"{1e6 * probe['server_cpu_s'] / probe['carts']:.0f} µs/request.",
            "",
        ]
    lines += [
        f"{args.carts} carts, sandbox limited to R = {args.rate:g} req/s per client id "
        f"(floor {args.carts / args.rate:.1f} s), {args.latency * 1000:g} ms added to each "
        f"answer, {args.repeats} repeat(s); median (min-max) over repeats.",
        "",
        "| variant | wall s | wall / (carts/R) | 429s % of requests | failed carts "
        "| requests sent | peak req/s at server | client CPU µs/cart |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        failed = failed_cell(row)
        lines.append(
            f"| {row['variant']} | {fmt(row['wall_s'])} | {fmt(row['x_floor'], 2, 'x')} "
            f"| {fmt(row['share_429'], 2)} | {failed} | {fmt(row['requests'], 0)} "
            f"| {fmt(row['peak_rps'], 0)} | {fmt(row['cpu_us_per_cart'], 0)} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run every variant (or one, with --child) and print the markdown report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--carts", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=200.0, help="the sandbox's req/s (R)")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds the sandbox adds")
    parser.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated")
    parser.add_argument("--probe-carts", type=int, default=3_000, help="0: no probe")
    parser.add_argument("--json", type=Path, help="also write every run here")
    parser.add_argument("--smoke", action="store_true", help="150 carts at 100 req/s")
    parser.add_argument("--child", choices=VARIANTS, help=argparse.SUPPRESS)
    parser.add_argument("--cpu", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        import json

        pin(args.cpu)
        rate = args.rate or None
        print(json.dumps(asyncio.run(run_variant(args.child, args.carts, rate))), flush=True)
        return 0
    if args.smoke:  # small unless asked otherwise
        args.rate, args.repeats = 100.0, 1
        args.carts = 150 if args.carts == parser.get_default("carts") else args.carts
        if args.probe_carts == parser.get_default("probe_carts"):
            args.probe_carts = 100
    variants = [v for v in args.variants.split(",") if v]
    for variant in variants:
        if variant not in VARIANTS:
            parser.error(f"unknown variant {variant!r}; choose from {VARIANTS}")
    cpus = cores()
    probe = None
    if args.probe_carts:
        probe = measure_once("adaptive-64", args.probe_carts, None, cpus)
        print(f"probe: {probe['carts'] / probe['wall_s']:.0f} quotes/s", file=sys.stderr)
    runs = []
    for repeat in range(args.repeats):
        for variant in rotated(variants, repeat):
            try:
                run = measure_once(variant, args.carts, args.rate, cpus, args.latency)
            except (RuntimeError, OSError, ValueError, subprocess.SubprocessError) as error:
                print(f"{variant} failed: {error}", file=sys.stderr, flush=True)
                continue
            run["repeat"] = repeat
            runs.append(run)
            print(
                f"[{repeat + 1}/{args.repeats}] {variant:24} {run['wall_s']:7.1f} s "
                f"{run['x_floor']:5.2f}x  429s {run['server_429s']:5d} "
                f"({100 * run['share_429']:.2f}%)  failed {run['failed']}",
                file=sys.stderr,
                flush=True,
            )
    rows = summarize(runs)
    print(markdown(rows, probe, args))
    write_json(args.json, {"probe": probe, "summary": rows, "runs": runs, "pid": os.getpid()})
    return 0


if __name__ == "__main__":
    sys.exit(main())
