"""The exception tree of digipix_async.

::

    DigipixError
    ├── APIConnectionError            the server could not be reached or the connection broke
    │   └── APITimeoutError           connect, read or the call's overall deadline ran out
    ├── APIStatusError                the server answered with a status other than 200/201
    │   ├── BadRequestError           400
    │   ├── AuthenticationError       401, or the token endpoint refused the credentials
    │   ├── PermissionDeniedError     403, or a scope the client did not request
    │   ├── NotFoundError             404
    │   ├── ConflictError             409
    │   ├── UnprocessableEntityError  422
    │   ├── RateLimitError            429
    │   └── InternalServerError       5xx
    ├── APIResponseValidationError    a 2xx body that is not the JSON the model expects
    ├── OrderOutcomeUnknownError      a create-order that may or may not have reached the server
    ├── JournalError                  an order journal's file cannot be read or written
    └── ValidationError (ValueError)  bad input, raised before anything is sent

Every error pickles (so it can cross a process pool) and never holds a request
header, so the Authorization header cannot leak through ``repr`` or a traceback.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = [
    "APIConnectionError",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "ConflictError",
    "DigipixError",
    "InternalServerError",
    "JournalError",
    "NotFoundError",
    "OrderOutcomeUnknownError",
    "PermissionDeniedError",
    "RateLimitError",
    "UnprocessableEntityError",
    "ValidationError",
    "status_error_class",
]


def _restore(cls: type[DigipixError], args: tuple[Any, ...], state: dict[str, Any]) -> Any:
    error = cls.__new__(cls)
    error.args = args
    error.__dict__.update(state)
    return error


class DigipixError(Exception):
    """Base class of every error this SDK raises on purpose."""

    attempts: int = 0

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only constructors defeat Exception's default pickling; rebuild from state.
        return (_restore, (type(self), self.args, self.__dict__))


class APIConnectionError(DigipixError):
    """The request failed below HTTP: refused, reset, or closed before an answer.

    ``request_sent`` is False only when the connection provably never carried the
    request (the connect step itself failed).
    """

    def __init__(self, message: str, *, request_sent: bool = True, attempts: int = 1) -> None:
        super().__init__(message)
        self.request_sent = request_sent
        self.attempts = attempts


class APITimeoutError(APIConnectionError):
    """A connect or read timeout, or the call's overall deadline, ran out."""


class APIStatusError(DigipixError):
    """The server answered with an error status.

    ``body`` is the parsed JSON (or the text when it is not JSON), ``description``
    the server's own words about the error, ``headers`` the response headers,
    ``retry_after`` the seconds its ``Retry-After`` header asked for, if any, and
    ``request_id`` the server's ``X-Request-Id`` (quote it to Digipix support).
    """

    def __init__(
        self,
        description: str,
        *,
        status: int,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        method: str = "",
        path: str = "",
        attempts: int = 1,
        retry_after: float | None = None,
        request_id: str | None = None,
    ) -> None:
        where = f" ({method} {path})" if method else ""
        super().__init__(f"{status}{where}: {description}")
        self.request_id = request_id
        self.status = status
        self.description = description
        self.body = body
        self.headers: Mapping[str, str] = dict(headers) if headers is not None else {}
        self.method = method
        self.path = path
        self.attempts = attempts
        self.retry_after = retry_after


class BadRequestError(APIStatusError):
    """400: the server rejected the request's content."""


class AuthenticationError(APIStatusError):
    """401, or the token endpoint refused the credentials.

    ``error_code`` is the OAuth2 ``error`` field (``invalid_client``...) when the
    token endpoint gave one.
    """

    def __init__(self, description: str, *, error_code: str | None = None, **kwargs: Any) -> None:
        super().__init__(description, **kwargs)
        self.error_code = error_code


class PermissionDeniedError(APIStatusError):
    """403, or a call needing a scope this client did not request (``scope`` names it).

    The client-side form sends nothing: ``attempts`` is 0.
    """

    def __init__(self, description: str, *, scope: str | None = None, **kwargs: Any) -> None:
        super().__init__(description, **kwargs)
        self.scope = scope


class NotFoundError(APIStatusError):
    """404: no such order or product."""


class ConflictError(APIStatusError):
    """409: the order is in a state that forbids the change."""


class UnprocessableEntityError(APIStatusError):
    """422: the request was well formed but its values were refused."""


class RateLimitError(APIStatusError):
    """429 after the retries, or a ``Retry-After`` longer than the client will wait.

    ``retry_after`` is the server's wait in seconds, when it sent one.
    """


class InternalServerError(APIStatusError):
    """5xx: the server failed."""


class APIResponseValidationError(DigipixError):
    """A 2xx answer that cannot be read: not JSON, truncated, too large, no identity fields.

    For a create-order, ``order_created`` is True: the server said it created the
    order (do NOT place it again). ``partner_order_id`` is the one that was sent,
    ``order_id`` the order's id when it could be found in the body, ``body`` the
    raw answer (secrets redacted), ``request_id`` the server's request id.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int,
        body: Any = None,
        path: str = "",
        order_created: bool = False,
        partner_order_id: str | None = None,
        order_id: str | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body = body
        self.path = path
        self.order_created = order_created
        self.partner_order_id = partner_order_id
        self.order_id = order_id
        self.request_id = request_id


class OrderOutcomeUnknownError(DigipixError):
    """A create-order failed in a way that does not tell whether the order exists.

    The request may have reached the server, so it is not retried: retrying could
    print the order twice. Check the order in the Digipix dashboard (search by
    ``partner_order_id``) before placing it again. ``cause`` is the failure.
    """

    def __init__(self, *, partner_order_id: str | None, cause: DigipixError) -> None:
        label = repr(partner_order_id) if partner_order_id is not None else "without partner id"
        super().__init__(
            f"order {label}: outcome unknown, the request may have been processed "
            f"({type(cause).__name__}: {cause}); check before creating it again"
        )
        self.partner_order_id = partner_order_id
        self.cause = cause
        self.attempts = cause.attempts


class JournalError(DigipixError):
    """An order journal's file cannot be read or written: a full disk, an I/O error,
    a file that is not a journal. The SQLite error is the ``__cause__``.

    Raised for a create whose intent could not be recorded (``partner_order_id``):
    that order was NOT sent, and a rerun sends it. Raised by ``OrderJournal.aclose``
    when the outcomes of some creates could not be recorded at all: ``unrecorded``
    maps each one's partner order id to the order id it was created as (None if it
    was not created, or its outcome is unknown). A rerun reports those as unknown;
    settle the created ones with ``journal.mark_created(partner_order_id, order_id)``.
    """

    def __init__(
        self,
        message: str,
        *,
        partner_order_id: str | None = None,
        unrecorded: Mapping[str, str | None] | None = None,
    ) -> None:
        super().__init__(message)
        self.partner_order_id = partner_order_id
        self.unrecorded: dict[str, str | None] = dict(unrecorded or {})


class ValidationError(DigipixError, ValueError):
    """Bad input, found before anything was sent; ``field`` names the culprit."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


_STATUS_ERRORS: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}


def status_error_class(status: int) -> type[APIStatusError]:
    """Return the exception class for an HTTP error status."""
    if status >= 500:
        return InternalServerError
    return _STATUS_ERRORS.get(status, APIStatusError)
