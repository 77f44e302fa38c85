"""Summaries of the runs: medians over repeats, ratios within a run, markdown and JSON."""

from __future__ import annotations

import json
import statistics
from collections import defaultdict
from pathlib import Path
from typing import Any

BASELINE = "raw_aiohttp"
RESULTS_DIR = Path(__file__).resolve().parent / "results"

#: (peer, op) -> the lead's target for the CPU ratio to raw_aiohttp (reported, never asserted).
TARGETS = {("sdk", "quotes.create"): 1.10, ("sdk", "orders.get"): 1.25}
#: httpx_authlib must cost at least this many times the SDK's CPU per op.
PEER_TARGET = ("httpx_authlib", 8.0)


def _spread(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def summarize(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Group runs by (peer, op): medians over repeats; ratios to the baseline per repeat."""
    by_key: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    # (peer, op, repeat) -> run, to compute each ratio within its own repeat.
    by_repeat: dict[tuple[str, str, int], dict[str, Any]] = {}
    for run in runs:
        by_key[(run["peer"], run["op"])].append(run)
        by_repeat[(run["peer"], run["op"], run["repeat"])] = run
    best_baseline: dict[str, float] = {}
    for (peer, op, _repeat), run in by_repeat.items():
        if peer == BASELINE:
            cpu = run["cpu_us_per_op"]
            best_baseline[op] = min(cpu, best_baseline.get(op, cpu))

    def ratios(group: list[dict[str, Any]], other: str, metric: str) -> list[float]:
        """The runs' ``metric`` over the same repeat's run of peer ``other``."""
        return [
            r[metric] / by_repeat[(other, r["op"], r["repeat"])][metric]
            for r in group
            if (other, r["op"], r["repeat"]) in by_repeat
        ]

    rows = []
    for (peer, op), group in by_key.items():
        to_baseline = ratios(group, BASELINE, "cpu_us_per_op")
        user_ratios = ratios(group, BASELINE, "user_us_per_op")
        vs_sdk = ratios(group, "sdk", "cpu_us_per_op")
        rows.append(
            {
                "peer": peer,
                "op": op,
                "repeats": len(group),
                "cpu_us_per_op": _spread([r["cpu_us_per_op"] for r in group]),
                "ops_per_s": _spread([r["ops_per_s"] for r in group]),
                "max_rss_mb": _spread([r["max_rss_kb"] / 1024 for r in group]),
                "gc_us_per_op": _spread([r.get("gc_us_per_op", 0.0) for r in group]),
                "ratio_to_baseline": _spread(to_baseline) if to_baseline else None,
                "user_us_per_op": _spread([r["user_us_per_op"] for r in group]),
                "sys_us_per_op": _spread([r["sys_us_per_op"] for r in group]),
                "user_ratio_to_baseline": _spread(user_ratios) if user_ratios else None,
                "ratio_to_sdk": _spread(vs_sdk) if vs_sdk else None,
                # Interference on a shared machine only ever adds CPU time, so the
                # best run of each peer is the least disturbed estimate of its cost.
                "best_ratio_to_baseline": (
                    min(r["cpu_us_per_op"] for r in group) / best_baseline[op]
                    if op in best_baseline
                    else None
                ),
            }
        )
    return rows


def _fmt(spread: dict[str, float] | None, digits: int, suffix: str = "") -> str:
    if spread is None:
        return "n/a"
    f = f"{{:.{digits}f}}"
    return (
        f"{f.format(spread['median'])}{suffix} "
        f"({f.format(spread['min'])}-{f.format(spread['max'])})"
    )


def results_table(rows: list[dict[str, Any]]) -> str:
    """Return the main markdown table (median, and min-max over repeats)."""
    lines = [
        f"| op | peer | CPU µs/op | CPU ratio to {BASELINE} | best-run ratio "
        "| user / sys µs/op | user-time ratio | ops/s (wall) | peak RSS MB "
        "| of which cyclic GC µs/op |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in sorted(rows, key=lambda r: (r["op"] != "quotes.create", r["op"], r["peer"])):
        best = row.get("best_ratio_to_baseline")
        lines.append(
            f"| {row['op']} | {row['peer']} | {_fmt(row['cpu_us_per_op'], 1)} "
            f"| {_fmt(row['ratio_to_baseline'], 2, 'x')} "
            f"| {'n/a' if best is None else f'{best:.2f}x'} "
            f"| {row['user_us_per_op']['median']:.1f} / {row['sys_us_per_op']['median']:.1f} "
            f"| {_fmt(row['user_ratio_to_baseline'], 2, 'x')} | {_fmt(row['ops_per_s'], 0)} "
            f"| {row['max_rss_mb']['median']:.1f} | {row['gc_us_per_op']['median']:.1f} |"
        )
    return "\n".join(lines)


def targets_table(rows: list[dict[str, Any]]) -> str:
    """Return the lead's targets next to today's medians (reported, not asserted)."""
    found = {(r["peer"], r["op"]): r for r in rows}
    lines = ["| target | today (median of per-repeat ratios) | best run vs best run |"]
    lines.append("|---|---:|---:|")
    for (peer, op), limit in TARGETS.items():
        row = found.get((peer, op))
        value = _fmt(row["ratio_to_baseline"], 2, "x") if row else "not run"
        best = row.get("best_ratio_to_baseline") if row else None
        best_text = "n/a" if best is None else f"{best:.2f}x"
        lines.append(
            f"| {peer} {op}: CPU ratio to {BASELINE} <= {limit:.2f}x | {value} | {best_text} |"
        )
    other, factor = PEER_TARGET
    for op in ("quotes.create", "orders.get"):
        row = found.get((other, op))
        value = _fmt(row["ratio_to_sdk"], 1, "x") if row else "not run"
        lines.append(f"| {other} {op}: CPU per op >= {factor:.0f}x the sdk's | {value} | |")
    return "\n".join(lines)


def storm_table(storm: list[dict[str, Any]]) -> str:
    """Return the token-storm table: token requests the server saw per storm."""
    lines = [
        "| client | storm | concurrent calls | token requests seen by the server | calls ok |",
        "|---|---|---:|---:|---:|",
    ]
    for row in storm:
        lines.append(
            f"| {row['client']} | {row['storm']} | {row['calls']} "
            f"| {row['token_requests']} | {row['ok']} |"
        )
    return "\n".join(lines)


def write(document: dict[str, Any], markdown: str, name: str = "latest") -> tuple[Path, Path]:
    """Write results/<name>.json and results/<name>.md; return their paths."""
    RESULTS_DIR.mkdir(exist_ok=True)
    json_path = RESULTS_DIR / f"{name}.json"
    md_path = RESULTS_DIR / f"{name}.md"
    json_path.write_text(json.dumps(document, indent=2, default=str) + "\n")
    md_path.write_text(markdown + "\n")
    return json_path, md_path
