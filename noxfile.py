"""The whole developer workflow: ``nox`` runs the tests on every supported Python, lint,
the package's types, the user-side typing check and the docs build.

``nox -s tests-3.12`` runs one Python; ``nox -s tests -- -k webhooks`` passes pytest
arguments; ``nox -s bench -- --smoke`` checks the benchmark harness.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import nox

PYTHONS = ["3.11", "3.12", "3.13"]  # keep in step with pyproject's classifiers
ROOT = Path(__file__).parent


def _let_pyenv_shims_find_every_python() -> None:
    """Make ``python3.12`` & co. resolve where pyenv manages the interpreters.

    A pyenv shim runs only the versions pyenv has selected (``pyenv global``
    usually names one), so ``python3.13`` fails even with 3.13 installed and nox
    would skip that session. Selecting the newest installed patch of each supported
    version (what ``pyenv global 3.11.7 3.12.1 3.13.0`` would do) lets nox find them
    all; nothing changes where PYENV_VERSION is already set or pyenv is absent.
    """
    if "PYENV_VERSION" in os.environ or shutil.which("pyenv") is None:
        return
    versions = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    newest: dict[str, tuple[int, str]] = {}
    for entry in versions.iterdir() if versions.is_dir() else ():
        match = re.fullmatch(r"(3\.\d+)\.(\d+)", entry.name)
        if match and match[1] in PYTHONS:
            newest[match[1]] = max(newest.get(match[1], (-1, "")), (int(match[2]), entry.name))
    if newest:
        os.environ["PYENV_VERSION"] = ":".join(newest[v][1] for v in PYTHONS if v in newest)


_let_pyenv_shims_find_every_python()

nox.options.sessions = ["tests", "lint", "typecheck", "typing", "docs"]
nox.options.default_venv_backend = "venv"
# Interpreters come from this machine (PATH or pyenv), never from a download.
nox.options.download_python = "never"


# allow_parallel: each Python has its own venv, and the tests bind free loopback
# ports only, so ``nox -j 2 -s tests`` may run two Pythons at once (CI does).
@nox.session(python=PYTHONS, allow_parallel=True)
def tests(session: nox.Session) -> None:
    """Run the test suite (unit tests and the sandbox over loopback sockets)."""
    session.install("-e", ".[test]")
    session.run("python", "-m", "pytest", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check."""
    session.install("ruff")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict on the package."""
    session.install("-e", ".[test]", "mypy")
    session.run("mypy", "--strict", "digipix_async")


@nox.session(name="typing")
def user_typing(session: nox.Session) -> None:
    """Users' view of the types: tests/typing under mypy --strict and pyright strict."""
    session.install("-e", ".[test]", "mypy", "pyright")
    session.run("mypy", "--strict", "tests/typing", "examples")
    # strict mode comes from tests/typing/pyrightconfig.json.
    session.run("pyright", "-p", "tests/typing")


@nox.session
def docs(session: nox.Session) -> None:
    """Build the docs site with warnings as errors (mkdocs build --strict)."""
    if not (ROOT / "mkdocs.yml").exists():
        session.skip("no mkdocs.yml yet: the docs site is not written, nothing to build")
    session.install("-e", ".[docs]")
    # Built under .nox/, not into the work tree: CI only checks that it builds.
    site = Path(session.create_tmp()) / "site"
    session.run("mkdocs", "build", "--strict", "--site-dir", str(site))


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks against raw aiohttp and httpx+authlib (``nox -s bench -- --smoke``)."""
    session.install("-e", ".[bench]")
    session.run("python", "-m", "benchmarks.run", *session.posargs)
