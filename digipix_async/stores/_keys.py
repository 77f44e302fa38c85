"""The key of each piece of shared state: one layout for both stores.

Everything lives under ``digipix:``, then the namespace (a hash of the client's
identity, see `namespace_for`) or, for webhook dedup, ``notification:``.
"""

from __future__ import annotations

__all__ = ["lock_key", "notification_key", "pause_key", "rate_key", "token_key"]

_PREFIX = "digipix:"


def token_key(namespace: str) -> str:
    """Return the key of the shared access token."""
    return f"{_PREFIX}{namespace}:token"


def lock_key(namespace: str) -> str:
    """Return the key of the token refresh lock."""
    return f"{_PREFIX}{namespace}:refresh-lock"


def pause_key(namespace: str) -> str:
    """Return the key of the pause a 429/503 imposed."""
    return f"{_PREFIX}{namespace}:pause"


def rate_key(namespace: str) -> str:
    """Return the key of the rate budget's token bucket."""
    return f"{_PREFIX}{namespace}:rate"


def notification_key(key: str) -> str:
    """Return the key of one notification's dedup mark."""
    return f"{_PREFIX}notification:{key}"
