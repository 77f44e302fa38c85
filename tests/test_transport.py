"""The client over real loopback sockets: timeouts, drops, cancellation, the pool, tracing.

Attempts are counted at the server: aiohttp itself re-sends an idempotent request
once when a kept-alive connection was dropped, which a client-side count would miss.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from types import SimpleNamespace

import aiohttp
import pytest
from aiohttp import web
from samples import ITEMS, RECIPIENT

from digipix_async import (
    APIConnectionError,
    APITimeoutError,
    DigipixClient,
    OrderOutcomeUnknownError,
    Timeout,
    _retry,
)

ORDER = {"id": "o-1", "status": "APPROVED"}


@pytest.fixture(autouse=True)
def zero_retry_waits() -> Iterator[None]:
    _retry.set_testing(True)
    yield
    _retry.set_testing(False)


class FakeDigipix:
    """A tiny server whose order route misbehaves as a test asks; counts every request."""

    def __init__(self) -> None:
        self.hits: Counter[str] = Counter()
        self.plan: list[str] = []  # "drop", "slow", or "ok" per request to /v1/orders*
        self.release = asyncio.Event()
        self.pool_full = asyncio.Event()
        self.pool_size = 0

    async def token(self, request: web.Request) -> web.Response:
        self.hits["token"] += 1
        return web.json_response({"access_token": "tok", "expires_in": 3600})

    async def order(self, request: web.Request) -> web.StreamResponse:
        self.hits[f"{request.method} order"] += 1
        action = self.plan.pop(0) if self.plan else "ok"
        if action == "drop":
            assert request.transport is not None
            request.transport.close()
            return web.Response()  # never reaches the closed socket
        if action == "slow":
            await asyncio.sleep(5)
        if action == "wait":
            if self.hits[f"{request.method} order"] >= self.pool_size:
                self.pool_full.set()
            await self.release.wait()
        return web.json_response(ORDER, status=201 if request.method == "POST" else 200)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v1/oauth/token", self.token)
        app.router.add_get("/v1/orders/{id}", self.order)
        app.router.add_post("/v1/orders", self.order)
        return app


@pytest.fixture
async def server() -> AsyncIterator[tuple[FakeDigipix, str]]:
    fake = FakeDigipix()
    runner = web.AppRunner(fake.app(), shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield fake, f"http://127.0.0.1:{port}"
    fake.release.set()
    await runner.cleanup()


async def test_a_dropped_connection_on_a_get_is_retried_counted_at_the_server(
    server: tuple[FakeDigipix, str],
) -> None:
    fake, base = server
    fake.plan = ["drop", "drop", "ok"]
    async with DigipixClient("id", "secret", base_url=base) as client:
        order = await client.orders.get("o-1")

    assert order.id == "o-1"
    assert fake.hits["GET order"] == 3


async def test_a_dropped_create_is_outcome_unknown_and_sent_once(
    server: tuple[FakeDigipix, str],
) -> None:
    fake, base = server
    fake.plan = ["drop"]
    async with DigipixClient("id", "secret", base_url=base) as client:
        with pytest.raises(OrderOutcomeUnknownError) as caught:
            await client.orders.create(recipient=RECIPIENT, items=ITEMS, partner_order_id="P-1")

    assert isinstance(caught.value.cause, APIConnectionError)
    assert fake.hits["POST order"] == 1


async def test_a_slow_answer_times_out_within_the_calls_deadline(
    server: tuple[FakeDigipix, str],
) -> None:
    fake, base = server
    fake.plan = ["slow"] * 10
    timeout = Timeout(total=0.5, connect=0.5, read=0.2)
    async with DigipixClient("id", "secret", base_url=base, timeout=timeout) as client:
        with pytest.raises(APITimeoutError):
            await asyncio.wait_for(client.orders.get("o-1"), 3)

    assert 1 <= fake.hits["GET order"] <= 4


async def test_a_slow_create_is_outcome_unknown(server: tuple[FakeDigipix, str]) -> None:
    fake, base = server
    fake.plan = ["slow"]
    async with DigipixClient("id", "secret", base_url=base, timeout=0.3) as client:
        with pytest.raises(OrderOutcomeUnknownError) as caught:
            await client.orders.create(recipient=RECIPIENT, items=ITEMS)

    assert isinstance(caught.value.cause, APITimeoutError)
    assert fake.hits["POST order"] == 1


async def test_a_refused_connection_is_retried_even_for_a_create_then_reported_plainly() -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with DigipixClient("id", "secret", base_url=f"http://127.0.0.1:{port}") as client:
        with pytest.raises(APIConnectionError) as caught:
            await client.orders.get("o-1")

    assert caught.value.request_sent is False
    assert caught.value.attempts == 4  # the token request, retried, never connected


async def test_cancelling_500_in_flight_calls_leaves_no_connection_acquired(
    server: tuple[FakeDigipix, str],
) -> None:
    fake, base = server
    fake.plan = ["wait"] * 500
    fake.pool_size = 50
    async with DigipixClient("id", "secret", base_url=base, max_connections=50) as client:
        tasks = [asyncio.create_task(client.orders.get("o-1")) for _ in range(500)]
        # Every pooled connection is busy and the other 450 calls queue for one.
        await asyncio.wait_for(fake.pool_full.wait(), 5)

        for task in tasks:
            task.cancel()
        results = await asyncio.gather(*tasks, return_exceptions=True)

        assert all(isinstance(result, asyncio.CancelledError) for result in results)
        assert client._shared.transport.pool_in_use() == 0
        fake.release.set()
        assert (await client.orders.get("o-1")).id == "o-1"  # still works
        assert client._shared.transport.pool_in_use() == 0


async def test_trace_configs_reach_aiohttp(server: tuple[FakeDigipix, str]) -> None:
    _, base = server
    seen: list[str] = []

    async def on_request_start(
        session: aiohttp.ClientSession, context: SimpleNamespace, params: object
    ) -> None:
        seen.append(str(params.url.path))  # type: ignore[attr-defined]

    trace = aiohttp.TraceConfig()
    trace.on_request_start.append(on_request_start)
    async with DigipixClient("id", "secret", base_url=base, trace_configs=[trace]) as client:
        await client.orders.get("o-1")

    assert seen == ["/v1/oauth/token", "/v1/orders/o-1"]


async def test_waiting_too_long_for_a_pooled_connection_is_a_timeout_before_sending(
    server: tuple[FakeDigipix, str],
) -> None:
    fake, base = server
    fake.plan = ["wait"]
    fake.pool_size = 1
    timeout = Timeout(total=2, connect=0.2, read=2)
    async with DigipixClient(
        "id", "secret", base_url=base, max_connections=1, timeout=timeout
    ) as client:
        holder = asyncio.create_task(client.orders.get("o-1"))  # takes the only connection
        await asyncio.wait_for(fake.pool_full.wait(), 5)

        with pytest.raises(APITimeoutError) as caught:
            await client.orders.create(recipient=RECIPIENT, items=ITEMS, partner_order_id="P-9")

        fake.release.set()
        await holder
    # The create never left the pool queue: a plain timeout, never "outcome unknown".
    assert caught.value.request_sent is False
    assert fake.hits["POST order"] == 0


async def test_a_call_retrying_when_its_client_closes_opens_no_new_pool(
    server: tuple[FakeDigipix, str],
) -> None:
    _retry.set_testing(False)  # a real wait, so the client can close during it
    fake, base = server
    fake.plan = ["drop"] * 10
    retry_scheduled = asyncio.Event()

    class OnRetry(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            retry_scheduled.set()

    handler = OnRetry(logging.WARNING)
    logging.getLogger("digipix_async").addHandler(handler)
    try:
        client = DigipixClient("id", "secret", base_url=base)
        call = asyncio.create_task(client.orders.get("o-1"))
        await asyncio.wait_for(retry_scheduled.wait(), 5)  # the call now waits to retry

        await client.close()
    finally:
        logging.getLogger("digipix_async").removeHandler(handler)

    with pytest.raises(APIConnectionError):
        await call
    assert client._shared.transport._session is None  # nothing left open
