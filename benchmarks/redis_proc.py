"""A throwaway redis-server: a free loopback port, a temp dir, no persistence, stopped after."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from benchmarks.procs import free_port

REDIS_SERVER = shutil.which("redis-server") or (
    "/usr/bin/redis-server" if Path("/usr/bin/redis-server").exists() else None
)


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as connection:
            connection.sendall(b"PING\r\n")
            return connection.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@contextlib.contextmanager
def redis_server(cpu: int | None = None) -> Iterator[str]:
    """Run redis-server for the block; yield its ``redis://`` URL."""
    if REDIS_SERVER is None:
        raise RuntimeError("redis-server is not installed (apt-get install -y redis-server)")
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="bench-redis-") as directory:
        argv = [REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--dir", directory]
        argv += ["--save", "", "--appendonly", "no", "--loglevel", "warning"]
        argv += ["--logfile", str(Path(directory) / "redis.log")]
        if cpu is not None and shutil.which("taskset"):
            argv = ["taskset", "-c", str(cpu), *argv]
        process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 10
            while not _answers(port):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("redis-server did not start")
                time.sleep(0.02)
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
