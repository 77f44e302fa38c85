"""A redis-server process for the store tests: a free loopback port, no persistence."""

from __future__ import annotations

import pathlib
import shutil
import socket
import subprocess
import time

import pytest
import redis

__all__ = ["SKIP_REASON", "RedisServer"]

REDIS_SERVER = shutil.which("redis-server")
SKIP_REASON = (
    "redis-server is not on PATH (install it with `apt-get install -y redis-server`): "
    "the RedisStore tests need a real server"
)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class RedisServer:
    """One redis-server process that a test can stop and start again on the same port."""

    def __init__(self, directory: pathlib.Path) -> None:
        if REDIS_SERVER is None:
            pytest.skip(SKIP_REASON)
        self.directory = directory
        self.port = _free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        assert REDIS_SERVER is not None
        assert self.process is None
        self.process = subprocess.Popen(
            [
                REDIS_SERVER,
                "--port", str(self.port),
                "--bind", "127.0.0.1",
                "--dir", str(self.directory),
                "--save", "",
                "--appendonly", "no",
                "--enable-debug-command", "local",
                "--loglevel", "warning",
                "--logfile", str(self.directory / "redis.log"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        with redis.Redis(port=self.port, socket_timeout=1, socket_connect_timeout=1) as client:
            while True:
                try:
                    client.ping()
                    return
                except redis.ConnectionError:
                    if self.process.poll() is not None or time.monotonic() > deadline:
                        self.stop()
                        log = (self.directory / "redis.log").read_text(errors="replace")
                        raise RuntimeError(f"redis-server did not start:\n{log}") from None
                    time.sleep(0.02)

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None
