"""Argument checks shared by the stores: a bad value is refused before any I/O.

Messages name the argument but never repeat a token's value.
"""

from __future__ import annotations

import math

__all__ = [
    "MAX_KEY_LENGTH",
    "MAX_TOKEN_LENGTH",
    "check_duration",
    "check_key",
    "check_moment",
    "check_rate",
    "check_token",
]

#: Namespaces, owners and notification keys are short identifiers.
MAX_KEY_LENGTH = 512
#: Far above a JWT access token; a bound on what one store entry may hold.
MAX_TOKEN_LENGTH = 16 * 1024


def check_key(name: str, value: object) -> str:
    """Return ``value`` if it is a usable key part: a short non-empty string."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string, not {type(value).__name__}")
    if not value or len(value) > MAX_KEY_LENGTH:
        raise ValueError(f"{name} must be 1 to {MAX_KEY_LENGTH} characters long")
    return value


def check_token(value: object) -> str:
    """Return ``value`` if it is a plausible access token (the message never shows it)."""
    if not isinstance(value, str):
        raise TypeError(f"token must be a string, not {type(value).__name__}")
    if not value or len(value) > MAX_TOKEN_LENGTH:
        raise ValueError(f"token must be 1 to {MAX_TOKEN_LENGTH} characters long")
    return value


def _finite(value: object) -> float | None:
    """Return ``value`` as a float if it is a finite real number (bool is not), else None."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def check_moment(name: str, value: object) -> float:
    """Return ``value`` as a float if it is a finite number of epoch seconds."""
    number = _finite(value)
    if number is None:
        raise ValueError(f"{name} must be a finite number of epoch seconds, not {value!r}")
    return number


def check_duration(name: str, value: object) -> float:
    """Return ``value`` as a float if it is a finite, positive number of seconds."""
    number = _finite(value)
    if number is None or number <= 0:
        raise ValueError(f"{name} must be a positive, finite number of seconds, not {value!r}")
    return number


def check_rate(rate: object, burst: object) -> tuple[float, float]:
    """Return a token bucket's ``(rate, burst)``: a positive rate, room for one request.

    A burst below 1 (``rate_limit=0.5`` with bursts "up to the rate") counts as
    1: a bucket that can never hold a whole token would never let a request go.
    """
    rate_number, burst_number = _finite(rate), _finite(burst)
    if rate_number is None or rate_number <= 0:
        raise ValueError(f"rate must be a positive, finite number per second, not {rate!r}")
    if burst_number is None or burst_number <= 0:
        raise ValueError(f"burst must be a positive, finite number of requests, not {burst!r}")
    return rate_number, max(1.0, burst_number)
