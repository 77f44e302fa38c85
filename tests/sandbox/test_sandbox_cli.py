"""`python -m digipix_async.sandbox` in a subprocess: prints its URL, serves, stops on SIGTERM."""

from __future__ import annotations

import asyncio
import re
import sys

import aiohttp

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
    assert b"client_secret: cli-secret" in stdout
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
