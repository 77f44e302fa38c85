"""Where handled notifications are remembered: the `NotificationStore` protocol and its memory.

A notification is handled by one worker only: the receiver *claims* its key
before the callback, *finishes* it once the callback succeeded (the key is then
"done" for ``ttl`` seconds) and *releases* it when the callback failed, so the
sender's retry runs it again. A claim lapses after ``pending_ttl`` seconds, so a
worker that died mid-callback does not block the notification forever.

`MemoryNotificationStore` keeps this in one process, bounded in entries *and*
bytes; ``digipix_async.stores`` implements the same protocol on Redis to share
it across the worker processes of a web app.
"""

from __future__ import annotations

import hashlib
import sys
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Final, Literal, Protocol, runtime_checkable

__all__ = ["ClaimState", "MemoryNotificationStore", "NotificationStore", "notification_key"]

#: What `NotificationStore.claim_notification` answers.
ClaimState = Literal["claimed", "pending", "done"]

#: A claim's life when the store is used through the receiver (seconds).
DEFAULT_PENDING_TTL: Final = 60.0
#: How long a handled notification is remembered (seconds): the sender's retries end long before.
DEFAULT_DONE_TTL: Final = 7 * 24 * 3600.0
DEFAULT_MAX_ENTRIES: Final = 10_000
DEFAULT_MAX_BYTES: Final = 4 * 1024 * 1024

# What an OrderedDict entry costs beyond its key and value objects: the hash
# table slot (with its spare room) and the ordering node. Measured with
# tracemalloc on CPython 3.11-3.13 (about 100 bytes); rounded up so the
# accounting errs on the side of keeping less.
_ENTRY_OVERHEAD: Final = 128
# The value kept per key: a (done, expires_at) tuple and its float.
_VALUE_SIZE: Final = sys.getsizeof((True, 0.0)) + sys.getsizeof(0.0)


def notification_key(order_id: str, status: str) -> str:
    """Return the store key of an (order id, status): a fixed-size hash of both.

    A store never holds the sender's text: whatever the id, the key is 32 hex
    characters, so memory and Redis keys cost the same for every notification.
    """
    # The NUL separator keeps ("a", "bc") and ("ab", "c") apart; ids never hold one.
    digest = hashlib.blake2b(
        f"{order_id}\x00{status}".encode(errors="surrogatepass"),
        digest_size=16,
        person=b"digipix-notif",
    )
    return digest.hexdigest()


@runtime_checkable
class NotificationStore(Protocol):
    """Remember which notifications are being handled or were handled (see the module doc).

    Implemented by `MemoryNotificationStore` (the default, one process) and by
    ``digipix_async.stores.MemoryStore`` / ``RedisStore``. Every method is
    called with a key from `notification_key`.
    """

    async def claim_notification(self, key: str, *, pending_ttl: float) -> ClaimState:
        """Claim ``key`` for ``pending_ttl`` seconds; say who handles it.

        ``"claimed"``: this worker handles it now; ``"pending"``: another
        worker's claim has not lapsed; ``"done"``: it was handled already.
        """
        ...

    async def finish_notification(self, key: str, *, ttl: float) -> None:
        """Mark ``key`` handled for ``ttl`` seconds (the callback succeeded)."""
        ...

    async def release_notification(self, key: str) -> None:
        """Drop the claim on ``key`` (the callback failed: the next try runs it again)."""
        ...


class MemoryNotificationStore:
    """Keep claims and handled keys in this process: at most ``max_entries`` and ``max_bytes``.

    Least recently used entries go first when either bound is reached (a
    forgotten key only means a re-sent notification runs the callback again);
    expired entries are dropped when met. ``max_entries=0`` remembers nothing.
    Bytes are counted with `sys.getsizeof` for each key and value plus a fixed
    per-entry overhead, so even a caller passing huge keys stays within bound.
    """

    def __init__(
        self,
        *,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        max_bytes: int = DEFAULT_MAX_BYTES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        for name, value in (("max_entries", max_entries), ("max_bytes", max_bytes)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be an int >= 0 (0 remembers nothing)")
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._clock = clock
        # key -> (done, expires_at), least recently used first.
        self._entries: OrderedDict[str, tuple[bool, float]] = OrderedDict()
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return (
            f"<MemoryNotificationStore {len(self._entries)} entries, {self._bytes} bytes "
            f"(max {self.max_entries}, {self.max_bytes} bytes)>"
        )

    @property
    def size_in_bytes(self) -> int:
        """Return the bytes the entries are counted as (never over ``max_bytes``)."""
        return self._bytes

    async def claim_notification(self, key: str, *, pending_ttl: float) -> ClaimState:
        """Claim ``key`` unless a live claim or a handled mark holds it (see the protocol)."""
        now = self._clock()
        entry = self._entries.get(key)
        if entry is not None:
            done, expires_at = entry
            if expires_at > now:
                self._entries.move_to_end(key)
                return "done" if done else "pending"
            self._drop(key)
        self._put(key, False, now + pending_ttl)
        return "claimed"

    async def finish_notification(self, key: str, *, ttl: float) -> None:
        """Mark ``key`` handled for ``ttl`` seconds (``ttl <= 0`` forgets it at once)."""
        self._drop(key)
        if ttl > 0:
            self._put(key, True, self._clock() + ttl)

    async def release_notification(self, key: str) -> None:
        """Drop a claim on ``key``; a handled mark stays."""
        entry = self._entries.get(key)
        if entry is not None and not entry[0]:
            self._drop(key)

    @staticmethod
    def _cost(key: str) -> int:
        return sys.getsizeof(key) + _VALUE_SIZE + _ENTRY_OVERHEAD

    def _put(self, key: str, done: bool, expires_at: float) -> None:
        cost = self._cost(key)
        if self.max_entries == 0 or cost > self.max_bytes:
            return  # remembering it would break a bound by itself
        self._entries[key] = (done, expires_at)
        self._bytes += cost
        while len(self._entries) > self.max_entries or self._bytes > self.max_bytes:
            oldest, _ = self._entries.popitem(last=False)
            self._bytes -= self._cost(oldest)

    def _drop(self, key: str) -> None:
        if self._entries.pop(key, None) is not None:
            self._bytes -= self._cost(key)
