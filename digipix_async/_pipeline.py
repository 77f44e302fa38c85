"""The request pipeline: send with retries, refresh once on 401, read the answer.

build (resources) -> check scope (the client) -> authorise -> held back by the
pause or rate limit -> send -> what the answer means -> retry or fail -> read.
Every decision that needs no await is a plain function (`_sansio.verdict`,
`_retry.Retries.after`, `_sansio.deadline_error`, `_answers.error_from_response`);
what is here is the one awaiting loop that strings them together, kept to one
coroutine frame because every suspension of a call resumes each frame.
`DigipixClient` is built on it (`_client.py`): configuration, resources, life.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any, Literal, TypeVar, overload

import attrs

from digipix_async import _json, _tracing
from digipix_async._answers import (
    error_from_response,
    not_expected,
    parse_grant,
    request_id,
    too_large,
)
from digipix_async._auth import TokenRefresher
from digipix_async._config import RetryPolicy, Timeout
from digipix_async._deadline import DeadlineExceeded, Deadlines
from digipix_async._errors import (
    APIConnectionError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
)
from digipix_async._fleet import SharedTokens
from digipix_async._limits import Gate
from digipix_async._log import log
from digipix_async._raw import APIResponse
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
    unknown_outcome,
    verdict,
)
from digipix_async.stores import Store

__all__ = ["Pipeline"]

T = TypeVar("T")


class State(enum.Enum):
    OPEN = "open"
    CLOSED = "closed"


@attrs.define
class Shared:
    """What a client and the clients derived from it with `with_options` share."""

    transport: Transport
    auth: TokenRefresher = attrs.field(init=False)
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
    state: State = State.OPEN


class Headers:
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


class Pipeline:
    """The sending half of `DigipixClient`: the attributes it needs, the loop that sends."""

    _client_id: str
    _client_secret: str
    _base_url: str
    _scopes: tuple[str, ...]
    _timeout: Timeout
    _retry: RetryPolicy
    _shared: Shared
    _headers: Headers

    async def _traced(self, request: Request, read: Callable[[Response], T], raw: bool) -> Any:
        """`_send` inside a CLIENT span (only when the application set a tracer provider)."""
        with _tracing.call_span(request, self._base_url) as span:
            return await self._send(request, read, raw, span)  # type: ignore[call-overload]

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
        body = request.body
        if body is None and request.json is not None:
            body = _json.dumps(request.json)
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
                            token = await self._token_for(number)
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
                    except APIResponseValidationError as exc:  # 2xx over max_response_size
                        exc.attempts = number
                        raise too_large(request, exc) from exc
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
                    if shared.state is State.CLOSED:
                        # close() ended this attempt; no retry after the client is gone.
                        raise unknown_outcome(request, error) or error
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

    async def _token_for(self, number: int) -> str:
        """Wait for a token for attempt ``number`` of a call.

        A failure of the token request is raised as it is (it was retried by its own
        call), except that its ``request_sent`` spoke of the token request: for this
        call nothing was sent, and a create-order must never read as maybe sent.
        """
        try:
            return await self._shared.auth.token()
        except APIConnectionError as exc:
            if not exc.request_sent:
                raise
            raise type(exc)(  # an APITimeoutError stays one
                f"no access token: the token request failed ({exc})",
                request_sent=False,
                attempts=number - 1,
            ) from exc

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
