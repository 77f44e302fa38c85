"""The only module that imports aiohttp: one connection pool, one send, one error boundary.

Every aiohttp exception becomes one of ours here (``raise ... from exc``), so the
rest of the SDK knows nothing of aiohttp. `AiohttpTransport` is the default
implementation of `_sansio.Transport`; ``DigipixClient(transport=...)`` takes any other.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from importlib.metadata import version

import aiohttp
from multidict import CIMultiDict
from yarl import URL

from digipix_async._config import Limits, Timeout
from digipix_async._errors import APIConnectionError, APITimeoutError
from digipix_async._sansio import Response

__all__ = ["USER_AGENT", "AiohttpTransport"]

USER_AGENT = f"digipix-async/{version('digipix_async')} aiohttp/{aiohttp.__version__}"


class AiohttpTransport:
    """Send requests over an owned pool, or over a session the caller lends us.

    An owned session is created lazily inside the running event loop (a client
    may be built at import time, outside any loop) and closed by `aclose`.
    A borrowed session is never closed here.
    """

    def __init__(
        self,
        *,
        session: aiohttp.ClientSession | None = None,
        limits: Limits | None = None,
        trace_configs: Sequence[aiohttp.TraceConfig] | None = None,
    ) -> None:
        self._session = session
        self._owns_session = session is None
        self._limits = limits or Limits()
        self._trace_configs = list(trace_configs) if trace_configs else None
        self._closed = False
        # The ClientTimeout of the last request, reused while the limits stay the
        # same (they change when a call nears its deadline).
        self._timeout = _client_timeout(Timeout().connect, None)
        # The client hands over one headers mapping per token; aiohttp converts a
        # plain dict on every request but takes its own CIMultiDict as it is.
        self._headers_given: Mapping[str, str] | None = None
        self._headers_prepared: CIMultiDict[str] = CIMultiDict()

    def _open_session(self) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(
            limit=self._limits.max_connections,
            # One host only: `limit` bounds it, and a per-host limit would add
            # bookkeeping to every acquire and release.
            limit_per_host=0,
            keepalive_timeout=self._limits.keepalive_expiry,
        )
        return aiohttp.ClientSession(
            connector=connector,
            trace_configs=self._trace_configs,
            # Per-request timeouts are always given; this only rules out "no limit".
            timeout=aiohttp.ClientTimeout(total=300, connect=30, sock_read=60),
        )

    async def send(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        body: bytes | None,
        connect: float,
        read: float | None,
    ) -> Response:
        """Send one request and read the whole answer; one attempt, no retries.

        ``url`` is already percent-encoded. ``connect`` bounds getting a
        connection and ``read`` (None: no limit of its own) each wait for data;
        the caller bounds the whole exchange with its deadline (see `_deadline`),
        so aiohttp arms no total timer. Raises `APITimeoutError` or
        `APIConnectionError` (``request_sent=False`` only when the connection was
        never made, so the request provably never reached the server).
        """
        session = self._session
        if session is None:
            if self._closed:
                # A call still retrying when its client closed must not open a new pool.
                raise APIConnectionError("the client is closed", request_sent=False)
            session = self._session = self._open_session()
        prepared = self._headers_prepared
        if headers is not self._headers_given:
            prepared = self._headers_prepared = CIMultiDict(headers)
            self._headers_given = headers
        timeout = self._timeout
        if timeout.connect != connect or timeout.sock_read != read:
            timeout = self._timeout = _client_timeout(connect, read)
        try:
            async with session.request(
                method,
                URL(url, encoded=True),
                headers=prepared,
                data=body,
                timeout=timeout,
                # The reference never redirects; following one could carry the
                # Authorization header somewhere unexpected.
                allow_redirects=False,
            ) as response:
                payload = await response.read()
                return Response(response.status, response.headers, payload)
        except aiohttp.ConnectionTimeoutError as exc:
            raise APITimeoutError(f"connect timed out: {exc}", request_sent=False) from exc
        except aiohttp.ClientConnectorError as exc:
            raise APIConnectionError(str(exc), request_sent=False) from exc
        except TimeoutError as exc:  # sock_read (SocketTimeoutError)
            raise APITimeoutError(
                f"{method} {URL(url, encoded=True).path}: no data for {read} s"
            ) from exc
        except aiohttp.ClientError as exc:
            # Disconnected, reset, broken payload: the request may have arrived.
            raise APIConnectionError(f"{type(exc).__name__}: {exc}") from exc

    async def aclose(self) -> None:
        """Close the owned session and its pool; a borrowed session is left open."""
        self._closed = True
        session, self._session = self._session, None
        if session is not None and self._owns_session:
            await session.close()

    def pool_in_use(self) -> int:
        """Return how many pooled connections are checked out right now (for tests)."""
        if self._session is None or self._session.connector is None:
            return 0
        connector = self._session.connector
        return len(getattr(connector, "_acquired", ()))


def _client_timeout(connect: float, read: float | None) -> aiohttp.ClientTimeout:
    # No ceiling to whole seconds (aiohttp's default above 5 s): when the connect
    # limit is the time left, it must fire before the caller's deadline does, so a
    # request that never left the pool queue is reported as never sent.
    return aiohttp.ClientTimeout(
        total=None, connect=connect, sock_read=read, ceil_threshold=math.inf
    )
