"""The protocol without I/O: the request and response values, and what an answer means.

Nothing here imports aiohttp (nor the token refresher above it): resources build a
`Request`, the transport hands back a `Response`, and everything that follows
(success or error, which exception, what it says, how long to wait, the token
grant) can be tested with plain values.
"""

from __future__ import annotations

import email.utils
import enum
import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, NamedTuple

import attrs

from digipix_async._errors import (
    APIResponseValidationError,
    APIStatusError,
    AuthenticationError,
    status_error_class,
)
from digipix_async._json import loads

__all__ = [
    "TOKEN_PATH",
    "Request",
    "Response",
    "RetrySafety",
    "TokenGrant",
    "error_from_response",
    "is_success",
    "parse_grant",
    "parse_retry_after",
    "redact",
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
    scope the call needs (None for the token request itself).
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


# Descriptions are for humans; a proxy's 50 kB HTML error page is not.
_MAX_DESCRIPTION = 500
_REDACTED = "[redacted]"


class Response(NamedTuple):
    """What came back for one attempt: status, headers (case-insensitive) and raw body.

    A NamedTuple: one is built for every attempt (twice as fast as a frozen attrs class).
    """

    status: int
    headers: Mapping[str, str]
    body: bytes


def is_success(status: int) -> bool:
    """Tell whether a status carries data ("200 and 201 are positive", reference intro)."""
    return status == 200 or status == 201


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Return the seconds a ``Retry-After`` header asks for (RFC 9110 10.2.3).

    Both forms are read: delay-seconds (``"120"``) and an HTTP date. A date in the
    past means "now" (0.0); anything unreadable is ignored (None), since a broken
    header must not turn a retryable answer into a crash.
    """
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    delay = (when - (now or datetime.now(UTC))).total_seconds()
    return max(delay, 0.0)


def redact(value: Any, secrets: Iterable[str]) -> Any:
    """Return ``value`` with every secret string replaced, however deeply nested.

    A server that echoes the request (some do, in errors) must not carry the
    client secret or a token into an exception text or a log line.
    """
    secrets = [secret for secret in secrets if secret]
    if not secrets:
        return value
    return _redact(value, secrets)


def _redact(value: Any, secrets: list[str]) -> Any:
    if isinstance(value, str):
        for secret in secrets:
            value = value.replace(secret, _REDACTED)
        return value
    if isinstance(value, Mapping):
        return {_redact(key, secrets): _redact(item, secrets) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_redact(item, secrets) for item in value]
    return value


def _parse_error_body(body: bytes) -> Any:
    """Return the error body as JSON values, or as text when it is not JSON."""
    text = body.decode("utf-8", errors="replace")
    try:
        return json.loads(text)
    except ValueError:
        return text


def _describe(parsed: Any, status: int) -> str:
    """Return the server's own words for an error, whatever shape it chose."""
    if isinstance(parsed, Mapping):
        for key in ("error_description", "message", "detail", "error", "title"):
            found = parsed.get(key)
            if isinstance(found, str) and found.strip():
                return found.strip()[:_MAX_DESCRIPTION]
        if parsed:
            return json.dumps(parsed, ensure_ascii=False)[:_MAX_DESCRIPTION]
    elif isinstance(parsed, str) and parsed.strip():
        return parsed.strip()[:_MAX_DESCRIPTION]
    return f"HTTP {status} with no description"


def error_from_response(
    request: Request,
    response: Response,
    *,
    attempts: int,
    secrets: Iterable[str] = (),
) -> APIStatusError:
    """Build the exception for a non-success response (status -> class in one table).

    The token endpoint's refusals (any 4xx but 429) become `AuthenticationError`
    with the OAuth2 ``error`` code, whatever status the server chose for them.
    """
    secrets = list(secrets)
    parsed = redact(_parse_error_body(response.body), secrets)
    description = _describe(parsed, response.status)
    common: dict[str, Any] = {
        "status": response.status,
        "body": parsed,
        "headers": response.headers,
        "method": request.method,
        "path": request.path,
        "attempts": attempts,
        "retry_after": parse_retry_after(response.headers.get("Retry-After")),
    }
    if request.path == TOKEN_PATH and 400 <= response.status < 500 and response.status != 429:
        code = parsed.get("error") if isinstance(parsed, Mapping) else None
        return AuthenticationError(
            f"token request refused: {description}",
            error_code=code if isinstance(code, str) else None,
            **common,
        )
    return status_error_class(response.status)(description, **common)


# The reference says a token "will last for one hour" when it does not say otherwise.
_DEFAULT_TOKEN_LIFETIME = 3600.0


def parse_grant(response: Response) -> TokenGrant:
    """Read the token endpoint's answer; the body holds the token, so no error quotes it."""
    try:
        data = loads(response.body)
    except ValueError:
        data = None
    token = data.get("access_token") if isinstance(data, dict) else None
    lifetime = data.get("expires_in", _DEFAULT_TOKEN_LIFETIME) if isinstance(data, dict) else None
    if not isinstance(token, str) or not token:
        raise APIResponseValidationError(
            "token response has no access_token", status=response.status, path=TOKEN_PATH
        )
    if isinstance(lifetime, bool) or not isinstance(lifetime, int | float | Decimal):
        raise APIResponseValidationError(
            "token response has no numeric expires_in", status=response.status, path=TOKEN_PATH
        )
    return TokenGrant(token, float(lifetime))
