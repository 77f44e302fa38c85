"""`MemoryStore`: the shared state of one process, in bounded dictionaries.

Clocks: expiry is kept on the monotonic clock (immune to wall-clock jumps);
the epoch moments the caller passes (``expires_at``, ``until``) are turned
into durations with ``time.time()`` once, when stored, and handed back as
given. All methods run without awaiting, so each is atomic in the event loop;
the store is not meant to be shared across threads.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

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
from digipix_async.stores._protocol import ClaimResult

__all__ = ["MemoryStore", "refill"]

#: A millionth of a token: far below any rate's meaning, far above float error.
_ROUNDING = 1e-6


def refill(tokens: float, at: float, now: float, rate: float, burst: float) -> tuple[float, float]:
    """Take one token from a bucket last seen at ``at``; return (tokens left, wait).

    The same arithmetic as the Redis script (`_scripts.TAKE_FROM_BUCKET`): the
    bucket refills at ``rate`` per second up to ``burst``; a wait > 0 means
    nothing was taken. A clock that went backwards refills nothing. A caller
    who waited exactly the wait it was told finds a token, whatever the float
    rounding of the refill (hence the tolerance). A burst below 1 counts as 1.
    """
    tokens = min(max(1.0, burst), tokens + max(0.0, now - at) * rate)
    if tokens >= 1.0 - _ROUNDING:
        return max(0.0, tokens - 1.0), 0.0
    return tokens, (1.0 - tokens) / rate


class _ExpiringMap:
    """A dict whose entries expire, holding at most ``max_size`` (oldest dropped first)."""

    def __init__(self, max_size: int, clock: Callable[[], float]) -> None:
        self._entries: OrderedDict[str, tuple[object, float]] = OrderedDict()
        self._max_size = max_size
        self._clock = clock

    def get(self, key: str) -> object | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[1] <= self._clock():
            del self._entries[key]
            return None
        return entry[0]

    def set(self, key: str, value: object, ttl: float) -> None:
        self._entries[key] = (value, self._clock() + ttl)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max_size:
            self._entries.popitem(last=False)

    def delete(self, key: str) -> None:
        self._entries.pop(key, None)

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


class MemoryStore:
    """Keep the token, pause, rate budget and dedup marks in this process (the default).

    ``max_entries`` bounds each of the two tables (client state, notification
    marks); past it the entry written longest ago is dropped. ``clock`` and
    ``wall_clock`` are injectable so tests can move time.
    """

    def __init__(
        self,
        *,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        if isinstance(max_entries, bool) or not isinstance(max_entries, int) or max_entries < 4:
            raise ValueError(f"max_entries must be an integer of at least 4, not {max_entries!r}")
        self._clock = clock
        self._wall_clock = wall_clock
        self._state = _ExpiringMap(max_entries, clock)
        self._notifications = _ExpiringMap(max_entries, clock)

    def __repr__(self) -> str:
        return f"<MemoryStore entries={len(self._state)} notifications={len(self._notifications)}>"

    async def get_token(self, namespace: str) -> tuple[str, float] | None:
        """Return the token and its expiry (epoch seconds), or None."""
        value = self._state.get(token_key(check_key("namespace", namespace)))
        return value if isinstance(value, tuple) else None

    async def set_token(self, namespace: str, token: str, expires_at: float) -> None:
        """Keep ``token`` until ``expires_at``; an already expired one is not stored."""
        key = token_key(check_key("namespace", namespace))
        token, expires_at = check_token(token), check_moment("expires_at", expires_at)
        lifetime = expires_at - self._wall_clock()
        if lifetime > 0:
            self._state.set(key, (token, expires_at), lifetime)

    async def invalidate_token(self, namespace: str, token: str) -> None:
        """Forget the token, only if it is still ``token``."""
        key = token_key(check_key("namespace", namespace))
        token = check_token(token)
        value = self._state.get(key)
        if isinstance(value, tuple) and value[0] == token:
            self._state.delete(key)

    async def acquire_refresh_lock(self, namespace: str, owner: str, ttl: float) -> bool:
        """Take the refresh lock for ``ttl`` seconds; False if someone holds it."""
        key = lock_key(check_key("namespace", namespace))
        owner, ttl = check_key("owner", owner), check_duration("ttl", ttl)
        if self._state.get(key) is not None:
            return False
        self._state.set(key, owner, ttl)
        return True

    async def release_refresh_lock(self, namespace: str, owner: str) -> None:
        """Give the lock back, only if ``owner`` holds it."""
        key = lock_key(check_key("namespace", namespace))
        if self._state.get(key) == check_key("owner", owner):
            self._state.delete(key)

    async def pause_until(self, namespace: str, until: float) -> None:
        """Pause until ``until`` (epoch seconds), unless a later pause is already kept."""
        key = pause_key(check_key("namespace", namespace))
        until = check_moment("until", until)
        remaining = until - self._wall_clock()
        current = self._state.get(key)
        if remaining > 0 and (not isinstance(current, float) or until > current):
            self._state.set(key, until, remaining)

    async def paused_until(self, namespace: str) -> float:
        """Return when the pause ends (epoch seconds), or 0.0."""
        value = self._state.get(pause_key(check_key("namespace", namespace)))
        return value if isinstance(value, float) else 0.0

    async def take_rate_token(self, namespace: str, rate: float, burst: float) -> float:
        """Take a token from the bucket: 0.0, or the seconds to wait (nothing taken)."""
        key = rate_key(check_key("namespace", namespace))
        rate, burst = check_rate(rate, burst)
        now = self._clock()
        value = self._state.get(key)
        tokens, at = value if isinstance(value, tuple) else (burst, now)
        tokens, wait = refill(tokens, at, now, rate, burst)
        # Once full again the bucket is the same as no bucket: let the entry go then.
        self._state.set(key, (tokens, now), (burst - tokens) / rate + 1.0)
        return wait

    async def claim_notification(self, key: str, *, pending_ttl: float) -> ClaimResult:
        """Claim a notification: "claimed", or "pending"/"done" if already claimed."""
        entry = notification_key(check_key("key", key))
        pending_ttl = check_duration("pending_ttl", pending_ttl)
        current = self._notifications.get(entry)
        if current == "pending" or current == "done":
            return current
        self._notifications.set(entry, "pending", pending_ttl)
        return "claimed"

    async def finish_notification(self, key: str, *, ttl: float) -> None:
        """Mark a notification handled for ``ttl`` seconds."""
        entry = notification_key(check_key("key", key))
        self._notifications.set(entry, "done", check_duration("ttl", ttl))

    async def release_notification(self, key: str) -> None:
        """Drop a claim, only while it is still pending."""
        entry = notification_key(check_key("key", key))
        if self._notifications.get(entry) == "pending":
            self._notifications.delete(entry)

    async def aclose(self) -> None:
        """Forget everything; the store can still be used afterwards."""
        self._state.clear()
        self._notifications.clear()
