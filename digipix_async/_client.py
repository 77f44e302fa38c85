"""`DigipixClient`: the one request pipeline every resource call goes through.

build (resources) -> check scope -> authorise -> send with retries -> refresh once
on 401 -> decipher -> structure into models.
"""

from __future__ import annotations

import asyncio
import copy
import enum
import functools
import logging
import os
import time
from collections.abc import Callable, Coroutine, Iterable, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, Self, TypeVar, overload

import attrs

from digipix_async import _converter, _json, _tracing
from digipix_async._answers import error_from_response, not_expected, parse_grant, request_id
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
from digipix_async._deadline import DeadlineExceeded, Deadlines
from digipix_async._errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    PermissionDeniedError,
)
from digipix_async._fleet import SharedTokens
from digipix_async._limits import Gate
from digipix_async._log import log
from digipix_async._raw import APIResponse, RawResponses
from digipix_async._retry import Retries, pause, pause_asked
from digipix_async._sansio import (
    TOKEN_PATH,
    Phase,
    Request,
    Response,
    TokenGrant,
    Transport,
    Verdict,
    deadline_error,
    verdict,
)
from digipix_async._transport import AiohttpTransport, user_agent
from digipix_async.resources import Orders, Products, Quotes
from digipix_async.stores import Store, namespace_for

if TYPE_CHECKING:
    from ssl import SSLContext

    import aiohttp

__all__ = ["DigipixClient"]

T = TypeVar("T")


class _State(enum.Enum):
    OPEN = "open"
    CLOSED = "closed"


@attrs.define
class _Shared:
    """What a client and the clients derived from it with `with_options` share."""

    transport: Transport
    auth: TokenRefresher
    owns_transport: bool = True
    #: The 429 answers seen so far: bulk runners halve their concurrency on a new one.
    throttled: int = 0
    gate: Gate = attrs.field(init=False)
    store: Store | None = None
    namespace: str = ""
    tokens: SharedTokens | None = None
    #: The token a 401 refused last: a fleet's store may still hand it out.
    refused: str | None = None
    #: The event loop the pool and the token refresh belong to (see `_bind_loop`).
    loop: asyncio.AbstractEventLoop | None = None
    deadlines: Deadlines = attrs.Factory(Deadlines)
    state: _State = _State.OPEN


class _Headers:
    """The request headers for the current token: one mapping per token, not per call.

    The same object serves every request made with one token, so a transport may
    keep its own prepared form of it (the aiohttp transport does). Every request
    carries ``Content-Type: application/json``: the reference marks it required
    even on the GETs.
    """

    def __init__(self, user_agent: str) -> None:
        self._user_agent = user_agent
        self._token: str | None = None
        self._headers = self._build(None)

    def _build(self, token: str | None) -> Mapping[str, str]:
        headers = {
            "Accept": "application/json",
            "Content-Type": "application/json",
            "User-Agent": self._user_agent,
        }
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return headers

    def get(self, token: str | None) -> Mapping[str, str]:
        """Return the headers for a request with ``token`` (None: the token request)."""
        if token != self._token:
            self._token = token
            self._headers = self._build(token)
        return self._headers

    def __repr__(self) -> str:
        return "<_Headers>"  # never the Authorization value


class DigipixClient:
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
        client_id, client_secret: the partner's credentials (or use `from_env`).
        environment: ``"production"`` or ``"sandbox"`` (any case).
        base_url: the server's root instead of an environment's
            (``http://127.0.0.1:8080``); the SDK adds the ``/v1/...`` paths.
        scopes: the OAuth2 scopes to request (default: all three).
        timeout: seconds for a whole call (token wait, attempts, retry waits), or
            a `Timeout` with separate connect / read / total limits.
        max_retries: how often a transient failure is retried (see `RetryPolicy`).
        max_connections: the width of the connection pool.
        session: an ``aiohttp.ClientSession`` the caller owns and closes.
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
        self._shared = _Shared(
            transport
            or AiohttpTransport(
                session=session,
                limits=limits,
                trace_configs=trace_configs,
                trust_env=bool(trust_env),
                ssl=tls,
            ),
            TokenRefresher(self._fetch_token),
            owns_transport=transport is None,
        )
        self._configure_limits(rate_limit, store)
        self._strict = bool(strict_responses)
        self._headers = _Headers(user_agent(check_app_info(app_info)))
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
        return self._shared.state is _State.CLOSED

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
        if not self._owner or self._shared.state is _State.CLOSED:
            return
        self._shared.state = _State.CLOSED
        await self._shared.auth.aclose()
        if self._shared.owns_transport:
            await self._shared.transport.aclose()

    def _check_open(self) -> None:
        if self._shared.state is _State.CLOSED:
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
        self._check_scope(request)
        if _tracing.enabled():
            return self._traced(request, _converter.response_reader(result_type), False)
        return self._send(request, _converter.response_reader(result_type))

    async def _traced(self, request: Request, read: Callable[[Response], T], raw: bool) -> Any:
        """`_send` inside a CLIENT span (only when the application set a tracer provider)."""
        with _tracing.call_span(request, self._base_url) as span:
            return await self._send(request, read, raw, span)  # type: ignore[call-overload]

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
        if _tracing.enabled():
            return self._traced(request, _converter.response_reader(result_type), True)
        return self._send(request, _converter.response_reader(result_type), raw=True)

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

    @overload
    async def _send(
        self,
        request: Request,
        read: Callable[[Response], T],
        raw: Literal[False] = False,
        span: Any = None,
    ) -> T: ...
    @overload
    async def _send(
        self, request: Request, read: Callable[[Response], T], raw: Literal[True], span: Any = None
    ) -> APIResponse[T]: ...

    async def _send(
        self,
        request: Request,
        read: Callable[[Response], T],
        raw: bool = False,
        span: Any = None,
    ) -> T | APIResponse[T]:
        """Send ``request`` until it succeeds or fails for good; ``read`` its answer.

        A request that `needs_token` carries the current token on each attempt, and
        a 401 is answered once with a fresh token. A failure of the token request
        itself is raised as it is: it was retried by its own call and is no failure
        of this request (a create-order whose token could not be had was never sent).
        One deadline bounds everything: token waits, attempts and retry waits.
        With ``raw``, the answer is handed over as an `APIResponse` instead; with
        ``span`` (an OpenTelemetry span), the attempts and waits are recorded on it.
        """
        total = self._timeout.total
        deadline = time.monotonic() + total
        body = None if request.json is None else _json.dumps(request.json)
        shared = self._shared
        retries: Retries | None = None
        refreshed = False
        number = 1
        token: str | None = None
        phase = Phase.TOKEN
        debug = log.isEnabledFor(logging.DEBUG)  # once per call, not per attempt
        try:
            with shared.deadlines.guard(deadline):
                while True:
                    if request.needs_token:
                        phase = Phase.TOKEN
                        token = shared.auth.usable()
                        if token is None:
                            waited = time.monotonic()
                            token = await shared.auth.token()
                            if span is not None:
                                _tracing.waited(span, "token wait", waited)
                    if shared.gate.engaged:
                        phase = Phase.HELD_BACK
                        held = await shared.gate.wait(request, deadline, number - 1)
                        if span is not None and held > 0:
                            span.add_event("held back", {"seconds": held})
                    phase = Phase.ANSWER
                    started = time.perf_counter() if debug else 0.0
                    remaining = deadline - time.monotonic()
                    error: APIConnectionError | APIStatusError
                    try:
                        if remaining <= 0:
                            raise APITimeoutError(
                                f"{request.method} {request.path}: the call's {total} s ran out",
                                request_sent=False,
                                attempts=number,
                            )
                        response = await shared.transport.send(
                            request.method,
                            self._base_url + request.path,
                            headers=self._headers.get(token)
                            if request.headers is None
                            else {**self._headers.get(token), **request.headers},
                            body=body,
                            # Within the time left, so a request stuck in the pool
                            # queue is reported as never sent.
                            connect=min(self._timeout.connect, remaining),
                            # A read stall longer than the time left is the
                            # deadline's; aiohttp would re-arm a timer per chunk.
                            read=self._timeout.read if self._timeout.read < remaining else None,
                        )
                    except APIConnectionError as exc:
                        error = exc
                        if debug:
                            _log_attempt(request, type(exc).__name__, number, started)
                        if span is not None:
                            span.set_attribute("digipix.attempts", number)
                    else:
                        if debug:
                            _log_attempt(request, response.status, number, started)
                        if span is not None:
                            _tracing.answered(span, response.status, number)
                        answer = verdict(response.status, token=token, refreshed=refreshed)
                        if answer is Verdict.OK:
                            break
                        if answer is Verdict.REFRESH and token is not None:
                            refreshed = True
                            await self._refused(token)
                            continue
                        if response.status == 429:
                            shared.throttled += 1
                        error = error_from_response(
                            request, response, attempts=number, secrets=self._secrets(token)
                        )
                        pause_for = pause_asked(error)
                        if pause_for is not None:
                            await shared.gate.pause(pause_for)
                    retries = retries or Retries(self._retry, request, deadline)
                    step = retries.after(error, number)
                    if not isinstance(step, float):
                        raise step from (None if step is error else error)
                    phase = Phase.RETRY_WAIT
                    if span is not None:
                        span.add_event("retry wait", {"seconds": step, "attempt": number})
                    await pause(step)
                    number += 1
        except DeadlineExceeded:
            raise deadline_error(request, phase, number, total) from None
        if raw:
            return APIResponse(
                status=response.status,
                headers=response.headers,
                body=response.body,
                request_id=request_id(response),
                elapsed=time.monotonic() - (deadline - total),
                attempts=number,
                reader=read,
            )
        try:
            return read(response)
        except ValueError as exc:  # bad JSON or a StructureError
            raise not_expected(request, response, exc, secrets=self._secrets(token)) from exc

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

    async def _refused(self, token: str) -> None:
        """Forget a token a 401 refused, here and (if still the same) in the fleet's store."""
        shared = self._shared
        shared.auth.invalidate(token)
        shared.refused = token
        if shared.store is not None:
            await shared.store.invalidate_token(shared.namespace, token)

    def _secrets(self, token: str | None) -> tuple[str, ...]:
        """Return what no error text may quote: the client secret and the token in use."""
        return (self._client_secret, token) if token else (self._client_secret,)

    async def _fetch_token(self) -> TokenGrant:
        """Return a new token: the fleet's when a store is shared, else one requested."""
        shared = self._shared
        if shared.tokens is None:
            return await self._request_token()
        return await shared.tokens.fetch(shared.auth.held() or shared.refused)

    async def _request_token(self) -> TokenGrant:
        """Request a token (client credentials); retried like any idempotent call."""
        request = Request(
            "POST",
            TOKEN_PATH,
            scope=None,
            json={
                "client_id": self._client_id,
                "client_secret": self._client_secret,
                "grant_type": "client_credentials",
                "scope": list(self._scopes),
            },
        )
        return await self._send(request, parse_grant)


def _log_attempt(request: Request, outcome: int | str, number: int, started: float) -> None:
    elapsed_ms = (time.perf_counter() - started) * 1000
    log.debug(
        "%s %s -> %s (attempt %d, %.1f ms)",
        request.method,
        request.path,
        outcome,
        number,
        elapsed_ms,
        extra={
            "method": request.method,
            "path": request.path,
            "status": outcome,
            "attempt": number,
            "elapsed_ms": elapsed_ms,
        },
    )
