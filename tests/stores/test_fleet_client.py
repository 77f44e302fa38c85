"""A fleet of clients behaving as one through a real Redis: one token, one pause.

The workers are separate processes (the shape of a web app's workers) or, where
the test needs to watch timing closely, clients with stores of their own in this
process: either way their only shared state is the Redis. Requests are counted
at the sandbox.
"""

from __future__ import annotations

import asyncio
import sys
import textwrap
import time

import pytest
import redis.asyncio
from redis_process import RedisServer

from digipix_async import DigipixClient
from digipix_async.sandbox import SandboxServer
from digipix_async.stores import RedisStore

WORKER = textwrap.dedent(
    """
    import asyncio, sys
    from digipix_async import DigipixClient
    from digipix_async.stores import RedisStore

    async def main(base_url, client_id, secret, redis_url, calls):
        store = RedisStore(redis_url, timeout=5.0)
        try:
            async with DigipixClient(client_id, secret, base_url=base_url, store=store) as client:
                await asyncio.gather(*(client.products.list() for _ in range(calls)))
        finally:
            await store.aclose()

    asyncio.run(main(*sys.argv[1:5], int(sys.argv[5])))
    """
)


async def run_workers(sandbox: SandboxServer, redis_url: str, workers: int, calls: int) -> None:
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            WORKER,
            sandbox.base_url,
            sandbox.client_id,
            sandbox.client_secret,
            redis_url,
            str(calls),
            stderr=asyncio.subprocess.PIPE,
        )
        for _ in range(workers)
    ]
    for process in processes:
        _, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
        assert process.returncode == 0, stderr.decode()


async def test_a_cold_fleet_makes_one_token_request_and_one_after_expiry(
    redis_url: str, admin: redis.asyncio.Redis
) -> None:
    async with SandboxServer(token_lifetime=12) as sandbox:
        await run_workers(sandbox, redis_url, workers=4, calls=50)
        assert sandbox.token_requests == 1
        assert sandbox.request_count("GET", "/v1/products") == 200
        await asyncio.sleep(12.5)  # the shared token has expired (in Redis too)
        await run_workers(sandbox, redis_url, workers=4, calls=50)
        assert sandbox.token_requests == 2
        secret = sandbox.client_secret
    keys = await admin.keys("*")
    assert keys  # the fleet did use the Redis
    for key in keys:
        assert secret not in key
        value = await admin.dump(key)
        assert value is None or secret.encode() not in value


async def test_a_429_seen_by_one_worker_pauses_every_worker(redis_url: str) -> None:
    async with SandboxServer() as sandbox:
        stores = [RedisStore(redis_url, timeout=5.0) for _ in range(2)]
        clients = [
            DigipixClient(
                sandbox.client_id,
                sandbox.client_secret,
                base_url=sandbox.base_url,
                store=store,
                max_retries=0,
            )
            for store in stores
        ]
        try:
            first, second = clients
            await first.products.list()
            await second.products.list()  # both warm: token shared, connection open
            sandbox.faults.add(
                "rate_limit", method="GET", path="/v1/products", retry_after=2, times=1
            )
            with pytest.raises(Exception, match="429"):
                await first.products.list()
            paused_at = time.monotonic()
            await second.products.list()  # another worker: it must wait the pause out
            waited = time.monotonic() - paused_at
        finally:
            for client in clients:
                await client.close()
            for store in stores:
                await store.aclose()
    assert waited >= 1.5  # the server said 2 s (Retry-After is whole seconds)
    arrivals = sandbox.arrivals("GET", "/v1/products")
    refused, after = arrivals[-2], arrivals[-1]
    assert after - refused >= 1.5


async def test_calls_keep_succeeding_when_redis_dies_mid_run(
    own_redis_server: RedisServer,
) -> None:
    async with SandboxServer() as sandbox:
        store = RedisStore(own_redis_server.url, timeout=0.5)
        try:
            async with DigipixClient(
                sandbox.client_id,
                sandbox.client_secret,
                base_url=sandbox.base_url,
                store=store,
                rate_limit=500,
            ) as client:
                await asyncio.gather(*(client.products.list() for _ in range(20)))
                own_redis_server.stop()
                results = await asyncio.gather(*(client.products.list() for _ in range(50)))
                assert len(results) == 50
                own_redis_server.start()
                results = await asyncio.gather(*(client.products.list() for _ in range(20)))
                assert len(results) == 20
        finally:
            await store.aclose()


async def test_a_notification_posted_to_two_workers_is_handled_once(redis_url: str) -> None:
    from digipix_async.webhooks import NotificationEvent, NotificationReceiver

    handled: list[str] = []
    started = asyncio.Event()
    release = asyncio.Event()

    async def slow_callback(event: NotificationEvent) -> None:
        started.set()
        await release.wait()
        handled.append(event.order_id)

    body = '{"id": "ord-9", "status": "SHIPPED"}'
    stores = [RedisStore(redis_url, timeout=5.0) for _ in range(2)]
    try:
        workers = [
            NotificationReceiver(slow_callback, secret="hook-s3cr3t", store=store)
            for store in stores
        ]
        first = asyncio.create_task(workers[0].handle(body, {"token": "hook-s3cr3t"}))
        await started.wait()
        # The other worker, while the first is still in the callback: retry later.
        busy = await workers[1].handle(body, {"token": "hook-s3cr3t"})
        release.set()
        done = await first
        # Re-sent to the second worker after the first finished: a duplicate.
        again = await workers[1].handle(body, {"token": "hook-s3cr3t"})
    finally:
        for store in stores:
            await store.aclose()
    assert (done.status, busy.status, again.status) == (200, 503, 200)
    assert busy.retry_after is not None
    assert again.reason == "duplicate: already handled"
    assert handled == ["ord-9"]
