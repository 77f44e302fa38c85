"""Frozen settings and their defaults: timeouts, pool limits, retry policy, hosts.

Every check here runs at construction, so a bad setting is a `ValueError` naming it
before anything is sent, never an error on every call.
"""

from __future__ import annotations

import re
import ssl
from collections.abc import Iterable
from urllib.parse import urlsplit

import attrs

__all__ = [
    "DEFAULT_MAX_RESPONSE_SIZE",
    "DEFAULT_SCOPES",
    "ENVIRONMENTS",
    "MAX_SECONDS",
    "Limits",
    "RetryPolicy",
    "Timeout",
    "check_app_info",
    "check_scopes",
    "check_ssl",
    "resolve_base_url",
]

# The reference names no hosts. The sandbox host is the issuer of the reference's
# example development token (`"iss": "api.digipix.dev"`); both are overridable with
# `base_url`, and a wrong guess here is a one-line fix.
ENVIRONMENTS = {
    "production": "https://api.digipix.com.br",
    "sandbox": "https://api.digipix.dev",
}

DEFAULT_SCOPES = ("orders", "quote", "products")

#: No limit in seconds may exceed a day: asyncio's timers overflow long before
#: ``1e308`` (an ``OverflowError`` on every call), and no call should wait longer.
MAX_SECONDS = 86400.0

#: A larger answer (after decompression) is refused while it is read.
DEFAULT_MAX_RESPONSE_SIZE = 10 * 1024 * 1024


def _seconds(name: str, value: object) -> None:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not (0 < value <= MAX_SECONDS)  # NaN fails both comparisons
    ):
        raise ValueError(
            f"{name} must be a positive number of seconds up to {MAX_SECONDS:.0f} (one day), "
            f"got {value!r}"
        )


def _timeout_seconds(instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    _seconds(f"timeout.{attribute.name}", value)


def _positive(instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    _seconds(attribute.name, value)


@attrs.frozen
class Timeout:
    """Time limits in seconds; every one is always set, so no call can hang forever.

    ``total`` bounds a whole call: every attempt, every retry wait and the wait for a
    token. ``connect`` bounds getting a connection (pool wait included) and ``read``
    the silence between two reads from the socket.
    """

    total: float = attrs.field(default=30.0, validator=_timeout_seconds)
    connect: float = attrs.field(default=10.0, validator=_timeout_seconds)
    read: float = attrs.field(default=30.0, validator=_timeout_seconds)

    @classmethod
    def coerce(cls, value: float | Timeout) -> Timeout:
        """Return ``value`` as a Timeout; a number is the whole call's limit."""
        if isinstance(value, Timeout):
            return value
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise TypeError(f"timeout must be seconds or a Timeout, got {value!r}")
        _seconds("timeout", value)  # before float(): 10**400 would overflow there
        seconds = float(value)
        return cls(total=seconds, connect=min(cls().connect, seconds), read=seconds)


@attrs.frozen
class Limits:
    """Connection pool settings of a client that owns its session, and the answer size.

    The keep-alive expiry is shorter than the idle timeouts of common servers and
    load balancers (5 s and up), so the client drops an idle connection before the
    server does: a create-order sent on a connection the server has just closed
    could not be retried safely.
    """

    max_connections: int = attrs.field(default=100)
    keepalive_expiry: float = attrs.field(default=4.0, validator=_positive)
    #: Bytes of one answer, counted after decompression (see `_transport`).
    max_response_size: int = attrs.field(default=DEFAULT_MAX_RESPONSE_SIZE)

    @max_connections.validator
    @max_response_size.validator
    def _check_whole(self, attribute: attrs.Attribute[int], value: int) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{attribute.name} must be a whole number >= 1, got {value!r}")


@attrs.frozen
class RetryPolicy:
    """How transient failures are retried (exponential backoff with full jitter).

    A ``Retry-After`` longer than ``max_retry_after`` is not slept through: the call
    fails with ``RateLimitError`` carrying ``retry_after`` so the caller can decide.
    """

    max_retries: int = attrs.field(default=3)
    initial_wait: float = 0.5
    max_wait: float = 8.0
    max_retry_after: float = 30.0

    @max_retries.validator
    def _check_max_retries(self, attribute: attrs.Attribute[int], value: int) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"max_retries must be a whole number >= 0, got {value!r}")


def resolve_base_url(environment: str, base_url: str | None) -> str:
    """Return the server root: ``base_url`` without its trailing slash, or the environment's.

    ``environment`` is checked even when ``base_url`` wins (a typo in
    ``DIGIPIX_ENVIRONMENT`` is never silently ignored) and read case-insensitively.
    """
    name = environment.strip().lower() if isinstance(environment, str) else None
    if name not in ENVIRONMENTS:
        raise ValueError(
            f"environment must be one of {sorted(ENVIRONMENTS)} (or give base_url), "
            f"got {environment!r}"
        )
    if base_url is None:
        return ENVIRONMENTS[name]
    return check_base_url(base_url)


# Printable ASCII without space: a control character (CR/LF above all) in the
# request line is refused by aiohttp on every call; a non-ASCII one is ambiguous
# once percent-encoded paths are appended.
_URL_CHARS = re.compile(r"[!-~]+")


def check_base_url(base_url: object) -> str:
    """Return ``base_url`` without its trailing slash, or raise ValueError naming the problem."""
    if not isinstance(base_url, str):
        raise ValueError(f"base_url must be an http(s) URL string, got {base_url!r}")
    problem = None
    if not _URL_CHARS.fullmatch(base_url):
        problem = "holds spaces, control or non-ASCII characters (use punycode for a host)"
    else:
        parts = urlsplit(base_url)
        try:
            parts.port  # noqa: B018 - read for its check: a port that is not 0-65535
        except ValueError:
            problem = "has an invalid port"
        else:
            if parts.scheme not in ("http", "https"):
                problem = "is not http(s)"
            elif not parts.hostname:
                problem = "has no host"
            elif parts.username is not None or parts.password is not None:
                # Basic credentials would clash with the bearer token.
                problem = "holds credentials"
            elif parts.query or parts.fragment or base_url.endswith(("?", "#")):
                problem = "has a query or fragment (the API's paths are appended to it)"
    if problem is not None:
        raise ValueError(f"base_url {problem}: {base_url!r}")
    return base_url.rstrip("/")


# RFC 9110 5.6.2 `token`: what a product name or version in User-Agent may hold.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,64}")


def check_app_info(app_info: object) -> tuple[str, str] | None:
    """Return ``app_info`` as ``(name, version)`` for the User-Agent, or raise ValueError."""
    if app_info is None:
        return None
    if (
        isinstance(app_info, tuple | list)
        and len(app_info) == 2
        and all(isinstance(part, str) and _TOKEN.fullmatch(part) for part in app_info)
    ):
        return (app_info[0], app_info[1])
    raise ValueError(
        "app_info must be (name, version), two words of at most 64 letters, digits or "
        f"!#$%&'*+-.^_`|~ (no spaces, slashes or control characters), got {app_info!r}"
    )


def check_ssl(value: object) -> ssl.SSLContext | bool:
    """Return what aiohttp takes for ``ssl=``: True (verify, the default), False, a context."""
    if value is None or value is True:
        return True
    if value is False or isinstance(value, ssl.SSLContext):
        return value
    raise TypeError(
        f"ssl must be None (verify certificates), False or an ssl.SSLContext, got {value!r}"
    )


def check_scopes(scopes: Iterable[str]) -> tuple[str, ...]:
    """Return the scopes to request, in order and without repeats; unknown ones are refused."""
    if isinstance(scopes, str):
        raise TypeError("scopes must be a collection of scope names, not one string")
    result = tuple(dict.fromkeys(scopes))
    unknown = [scope for scope in result if scope not in DEFAULT_SCOPES]
    if unknown:
        raise ValueError(f"unknown scopes {unknown}; the reference defines {DEFAULT_SCOPES}")
    return result
