"""The aiohttp transport: one send, a bounded read, one error boundary.

Every aiohttp exception becomes one of ours here (``raise ... from exc``), so the
rest of the SDK knows nothing of aiohttp. `AiohttpTransport` is the default
implementation of `_sansio.Transport`; ``DigipixClient(transport=...)`` takes any other.
Which loop the session lives on is `_transport_pool`'s job; which proxy a host
goes through is `_proxies`'.
"""

from __future__ import annotations

import asyncio
import math
import platform
import weakref
from collections.abc import Mapping, Sequence
from functools import partial
from importlib.metadata import version
from ssl import SSLContext

import aiohttp
from multidict import CIMultiDict
from yarl import URL

from digipix_async._config import Limits, Timeout
from digipix_async._errors import (
    APIConnectionError,
    APIResponseValidationError,
    APITimeoutError,
)
from digipix_async._proxies import proxy_for
from digipix_async._sansio import Response, is_success
from digipix_async._transport_pool import LoopPool

__all__ = ["USER_AGENT", "AiohttpTransport", "user_agent"]

USER_AGENT = (
    f"digipix-async/{version('digipix_async')} aiohttp/{aiohttp.__version__} "
    f"python/{platform.python_version()}"
)


def user_agent(app_info: tuple[str, str] | None) -> str:
    """Return the User-Agent, with the application's ``name/version`` appended if given.

    ``app_info`` is checked by `_config.check_app_info` (tokens without spaces).
    """
    return USER_AGENT if app_info is None else f"{USER_AGENT} {app_info[0]}/{app_info[1]}"


class AiohttpTransport:
    """Send requests over an owned pool, or over a session the caller lends us.

    An owned session is created lazily inside the running event loop (a client
    may be built at import time, outside any loop) and closed by `aclose`, or by
    the loop's own shutdown (see `_transport_pool`). A borrowed session is never
    closed here.

    ``trust_env`` takes proxies from ``HTTP(S)_PROXY``/``NO_PROXY`` (never ``.netrc``);
    ``ssl`` is aiohttp's: True verifies (the default), False does not, or an
    ``ssl.SSLContext`` (a private CA). Answers above ``limits.max_response_size``
    bytes (after decompression) are refused while they are read.
    """

    def __init__(
        self,
        *,
        session: aiohttp.ClientSession | None = None,
        limits: Limits | None = None,
        trace_configs: Sequence[aiohttp.TraceConfig] | None = None,
        trust_env: bool = True,
        ssl: SSLContext | bool = True,
    ) -> None:
        self._limits = limits or Limits()
        self._max_size = self._limits.max_response_size
        self._ssl = ssl
        # The pool must not hold the transport (the finalizer below would keep it alive).
        opener = partial(_open_session, self._limits, list(trace_configs or ()) or None, ssl)
        self._pool = LoopPool(opener, borrowed=session)
        if session is None:
            # A client nobody closed, whose loop was closed by hand: tidy at exit.
            weakref.finalize(self, self._pool.tidy)
        # The proxy for the origin requests last went to: decided once per host,
        # not per request. "" matches every URL: no proxy without trust_env.
        self._proxy_origin = "\0" if trust_env else ""
        self._proxy: str | None = None
        # The ClientTimeout of the last request, reused while the limits stay the
        # same (they change when a call nears its deadline).
        self._timeout = _client_timeout(Timeout().connect, None)
        # The client hands over one headers mapping per token; aiohttp converts a
        # plain dict on every request but takes its own CIMultiDict as it is.
        self._headers_given: Mapping[str, str] | None = None
        self._headers_prepared: CIMultiDict[str] = CIMultiDict()

    @property
    def _session(self) -> aiohttp.ClientSession | None:
        """The session in use (None before the first call and after `aclose`)."""
        return self._pool.session

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
        never made, so the request provably never reached the server), and
        `APIResponseValidationError` for a 200/201 answer above the size limit
        (the request was carried out: for a create-order, the order may exist).
        An error answer above the limit comes back cut at the limit.
        """
        pool = self._pool
        session = pool.session
        if session is None or pool.loop is not asyncio.get_running_loop():
            session = pool.bind()  # first call, a new loop, or a RuntimeError
        prepared = self._headers_prepared
        if headers is not self._headers_given:
            prepared = self._headers_prepared = CIMultiDict(headers)
            self._headers_given = headers
        timeout = self._timeout
        if timeout.connect != connect or timeout.sock_read != read:
            timeout = self._timeout = _client_timeout(connect, read)
        proxy = self._proxy
        if not url.startswith(self._proxy_origin):
            proxy = self._choose_proxy(url)
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
                proxy=proxy,
                ssl=self._ssl,
            ) as response:
                payload = await self._read(response, method)
                return Response(response.status, response.headers, payload)
        except aiohttp.ConnectionTimeoutError as exc:
            raise APITimeoutError(f"connect timed out: {exc}", request_sent=False) from exc
        except aiohttp.ClientConnectorCertificateError as exc:
            raise APIConnectionError(
                f"the TLS certificate of {exc.host}:{exc.port} was refused "
                f"({exc.certificate_error}); for a private CA pass "
                "ssl=ssl.create_default_context(cafile=...)",
                request_sent=False,
            ) from exc
        except aiohttp.ClientConnectorError as exc:  # refused, DNS, TLS handshake, proxy
            raise APIConnectionError(str(exc), request_sent=False) from exc
        except aiohttp.ClientHttpProxyError as exc:
            # The proxy refused the tunnel (CONNECT): nothing reached the API.
            raise APIConnectionError(
                f"the proxy refused the connection: {exc.status} {exc.message}",
                request_sent=False,
            ) from exc
        except TimeoutError as exc:  # sock_read (SocketTimeoutError)
            raise APITimeoutError(
                f"{method} {URL(url, encoded=True).path}: no data for {read} s"
            ) from exc
        except aiohttp.ClientError as exc:
            if pool.closed and str(exc) == "Connector is closed.":
                # aiohttp's word for a connection made just as the pool closed.
                raise _closed_before_sending() from exc
            # Disconnected, reset, broken payload: the request may have arrived.
            raise APIConnectionError(f"{type(exc).__name__}: {exc}") from exc
        except asyncio.CancelledError:
            # Closing the pool cancels the calls queued for a connection, though
            # nobody cancelled them (issue 11.5): theirs is a plain "not sent".
            task = asyncio.current_task()
            if pool.closed and task is not None and not task.cancelling():
                raise _closed_before_sending() from None
            raise

    async def _read(self, response: aiohttp.ClientResponse, method: str) -> bytes:
        """Read the body, never more than ``max_response_size`` bytes (decompressed)."""
        limit = self._max_size
        length = response.content_length
        if length is not None and length <= limit and "Content-Encoding" not in response.headers:
            return await response.read()  # aiohttp stops at Content-Length: bounded
        success = is_success(response.status)
        if success and length is not None and length > limit:
            response.close()  # refused before reading a byte of it
            raise _too_large(response, method, limit, f"Content-Length {length}")
        # Chunked, compressed (the decompressed size is unknown until read) or
        # an error answer: read chunk by chunk and stop past the limit.
        chunks: list[bytes] = []
        size = 0
        content = response.content
        while size <= limit:
            chunk = await content.readany()
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)
            size += len(chunk)
        response.close()  # the rest is never read: the connection is not reused
        if success:
            raise _too_large(response, method, limit, f"more than {limit} bytes")
        # An error answer keeps its status error, its body cut (issue 11.3).
        return b"".join(chunks)[:limit]

    def _choose_proxy(self, url: str) -> str | None:
        parts = URL(url, encoded=True)
        origin = str(parts.origin())
        self._proxy = proxy_for(origin)
        self._proxy_origin = origin + "/"
        return self._proxy

    async def aclose(self) -> None:
        """Close the owned session and its pool; a borrowed session is left open.

        Calls waiting for a pooled connection end with `APIConnectionError`
        (``request_sent=False``), never with `CancelledError`.
        """
        await self._pool.aclose()

    def pool_in_use(self) -> int:
        """Return how many pooled connections are checked out right now (for tests)."""
        session = self._pool.session
        if session is None or session.connector is None:
            return 0
        return len(getattr(session.connector, "_acquired", ()))


def _open_session(
    limits: Limits, trace_configs: list[aiohttp.TraceConfig] | None, ssl: SSLContext | bool
) -> aiohttp.ClientSession:
    connector = aiohttp.TCPConnector(
        limit=limits.max_connections,
        # One host only: `limit` bounds it, and a per-host limit would add
        # bookkeeping to every acquire and release.
        limit_per_host=0,
        keepalive_timeout=limits.keepalive_expiry,
        ssl=ssl,
    )
    return aiohttp.ClientSession(
        connector=connector,
        trace_configs=trace_configs,
        # Per-request timeouts are always given; this only rules out "no limit".
        timeout=aiohttp.ClientTimeout(total=300, connect=30, sock_read=60),
        # Proxies come from `_proxies` (no .netrc: its Basic credentials would
        # clash with the bearer token).
        trust_env=False,
    )


def _closed_before_sending() -> APIConnectionError:
    return APIConnectionError(
        "the client was closed while this request waited for a connection",
        request_sent=False,
    )


def _too_large(
    response: aiohttp.ClientResponse, method: str, limit: int, seen: str
) -> APIResponseValidationError:
    path = response.url.path
    return APIResponseValidationError(
        f"{method} {path}: the answer is larger than max_response_size ({limit} bytes, "
        f"counted after decompression: {seen}); refused while reading it",
        status=response.status,
        path=path,
    )


def _client_timeout(connect: float, read: float | None) -> aiohttp.ClientTimeout:
    # No ceiling to whole seconds (aiohttp's default above 5 s): when the connect
    # limit is the time left, it must fire before the caller's deadline does, so a
    # request that never left the pool queue is reported as never sent.
    return aiohttp.ClientTimeout(
        total=None, connect=connect, sock_read=read, ceil_threshold=math.inf
    )
