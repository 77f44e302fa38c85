"""What an error answer means: the exception, its description, Retry-After, redaction.

Plain functions of plain values (no I/O, no aiohttp): the client hands a
`Response` over and gets back the exception to raise, the seconds to wait or the
token grant. Every text that leaves here has the secrets it was given redacted.
"""

from __future__ import annotations

import email.utils
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from digipix_async._errors import (
    APIResponseValidationError,
    APIStatusError,
    AuthenticationError,
    status_error_class,
)
from digipix_async._json import dumps, loads
from digipix_async._sansio import TOKEN_PATH, Request, Response, TokenGrant

__all__ = [
    "REQUEST_ID_HEADER",
    "error_from_response",
    "not_expected",
    "parse_grant",
    "parse_retry_after",
    "redact",
    "request_id",
    "too_large",
]

# Descriptions are for humans; a proxy's 50 kB HTML error page is not.
_MAX_DESCRIPTION = 500
_REDACTED = "[redacted]"


#: The header a server names its request by; quoted in errors and raw responses.
REQUEST_ID_HEADER = "X-Request-Id"
# The order's id as the body spells it, found without parsing a body that cannot
# be parsed: "id" as a top-level-looking key with a string value.
_ORDER_ID = re.compile(rb'"id"\s*:\s*"([A-Za-z0-9_-]{1,64})"')


def request_id(response: Response) -> str | None:
    """Return the server's id for this request (bounded: it is quoted in errors)."""
    value = response.headers.get(REQUEST_ID_HEADER)
    return value[:128] if value else None


def not_expected(
    request: Request,
    response: Response,
    problem: ValueError,
    *,
    secrets: Iterable[str],
) -> APIResponseValidationError:
    """Return the error for a 2xx answer that cannot be read (secrets redacted).

    A create-order's 2xx means the order exists and will be printed, whatever the
    body looks like: the error says so, with the partner order id, the raw body and
    the order id when one can be found, so nobody places the order again.
    """
    body = redact(response.body[:2000].decode("utf-8", "replace"), secrets)
    where = f"{request.method} {request.path}"
    if request.creates_order:
        found = _ORDER_ID.search(response.body)
        order_id = found.group(1).decode() if found else None
        return APIResponseValidationError(
            redact(
                f"{where}: the order WAS CREATED (HTTP {response.status}"
                f"{f', id {order_id!r}' if order_id else ''}, partner order id "
                f"{request.partner_order_id!r}) but its answer cannot be read: {problem}. "
                "Do not place it again; look it up by its id or in the Digipix dashboard",
                secrets,
            ),
            status=response.status,
            body=body,
            path=request.path,
            order_created=True,
            partner_order_id=request.partner_order_id,
            order_id=order_id,
            request_id=request_id(response),
        )
    return APIResponseValidationError(
        redact(f"{where}: the answer cannot be read: {problem}", secrets),
        status=response.status,
        body=body,
        path=request.path,
        request_id=request_id(response),
    )


def too_large(request: Request, error: APIResponseValidationError) -> APIResponseValidationError:
    """Return what a 2xx answer refused for its size means for ``request``.

    For a create-order the server has said yes: the order exists, and the error
    says so (``order_created``), like any created order whose answer cannot be read.
    """
    if not request.creates_order:
        return error
    created = APIResponseValidationError(
        f"{request.method} {request.path}: the order WAS CREATED (HTTP {error.status}, "
        f"partner order id {request.partner_order_id!r}) but its answer was refused: "
        f"{error}. Do not place it again; look it up in the Digipix dashboard",
        status=error.status,
        path=request.path,
        order_created=True,
        partner_order_id=request.partner_order_id,
        request_id=error.request_id,
    )
    created.attempts = error.attempts
    return created


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Return the seconds a ``Retry-After`` header asks for (RFC 9110 10.2.3).

    Both forms are read: delay-seconds (``"120"``, ASCII digits only: ``str.isdigit``
    also accepts ``"²"``) and an HTTP date. A date in the past means "now" (0.0);
    anything unreadable is ignored (None), since a broken header must not turn a
    retryable answer into a crash.
    """
    if value is None:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        # A thousand-digit header is still only "a very long wait".
        return float(value) if len(value) < 16 else float("1e15")
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
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
    # A loop over an explicit stack, not recursion: a hostile error body nested
    # hundreds of levels deep must not turn into a RecursionError on the error path.
    def scrub(text: str) -> str:
        for secret in secrets:
            text = text.replace(secret, _REDACTED)
        return text

    if isinstance(value, str):
        return scrub(value)
    if not isinstance(value, Mapping | list | tuple):
        return value
    root: list[Any] = [None]
    stack: list[tuple[Any, Any, Any]] = [(value, root, 0)]  # (source, parent, key in parent)
    while stack:
        source, parent, key = stack.pop()
        if isinstance(source, str):
            parent[key] = scrub(source)
        elif isinstance(source, Mapping):
            copy: dict[Any, Any] = {}
            parent[key] = copy
            for item_key, item in source.items():
                clean_key = scrub(item_key) if isinstance(item_key, str) else item_key
                copy[clean_key] = None
                stack.append((item, copy, clean_key))
        elif isinstance(source, list | tuple):
            items: list[Any] = [None] * len(source)
            parent[key] = items
            stack.extend((item, items, index) for index, item in enumerate(source))
        else:
            parent[key] = source
    return root[0]


def _parse_error_body(body: bytes) -> Any:
    """Return the error body as JSON values, or as text when it is not JSON."""
    text = body.decode("utf-8", errors="replace")
    try:
        return loads(text)
    except ValueError:  # not JSON, or nested too deeply to read
        return text


def _describe(parsed: Any, status: int) -> str:
    """Return the server's own words for an error, whatever shape it chose."""
    if isinstance(parsed, Mapping):
        for key in ("error_description", "message", "detail", "error", "title"):
            found = parsed.get(key)
            if isinstance(found, str) and found.strip():
                return found.strip()[:_MAX_DESCRIPTION]
        if parsed:
            try:
                return dumps(parsed).decode()[:_MAX_DESCRIPTION]
            except ValueError:  # nested too deeply to write back
                return f"HTTP {status} with an error body too deeply nested to quote"
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
        "request_id": request_id(response),
    }
    if not request.needs_token and 400 <= response.status < 500 and response.status != 429:
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
    """Read the token endpoint's answer; the body holds the token, so no error quotes it.

    The token goes into an HTTP header as it is: one with a character a header
    cannot hold (CR, LF, anything outside visible ASCII) is refused here, once,
    instead of failing every call that would carry it.
    """
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
    if not (token.isascii() and token.isprintable()) or " " in token:
        raise APIResponseValidationError(
            "token response's access_token holds characters an HTTP header cannot carry",
            status=response.status,
            path=TOKEN_PATH,
        )
    if isinstance(lifetime, bool) or not isinstance(lifetime, int | float | Decimal):
        raise APIResponseValidationError(
            "token response has no numeric expires_in", status=response.status, path=TOKEN_PATH
        )
    return TokenGrant(token, float(lifetime))
