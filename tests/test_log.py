"""The SDK's logger: silent unless the application configures logging or sets DIGIPIX_LOG.

Each test runs a fresh interpreter: the logger is set up when the SDK is imported,
and what reaches stderr without any logging set-up can only be seen from outside.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import digipix_async

PROBE = (
    "import logging\n"
    "from digipix_async import DigipixClient\n"
    "log = logging.getLogger('digipix_async')\n"
    "print(logging.getLevelName(log.getEffectiveLevel()))\n"
    "print(*sorted(type(handler).__name__ for handler in log.handlers))\n"
    "log.debug('probe debug line')\n"
    "log.warning('probe warning line')\n"
)

# A GET answered 503 once, retried (without waiting) and answered: the SDK logs the
# retry at WARNING. "configured" makes the application call logging.basicConfig().
RETRY_PROBE = """
import asyncio
import logging
import sys

from digipix_async import DigipixClient
from digipix_async.sandbox import SandboxServer
from digipix_async.testing import set_testing

if sys.argv[1:] == ["configured"]:
    logging.basicConfig()


async def main() -> None:
    set_testing(True)
    async with SandboxServer() as sandbox:
        sandbox.faults.add("status", status=503, path="/v1/products", times=1)
        async with DigipixClient(
            sandbox.client_id, sandbox.client_secret, base_url=sandbox.base_url
        ) as client:
            await client.products.list()
        print("GET /v1/products sent", sandbox.request_count("GET", "/v1/products"), "times")


asyncio.run(main())
"""


def run(code: str, *args: str, digipix_log: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {key: item for key, item in os.environ.items() if key != "DIGIPIX_LOG"}
    if digipix_log is not None:
        env["DIGIPIX_LOG"] = digipix_log
    # The same digipix_async as this test run imports, wherever the venv points.
    source = str(Path(digipix_async.__file__).parents[1])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [source, env.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, "-c", code, *args], env=env, capture_output=True, text=True, timeout=120
    )


def test_without_digipix_log_the_sdk_stays_quiet() -> None:
    result = run(PROBE)

    assert result.stdout.splitlines() == ["WARNING", "NullHandler"]
    assert result.stderr == ""


def test_digipix_log_debug_shows_debug_lines() -> None:
    result = run(PROBE, digipix_log="debug")

    assert result.stdout.splitlines() == ["DEBUG", "NullHandler StreamHandler"]
    assert "digipix_async DEBUG probe debug line" in result.stderr
    assert "digipix_async WARNING probe warning line" in result.stderr


def test_digipix_log_warning_shows_warnings_only() -> None:
    result = run(PROBE, digipix_log="warning")

    assert "probe debug line" not in result.stderr
    assert "digipix_async WARNING probe warning line" in result.stderr


def test_a_wrong_level_is_reported_not_fatal() -> None:
    result = run(PROBE, digipix_log="chatty")

    assert result.returncode == 0
    assert "DIGIPIX_LOG='CHATTY' is not a logging level" in result.stderr


def test_a_retry_warning_prints_nothing_without_logging_configured() -> None:
    result = run(RETRY_PROBE)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "GET /v1/products sent 2 times"  # it did retry
    assert result.stderr == ""


def test_a_retry_warning_reaches_the_applications_logging() -> None:
    result = run(RETRY_PROBE, "configured")

    assert result.returncode == 0, result.stderr
    assert "WARNING:digipix_async:GET /v1/products: " in result.stderr
    assert "retrying in" in result.stderr


def test_a_retry_warning_reaches_stderr_with_digipix_log() -> None:
    result = run(RETRY_PROBE, digipix_log="warning")

    assert result.returncode == 0, result.stderr
    assert "digipix_async WARNING GET /v1/products: " in result.stderr
