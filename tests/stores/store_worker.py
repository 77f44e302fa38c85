"""One worker process of the multi-process tests: share a Redis with its siblings.

Usage: ``python store_worker.py URL NAMESPACE WORKERS``. Waits until every
sibling is connected, then makes 50 concurrent rate-token takes and 50
concurrent lock attempts, and prints what it got as JSON.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

import redis.asyncio

from digipix_async.stores import RedisStore


async def main(url: str, namespace: str, workers: int) -> None:
    barrier = redis.asyncio.Redis.from_url(url, socket_timeout=5)
    store = RedisStore(url, timeout=5.0)
    try:
        # A start line: every process takes from the bucket at the same time.
        await barrier.incr("test:ready")
        deadline = time.monotonic() + 150
        while int(await barrier.get("test:ready") or 0) < workers:
            if time.monotonic() > deadline:
                raise SystemExit("the other workers never came")
            await asyncio.sleep(0.01)
        waits = await asyncio.gather(
            *(store.take_rate_token(namespace, 0.001, 20) for _ in range(50))
        )
        locks = await asyncio.gather(
            *(store.acquire_refresh_lock(namespace, f"pid-{i}", 60) for i in range(50))
        )
        print(json.dumps({"taken": waits.count(0.0), "locks": locks.count(True)}))
    finally:
        await store.aclose()
        await barrier.aclose()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
