"""pytest plugin: test your app against the embedded sandbox, no credentials needed.

Installed with the package (entry point ``pytest11``), it provides:

- ``digipix_sandbox``: a running `SandboxServer` on loopback, closed after the test;
- ``digipix_client``: a `DigipixClient` pointed at it, closed after the test;
- ``digipix_no_retry_waits``: makes the client's retry waits zero, so tests of
  your own retry handling (fault injection) run in milliseconds.

and, for tests that do not use the fixtures, `set_testing` (the same switch). For unit
tests without sockets, `MockTransport` (with `MockRequest`, `Response` and the `Handler`
type, from ``testing/_mock.py``) goes in ``DigipixClient(..., transport=...)``.

The async fixtures are pytest-asyncio fixtures (``pip install 'digipix_async[testing]'``),
so they work in its strict mode (mark your tests ``@pytest.mark.asyncio``) and in auto
mode alike. They run in the event loop of pytest-asyncio's default fixture loop scope
(``asyncio_default_fixture_loop_scope``, ``function`` unless configured otherwise): keep
your tests' loop scope the same.

pytest imports this module in every run of every environment where the package is
installed, whether or not a test uses it, so it imports neither the client nor the
sandbox (nor aiohttp) itself: each fixture imports what it needs when a test first
requests it, and the mock transport's names are imported on first use (``__getattr__``;
no ``__dir__``, which pytest would walk). Keep it that way
(``tests/test_testing_plugin.py`` checks it).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from digipix_async._client import DigipixClient
    from digipix_async.sandbox import SandboxServer
    from digipix_async.testing._mock import Handler, MockRequest, MockTransport
    from digipix_async.testing._mock import MockResponse as Response

__all__ = [
    "Handler",
    "MockRequest",
    "MockTransport",
    "Response",
    "digipix_client",
    "digipix_no_retry_waits",
    "digipix_sandbox",
    "set_testing",
]

# Public name -> its name in testing/_mock.py, imported by __getattr__ on first use.
_MOCK_NAMES = {
    "Handler": "Handler",
    "MockRequest": "MockRequest",
    "MockTransport": "MockTransport",
    "Response": "MockResponse",
}


def __getattr__(name: str) -> Any:
    """Import the mock transport's names the first time one is used."""
    if name not in _MOCK_NAMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from digipix_async.testing import _mock

    value = getattr(_mock, _MOCK_NAMES[name])
    globals()[name] = value  # later lookups are plain module attributes
    return value


try:
    import pytest_asyncio
except ImportError:  # the plugin loads in every pytest run; only its async fixtures need it
    HAVE_PYTEST_ASYNCIO = False
else:
    HAVE_PYTEST_ASYNCIO = True

_NEEDS_PYTEST_ASYNCIO = (
    "the {} fixture is async and needs pytest-asyncio: pip install 'digipix_async[testing]'"
)


def set_testing(enabled: bool) -> None:
    """Turn every retry wait of every client off (True) or back on (False).

    Failed attempts are still retried as many times as the client's retry policy says,
    and the wait that would have been slept is still logged (the WARNING record's
    ``retry_wait``), so a test can check that ``Retry-After`` was honoured without
    sleeping it. The switch is process-wide: turn it back off when the test ends (the
    ``digipix_no_retry_waits`` fixture does).
    """
    from digipix_async import _retry  # here, not at the top: see the module docstring

    _retry.set_testing(enabled)


@pytest.fixture
def digipix_no_retry_waits() -> Iterator[None]:
    """Make every retry wait of every client zero for the duration of the test."""
    set_testing(True)
    try:
        yield
    finally:
        set_testing(False)


if HAVE_PYTEST_ASYNCIO:

    @pytest_asyncio.fixture
    async def digipix_sandbox() -> AsyncIterator[SandboxServer]:
        """Run a fresh sandbox on 127.0.0.1 for one test."""
        from digipix_async.sandbox import SandboxServer

        async with SandboxServer() as sandbox:
            yield sandbox

    @pytest_asyncio.fixture
    async def digipix_client(digipix_sandbox: SandboxServer) -> AsyncIterator[DigipixClient]:
        """Return a client for the test's sandbox, with every scope."""
        from digipix_async._client import DigipixClient

        async with DigipixClient(
            digipix_sandbox.client_id,
            digipix_sandbox.client_secret,
            base_url=digipix_sandbox.base_url,
        ) as client:
            yield client

else:
    # Defined all the same, so a test that asks for one is told what to install
    # instead of "fixture 'digipix_client' not found".

    @pytest.fixture
    def digipix_sandbox() -> SandboxServer:
        """Fail the test: without pytest-asyncio there is no loop to run the sandbox in."""
        pytest.fail(_NEEDS_PYTEST_ASYNCIO.format("digipix_sandbox"), pytrace=False)

    @pytest.fixture
    def digipix_client() -> DigipixClient:
        """Fail the test: without pytest-asyncio there is no loop to run the client in."""
        pytest.fail(_NEEDS_PYTEST_ASYNCIO.format("digipix_client"), pytrace=False)
