"""Run ``digipix`` in-process or as a real process, for the command-line tests.

A module of its own, not conftest.py: several test folders have a conftest, and
``from conftest import`` would get whichever was imported first.
"""

from __future__ import annotations

import asyncio
import io
import os
import signal
import sys
from collections.abc import Callable, Mapping

from digipix_async.cli import main
from digipix_async.sandbox import SandboxServer

CREDENTIALS = ("DIGIPIX_CLIENT_ID", "DIGIPIX_CLIENT_SECRET", "DIGIPIX_BASE_URL",
               "DIGIPIX_ENVIRONMENT", "DIGIPIX_LOG")  # fmt: skip


def invoke(*args: str) -> tuple[int, str, str]:
    """Run ``digipix args`` in this process; return (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    status = main(list(args), out=out, err=err)
    return status, out.getvalue(), err.getvalue()


def sandbox_env(sandbox: SandboxServer, **more: str) -> dict[str, str]:
    """Return an environment whose credentials point at ``sandbox``."""
    env = {key: value for key, value in os.environ.items() if key not in CREDENTIALS}
    env.update(
        DIGIPIX_CLIENT_ID=sandbox.client_id,
        DIGIPIX_CLIENT_SECRET=sandbox.client_secret,
        DIGIPIX_BASE_URL=sandbox.base_url,
        **more,
    )
    return env


def _cap_file_size(limit: int) -> Callable[[], None]:
    """A child's set-up: no file it writes may grow past ``limit`` bytes (EFBIG, as a
    full disk refuses with ENOSPC), and the signal that would kill it is ignored."""

    def cap() -> None:
        import resource  # POSIX only

        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return cap


async def start(
    *args: str, env: Mapping[str, str] | None = None, max_file_size: int | None = None
) -> asyncio.subprocess.Process:
    """Start ``python -m digipix_async args`` with its output piped.

    ``max_file_size``: no file the child writes may grow past it (a full disk, without
    root or a small filesystem).
    """
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "digipix_async",
        *args,
        env=dict(env) if env is not None else None,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        preexec_fn=None if max_file_size is None else _cap_file_size(max_file_size),
    )


async def run(
    *args: str, env: Mapping[str, str] | None = None, max_file_size: int | None = None
) -> tuple[int, str, str]:
    """Run ``python -m digipix_async args`` to the end; return (status, stdout, stderr)."""
    process = await start(*args, env=env, max_file_size=max_file_size)
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode is not None
    return process.returncode, stdout.decode(), stderr.decode()
