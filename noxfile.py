"""The whole developer workflow: `nox` runs tests, lint and typecheck."""

from __future__ import annotations

import nox

nox.options.sessions = ["tests", "lint", "typecheck"]
nox.options.default_venv_backend = "venv"


@nox.session
def tests(session: nox.Session) -> None:
    """Run the test suite (unit tests and the sandbox over loopback sockets)."""
    session.install("-e", ".[test]")
    session.run("pytest", *session.posargs)


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


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks against raw aiohttp and httpx+authlib (``nox -s bench -- --smoke``)."""
    session.install("-e", ".[bench]")
    session.run("python", "-m", "benchmarks.run", *session.posargs)
