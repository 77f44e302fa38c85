"""The `digipix demo` command: the sandbox tour with --sandbox or without credentials
(said on stderr), read-only against the credentials' server otherwise."""

from __future__ import annotations

import asyncio
import io
import os
import sys

import pytest

from digipix_async.cli import main
from digipix_async.sandbox import SandboxServer


def test_demo_without_credentials_runs_every_flow_on_the_sandbox(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("DIGIPIX_CLIENT_ID", raising=False)
    monkeypatch.delenv("DIGIPIX_CLIENT_SECRET", raising=False)
    out, err = io.StringIO(), io.StringIO()

    assert main(["demo"], out=out, err=err) == 0

    # Never silently: the user is told the demo runs on a sandbox, not their account.
    assert err.getvalue() == (
        "digipix demo: no credentials in the environment (DIGIPIX_CLIENT_ID, "
        "DIGIPIX_CLIENT_SECRET): running every flow on an embedded sandbox\n"
    )

    text = out.getvalue()
    for heading in ("Products", "Quote", "Flow 1", "Flow 2", "Flow 3", "Life cycle", "Summary"):
        assert f"== {heading}" in text
    assert "CANCELED" in text
    assert "is DELIVERED" in text
    assert "token requests the sandbox saw: 1" in text
    # The flow 1 order's notifications reached the demo's verified receiver, in order.
    notified = [
        line.split(" is ")[1].split()[0] for line in text.splitlines() if "notified:" in line
    ]
    assert notified == ["APPROVED,", "IN_MANUFACTURING,", "SHIPPED", "DELIVERED"]
    assert "status notifications delivered to the receiver: 4" in text


async def run_demo(sandbox: SandboxServer, secret: str, *args: str) -> tuple[int, str, str]:
    env = dict(os.environ)
    env.update(
        DIGIPIX_CLIENT_ID=sandbox.client_id,
        DIGIPIX_CLIENT_SECRET=secret,
        DIGIPIX_BASE_URL=sandbox.base_url,
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "digipix_async",
        "demo",
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return process.returncode, stdout.decode(), stderr.decode()


async def test_demo_with_credentials_is_read_only() -> None:
    async with SandboxServer() as sandbox:
        status, stdout, _ = await run_demo(sandbox, sandbox.client_secret)

        assert status == 0
        assert "read-only tour" in stdout
        assert "== Quote" in stdout
        assert "Flow 1" not in stdout
        assert sandbox.request_count("POST", "/v1/orders") == 0


async def test_demo_with_credentials_and_sandbox_never_touches_the_credentials_server() -> None:
    async with SandboxServer() as account:
        status, stdout, stderr = await run_demo(account, account.client_secret, "--sandbox")

        assert status == 0, stderr
        assert "== Flow 3" in stdout
        assert "is DELIVERED" in stdout
        assert account.requests == []  # the embedded sandbox did it all


async def test_demo_with_wrong_credentials_fails_cleanly_without_the_secret() -> None:
    async with SandboxServer() as sandbox:
        status, stdout, stderr = await run_demo(sandbox, "not-the-secret")

    assert status == 1
    assert "AuthenticationError" in stderr
    assert "not-the-secret" not in stdout + stderr
