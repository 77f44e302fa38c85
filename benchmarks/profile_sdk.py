"""Profile the peers' hot paths with py-spy (sampling, no instrumentation overhead).

``python -m benchmarks.profile_sdk [--peers sdk,raw_aiohttp] [--ops quotes.create,orders.get]``
starts the fake server, runs `benchmarks.child` under ``py-spy record --format raw``
(as root, or with ptrace allowed) and prints, per op, markdown tables of where the
samples went: by package of the innermost frame (self time), and the digipix_async
functions and lines with the largest inclusive / self share (the raw_aiohttp
profile is the reference: what the SDK adds is the difference). Import-time samples are
dropped; py-spy samples only running threads, so the shares approximate CPU.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

from benchmarks.fake_server import fake_server
from benchmarks.peers import OPS
from benchmarks.report import RESULTS_DIR

REPO = Path(__file__).resolve().parent.parent
_FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")
_PACKAGES = ("digipix_async", "aiohttp", "yarl", "multidict", "cattrs", "attrs", "asyncio")


def _frames(stack: str) -> list[tuple[str, str, str]]:
    """Split one collapsed stack into (function, file, line), outermost first."""
    found = []
    for raw in stack.split(";"):
        match = _FRAME.match(raw.strip())
        if match:
            found.append((match["func"], match["file"], match["line"] or "?"))
    return found


def _package(file: str) -> str:
    if "cattrs generated" in file or "attrs generated" in file:
        return "cattrs/attrs generated code"
    for name in _PACKAGES:
        if f"/{name}/" in file or file.startswith(f"{name}/"):
            return name
    if file.endswith(("json/decoder.py", "json/__init__.py", "json/encoder.py")):
        return "json"
    if "site-packages" not in file and "/lib/python3" in file:
        return "stdlib (other)"
    return "other"


def _short(file: str) -> str:
    index = file.find("digipix_async/")
    return file[index:] if index >= 0 else file


def analyse(collapsed: str) -> dict[str, Counter[str]]:
    """Aggregate py-spy raw output into self-by-package, inclusive and self digipix shares."""
    by_package: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    self_lines: Counter[str] = Counter()
    self_functions: Counter[str] = Counter()
    total = 0
    for line in collapsed.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not count_text.isdigit():
            continue
        frames = _frames(stack)
        if not frames or any("importlib._bootstrap" in f for _, f, _ in frames):
            continue  # start-up: imports
        count = int(count_text)
        total += count
        func, file, lineno = frames[-1]
        by_package[_package(file)] += count
        self_functions[f"{_short(file)} {func}"] += count
        if "digipix_async/" in file:
            self_lines[f"{_short(file)}:{lineno} {func}"] += count
        seen = {f"{_short(f)} {fn}" for fn, f, _ in frames if "digipix_async/" in f}
        for key in seen:
            inclusive[key] += count
    return {
        "total": Counter({"samples": total}),
        "by_package": by_package,
        "inclusive": inclusive,
        "self_lines": self_lines,
        "self_functions": self_functions,
    }


def _table(title: str, counter: Counter[str], total: int, top: int) -> str:
    lines = [f"| {title} | share of samples |", "|---|---:|"]
    for key, count in counter.most_common(top):
        lines.append(f"| `{key}` | {count / total:.1%} |")
    return "\n".join(lines)


def py_spy() -> str | None:
    """Return the py-spy next to this Python (the venv's bin), else the one on PATH."""
    beside = Path(sys.executable).parent / "py-spy"
    return str(beside) if beside.exists() else shutil.which("py-spy")


def profile(spy: str, peer: str, op: str, base_url: str, n: int, rate: int) -> str:
    """Run one child under py-spy and return the markdown summary."""
    RESULTS_DIR.mkdir(exist_ok=True)
    # Kept (results/ is gitignored): the raw stacks answer "who called this?" later.
    out = RESULTS_DIR / f"profile-{peer}-{op}.txt"
    command = [spy, "record", "--format", "raw", "--rate", str(rate), "-o", str(out)]
    command += ["--", sys.executable, "-m", "benchmarks.child", "--peer", peer, "--op", op]
    command += ["--base-url", base_url, "--n", str(n), "--cpu", "0"]
    subprocess.run(command, cwd=REPO, capture_output=True, timeout=600, check=True)
    result = analyse(out.read_text())
    total = result["total"]["samples"] or 1
    return "\n\n".join(
        [
            f"### {peer} {op} ({total} samples after imports)",
            _table("innermost frame's package (self)", result["by_package"], total, 12),
            _table("any function (self)", result["self_functions"], total, 25),
            _table("digipix_async function (inclusive)", result["inclusive"], total, 15),
            _table("digipix_async line (self)", result["self_lines"], total, 15),
        ]
    )


def main(argv: list[str] | None = None) -> int:
    """Profile the chosen peer for each op and print markdown."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--peers", default="sdk,raw_aiohttp", help="comma-separated")
    parser.add_argument("--ops", default=",".join(OPS))
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--rate", type=int, default=500, help="samples per second")
    args = parser.parse_args(argv)
    spy = py_spy()
    if spy is None:
        parser.error("py-spy is not installed (pip install -e '.[bench]')")
    with fake_server("auto", cpu=1) as (base_url, _):
        for op in args.ops.split(","):
            for peer in args.peers.split(","):
                print(profile(spy, peer, op, base_url, args.n, args.rate), "\n", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
