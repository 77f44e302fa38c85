"""pytest plugin: test your app against the embedded sandbox, no credentials needed.

Installed with the package (entry point ``pytest11``), it provides:

- ``digipix_sandbox``: a running `SandboxServer` on loopback, closed after the test;
- ``digipix_client``: a `DigipixClient` pointed at it, closed after the test;
- ``digipix_no_retry_waits``: makes the client's retry waits zero, so tests of
  your own retry handling (fault injection) run in milliseconds.

The async fixtures need pytest-asyncio (``asyncio_mode = "auto"`` or
``@pytest.mark.asyncio`` on your tests).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from digipix_async import _retry
from digipix_async._client import DigipixClient
from digipix_async.sandbox import SandboxServer

__all__ = ["digipix_client", "digipix_no_retry_waits", "digipix_sandbox"]

try:
    import pytest_asyncio
except ImportError:  # the plugin loads in every pytest run; only its async fixtures need it
    HAVE_PYTEST_ASYNCIO = False
else:
    HAVE_PYTEST_ASYNCIO = True


@pytest.fixture
def digipix_no_retry_waits() -> Iterator[None]:
    """Make every retry wait of every client zero for the duration of the test."""
    _retry.set_testing(True)
    try:
        yield
    finally:
        _retry.set_testing(False)


if HAVE_PYTEST_ASYNCIO:

    @pytest_asyncio.fixture
    async def digipix_sandbox() -> AsyncIterator[SandboxServer]:
        """Run a fresh sandbox on 127.0.0.1 for one test."""
        async with SandboxServer() as sandbox:
            yield sandbox

    @pytest_asyncio.fixture
    async def digipix_client(digipix_sandbox: SandboxServer) -> AsyncIterator[DigipixClient]:
        """Return a client for the test's sandbox, with every scope."""
        async with DigipixClient(
            digipix_sandbox.client_id,
            digipix_sandbox.client_secret,
            base_url=digipix_sandbox.base_url,
        ) as client:
            yield client
