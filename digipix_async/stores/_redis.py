"""`RedisStore`: one token, pause, rate budget and dedup table for a fleet of processes.

Every Redis call is bounded by ``timeout``; when Redis fails or is slow, the
call is answered from this process's own `MemoryStore` (see `_link` for the
outage, probe and event-loop rules). A failing Redis never raises into the
caller.

Writes of the token, the pause and "done" marks also go to the memory store,
and tokens and pauses read from Redis are copied there, so an outage starts
from what the fleet last knew instead of from nothing. "Done" marks made during
an outage are copied to Redis by the first call that reaches it again, so a
redelivery to another worker is not handled twice.

The values are access tokens, which grant API access: protect the Redis with
an ACL user, a password and TLS (``rediss://``). The client secret is never
stored; keys hold a hash of the client's identity (`namespace_for`).
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Final, TypeVar

from digipix_async.stores._checks import (
    check_duration,
    check_key,
    check_moment,
    check_rate,
    check_token,
)
from digipix_async.stores._keys import (
    lock_key,
    notification_key,
    pause_key,
    rate_key,
    token_key,
)
from digipix_async.stores._link import RedisLink
from digipix_async.stores._memory import MemoryStore
from digipix_async.stores._protocol import ClaimResult

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["RedisStore"]

_T = TypeVar("_T")
_V = TypeVar("_V")


def _text(value: object) -> str | None:
    """Return a reply as text, whether the client decodes responses or not."""
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return value if isinstance(value, str) else None


#: The longest expiry sent to Redis (30 days): far beyond any token or pause,
#: and far below the largest PX Redis accepts, so absurd input cannot make a
#: command fail (and look like an outage).
_MAX_MS = 30 * 24 * 3600 * 1000


def _ms(seconds: float) -> int:
    """Return a duration in whole milliseconds, rounded up, from 1 (PX 0 is refused) to 30 days."""
    return min(_MAX_MS, max(1, math.ceil(seconds * 1000)))


def _check_connections(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"max_connections must be a positive integer, not {value!r}")
    return value


#: Claims (and "done" marks to copy to Redis) remembered at most: beyond, the oldest
#: is forgotten. A forgotten claim is left to lapse (the receiver settles every claim
#: it makes); a forgotten mark stays in this process's memory only.
_MAX_REMEMBERED: Final = 10_000


def _remember(table: dict[str, _V], key: str, value: _V) -> None:
    table.pop(key, None)  # re-inserted last: the oldest go first
    table[key] = value
    if len(table) > _MAX_REMEMBERED:
        del table[next(iter(table))]


async def _nothing() -> None:
    """Stand in for a memory call whose work was already done."""


class RedisStore:
    """Share the state of every process on one Redis, falling back to memory when it fails.

    ``url_or_client`` is a URL (``redis://``, ``rediss://``, ``unix://``; the
    store then owns the client and closes it in `aclose`) or a
    ``redis.asyncio.Redis`` the caller keeps and closes. ``timeout`` bounds
    each call (and, for an owned client, each connect and socket read);
    ``max_connections`` bounds the calls in flight at once.
    """

    def __init__(
        self,
        url_or_client: str | Redis,
        *,
        timeout: float = 0.5,
        probe_interval: float = 5.0,
        max_connections: int = 50,
        memory: MemoryStore | None = None,
    ) -> None:
        self._link = RedisLink(
            url_or_client,
            timeout=check_duration("timeout", timeout),
            probe_interval=check_duration("probe_interval", probe_interval),
            max_connections=_check_connections(max_connections),
        )
        self._memory = memory if memory is not None else MemoryStore()
        # key -> the value of a claim this store made on Redis and has not settled:
        # a release deletes the claim only while it is still that one. A claim that
        # lapsed (a callback running past ``pending_ttl``) and that another worker
        # took since is that worker's to settle.
        self._claims: dict[str, str] = {}
        # key -> until when (epoch seconds): "done" marks made while Redis was out,
        # copied there by the first call that reaches it again.
        self._unsent_done: dict[str, float] = {}
        self._copying_done = False  # one copy at a time, however many calls find Redis back
        self._script = self._link.script

    async def _run(
        self, on_redis: Callable[[], Awaitable[_T]], on_memory: Callable[[], Awaitable[_T]]
    ) -> _T:
        """Answer from Redis, else from memory (`RedisLink.run`); then, once Redis answers
        again, copy to it the "done" marks made without it (a redelivery to another
        worker then finds them)."""
        result = await self._link.run(on_redis, on_memory)
        if self._unsent_done and not self._link.degraded and not self._copying_done:
            self._copying_done = True
            try:
                await self._link.run(self._send_unsent_done, _nothing)
            finally:
                self._copying_done = False
        return result

    def __repr__(self) -> str:
        # Never the URL: it may hold a password.
        owner = "owned" if self._link.owns_client else "borrowed"
        where = "memory (Redis unreachable)" if self._link.degraded else "redis"
        return f"<RedisStore {owner} client, state in {where}>"

    # -- token ----------------------------------------------------------------

    async def get_token(self, namespace: str) -> tuple[str, float] | None:
        """Return the shared token and its expiry (epoch seconds, on this machine's clock)."""
        namespace = check_key("namespace", namespace)

        async def on_redis() -> tuple[str, float] | None:
            value, pttl = await self._script("READ_WITH_TTL", [token_key(namespace)], [])
            token = _text(value)
            if token is None or not isinstance(pttl, int) or pttl <= 0:
                return None
            expires_at = time.time() + pttl / 1000
            await self._memory.set_token(namespace, token, expires_at)
            return token, expires_at

        return await self._run(on_redis, lambda: self._memory.get_token(namespace))

    async def set_token(self, namespace: str, token: str, expires_at: float) -> None:
        """Share ``token`` until ``expires_at``; an already expired one is not stored."""
        namespace, token = check_key("namespace", namespace), check_token(token)
        expires_at = check_moment("expires_at", expires_at)
        await self._memory.set_token(namespace, token, expires_at)
        lifetime = expires_at - time.time()
        if lifetime <= 0:
            return

        async def on_redis() -> None:
            await self._link.client.set(token_key(namespace), token, px=_ms(lifetime))

        await self._run(on_redis, _nothing)

    async def invalidate_token(self, namespace: str, token: str) -> None:
        """Forget the shared token, only if it is still ``token`` (atomic compare-and-delete)."""
        namespace, token = check_key("namespace", namespace), check_token(token)
        await self._memory.invalidate_token(namespace, token)
        keys = [token_key(namespace)]
        await self._run(lambda: self._script("COMPARE_AND_DELETE", keys, [token]), _nothing)

    async def acquire_refresh_lock(self, namespace: str, owner: str, ttl: float) -> bool:
        """Take the fleet's right to fetch the next token for ``ttl`` seconds (SET NX PX)."""
        namespace, owner = check_key("namespace", namespace), check_key("owner", owner)
        ttl = check_duration("ttl", ttl)

        async def on_redis() -> bool:
            return bool(
                await self._link.client.set(lock_key(namespace), owner, nx=True, px=_ms(ttl))
            )

        return await self._run(
            on_redis, lambda: self._memory.acquire_refresh_lock(namespace, owner, ttl)
        )

    async def release_refresh_lock(self, namespace: str, owner: str) -> None:
        """Give the lock back, only if ``owner`` still holds it (atomic compare-and-delete)."""
        namespace, owner = check_key("namespace", namespace), check_key("owner", owner)
        keys = [lock_key(namespace)]
        await self._run(
            lambda: self._script("COMPARE_AND_DELETE", keys, [owner]),
            lambda: self._memory.release_refresh_lock(namespace, owner),
        )

    # -- pause and rate budget -------------------------------------------------

    async def pause_until(self, namespace: str, until: float) -> None:
        """Pause the fleet until ``until`` (epoch seconds), keeping a later pause."""
        namespace, until = check_key("namespace", namespace), check_moment("until", until)
        await self._memory.pause_until(namespace, until)
        remaining = until - time.time()
        if remaining <= 0:
            return
        keys = [pause_key(namespace)]
        await self._run(lambda: self._script("PAUSE_UNTIL", keys, [_ms(remaining)]), _nothing)

    async def paused_until(self, namespace: str) -> float:
        """Return when the fleet's pause ends (epoch seconds, this machine's clock), or 0.0."""
        namespace = check_key("namespace", namespace)

        async def on_redis() -> float:
            pttl = await self._link.client.pttl(pause_key(namespace))
            if not isinstance(pttl, int) or pttl <= 0:
                return 0.0
            until = time.time() + pttl / 1000
            await self._memory.pause_until(namespace, until)
            return until

        return await self._run(on_redis, lambda: self._memory.paused_until(namespace))

    async def take_rate_token(self, namespace: str, rate: float, burst: float) -> float:
        """Take a token from the fleet's bucket: 0.0, or the seconds to wait (nothing taken)."""
        namespace = check_key("namespace", namespace)
        rate, burst = check_rate(rate, burst)

        async def on_redis() -> float:
            wait = _text(
                await self._script("TAKE_FROM_BUCKET", [rate_key(namespace)], [rate, burst])
            )
            return float(wait) if wait is not None else 1.0 / rate

        return await self._run(
            on_redis, lambda: self._memory.take_rate_token(namespace, rate, burst)
        )

    # -- webhook dedup ---------------------------------------------------------

    async def claim_notification(self, key: str, *, pending_ttl: float) -> ClaimResult:
        """Claim a notification fleet-wide: "claimed", or "pending"/"done" by another."""
        key, pending_ttl = check_key("key", key), check_duration("pending_ttl", pending_ttl)

        async def on_redis() -> ClaimResult:
            keys = [notification_key(key)]
            claim = f"pending:{uuid.uuid4().hex}"
            answer = _text(
                await self._script("CLAIM_NOTIFICATION", keys, [_ms(pending_ttl), claim])
            )
            if answer == "claimed":
                _remember(self._claims, key, claim)
                return "claimed"
            if answer == "done":
                return "done"
            # Anything else is someone's claim: never handle a notification twice.
            return "pending"

        return await self._run(
            on_redis, lambda: self._memory.claim_notification(key, pending_ttl=pending_ttl)
        )

    async def finish_notification(self, key: str, *, ttl: float) -> None:
        """Mark a notification handled fleet-wide for ``ttl`` seconds."""
        key, ttl = check_key("key", key), check_duration("ttl", ttl)
        self._claims.pop(key, None)
        await self._memory.finish_notification(key, ttl=ttl)
        until = time.time() + ttl

        async def on_redis() -> None:
            await self._link.client.set(notification_key(key), "done", px=_ms(ttl))

        async def on_memory() -> None:
            _remember(self._unsent_done, key, until)  # the memory store has it already

        await self._run(on_redis, on_memory)

    async def release_notification(self, key: str) -> None:
        """Drop this store's claim whose handling failed, only while it is still that claim."""
        key = check_key("key", key)
        await self._memory.release_notification(key)
        claim = self._claims.pop(key, None)
        if claim is None:
            return  # not claimed on Redis by this store (memory only, or forgotten): it lapses
        keys = [notification_key(key)]
        await self._run(lambda: self._script("COMPARE_AND_DELETE", keys, [claim]), _nothing)

    async def _send_unsent_done(self) -> None:
        """Copy the "done" marks made while Redis was out to Redis, in one round trip."""
        marks = list(self._unsent_done.items())
        now = time.time()
        async with self._link.client.pipeline(transaction=False) as pipe:
            for key, until in marks:
                if until > now:
                    pipe.set(notification_key(key), "done", px=_ms(until - now))
            await pipe.execute()
        for key, until in marks:
            if self._unsent_done.get(key) == until:
                del self._unsent_done[key]

    async def aclose(self) -> None:
        """Close the client if this store created it; a borrowed client stays open."""
        await self._link.aclose()
        await self._memory.aclose()
