"""`python -m digipix_async.sandbox` in a subprocess: prints its URL, serves, stops on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import re
import shlex
import sys
from asyncio.subprocess import Process

import aiohttp
import pytest

from digipix_async.sandbox.__main__ import build_parser


def test_parser_defaults_and_help_text() -> None:
    args = build_parser().parse_args(["--port", "0", "--rate-limit", "0.25"])
    assert (args.host, args.port, args.rate_limit, args.token_lifetime) == (
        "127.0.0.1",
        0,
        0.25,
        3600,
    )
    assert "--drop-rate" in build_parser().format_help()


async def test_cli_serves_until_sigterm(http: aiohttp.ClientSession) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "digipix_async.sandbox",
        "--port",
        "0",
        "--client-id",
        "cli-id",
        "--client-secret",
        "cli-secret",
        "--token-lifetime",
        "120",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None
    try:
        async with asyncio.timeout(20):
            line = (await process.stdout.readline()).decode()
        match = re.search(r"(http://127\.0\.0\.1:\d+)", line)
        assert match, line
        base_url = match.group(1)
        body = {
            "client_id": "cli-id",
            "client_secret": "cli-secret",
            "grant_type": "client_credentials",
            "scope": ["products"],
        }
        async with http.post(f"{base_url}/v1/oauth/token", json=body) as response:
            assert response.status == 200
            assert (await response.json())["expires_in"] == 120
    finally:
        if process.returncode is None:
            process.terminate()
        stdout, _ = await asyncio.wait_for(process.communicate(), timeout=20)
    assert process.returncode == 0
    assert b"export DIGIPIX_CLIENT_SECRET=cli-secret\n" in stdout
    assert b"stopped" in stdout


async def test_cli_reports_a_taken_port() -> None:
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "digipix_async.sandbox",
            "--port",
            str(port),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        _, stderr = await asyncio.wait_for(process.communicate(), timeout=20)
    finally:
        server.close()
        await server.wait_closed()
    assert process.returncode == 1
    assert b"cannot serve" in stderr


async def _start(*args: str, env: dict[str, str] | None = None) -> tuple[Process, list[str]]:
    """Start the CLI; return it and the lines it printed before "Press Ctrl-C"."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "digipix_async.sandbox",
        "--port",
        "0",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, **(env or {})},
    )
    assert process.stdout is not None
    lines: list[str] = []
    async with asyncio.timeout(20):
        while not lines or not lines[-1].startswith("Press Ctrl-C"):
            line = (await process.stdout.readline()).decode()
            assert line, lines  # the process ended early
            lines.append(line.rstrip("\n"))
    return process, lines


async def _stop(process: Process) -> None:
    if process.returncode is None:
        process.terminate()
    await asyncio.wait_for(process.communicate(), timeout=20)
    assert process.returncode == 0


def _exports(lines: list[str]) -> dict[str, str]:
    exports = {}
    for line in lines:
        if line.startswith("export "):
            name, _, value = line.removeprefix("export ").partition("=")
            (exports[name],) = shlex.split(value)
    return exports


async def test_cli_prints_ready_to_paste_exports(http: aiohttp.ClientSession) -> None:
    secret = "it's a $ecret; with spaces"
    process, lines = await _start("--client-id", "dev-id", "--client-secret", secret)
    try:
        exports = _exports(lines)
        assert sorted(exports) == ["DIGIPIX_BASE_URL", "DIGIPIX_CLIENT_ID", "DIGIPIX_CLIENT_SECRET"]
        assert exports["DIGIPIX_CLIENT_ID"] == "dev-id"
        assert not any("DIGIPIX_SANDBOX" in line for line in lines)  # no hint: they are fixed
        assert exports["DIGIPIX_CLIENT_SECRET"] == secret
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", exports["DIGIPIX_BASE_URL"])
        # What a shell makes of the pasted lines is exactly the credentials.
        script = "\n".join(line for line in lines if line.startswith("export "))
        shell = await asyncio.create_subprocess_exec(
            "sh",
            "-c",
            script + '\nprintf "%s\\n%s" "$DIGIPIX_CLIENT_ID" "$DIGIPIX_CLIENT_SECRET"',
            stdout=asyncio.subprocess.PIPE,
        )
        out, _ = await asyncio.wait_for(shell.communicate(), timeout=20)
        assert out.decode() == f"dev-id\n{secret}"
        body = {
            "client_id": exports["DIGIPIX_CLIENT_ID"],
            "client_secret": exports["DIGIPIX_CLIENT_SECRET"],
            "grant_type": "client_credentials",
        }
        url = f"{exports['DIGIPIX_BASE_URL']}/v1/oauth/token"
        async with http.post(url, json=body) as response:
            assert response.status == 200
    finally:
        await _stop(process)


async def test_cli_reads_fixed_credentials_from_the_environment() -> None:
    env = {"DIGIPIX_SANDBOX_CLIENT_ID": "env-id", "DIGIPIX_SANDBOX_CLIENT_SECRET": "env-secret"}
    first, lines = await _start(env=env)
    await _stop(first)
    second, again = await _start(env=env)  # a restart: the developer's shell keeps working
    await _stop(second)
    for printed in (lines, again):
        exports = _exports(printed)
        assert (exports["DIGIPIX_CLIENT_ID"], exports["DIGIPIX_CLIENT_SECRET"]) == (
            "env-id",
            "env-secret",
        )
    flags_win, lines = await _start("--client-id", "flag-id", env=env)
    await _stop(flags_win)
    assert _exports(lines)["DIGIPIX_CLIENT_ID"] == "flag-id"


async def test_cli_without_credentials_generates_them() -> None:
    env = {"DIGIPIX_SANDBOX_CLIENT_ID": "", "DIGIPIX_SANDBOX_CLIENT_SECRET": ""}
    process, lines = await _start(env=env)
    await _stop(process)
    exports = _exports(lines)
    assert exports["DIGIPIX_CLIENT_ID"].startswith("sandbox-")
    assert len(exports["DIGIPIX_CLIENT_SECRET"]) >= 24
    assert any("DIGIPIX_SANDBOX_CLIENT_ID" in line for line in lines)  # how to keep them


async def test_cli_rate_limit_rps(http: aiohttp.ClientSession) -> None:
    process, lines = await _start("--rate-limit-rps", "3", "--max-concurrent", "50")
    try:
        exports = _exports(lines)
        body = {
            "client_id": exports["DIGIPIX_CLIENT_ID"],
            "client_secret": exports["DIGIPIX_CLIENT_SECRET"],
            "grant_type": "client_credentials",
        }
        base = exports["DIGIPIX_BASE_URL"]
        async with http.post(f"{base}/v1/oauth/token", json=body) as response:
            token = (await response.json())["access_token"]
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

        async def one() -> tuple[int, str | None]:
            async with http.get(f"{base}/v1/products", headers=headers) as response:
                return response.status, response.headers.get("Retry-After")

        answers = await asyncio.gather(*(one() for _ in range(10)))
        assert 3 <= [status for status, _ in answers].count(200) < 10
        assert {after for status, after in answers if status == 429} == {"1"}
    finally:
        await _stop(process)


@pytest.mark.parametrize(
    "args", [["--rate-limit-rps", "0"], ["--rate-limit-rps", "inf"], ["--max-concurrent", "0"]]
)
async def test_cli_refuses_nonsense_limits(args: list[str]) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "digipix_async.sandbox",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await asyncio.wait_for(process.communicate(), timeout=20)
    assert process.returncode == 2
    assert b"error" in stderr
