"""Helpers the scenario benchmarks share: cores, child processes, medians, a date line.

The scenario benchmarks (``bench_bulk_rate``, ``bench_fleet``, ``bench_journal``,
``bench_quote_bulk_memory``, ``bench_import``, ``bench_deadline``) each run their
measurements in fresh processes, as ``benchmarks.run`` does: these are the pieces
they have in common.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import statistics
import subprocess
import sys
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent


def cores() -> tuple[int | None, int | None]:
    """Return (client core, server core), or Nones when there is one core to use."""
    try:
        available = sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return None, None
    if len(available) < 2:
        return None, None
    return available[0], available[1]


def pin(cpu: int | None) -> None:
    """Pin this process to ``cpu`` (nothing if None or not allowed)."""
    if cpu is not None:
        with contextlib.suppress(AttributeError, OSError):
            os.sched_setaffinity(0, {cpu})


def free_port() -> int:
    """Return a TCP port free on loopback right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def child_json(
    argv: list[str],
    *,
    timeout: float,
    env: Mapping[str, str] | None = None,
    cwd: Path = REPO,
) -> Any:
    """Run ``python -m <argv>`` in a fresh process; return its last stdout line as JSON."""
    done = subprocess.run(
        [sys.executable, "-m", *argv],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={**os.environ, **env} if env else None,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[:3])} failed:\n{done.stderr.strip()[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def rotated(items: list[Any], repeat: int) -> list[Any]:
    """Return ``items`` rotated by ``repeat``: each runs in each position equally often."""
    if not items:
        return items
    shift = repeat % len(items)
    return items[shift:] + items[:shift]


def spread(values: Iterable[float]) -> dict[str, float]:
    """Return the median, min and max of ``values``."""
    found = list(values)
    return {"median": statistics.median(found), "min": min(found), "max": max(found)}


def fmt(value: dict[str, float], digits: int = 1, suffix: str = "") -> str:
    """Render a `spread` as ``median (min-max)``, or the median alone for one value."""
    f = f"{{:.{digits}f}}"
    median = f.format(value["median"]) + suffix
    if value["min"] == value["max"]:
        return median
    return f"{median} ({f.format(value['min'])}-{f.format(value['max'])})"


def summed_errors(runs: Iterable[dict[str, Any]]) -> dict[str, int]:
    """Add up the runs' ``errors`` (error type -> count)."""
    return dict(sum((Counter(run["errors"]) for run in runs), Counter()))


def failed_cell(row: dict[str, Any]) -> str:
    """Render a row's failed count (a `spread`), then its errors by type if any."""
    failed = fmt(row["failed"], 0)
    if row["errors"]:
        failed += " (" + ", ".join(f"{k} {v}" for k, v in row["errors"].items()) + ")"
    return failed


def stamp() -> str:
    """Return the line every scenario report starts with: date, commit, command."""
    try:
        commit = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = "unknown"
    command = " ".join([f"python -m benchmarks.{Path(sys.argv[0]).stem}", *sys.argv[1:]])
    now = datetime.now(UTC).isoformat(timespec="seconds")
    return f"{now}, git commit {commit or 'unknown'}, nproc {os.cpu_count()}: `{command}`"


def write_json(path: Path | None, document: Any) -> None:
    """Write ``document`` to ``path`` (when given) as indented JSON."""
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(document, indent=2, default=str) + "\n")
