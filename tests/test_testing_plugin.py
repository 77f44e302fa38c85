"""The pytest plugin as users meet it: cheap to load, working in both pytest-asyncio modes.

Most tests here run pytest or Python in a subprocess: what is imported, and how a
user's own pytest configuration treats the fixtures, can only be seen from a fresh
interpreter.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import digipix_async
from digipix_async import DigipixClient, RetryPolicy, testing
from digipix_async.sandbox import SandboxServer

# What a pytest run has loaded before it loads our plugin.
PYTEST_PRELUDE = "import sys, pytest, pytest_asyncio\n"
HEAVY = ("digipix_async._client", "digipix_async.sandbox", "aiohttp")


def clean_env() -> dict[str, str]:
    """Return this environment for a child that imports the same digipix_async as we do.

    Without what would change how a child pytest behaves.
    """
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DIGIPIX_", "PYTEST_"))
    }
    source = str(Path(digipix_async.__file__).parents[1])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [source, env.get("PYTHONPATH")]))
    return env


def run_python(code: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=cwd,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )


def imported_by(code: str) -> list[str]:
    """Return the heavy modules (see HEAVY) loaded once ``code`` has run."""
    probe = (
        PYTEST_PRELUDE
        + code
        + "\nimport json\n"
        + f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))\n"
    )
    result = run_python(probe)
    assert result.returncode == 0, result.stderr
    loaded: list[str] = json.loads(result.stdout)
    return loaded


# -- import cost ---------------------------------------------------------------------------


def test_the_plugin_adds_only_itself_to_what_the_package_imports() -> None:
    result = run_python(
        PYTEST_PRELUDE
        + "import digipix_async\n"
        + "before = set(sys.modules)\n"
        + "import digipix_async.testing\n"
        + "print(sorted(set(sys.modules) - before))\n"
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "['digipix_async.testing']"


def test_loading_the_plugin_imports_neither_the_client_the_sandbox_nor_aiohttp() -> None:
    # The plugin is a submodule, so the package's __init__ runs first: it must stay lazy.
    assert imported_by("import digipix_async.testing") == []


def test_the_mock_transport_is_imported_when_first_used() -> None:
    result = run_python(
        PYTEST_PRELUDE
        + "import digipix_async.testing\n"
        + "print('digipix_async.testing._mock' in sys.modules)\n"
        + "from digipix_async.testing import MockRequest, MockTransport, Response\n"
        + "print(MockTransport.__module__, Response.__name__, MockRequest.__name__)\n"
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "False",
        "digipix_async.testing._mock",
        "MockResponse",
        "MockRequest",
    ]


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="has no attribute 'MockServer'"):
        _ = testing.MockServer


def test_a_fixture_imports_the_sdk_when_a_test_requests_it(tmp_path: Path) -> None:
    write_project(
        tmp_path,
        "auto",
        """
        import sys


        async def test_client(digipix_client):
            assert "digipix_async._client" in sys.modules
            assert "digipix_async.sandbox" in sys.modules
        """,
    )

    result = run_pytest(tmp_path)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout


# -- pytest-asyncio modes ------------------------------------------------------------------

# The ini each mode's README paragraph tells users to write.
INI = {
    "strict": """
        [pytest]
        asyncio_mode = strict
        asyncio_default_fixture_loop_scope = function
        filterwarnings = error
        """,
    "auto": """
        [pytest]
        asyncio_mode = auto
        asyncio_default_fixture_loop_scope = function
        filterwarnings = error
        """,
}

# A user's tests as the README writes them for each mode: in strict mode every
# async test carries the asyncio mark and the user's own async fixtures are
# pytest_asyncio fixtures; in auto mode neither is needed.
USER_TESTS = """
    import pytest
    import pytest_asyncio

    from digipix_async import DigipixClient, Product
    from digipix_async.sandbox import SandboxServer


    @{fixture}
    async def first_product(digipix_client: DigipixClient) -> Product:
        return (await digipix_client.products.list())[0]

    {mark}
    async def test_the_client_talks_to_the_sandbox(
        digipix_client: DigipixClient, digipix_sandbox: SandboxServer, first_product: Product
    ) -> None:
        product = await digipix_client.products.get(first_product.id)

        assert product.id == first_product.id
        assert digipix_sandbox.request_count("GET", "/v1/products") == 1

    {mark}
    async def test_faults_are_retried_without_waiting(
        digipix_client: DigipixClient,
        digipix_sandbox: SandboxServer,
        digipix_no_retry_waits: None,
    ) -> None:
        digipix_sandbox.faults.add("status", status=503, path="/v1/products", times=2)

        assert await digipix_client.products.list()
        assert digipix_sandbox.request_count("GET", "/v1/products") == 3

    {mark}
    async def test_each_test_gets_a_fresh_sandbox(digipix_sandbox: SandboxServer) -> None:
        assert digipix_sandbox.requests == []
"""


def write_project(root: Path, mode: str, tests: str) -> None:
    (root / "pytest.ini").write_text(textwrap.dedent(INI[mode]))
    (root / "test_user.py").write_text(textwrap.dedent(tests))


def run_pytest(
    root: Path, *args: str, first: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run pytest in ``root``, with ``first`` (if given) first on its import path."""
    env = clean_env()
    if first is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(first), env["PYTHONPATH"]])
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.parametrize(
    ("mode", "fixture", "mark"),
    [
        ("strict", "pytest_asyncio.fixture", "@pytest.mark.asyncio"),
        ("auto", "pytest.fixture", ""),
    ],
)
def test_the_async_fixtures_work_in_each_pytest_asyncio_mode(
    tmp_path: Path, mode: str, fixture: str, mark: str
) -> None:
    write_project(tmp_path, mode, USER_TESTS.format(fixture=fixture, mark=mark))

    result = run_pytest(tmp_path)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 passed" in result.stdout


def test_without_pytest_asyncio_a_fixture_says_what_to_install(tmp_path: Path) -> None:
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "test_user.py").write_text("def test_uses_the_client(digipix_client):\n    pass\n")
    # pytest-asyncio is installed here: shadow it with a package that cannot be
    # imported, and keep pytest from loading it as a plugin.
    hidden = tmp_path / "hidden" / "pytest_asyncio"
    hidden.mkdir(parents=True)
    (hidden / "__init__.py").write_text("raise ImportError('pytest-asyncio is not installed')\n")

    result = run_pytest(tmp_path, "-p", "no:asyncio", first=hidden.parent)

    assert result.returncode == 1, result.stdout + result.stderr
    assert (
        "the digipix_client fixture is async and needs pytest-asyncio: "
        "pip install 'digipix_async[testing]'"
    ) in result.stdout
    assert "1 error" in result.stdout


# -- set_testing ---------------------------------------------------------------------------


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[float]]:
    """Record every asyncio.sleep longer than 10 ms (still slept), and reset set_testing."""
    real_sleep = asyncio.sleep
    seen: list[float] = []

    async def sleep(delay: float, result: object = None) -> object:
        if delay > 0.01:
            seen.append(delay)
        return await real_sleep(delay, result)

    monkeypatch.setattr(asyncio, "sleep", sleep)
    try:
        yield seen
    finally:
        testing.set_testing(False)


async def list_products(sandbox: SandboxServer, **options: Any) -> None:
    async with DigipixClient(
        sandbox.client_id, sandbox.client_secret, base_url=sandbox.base_url, **options
    ) as client:
        assert await client.products.list()


async def test_set_testing_skips_the_backoff_waits(
    digipix_sandbox: SandboxServer, sleeps: list[float]
) -> None:
    digipix_sandbox.faults.add("status", status=503, path="/v1/products", times=2)
    testing.set_testing(True)

    await list_products(digipix_sandbox, retry_policy=RetryPolicy(initial_wait=2.0))

    assert sleeps == []
    assert digipix_sandbox.request_count("GET", "/v1/products") == 3


async def test_set_testing_skips_the_retry_after_waits(
    digipix_sandbox: SandboxServer, sleeps: list[float], caplog: pytest.LogCaptureFixture
) -> None:
    digipix_sandbox.faults.add("rate_limit", path="/v1/products", retry_after=1, times=2)
    testing.set_testing(True)

    with caplog.at_level(logging.WARNING, logger="digipix_async"):
        await list_products(digipix_sandbox)

    # The wait is still decided and logged, so a test can check Retry-After was honoured.
    assert [getattr(r, "retry_wait", None) for r in caplog.records] == [1.0, 1.0]
    assert sleeps == []


async def test_set_testing_false_turns_the_waits_back_on(
    digipix_sandbox: SandboxServer, sleeps: list[float]
) -> None:
    digipix_sandbox.faults.add("rate_limit", path="/v1/products", retry_after=1, times=2)
    testing.set_testing(True)
    testing.set_testing(False)

    await list_products(digipix_sandbox)

    assert sum(sleeps) == pytest.approx(2.0, abs=0.2)  # Retry-After: 1, twice
