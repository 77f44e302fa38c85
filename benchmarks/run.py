"""Run the whole benchmark: fake server, interleaved peers, token storms, decode share.

``python -m benchmarks.run`` (or ``python benchmarks/run.py``, or ``nox -s bench``);
``--smoke`` is the tiny CI variant. See benchmarks/README.md for what is measured.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path
from typing import Any

if not __package__:  # run as a script: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import procs, report
from benchmarks.decode_share import decode_markdown, decode_section
from benchmarks.fake_server import fake_server
from benchmarks.machine import machine_info, machine_markdown
from benchmarks.peers import OPS, PEERS

REPO = procs.REPO
SMOKE_PEERS = ("sdk", "raw_aiohttp")


def peer_order(peers: list[str], repeat: int) -> list[str]:
    """Return the peers in the order of ``repeat``: rotated by one each repeat.

    Interleaved A B C, B C A, C A B...: each peer runs in each position equally
    often, so whatever a position costs (running first, right after a slow peer)
    is not charged to one peer.
    """
    shift = repeat % len(peers)
    return peers[shift:] + peers[:shift]


def run_peers(args: argparse.Namespace, base_url: str, cpu: int | None) -> list[dict[str, Any]]:
    """Run every (repeat, op, peer) in its own process, interleaving the peers."""
    runs = []
    timeout = 120 + args.n * 0.02  # far above the slowest peer's ~2.5 ms/op
    for repeat in range(args.repeats):
        for op in args.ops:
            for peer in peer_order(list(args.peers), repeat):
                argv = ["benchmarks.child", "--peer", peer, "--op", op, "--base-url", base_url]
                argv += ["--n", str(args.n), "--concurrency", str(args.concurrency)]
                argv += ["--warmup", str(args.warmup)]
                if cpu is not None:
                    argv += ["--cpu", str(cpu)]
                result = procs.child_json(argv, timeout=timeout)
                result["repeat"] = repeat
                runs.append(result)
                print(
                    f"[{repeat + 1}/{args.repeats}] {op:14} {peer:14} "
                    f"{result['cpu_us_per_op']:8.1f} µs CPU/op {result['ops_per_s']:8.0f} ops/s",
                    file=sys.stderr,
                    flush=True,
                )
    return runs


def run_storms(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Run benchmarks.token_storm in a fresh process."""
    clients = [c for c in ("sdk", "httpx_authlib") if c == "sdk" or c in args.peers]
    argv = ["benchmarks.token_storm", "--calls", str(args.storm_calls)]
    argv += ["--lifetime", str(args.storm_lifetime), "--clients", ",".join(clients)]
    rows: list[dict[str, Any]] = procs.child_json(argv, timeout=900)
    return rows


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Read the flags; --smoke overrides n, repeats, peers and the storm size."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000, help="timed calls per process")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--warmup", type=int, default=2_000, help="untimed calls first")
    parser.add_argument("--peers", default=",".join(PEERS), help="comma-separated")
    parser.add_argument("--ops", default=",".join(OPS), help="comma-separated")
    parser.add_argument("--server", choices=("auto", "nginx", "aiohttp"), default="auto")
    parser.add_argument("--storm-calls", type=int, default=1000)
    parser.add_argument("--storm-lifetime", type=int, default=30, help="token lifetime, s")
    parser.add_argument("--no-storm", action="store_true", help="skip the token storms")
    parser.add_argument("--no-decode", action="store_true", help="skip the decode share")
    parser.add_argument("--smoke", action="store_true", help="tiny run for CI (seconds)")
    args = parser.parse_args(argv)
    if args.smoke:
        args.n, args.repeats, args.warmup = 200, 1, 50
        args.peers = ",".join(SMOKE_PEERS)
        args.storm_calls, args.storm_lifetime = 100, 2
        args.no_decode = True
    args.peers = [p for p in args.peers.split(",") if p]
    args.ops = [o for o in args.ops.split(",") if o]
    for name, known in (("peer", PEERS), ("op", OPS)):
        for value in getattr(args, f"{name}s"):
            if value not in known:
                parser.error(f"unknown {name} {value!r}; choose from {sorted(known)}")
    return args


def main(argv: list[str] | None = None) -> int:
    """Measure, print the markdown report, write results/latest.{md,json}."""
    args = parse_args(argv)
    client_cpu, server_cpu = procs.cores()
    info = machine_info()
    with fake_server(args.server, server_cpu) as (base_url, server_kind):
        print(f"fake server: {server_kind} at {base_url}", file=sys.stderr, flush=True)
        runs = run_peers(args, base_url, client_cpu)
    rows = report.summarize(runs)
    # A smoke run never replaces the last real measurement.
    name = "smoke" if args.smoke else "latest"
    report.write(
        {"machine": info, "summary": rows, "runs": runs}, "(storms and decode pending)", name
    )
    storm: list[dict[str, Any]] = []
    decode = None
    problems = []
    if not args.no_storm:
        try:
            storm = run_storms(args)
        except (RuntimeError, subprocess.SubprocessError, ValueError) as error:
            problems.append(f"token storm failed: {error}")
    if not args.no_decode:
        sdk_get = next((r for r in rows if (r["peer"], r["op"]) == ("sdk", "orders.get")), None)
        try:
            decode = decode_section(sdk_get["cpu_us_per_op"]["median"] if sdk_get else None)
        except Exception as error:  # the SDK's internals move; keep the run's results
            problems.append(f"decode measurement failed: {type(error).__name__}: {error}")

    pinning = (
        f"client on CPU {client_cpu}, server on CPU {server_cpu}"
        if client_cpu is not None
        else "no pinning (fewer than 2 usable cores)"
    )
    title = "Smoke run (tiny, not a measurement)" if args.smoke else "Results"
    parts = [
        f"## {title}",
        "",
        f"Server: **{server_kind}**; {pinning}. n = {args.n} calls per process after "
        f"{args.warmup} warm-up calls, concurrency {args.concurrency}, {args.repeats} "
        f"repeat(s) interleaved in fresh processes. Median (min-max) over repeats; "
        f"ratios are computed within each repeat. The best-run ratio divides each "
        f"peer's lowest CPU over the repeats by the baseline's lowest: interference "
        f"on a shared machine only adds time, so it is the least disturbed estimate.",
        "",
        report.results_table(rows),
        "",
        "### Targets (reported, not asserted)",
        "",
        report.targets_table(rows),
    ]
    if storm:
        parts += ["", "### Token storms", "", report.storm_table(storm)]
    if decode is not None:
        parts += ["", "### Decoding (orders.get)", "", decode_markdown(decode)]
    if problems:
        parts += ["", "### Problems", "", *(f"- {p}" for p in problems)]
    parts += ["", "### Machine", "", machine_markdown(info)]
    markdown = "\n".join(parts)
    document = {
        "settings": {
            "n": args.n,
            "concurrency": args.concurrency,
            "repeats": args.repeats,
            "warmup": args.warmup,
            "peers": args.peers,
            "ops": args.ops,
            "smoke": args.smoke,
            "server": server_kind,
            "client_cpu": client_cpu,
            "server_cpu": server_cpu,
        },
        "machine": info,
        "summary": rows,
        "runs": runs,
        "token_storm": storm,
        "decode": decode,
        "problems": problems,
    }
    json_path, md_path = report.write(document, markdown, name)
    print(markdown)
    print(f"\nwrote {md_path.relative_to(REPO)} and {json_path.relative_to(REPO)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
