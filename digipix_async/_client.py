"""`DigipixClient`: configuration, resources and life cycle around the request pipeline.

The sending itself (retries, the 401 refresh, reading answers) is `_pipeline`;
here: checking options, binding resources, the event loop, closing.
"""

from __future__ import annotations

import asyncio
import copy
import functools
import os
from collections.abc import Callable, Coroutine, Iterable, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self, TypeVar

import attrs

from digipix_async import _converter, _tracing
from digipix_async._auth import TokenRefresher
from digipix_async._config import (
    DEFAULT_MAX_RESPONSE_SIZE,
    DEFAULT_SCOPES,
    Limits,
    RetryPolicy,
    Timeout,
    check_app_info,
    check_scopes,
    check_ssl,
    resolve_base_url,
)
from digipix_async._errors import (
    PermissionDeniedError,
)
from digipix_async._fleet import SharedTokens
from digipix_async._limits import Gate
from digipix_async._pipeline import Headers, Pipeline, Shared, State
from digipix_async._raw import APIResponse, RawResponses
from digipix_async._sansio import Request, Response, Transport
from digipix_async._transport import AiohttpTransport, user_agent
from digipix_async.resources import Orders, Products, Quotes
from digipix_async.stores import Store, namespace_for

if TYPE_CHECKING:
    from ssl import SSLContext

    import aiohttp

__all__ = ["DigipixClient"]

T = TypeVar("T")


class DigipixClient(Pipeline):
    """Talk to the Digipix API: products, quotes and orders, safe under concurrency.

    Use it as ``async with DigipixClient(...) as client:`` or call `close`. One
    client holds one connection pool and one token for its whole life: share it
    across the coroutines of an app instead of creating one per request.

    Resources:
        ``client.products``: ``list()``, ``get(product_id)``.
        ``client.quotes``: ``create(zip_code=..., items=[...])``, ``create_many(...)``.
        ``client.orders``: ``create(...)``, ``approve(order_id, ...)``,
        ``cancel(order_id)``, ``get(order_id)``, ``create_many(...)``.
        ``client.with_raw_response.<resource>.<method>(...)``: the same calls,
        answering with an `APIResponse` (status, headers, body, request id).
        ``client.with_options(timeout=..., max_retries=...)``: a client with other
        limits sharing this one's pool and token.

    Parameters:
        client_id: the partner's client id (or use `from_env`).
        client_secret: the partner's client secret; never shown in a repr, error or log.
        environment: ``"production"`` or ``"sandbox"`` (any case).
        base_url: the server's root instead of an environment's
            (``http://127.0.0.1:8080``); the SDK adds the ``/v1/...`` paths.
        scopes: the OAuth2 scopes to request (default: all three).
        timeout: seconds for a whole call (token wait, attempts, retry waits), or
            a `Timeout` with separate connect / read / total limits.
        max_retries: how often a transient failure is retried (see `RetryPolicy`).
        max_connections: the width of the connection pool.
        session: an ``aiohttp.ClientSession`` the caller owns and closes.
        trust_env: take proxies from ``HTTP_PROXY``/``HTTPS_PROXY``/``NO_PROXY``
            (never ``.netrc``); False ignores the environment.
        ssl: None verifies certificates (the default), False does not, or an
            ``ssl.SSLContext`` (a private CA).
        app_info: ``("myshop", "2.1")`` is appended to the ``User-Agent``
            (``digipix-async/<v> aiohttp/<v> python/<v>``).
        max_response_size: the largest answer in bytes, counted after
            decompression (default 10 MiB); a larger one is refused while read.
        trace_configs: aiohttp trace configs for the owned session.
        retry_policy: a `RetryPolicy` (waits, the longest Retry-After slept).
        transport: any object with ``send`` and ``aclose`` (a test seam; see
            ``digipix_async.testing.MockTransport``).
        rate_limit: requests per second this client may send (a token bucket).
        store: where the token, the pause and the rate budget live: a
            `stores.MemoryStore` (one process) or `stores.RedisStore` (a fleet).
        strict_responses: raise `APIResponseValidationError` on any drift of an
            answer's shape instead of reading it leniently.
    """

    def __init__(
        self,
        client_id: str | None = None,
        client_secret: str | None = None,
        *,
        environment: str = "production",
        base_url: str | None = None,
        scopes: Iterable[str] = DEFAULT_SCOPES,
        timeout: float | Timeout = 30.0,
        max_retries: int = 3,
        max_connections: int = 100,
        session: aiohttp.ClientSession | None = None,
        trust_env: bool = True,
        ssl: SSLContext | bool | None = None,
        app_info: tuple[str, str] | None = None,
        max_response_size: int = DEFAULT_MAX_RESPONSE_SIZE,
        trace_configs: Sequence[aiohttp.TraceConfig] | None = None,
        retry_policy: RetryPolicy | None = None,
        transport: Transport | None = None,
        rate_limit: float | None = None,
        store: Store | None = None,
        strict_responses: bool = False,
    ) -> None:
        if not client_id or not isinstance(client_id, str):
            raise ValueError("client_id is required (or use DigipixClient.from_env())")
        if not client_secret or not isinstance(client_secret, str):
            raise ValueError("client_secret is required (or use DigipixClient.from_env())")
        self._client_id = client_id
        self._client_secret = client_secret
        self._base_url = resolve_base_url(environment, base_url)
        self._scopes = check_scopes(scopes)
        self._timeout = Timeout.coerce(timeout)
        self._retry = retry_policy or RetryPolicy(max_retries=max_retries)
        if transport is not None and (session is not None or trace_configs):
            raise ValueError("give transport or session/trace_configs, not both")
        # Checked even when a transport is given: a bad option is an error at once.
        limits = Limits(max_connections=max_connections, max_response_size=max_response_size)
        tls = check_ssl(ssl)
        self._shared = Shared(
            transport
            or AiohttpTransport(
                session=session,
                limits=limits,
                trace_configs=trace_configs,
                trust_env=bool(trust_env),
                ssl=tls,
            ),
            owns_transport=transport is None,
        )
        self._shared.auth = TokenRefresher(self._fetch_token)
        self._configure_limits(rate_limit, store)
        self._strict = bool(strict_responses)
        self._headers = Headers(user_agent(check_app_info(app_info)))
        self._owner = True
        self._bind_resources()

    def _configure_limits(self, rate_limit: float | None, store: Store | None) -> None:
        if store is not None and not isinstance(store, Store):
            raise TypeError(f"store must be a MemoryStore or RedisStore, got {store!r}")
        # The store's keys: a hash of who the client is, never of its secret.
        namespace = namespace_for(self._client_id, self._base_url, self._scopes)
        shared = self._shared
        shared.store = store
        shared.namespace = namespace
        shared.gate = Gate(rate_limit=rate_limit, store=store, namespace=namespace)
        if store is not None:
            shared.tokens = SharedTokens(
                store, namespace, self._request_token, lock_ttl=self._timeout.total
            )

    @classmethod
    def from_env(cls, **overrides: Any) -> DigipixClient:
        """Build a client from ``DIGIPIX_CLIENT_ID``, ``DIGIPIX_CLIENT_SECRET``,
        ``DIGIPIX_ENVIRONMENT`` and ``DIGIPIX_BASE_URL``; keyword arguments win."""
        settings: dict[str, Any] = {
            "client_id": os.environ.get("DIGIPIX_CLIENT_ID"),
            "client_secret": os.environ.get("DIGIPIX_CLIENT_SECRET"),
            "environment": os.environ.get("DIGIPIX_ENVIRONMENT") or "production",
            "base_url": os.environ.get("DIGIPIX_BASE_URL") or None,
        }
        settings.update(overrides)
        missing = [
            variable
            for key, variable in (
                ("client_id", "DIGIPIX_CLIENT_ID"),
                ("client_secret", "DIGIPIX_CLIENT_SECRET"),
            )
            if not settings.get(key)
        ]
        if missing:  # names only: never a value read from the environment
            raise ValueError(
                f"DigipixClient.from_env(): {' and '.join(missing)} not set (it reads "
                "DIGIPIX_CLIENT_ID, DIGIPIX_CLIENT_SECRET, DIGIPIX_ENVIRONMENT and "
                "DIGIPIX_BASE_URL; keyword arguments win)"
            )
        return cls(**settings)

    def with_options(
        self, *, timeout: float | Timeout | None = None, max_retries: int | None = None
    ) -> DigipixClient:
        """Return a client with other limits that shares this one's pool and token.

        For one slow call: ``await client.with_options(timeout=120).orders.get(id)``.
        The derived client does not own the pool: closing it does nothing.
        """
        derived = copy.copy(self)
        if timeout is not None:
            derived._timeout = Timeout.coerce(timeout)
        if max_retries is not None:
            derived._retry = attrs.evolve(self._retry, max_retries=max_retries)
        derived._owner = False
        derived.__dict__.pop("with_raw_response", None)  # bound to this client, not the copy
        derived._bind_resources()
        return derived

    def _bind_resources(self) -> None:
        self.products = Products(self)
        self.quotes = Quotes(self)
        self.orders = Orders(self)

    def __repr__(self) -> str:
        return (
            f"<DigipixClient client_id={self._client_id!r} base_url={self._base_url!r} "
            f"scopes={self._scopes!r} {self._shared.state.value}>"
        )

    @property
    def base_url(self) -> str:
        """The server root requests go to (``/v1/...`` is appended)."""
        return self._base_url

    @property
    def scopes(self) -> tuple[str, ...]:
        """The OAuth2 scopes this client requests."""
        return self._scopes

    @property
    def closed(self) -> bool:
        """Tell whether `close` was called (on this client or the one it derives from)."""
        return self._shared.state is State.CLOSED

    async def __aenter__(self) -> Self:
        self._check_open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the pool (unless borrowed) and stop any token refresh; safe to repeat."""
        if not self._owner or self._shared.state is State.CLOSED:
            return
        self._shared.state = State.CLOSED
        await self._shared.auth.aclose()
        if self._shared.owns_transport:
            await self._shared.transport.aclose()

    def _check_open(self) -> None:
        if self._shared.state is State.CLOSED:
            raise RuntimeError("this DigipixClient is closed; create a new one")

    # -- the pipeline -------------------------------------------------------------
    #
    # Two coroutine frames stand between a resource and the transport (_send and
    # the transport's send): every suspension of a call resumes each frame of the
    # chain, so the depth is kept small on purpose. _call is a plain method that
    # hands the resource _send's coroutine. Every decision that needs no await is
    # a plain function of _sansio, _answers or _retry, tested on its own.

    def _throttle_count(self) -> int:
        """Return how many 429 answers this client (and its derived clients) has seen."""
        return self._shared.throttled

    def _call(self, request: Request, result_type: type[T]) -> Coroutine[Any, Any, T]:
        """Check that ``request`` may go; return the coroutine that sends it and
        reads its JSON answer as ``result_type``."""
        return self._call_reading(request, _converter.response_reader(result_type, self._strict))

    def _call_keeping_body(
        self, request: Request, result_type: type[T]
    ) -> Coroutine[Any, Any, tuple[T, bytes]]:
        """`_call`, answering the model and the body it was read from, as received.

        The order journal keeps that body to report the order again on a rerun:
        the bytes at hand, rather than the model written back out.
        """
        read = _converter.response_reader(result_type, self._strict)

        def read_keeping_body(response: Response) -> tuple[T, bytes]:
            return read(response), response.body

        return self._call_reading(request, read_keeping_body)

    def _call_reading(
        self, request: Request, read: Callable[[Response], T]
    ) -> Coroutine[Any, Any, T]:
        """Check that ``request`` may go; return the coroutine that sends it and ``read``s
        its answer (traced when OpenTelemetry is on)."""
        self._check_scope(request)
        if _tracing.enabled():
            return self._traced(request, read, False)
        return self._send(request, read)

    def _check_scope(self, request: Request) -> None:
        self._check_open()
        loop = asyncio.get_running_loop()
        if loop is not self._shared.loop:
            self._bind_loop(loop)
        if request.scope is not None and request.scope not in self._scopes:
            raise PermissionDeniedError(
                f"{request.method} {request.path} needs the {request.scope!r} scope, "
                f"which this client did not request (scopes={self._scopes})",
                scope=request.scope,
                status=403,
                method=request.method,
                path=request.path,
                attempts=0,
            )

    def _call_raw(
        self, request: Request, result_type: type[T]
    ) -> Coroutine[Any, Any, APIResponse[T]]:
        """`_call` for ``with_raw_response``: the same call, the answer as it came."""
        self._check_scope(request)
        read = _converter.response_reader(result_type, self._strict)
        if _tracing.enabled():
            return self._traced(request, read, True)
        return self._send(request, read, raw=True)

    @functools.cached_property
    def with_raw_response(self) -> RawResponses:
        """The resources, answering with `APIResponse` (status, headers, body...) instead.

        ``await client.with_raw_response.orders.get(order_id)``; ``.parse()`` gives
        the model. It shares this client's pool and token, like `with_options`.
        """
        raw = copy.copy(self)
        raw.__dict__.pop("with_raw_response", None)
        raw._owner = False
        raw._call = raw._call_raw  # type: ignore[method-assign,assignment]
        raw._bind_resources()
        return RawResponses(raw)

    def _bind_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        """Serve calls from ``loop`` from now on, if the loop before it is done.

        A bot that calls ``asyncio.run`` twice uses one module-level client from two
        loops one after the other: the second gets a new pool (the transport opens
        one per loop) and keeps the token. Two loops running at once (two threads)
        would share a pool and a refresh task neither can use: refused, before
        anything is sent.
        """
        shared = self._shared
        previous = shared.loop
        if previous is not None and previous.is_running() and not previous.is_closed():
            raise RuntimeError(
                "this DigipixClient is in use by another running event loop (another "
                "thread?); create one client per event loop"
            )
        shared.loop = loop
        if previous is not None:
            shared.auth.forget_refresh()
