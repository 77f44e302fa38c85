"""The main harness, with an older commit's SDK and the shortcut-less SDKs as more peers.

``python -m benchmarks.bench_before_after [--before 8d07c27] [--repeats 9]``
(``--smoke``: n = 200, 1 repeat).

Same server, pinning, child processes and metrics as ``benchmarks.run`` (see the
README), with these peers interleaved and rotated in one sitting:

- ``sdk``: this tree's SDK; ``raw_aiohttp``: the floor, from this tree;
- ``sdk@<commit>``: the ``sdk`` peer of ``--before`` (default 8d07c27, the code the
  previous session measured), run from a ``git worktree`` of that commit made in a
  temp dir and removed after (its own ``benchmarks.child``, so its own SDK);
- ``sdk+asyncio.timeout`` and ``sdk+cattrs`` (`ab_peers`): this SDK with one shortcut
  taken out, to measure what each kept shortcut is worth.

Ratios are per repeat, medians over repeats, as in the main report.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

if not __package__:  # run as a script: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import report
from benchmarks.fake_server import fake_server
from benchmarks.machine import machine_info, machine_markdown
from benchmarks.peers import OPS
from benchmarks.procs import REPO, cores, rotated, stamp

DEFAULT_BEFORE = "8d07c27"
AB = ("sdk+asyncio.timeout", "sdk+cattrs")


def _git(*argv: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(REPO), *argv], capture_output=True, text=True, timeout=120, check=True
    )
    return done.stdout.strip()


def _child(argv: list[str], cwd: Path, timeout: float) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.child", *argv],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"child in {cwd} failed:\n{done.stderr.strip()[-2000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def run(
    args: argparse.Namespace, before_tree: Path | None, label: str, failures: list[str]
) -> list[dict[str, Any]]:
    """Every (repeat, op, peer) in a fresh process; peers rotated every repeat."""
    peers = ["sdk", "raw_aiohttp", *AB] + ([label] if before_tree else [])
    client_cpu, server_cpu = cores()
    runs = []
    with fake_server(args.server, server_cpu) as (base_url, kind):
        print(f"fake server: {kind} at {base_url}", file=sys.stderr, flush=True)
        for repeat in range(args.repeats):
            for op in args.ops:
                for peer in rotated(peers, repeat):
                    tree = before_tree if peer == label else REPO
                    assert tree is not None
                    argv = ["--peer", "sdk" if peer == label else peer, "--op", op]
                    argv += ["--base-url", base_url, "--n", str(args.n)]
                    argv += ["--concurrency", "64", "--warmup", str(args.warmup)]
                    if client_cpu is not None:
                        argv += ["--cpu", str(client_cpu)]
                    try:
                        result = _child(argv, tree, timeout=120 + args.n * 0.02)
                    except (RuntimeError, subprocess.SubprocessError, ValueError) as error:
                        # One failed child must not cost the whole sitting: it is named.
                        print(f"{peer} {op} failed: {error}", file=sys.stderr, flush=True)
                        failures.append(f"{peer} {op} repeat {repeat + 1}: {error}"[:300])
                        continue
                    result.update(peer=peer, repeat=repeat, server=kind)
                    runs.append(result)
                    print(
                        f"[{repeat + 1}/{args.repeats}] {op:14} {peer:20} "
                        f"{result['cpu_us_per_op']:8.1f} µs CPU/op",
                        file=sys.stderr,
                        flush=True,
                    )
    return runs


def worth_table(rows: list[dict[str, Any]]) -> str:
    """What taking each shortcut out costs, as a share of the sdk's CPU per call."""
    lines = [
        "| shortcut taken out | op | CPU ratio to sdk (median of per-repeat ratios) "
        "| the shortcut's worth: what taking it out adds, % of the sdk's call |",
        "|---|---|---:|---:|",
    ]
    for row in rows:
        if row["peer"] in AB and row["ratio_to_sdk"] is not None:
            ratio = row["ratio_to_sdk"]
            lines.append(
                f"| {row['peer']} | {row['op']} | {ratio['median']:.3f}x "
                f"({ratio['min']:.2f}-{ratio['max']:.2f}) "
                f"| {100 * (ratio['median'] - 1):+.1f}% |"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Make the worktree, run, print the markdown, remove the worktree."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", default=DEFAULT_BEFORE, help="commit to compare ('' none)")
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--warmup", type=int, default=2_000)
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--ops", default=",".join(OPS))
    parser.add_argument("--server", choices=("auto", "nginx", "aiohttp"), default="auto")
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args(argv)
    if args.smoke:
        args.n, args.repeats, args.warmup = 200, 1, 50
    args.ops = [op for op in args.ops.split(",") if op]
    info = machine_info()
    label = ""
    failures: list[str] = []
    runs: list[dict[str, Any]]
    if args.before:
        sha = _git("rev-parse", "--short", args.before)
        label = f"sdk@{sha}"
        with tempfile.TemporaryDirectory(prefix="bench-before-") as parent:
            tree = Path(parent) / sha
            _git("worktree", "add", "--detach", str(tree), sha)
            try:
                runs = run(args, tree, label, failures)
            finally:
                _git("worktree", "remove", "--force", str(tree))
    else:
        runs = run(args, None, label, failures)
    rows = report.summarize(runs)
    parts = [
        f"Measured {stamp()}",
        "",
        f"n = {args.n} calls per process after {args.warmup} warm-up, concurrency 64, "
        f"{args.repeats} repeat(s), server {runs[0]['server']}; peers rotated every repeat.",
        "",
        report.results_table(rows),
        "",
        report.targets_table(rows).split("\n| httpx_authlib")[0],
        "",
        worth_table(rows),
        "",
        *(f"- failed: {failure}" for failure in failures),
        machine_markdown(info),
    ]
    markdown = "\n".join(parts)
    print(markdown)
    name = "before_after_smoke" if args.smoke else "before_after"
    report.write(
        {"machine": info, "summary": rows, "runs": runs, "failures": failures}, markdown, name
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
