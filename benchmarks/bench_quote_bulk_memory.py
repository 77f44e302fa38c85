"""Peak memory of ``digipix quote-bulk`` from 10k to 100k carts: flat, as issue 14 asks?

``python -m benchmarks.bench_quote_bulk_memory [--sizes 10000,30000,100000]``
(``--smoke``: 100 and 300 carts, seconds).

For each size a CSV of that many carts (1 to 3 rows each, the columns
``cart_id,zip_code,product_id,quantity,pages``) is written into a temp dir, and
``python -m digipix_async quote-bulk IN.csv -o OUT.jsonl --json`` runs in a child
process (pinned to one core), in two set-ups:

- ``--sandbox``: the CLI's embedded sandbox, in the CLI's own process (the command
  as a user tries it; the sandbox's memory is counted too, and it remembers up to
  100,000 quoted shipment ids, by design);
- ``external``: the CLI against a sandbox in another process (on the other core),
  credentials from the environment: the CLI's memory alone.

Peak RSS is the child's ``ru_maxrss`` from ``os.wait4`` (the kernel's high-water mark
of that process alone). Also reported: wall time, carts per second, and whether
the output holds one line per cart.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

if not __package__:  # run as a script: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.bench_bulk_rate import carts
from benchmarks.procs import REPO, cores, stamp, write_json
from benchmarks.sandbox_proc import sandbox_process

MODES = ("--sandbox", "external")


def write_csv(path: Path, count: int) -> None:
    """Write ``count`` carts as quote-bulk's CSV input."""
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["cart_id", "zip_code", "product_id", "quantity", "pages"])
        for number, cart in enumerate(carts(count)):
            for item in cart["items"]:
                writer.writerow(
                    [
                        f"cart-{number:07d}",
                        cart["zip_code"],
                        item["product_id"],
                        item["quantity"],
                        item.get("pages", ""),
                    ]
                )


def run_cli(
    source: Path, output: Path, mode: str, env: dict[str, str], cpu: int | None, timeout: float
) -> dict[str, Any]:
    """Run quote-bulk once; return its peak RSS, wall time and summary."""
    argv = [sys.executable, "-m", "digipix_async", "quote-bulk", str(source), "-o", str(output)]
    argv += ["--json", "--concurrency", "16"]
    if mode == "--sandbox":
        argv.append("--sandbox")
    if cpu is not None:
        argv = ["taskset", "-c", str(cpu), *argv]
    log = output.with_suffix(".log")
    started = time.perf_counter()
    with log.open("w") as err, output.with_suffix(".out").open("w") as out:
        process = subprocess.Popen(
            argv, cwd=REPO, env={**os.environ, **env}, stdout=out, stderr=err
        )
        deadline = started + timeout
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                process.kill()
                raise RuntimeError(f"quote-bulk ran over {timeout:.0f} s")
            time.sleep(0.05)
    wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
    text = output.with_suffix(".out").read_text().strip()
    summary = json.loads(text.splitlines()[-1]) if text else {}
    with output.open() as lines:
        answered = sum(1 for _ in lines)
    return {
        "exit": process.returncode,
        "peak_rss_mb": usage.ru_maxrss / 1024,
        "wall_s": wall,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "output_lines": answered,
        "summary": summary,
        "stderr_tail": log.read_text()[-500:] if process.returncode else "",
    }


def main(argv: list[str] | None = None) -> int:
    """Measure every (size, mode) and print the README's table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", help="carts, comma-separated (10000,30000,100000)")
    parser.add_argument("--modes", default=",".join(MODES), help="comma-separated")
    parser.add_argument("--json", type=Path, help="also write every run here")
    parser.add_argument("--smoke", action="store_true", help="100 and 300 carts")
    args = parser.parse_args(argv)
    if args.sizes is None:
        args.sizes = "100,300" if args.smoke else "10000,30000,100000"
    sizes = [int(size) for size in args.sizes.split(",") if size]
    modes = [mode for mode in args.modes.split(",") if mode]
    client_cpu, server_cpu = cores()
    runs = []
    with tempfile.TemporaryDirectory(prefix="bench-quote-bulk-") as directory:
        folder = Path(directory)
        for size in sizes:
            write_csv(folder / f"carts-{size}.csv", size)
        for mode in modes:  # the sizes of one set-up together: its growth reads first
            for size in sizes:
                source = folder / f"carts-{size}.csv"
                output = folder / f"out-{size}-{mode.strip('-')}.jsonl"
                timeout = 120 + size * 0.01
                if mode == "external":
                    with sandbox_process(cpu=server_cpu) as sandbox:
                        run = run_cli(source, output, mode, sandbox.env, client_cpu, timeout)
                else:
                    run = run_cli(source, output, mode, {}, client_cpu, timeout)
                run.update(carts=size, mode=mode, csv_mb=source.stat().st_size / 2**20)
                runs.append(run)
                with contextlib.suppress(OSError):
                    output.unlink()
                print(
                    f"{size:7d} carts {mode:9} exit {run['exit']} peak RSS "
                    f"{run['peak_rss_mb']:6.1f} MB {run['wall_s']:6.1f} s "
                    f"{run['output_lines']} lines",
                    file=sys.stderr,
                    flush=True,
                )
    lines = [
        f"Measured {stamp()}",
        "",
        "| carts | CSV MB | set-up | peak RSS MB | wall s | carts/s | CLI CPU s "
        "| output lines | exit |",
        "|---:|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for run in runs:
        lines.append(
            f"| {run['carts']} | {run['csv_mb']:.1f} | {run['mode']} | {run['peak_rss_mb']:.1f} "
            f"| {run['wall_s']:.1f} | {run['carts'] / run['wall_s']:.0f} | {run['cpu_s']:.1f} "
            f"| {run['output_lines']} | {run['exit']} |"
        )
    print("\n".join(lines))
    write_json(args.json, {"runs": runs})
    return 0


if __name__ == "__main__":
    sys.exit(main())
