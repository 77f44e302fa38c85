"""The scenario benchmarks still run: each in its tiny smoke mode (no number is asserted).

They live in ``benchmarks/`` and report to ``benchmarks/README.md``; here each runs
end to end in a subprocess with seconds of work, so a change to the SDK that breaks
one is seen by the tests, not by the next person who needs its figures.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def _run(*argv: str, timeout: float = 300) -> str:
    done = subprocess.run(
        [sys.executable, "-m", *argv],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={**os.environ, "PYTHONWARNINGS": "error::RuntimeWarning"},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_bulk_rate_runs_every_variant() -> None:
    out = _run("benchmarks.bench_bulk_rate", "--smoke", "--carts", "60", "--probe-carts", "30")
    for variant in ("adaptive-16", "adaptive-64+rate_limit", "fixed-64", "botocore-64"):
        assert f"| {variant} |" in out
    assert "What this machine sustains" in out


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server on PATH")
def test_fleet_runs_with_and_without_redis() -> None:
    out = _run(
        "benchmarks.bench_fleet", "--smoke", "--processes", "2", "--calls", "3",
        "--variants", "memory,redis+rate_limit",
    )  # fmt: skip
    for variant in ("memory", "redis+rate_limit"):
        assert f"| {variant} |" in out


def test_journal_compares_plain_and_journaled() -> None:
    out = _run("benchmarks.bench_journal", "--smoke")
    assert "| 4 | plain |" in out
    assert "| 4 | journaled |" in out


def test_journal_store_floor_covers_each_batch_and_sync() -> None:
    out = _run("benchmarks.bench_journal_store", "--smoke", "--batches", "1,4")
    for batch in (1, 4):
        assert f"| {batch} | FULL |" in out
        assert f"| {batch} | NORMAL (reference: no fsync) |" in out


def test_quote_bulk_memory_runs_the_cli() -> None:
    out = _run("benchmarks.bench_quote_bulk_memory", "--smoke", "--sizes", "50")
    # One output line per cart, exit 0, in both set-ups.
    assert "| 50 | 0.0 | --sandbox |" in out
    assert "| 50 | 0.0 | external |" in out
    assert out.count("| 50 | 0 |") == 2


def test_import_cost_is_measured() -> None:
    out = _run("benchmarks.bench_import", "--runs", "1")
    assert "`import digipix_async`" in out


def test_deadline_ab_runs() -> None:
    out = _run("benchmarks.bench_deadline", "--smoke")
    assert "| orders.get |" in out


def test_before_after_runs_the_ab_peers() -> None:
    # Without --before: no git worktree (a shallow clone may not hold the old commit).
    out = _run("benchmarks.bench_before_after", "--smoke", "--before", "")
    assert "| sdk+asyncio.timeout |" in out
    assert "| sdk+cattrs |" in out
