"""Run ``digipix`` in-process or as a real process, for the command-line tests.

A module of its own, not conftest.py: several test folders have a conftest, and
``from conftest import`` would get whichever was imported first.
"""

from __future__ import annotations

import asyncio
import io
import os
import sys
from collections.abc import Mapping

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


async def start(*args: str, env: Mapping[str, str] | None = None) -> asyncio.subprocess.Process:
    """Start ``python -m digipix_async args`` with its output piped."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "digipix_async",
        *args,
        env=dict(env) if env is not None else None,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def run(*args: str, env: Mapping[str, str] | None = None) -> tuple[int, str, str]:
    """Run ``python -m digipix_async args`` to the end; return (status, stdout, stderr)."""
    process = await start(*args, env=env)
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode is not None
    return process.returncode, stdout.decode(), stderr.decode()
