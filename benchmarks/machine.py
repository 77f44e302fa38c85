"""What the numbers were measured on: CPU, cores, Python, package versions, server."""

from __future__ import annotations

import os
import platform
import subprocess
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from benchmarks.fake_server import nginx_path

PACKAGES = ("digipix_async", "aiohttp", "attrs", "cattrs", "httpx", "authlib", "pydantic")
_REPO = Path(__file__).resolve().parent.parent


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _package(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


def _command(*argv: str) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return (done.stdout or done.stderr).strip() or "unknown"


def machine_info() -> dict[str, Any]:
    """Return the facts the README and latest.json record with every run."""
    nginx = nginx_path()
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "nproc": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": {name: _package(name) for name in PACKAGES},
        "nginx": _command(nginx, "-v") if nginx else "not installed",
        "git_commit": _command("git", "-C", str(_REPO), "rev-parse", "--short", "HEAD"),
        # Read-only: which SDK files differ from that commit while the numbers were taken.
        "sdk_uncommitted": [
            line[3:]
            for line in _command(
                "git", "-C", str(_REPO), "status", "--porcelain", "--", "digipix_async"
            ).splitlines()
            if line[3:] and line != "unknown"
        ],
    }


def machine_markdown(info: dict[str, Any]) -> str:
    """Render machine_info() as a markdown list."""
    packages = ", ".join(f"{k} {v}" for k, v in info["packages"].items())
    return "\n".join(
        [
            f"- date: {info['date']}; git commit {info['git_commit']}; SDK files uncommitted "
            f"at start: {', '.join(info['sdk_uncommitted']) or 'none'}",
            f"- CPU: {info['cpu_model']}, nproc = {info['nproc']}",
            f"- Python {info['python']} on {info['platform']}",
            f"- packages: {packages}",
            f"- {info['nginx']}",
        ]
    )
