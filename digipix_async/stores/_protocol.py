"""`Store`: what the client and the webhook receiver ask of a shared state store.

Three things live in a store, per *namespace* (one per client identity, see
`namespace_for`): the access token with its refresh lock, the pause a 429/503
with ``Retry-After`` imposes, and the rate budget (a token bucket). A fourth,
keyed by the receiver, deduplicates webhook notifications across workers.

Moments the caller passes or receives (``expires_at``, ``until``) are epoch
seconds, compared by the caller with ``time.time()``; durations (``ttl``,
``pending_ttl``, the bucket's refill) are seconds.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Literal, Protocol, runtime_checkable

__all__ = ["ClaimResult", "Store", "namespace_for"]

#: The answer of `Store.claim_notification`.
ClaimResult = Literal["claimed", "pending", "done"]


@runtime_checkable
class Store(Protocol):
    """Hold a client's token, pause and rate budget, and the receiver's dedup marks."""

    async def get_token(self, namespace: str) -> tuple[str, float] | None:
        """Return the shared token and its expiry (epoch seconds), or None."""
        ...

    async def set_token(self, namespace: str, token: str, expires_at: float) -> None:
        """Share a new token until ``expires_at``; an already expired one is not stored."""
        ...

    async def invalidate_token(self, namespace: str, token: str) -> None:
        """Forget the shared token, but only if it is still ``token`` (the one that failed)."""
        ...

    async def acquire_refresh_lock(self, namespace: str, owner: str, ttl: float) -> bool:
        """Take the right to fetch the next token for ``ttl`` seconds; False if another has it."""
        ...

    async def release_refresh_lock(self, namespace: str, owner: str) -> None:
        """Give the refresh lock back, only if ``owner`` still holds it."""
        ...

    async def pause_until(self, namespace: str, until: float) -> None:
        """Pause the namespace until ``until`` (epoch seconds), keeping a later pause."""
        ...

    async def paused_until(self, namespace: str) -> float:
        """Return the moment (epoch seconds) the pause ends, or 0.0 when there is none."""
        ...

    async def take_rate_token(self, namespace: str, rate: float, burst: float) -> float:
        """Take one request's token: 0.0 if taken, else the seconds to wait (nothing taken)."""
        ...

    async def claim_notification(self, key: str, *, pending_ttl: float) -> ClaimResult:
        """Mark a notification as being handled: "claimed", or "pending"/"done" by another."""
        ...

    async def finish_notification(self, key: str, *, ttl: float) -> None:
        """Mark a notification as handled for ``ttl`` seconds."""
        ...

    async def release_notification(self, key: str) -> None:
        """Drop a claim whose handling failed, so a redelivery is handled; "done" stays."""
        ...

    async def aclose(self) -> None:
        """Release what the store opened."""
        ...


def namespace_for(client_id: str, base_url: str, scopes: Iterable[str]) -> str:
    """Return the namespace of one client identity: a hash, never holding a secret.

    Processes with the same client id, API base URL and scopes get the same
    token from the API, so they share one namespace; any difference gives
    another. The client secret is not an input: it cannot leak into a key.
    The scope order and repeats do not matter, nor a trailing slash or the
    case of the scheme and host.
    """
    if not isinstance(client_id, str) or not client_id:
        raise ValueError("client_id must be a non-empty string")
    if not isinstance(base_url, str) or not base_url:
        raise ValueError("base_url must be a non-empty string")
    if isinstance(scopes, str):
        raise TypeError("scopes must be a collection of scope names, not one string")
    scope_names = sorted(set(scopes))
    if not all(isinstance(scope, str) for scope in scope_names):
        raise TypeError("scopes must hold strings")
    scheme, sep, rest = base_url.rstrip("/").partition("://")
    host, slash, path = rest.partition("/")
    url = f"{scheme.lower()}{sep}{host.lower()}{slash}{path}" if sep else base_url.rstrip("/")
    # JSON keeps the parts apart: no client id can pass for another id plus a URL.
    identity = json.dumps([client_id, url, scope_names])
    return hashlib.sha256(identity.encode("utf-8")).hexdigest()[:32]
