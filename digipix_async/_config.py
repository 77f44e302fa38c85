"""Frozen settings and their defaults: timeouts, pool limits, retry policy, hosts."""

from __future__ import annotations

import math
from collections.abc import Iterable

import attrs

__all__ = [
    "DEFAULT_SCOPES",
    "ENVIRONMENTS",
    "Limits",
    "RetryPolicy",
    "Timeout",
    "check_scopes",
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


def _positive(instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
        raise ValueError(f"{attribute.name} must be a positive number of seconds, got {value!r}")


@attrs.frozen
class Timeout:
    """Time limits in seconds; every one is always set, so no call can hang forever.

    ``total`` bounds a whole call: every attempt, every retry wait and the wait for a
    token. ``connect`` bounds getting a connection (pool wait included) and ``read``
    the silence between two reads from the socket.
    """

    total: float = attrs.field(default=30.0, validator=_positive)
    connect: float = attrs.field(default=10.0, validator=_positive)
    read: float = attrs.field(default=30.0, validator=_positive)

    @classmethod
    def coerce(cls, value: float | Timeout) -> Timeout:
        """Return ``value`` as a Timeout; a number is the whole call's limit."""
        if isinstance(value, Timeout):
            return value
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise TypeError(f"timeout must be seconds or a Timeout, got {value!r}")
        seconds = float(value)
        return cls(total=seconds, connect=min(cls().connect, seconds), read=seconds)


@attrs.frozen
class Limits:
    """Connection pool settings of a client that owns its session.

    The keep-alive expiry is shorter than the idle timeouts of common servers and
    load balancers (5 s and up), so the client drops an idle connection before the
    server does: a create-order sent on a connection the server has just closed
    could not be retried safely.
    """

    max_connections: int = attrs.field(default=100)
    keepalive_expiry: float = attrs.field(default=4.0, validator=_positive)

    @max_connections.validator
    def _check_max_connections(self, attribute: attrs.Attribute[int], value: int) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"max_connections must be a whole number >= 1, got {value!r}")


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
    """Return the server root: ``base_url`` without its trailing slash, or the environment's."""
    if base_url is not None:
        if not isinstance(base_url, str) or not base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url must be an http(s) URL, got {base_url!r}")
        return base_url.rstrip("/")
    try:
        return ENVIRONMENTS[environment]
    except (KeyError, TypeError):
        raise ValueError(
            f"environment must be one of {sorted(ENVIRONMENTS)} (or give base_url), "
            f"got {environment!r}"
        ) from None


def check_scopes(scopes: Iterable[str]) -> tuple[str, ...]:
    """Return the scopes to request, in order and without repeats; unknown ones are refused."""
    if isinstance(scopes, str):
        raise TypeError("scopes must be a collection of scope names, not one string")
    result = tuple(dict.fromkeys(scopes))
    unknown = [scope for scope in result if scope not in DEFAULT_SCOPES]
    if unknown:
        raise ValueError(f"unknown scopes {unknown}; the reference defines {DEFAULT_SCOPES}")
    return result
