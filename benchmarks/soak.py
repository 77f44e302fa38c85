"""The issue-11 soak, longer: ``tests/test_soak.py`` run for larger sizes and several seeds.

``python -m benchmarks.soak [--orders 20000] [--seeds 1,2,3] [--smoke]``
(``--smoke``: 500 orders, one seed, seconds).

Each seed is one pytest process running ``tests/test_soak.py::test_soak`` with
``DIGIPIX_SOAK_ORDERS`` and ``DIGIPIX_SOAK_SEED`` set: many ``orders.create_many``
jobs with every kind of early exit, single creates and quote jobs, against the
embedded sandbox with seeded faults and token revocations. Its summary line
(``soak: created=N reported=N handed_over=N lost=0 duplicated=0 unhandled=0
leaked=0``) is printed per seed; the exit status is 1 if any seed failed, and the
failing seed's report (the partner order ids, their jobs, what the user was told)
is shown. Rerun one seed with ``DIGIPIX_SOAK_SEED=S DIGIPIX_SOAK_ORDERS=N pytest
tests/test_soak.py::test_soak -s``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_seed(orders: int, seed: int) -> tuple[bool, str]:
    """Run the soak once; return whether it passed and its output."""
    env = {**os.environ, "DIGIPIX_SOAK_ORDERS": str(orders), "DIGIPIX_SOAK_SEED": str(seed)}
    command = [sys.executable, "-m", "pytest", "tests/test_soak.py::test_soak", "-q", "-s"]
    command += ["-p", "no:cacheprovider"]
    # The soak bounds itself (its budget grows with the orders); this is a backstop.
    limit = 120 + orders * 0.2
    try:
        done = subprocess.run(
            command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=limit, check=False
        )
    except subprocess.TimeoutExpired as expired:
        output = expired.stdout if isinstance(expired.stdout, str) else ""
        return False, f"{output}\nsoak: seed {seed} did not finish in {limit:.0f}s"
    return done.returncode == 0, done.stdout + done.stderr


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=20_000)
    parser.add_argument("--seeds", default="1,2,3", help="comma-separated seeds")
    parser.add_argument("--smoke", action="store_true", help="500 orders, one seed")
    args = parser.parse_args(argv)
    orders = 500 if args.smoke else args.orders
    seeds = [int(seed) for seed in args.seeds.split(",") if seed.strip()]
    if args.smoke:
        seeds = seeds[:1]
    failed = []
    for seed in seeds:
        started = time.monotonic()
        passed, output = run_seed(orders, seed)
        lines = [line for line in output.splitlines() if line.startswith("soak")]
        summary = lines[0] if lines else "soak: no summary (see the output below)"
        print(f"seed {seed} ({orders} orders, {time.monotonic() - started:.0f}s): {summary}")
        if not passed:
            failed.append(seed)
            print(output[-20_000:])
    if failed:
        print(f"soak failed for seeds {failed}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
