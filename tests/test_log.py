"""DIGIPIX_LOG sets the SDK logger's level at import, with visible output."""

from __future__ import annotations

import os
import subprocess
import sys

PROBE = (
    "import logging, digipix_async\n"
    "log = logging.getLogger('digipix_async')\n"
    "print(logging.getLevelName(log.getEffectiveLevel()), len(log.handlers))\n"
    "log.debug('probe line')\n"
)


def run_probe(value: str | None) -> subprocess.CompletedProcess[str]:
    env = {key: item for key, item in os.environ.items() if key != "DIGIPIX_LOG"}
    if value is not None:
        env["DIGIPIX_LOG"] = value
    return subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=60
    )


def test_digipix_log_debug_shows_debug_lines() -> None:
    result = run_probe("debug")

    assert result.stdout.split() == ["DEBUG", "1"]
    assert "digipix_async DEBUG probe line" in result.stderr


def test_without_digipix_log_the_sdk_stays_quiet() -> None:
    result = run_probe(None)

    assert result.stdout.split() == ["WARNING", "0"]
    assert result.stderr == ""


def test_a_wrong_level_is_reported_not_fatal() -> None:
    result = run_probe("chatty")

    assert result.returncode == 0
    assert "DIGIPIX_LOG='CHATTY' is not a logging level" in result.stderr
