"""Where a client's token, pause and rate budget live: in memory, or shared on Redis.

``DigipixClient(store=...)`` and ``NotificationReceiver(store=...)`` take a
`Store`: `MemoryStore` (the default, one process) or `RedisStore` (the
``digipix_async[redis]`` extra; imported only when a RedisStore is built).
"""

from __future__ import annotations

from digipix_async.stores._memory import MemoryStore
from digipix_async.stores._protocol import ClaimResult, Store, namespace_for
from digipix_async.stores._redis import RedisStore

__all__ = ["ClaimResult", "MemoryStore", "RedisStore", "Store", "namespace_for"]
