"""The protocol without I/O: the request and response values, and what an answer means.

Nothing here imports aiohttp (nor the token refresher above it): resources build a
`Request`, the transport hands back a `Response`, and everything that follows
(success or error, which exception, what it says, how long to wait, the token
grant) can be tested with plain values.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any, NamedTuple, Protocol

import attrs

from digipix_async._errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    DigipixError,
    InternalServerError,
    OrderOutcomeUnknownError,
)

__all__ = [
    "TOKEN_PATH",
    "Phase",
    "Request",
    "Response",
    "RetrySafety",
    "TokenGrant",
    "Transport",
    "Verdict",
    "deadline_error",
    "is_success",
    "unknown_outcome",
    "verdict",
]

TOKEN_PATH = "/v1/oauth/token"  # noqa: S105 - a path, not a password


class RetrySafety(enum.Enum):
    """How freely a request may be sent again after a transient failure."""

    #: Sending it twice changes nothing: GETs, the token request, quotes (not saved).
    IDEMPOTENT = "idempotent"
    #: Sending it twice could act twice: retried only when it provably never
    #: reached the server (connect failure) or the server refused it (429).
    UNSENT_ONLY = "unsent_only"


class Request(NamedTuple):
    """One API call: what goes on the wire and how it may be retried.

    ``path`` is already percent-encoded and starts with ``/v1/``; ``json`` is the
    body as plain JSON-ready values (None for no body); ``scope`` is the OAuth2
    scope the call needs. The token request is the one request without a scope:
    `needs_token` is how every layer tells it apart.
    ``creates_order`` marks ``POST /v1/orders``, whose ambiguous failures become
    ``OrderOutcomeUnknownError`` carrying ``partner_order_id``.

    A NamedTuple rather than an attrs class: one is built for every call, and a
    tuple is built in half the time of a frozen attrs instance.
    """

    method: str
    path: str
    scope: str | None
    json: Any = None
    retry: RetrySafety = RetrySafety.IDEMPOTENT
    creates_order: bool = False
    partner_order_id: str | None = None
    #: The caller's extra headers (``extra_headers=``), merged last; None for none.
    headers: Mapping[str, str] | None = None
    #: ``json`` already encoded, by a caller that needed the bytes first (the order
    #: journal hashes exactly what is sent); None: encoded when sent.
    body: bytes | None = None

    @property
    def needs_token(self) -> bool:
        """Tell whether the request carries the access token (all but the token request)."""
        return self.scope is not None

    def __repr__(self) -> str:
        # Never the body: the token request's holds the client secret.
        return (
            f"Request(method={self.method!r}, path={self.path!r}, scope={self.scope!r}, "
            f"retry={self.retry}, creates_order={self.creates_order!r}, "
            f"partner_order_id={self.partner_order_id!r})"
        )


@attrs.frozen
class TokenGrant:
    """What the token endpoint granted: the token and its lifetime in seconds."""

    access_token: str = attrs.field(repr=False)
    expires_in: float


class Response(NamedTuple):
    """What came back for one attempt: status, headers (case-insensitive) and raw body.

    A NamedTuple: one is built for every attempt (twice as fast as a frozen attrs class).
    """

    status: int
    headers: Mapping[str, str]
    body: bytes


class Transport(Protocol):
    """What the client needs from a transport: send one request, and close.

    The aiohttp transport is the default; ``DigipixClient(transport=...)`` takes any
    object with these two methods (``digipix_async.testing.MockTransport`` is one).
    ``send`` raises `APIConnectionError` (``request_sent=False`` only when the
    request provably never left) or `APITimeoutError`, and never anything of a
    library's own. ``headers`` is the same mapping object for every request made
    with one token, so a transport may cache its own form of it by identity.
    """

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
        """Send one request and read the whole answer; one attempt, no retries."""
        ...

    async def aclose(self) -> None:
        """Release what the transport holds; safe to call twice."""
        ...


def is_success(status: int) -> bool:
    """Tell whether a status carries data ("200 and 201 are positive", reference intro)."""
    return status == 200 or status == 201


class Verdict(enum.Enum):
    """What one answer means for the call that got it."""

    OK = "ok"  #: the answer carries the result
    REFRESH = "refresh"  #: the token was refused: one fresh token, one more try
    ERROR = "error"  #: an error answer (which may still be retried)


def verdict(status: int, *, token: str | None, refreshed: bool) -> Verdict:
    """Tell what an answer with ``status`` means, sent with ``token`` (None: no token).

    A 401 to a call that carried a token is answered once with a fresh token: the
    token may have been revoked before its time (aiohttp's own refresh example).
    """
    if status == 200 or status == 201:
        return Verdict.OK
    if status == 401 and token is not None and not refreshed:
        return Verdict.REFRESH
    return Verdict.ERROR


class Phase(enum.Enum):
    """What a call is waiting for; a deadline that strikes is described by it."""

    TOKEN = "token"  # noqa: S105 - a phase, not a password
    HELD_BACK = "held back"  #: by the client's pause or rate limit, before sending
    ANSWER = "answer"
    RETRY_WAIT = "retry wait"


def deadline_error(request: Request, phase: Phase, number: int, total: float) -> DigipixError:
    """Return the error for a call whose ``total`` seconds ran out during ``phase``.

    ``number`` is the attempt being made (or about to be). Only a deadline that
    strikes while the answer is awaited may leave a create-order done: that one
    becomes `OrderOutcomeUnknownError`.
    """
    where = f"{request.method} {request.path}"
    if phase is Phase.TOKEN:
        return APITimeoutError(
            f"no access token in time (the call's {total} s ran out)",
            request_sent=False,
            attempts=number - 1,
        )
    if phase is Phase.ANSWER:
        error = APITimeoutError(f"{where}: no answer within the call's {total} s", attempts=number)
        return unknown_outcome(request, error) or error
    return APITimeoutError(
        f"{where}: the call's {total} s ran out", request_sent=False, attempts=number
    )


def unknown_outcome(
    request: Request, error: APIConnectionError | APIStatusError
) -> OrderOutcomeUnknownError | None:
    """Return what ``error`` becomes when ``request`` may have created an order anyway."""
    if not request.creates_order:
        return None
    if isinstance(error, APIConnectionError):
        maybe_created = error.request_sent
    else:
        maybe_created = isinstance(error, InternalServerError)
    if not maybe_created:
        return None
    return OrderOutcomeUnknownError(partner_order_id=request.partner_order_id, cause=error)
