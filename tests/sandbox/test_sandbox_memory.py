"""The standalone sandbox's memory is bounded: 50,000 requests to unique paths, RSS measured.

The sandbox runs in its own process (``python -m digipix_async.sandbox``) and this test
reads its peak resident size from ``/proc/<pid>/status`` (VmHWM) after a warm-up and
after the flood. Measured on the development machine (2 cores, Python 3.11):

- before the fix (a counter per raw path, the latest 100,000 paths kept): 43.5 -> 63.1 MB,
  the peak grew 19.6 MB, about 400 bytes per request and growing with every new path;
- after it (counters per route template, 10,000 entries with paths cut at 200): 44.4 ->
  46.1 MB, the peak grew 1.7 MB.

The bound, 10 MB, leaves about 6x the measured growth for allocator noise and stays at
half of what the unbounded counters cost in this very run.
"""

from __future__ import annotations

import asyncio
import re
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(
    not Path("/proc/self/status").exists(), reason="reads peak RSS from /proc (Linux)"
)

REQUESTS = 50_000
WARM_UP = 5_000
CONNECTIONS = 4
BATCH = 250  # requests pipelined on one connection before reading their answers
GROWTH_BOUND_MB = 10  # measured 1.7 MB; per-path counters cost 19.6 MB in this run
PADDING = "p" * 150  # long unique paths: each kept one would cost > 200 bytes


def _memory_mb(pid: int) -> dict[str, float]:
    """Return the process's resident (VmRSS) and peak resident (VmHWM) size in MB."""
    fields = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
    )
    return {key: int(fields[key].split()[0]) / 1024 for key in ("VmRSS", "VmHWM")}


async def _flood(port: int, start: int, count: int) -> None:
    """Send `count` GETs of unique unknown paths, pipelined, and read every answer."""

    async def one_connection(first: int, last: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            for batch_start in range(first, last, BATCH):
                numbers = range(batch_start, min(batch_start + BATCH, last))
                writer.write(
                    b"".join(
                        f"GET /nowhere/{n}/{PADDING} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
                        for n in numbers
                    )
                )
                await writer.drain()
                for _ in numbers:
                    status = await reader.readline()
                    assert status.startswith(b"HTTP/1.1 404"), status
                    length = 0
                    while (line := await reader.readline()) not in (b"\r\n", b""):
                        if line.lower().startswith(b"content-length:"):
                            length = int(line.split(b":")[1])
                    await reader.readexactly(length)
        finally:
            writer.close()

    share = count // CONNECTIONS
    async with asyncio.timeout(300):
        await asyncio.gather(
            *(
                one_connection(start + i * share, start + (i + 1) * share)
                for i in range(CONNECTIONS)
            )
        )


async def test_unique_unknown_paths_do_not_grow_the_sandbox() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "digipix_async.sandbox",
        "--port",
        "0",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    assert process.stdout is not None
    try:
        async with asyncio.timeout(30):
            line = (await process.stdout.readline()).decode()
        match = re.search(r"http://127\.0\.0\.1:(\d+)", line)
        assert match, line
        port = int(match.group(1))

        # Fill the bounded structures (request log, aiohttp's caches) before measuring.
        await _flood(port, 0, WARM_UP)
        before = _memory_mb(process.pid)
        await _flood(port, WARM_UP, REQUESTS)
        after = _memory_mb(process.pid)
    finally:
        process.terminate()
        await asyncio.wait_for(process.communicate(), timeout=30)

    growth = after["VmHWM"] - before["VmHWM"]
    print(f"sandbox RSS {before} -> {after}: peak grew {growth:.1f} MB over {REQUESTS} requests")
    assert growth < GROWTH_BOUND_MB, (before, after)
