"""Import cost: ``import digipix_async`` against ``import aiohttp``, and the pytest plugin.

``python -m benchmarks.bench_import [--runs 5]``

Issue 10 item 9: the package should cost at most aiohttp's own import plus 20 ms,
and the pytest plugin (``digipix_async.testing``, loaded by every pytest run where
the package is installed) under 10 ms until one of its fixtures is used.

Every figure is the best of ``--runs`` fresh processes (start-up noise only ever adds
time), each ``python -X importtime -c "<statement>"``; the cost of a module is the
cumulative microseconds ``-X importtime`` reports on its own line (everything it
imported that was not imported before, its parent packages included). Measured:

- ``import aiohttp`` and ``import digipix_async`` in a bare interpreter;
- the plugin as pytest loads it: in a process that has already imported ``pytest``
  and ``pytest_asyncio`` (any pytest run has), the cost of
  ``import digipix_async.testing`` = the cumulative time of the lines it added
  (``digipix_async`` and ``digipix_async.testing`` when the package's ``__init__``
  comes along), also checked by the wall clock around that one import.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

if not __package__:  # run as a script: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.procs import REPO, stamp

_LINE = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)$")
_PLUGIN = (
    "import time, pytest, pytest_asyncio\n"
    "t = time.perf_counter()\n"
    "import digipix_async.testing\n"
    "print('wall_us', round((time.perf_counter() - t) * 1e6))\n"
)


def _importtime(code: str) -> tuple[dict[str, int], dict[str, int], str]:
    """Run ``code`` under -X importtime; return top-level cumulative µs, self µs, stdout."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    cumulative: dict[str, int] = {}
    own: dict[str, int] = {}
    for line in done.stderr.splitlines():
        match = _LINE.match(line)
        if match:
            name = match.group(4)
            own[name] = own.get(name, 0) + int(match.group(1))
            if len(match.group(3)) == 1:
                cumulative[name] = int(match.group(2))  # imported at top level by `code`
    return cumulative, own, done.stdout


def best(code: str, names: tuple[str, ...], runs: int) -> dict[str, Any]:
    """Return the best (lowest) cumulative µs of each of ``names`` over ``runs`` processes."""
    found: dict[str, list[int]] = {name: [] for name in names}
    walls: list[int] = []
    for _ in range(runs):
        cumulative, _own, out = _importtime(code)
        for name in names:
            found[name].append(cumulative.get(name, 0))
        if out.startswith("wall_us"):
            walls.append(int(out.split()[1]))
    result: dict[str, Any] = {name: min(values) for name, values in found.items()}
    result["all"] = found
    if walls:
        result["wall_us"] = min(walls)
    return result


def main(argv: list[str] | None = None) -> int:
    """Measure and print the README's table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="fresh processes per figure")
    args = parser.parse_args(argv)
    aiohttp = best("import aiohttp", ("aiohttp",), args.runs)["aiohttp"]
    package = best("import digipix_async", ("digipix_async",), args.runs)["digipix_async"]
    plugin = best(_PLUGIN, ("digipix_async", "digipix_async.testing"), args.runs)
    plugin_us = plugin["digipix_async"] + plugin["digipix_async.testing"]
    # Without the package in a process yet, the plugin's line includes the parent's.
    if plugin["digipix_async"] == 0:
        plugin_us = plugin["digipix_async.testing"]
    rows = [
        ("`import aiohttp`", aiohttp, ""),
        (
            "`import digipix_async`",
            package,
            f"aiohttp + {(package - aiohttp) / 1000:.1f} ms (target: at most aiohttp + 20 ms)",
        ),
        (
            "`import digipix_async.testing` after pytest, pytest_asyncio",
            plugin_us,
            f"wall clock around the import {plugin.get('wall_us', 0) / 1000:.1f} ms "
            "(target: under 10 ms)",
        ),
    ]
    print(f"Measured {stamp()}; best of {args.runs} fresh processes each.\n")
    print("| import | cumulative ms (-X importtime) | against the target |")
    print("|---|---:|---|")
    for name, micros, note in rows:
        print(f"| {name} | {micros / 1000:.1f} | {note} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
