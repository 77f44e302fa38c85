"""One client, one well-mannered caller: the shared pause after a 429, and rate_limit.

Times are taken at the server, which is what the promise is about: no request
leaves the client inside the window a Retry-After named.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from digipix_async import DigipixClient, RateLimitError
from digipix_async._limits import Gate
from digipix_async._sansio import Request
from digipix_async.stores import MemoryStore

PRODUCT = {"id": "photobook", "name": "Photobook", "price": 10.9}
GET = Request("GET", "/v1/products/photobook", scope="products")


class TimingServer:
    """Answers product GETs, the first ``refuse`` of them with 429 + Retry-After."""

    def __init__(self, refuse: int = 0, retry_after: str = "1") -> None:
        self.refuse = refuse
        self.retry_after = retry_after
        self.times: list[float] = []  # monotonic arrival of every product request
        self.refused_at: float | None = None
        self.refused = asyncio.Event()

    async def token(self, request: web.Request) -> web.Response:
        return web.json_response({"access_token": "tok", "expires_in": 3600})

    async def product(self, request: web.Request) -> web.Response:
        now = time.monotonic()
        self.times.append(now)
        if self.refuse > 0:
            self.refuse -= 1
            self.refused_at = self.refused_at or now
            self.refused.set()
            return web.json_response(
                {"message": "slow down"}, status=429, headers={"Retry-After": self.retry_after}
            )
        return web.json_response(PRODUCT)


@pytest.fixture
async def server() -> AsyncIterator[tuple[TimingServer, str]]:
    fake = TimingServer()
    app = web.Application()
    app.router.add_post("/v1/oauth/token", fake.token)
    app.router.add_get("/v1/products/{id}", fake.product)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield fake, f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


async def test_one_429_pauses_every_concurrent_call_of_the_client(
    server: tuple[TimingServer, str],
) -> None:
    fake, base_url = server
    fake.refuse, fake.retry_after = 1, "1"
    async with DigipixClient("abc123", "secret-x", base_url=base_url) as client:
        await client.products.get("photobook")  # warm: token and one connection
        fake.times.clear()
        fake.refuse = 1
        first = asyncio.create_task(client.products.get("photobook"))
        await fake.refused.wait()
        others = [asyncio.create_task(client.products.get("photobook")) for _ in range(49)]
        results = await asyncio.gather(first, *others)
    assert len(results) == 50
    assert fake.refused_at is not None
    window_end = fake.refused_at + 1.0
    inside = [t for t in fake.times if fake.refused_at < t < window_end - 0.01]
    assert inside == []  # nothing left the client inside the server's window
    assert len(fake.times) == 51  # the refused request, then each call once


async def test_a_call_whose_deadline_ends_inside_the_pause_fails_at_once_unsent(
    server: tuple[TimingServer, str],
) -> None:
    fake, base_url = server
    async with DigipixClient("abc123", "secret-x", base_url=base_url, max_retries=0) as client:
        await client.products.get("photobook")
        fake.refuse, fake.retry_after = 1, "20"
        with pytest.raises(RateLimitError):
            await client.products.get("photobook")  # the 429 itself: not retried
        sent = len(fake.times)
        started = time.monotonic()
        with pytest.raises(RateLimitError) as caught:
            await client.with_options(timeout=2).products.get("photobook")
    assert time.monotonic() - started < 0.5  # at once, not after waiting
    assert len(fake.times) == sent  # and nothing sent
    assert caught.value.retry_after is not None
    assert 18 < caught.value.retry_after <= 20


async def test_rate_limit_holds_the_client_to_n_requests_a_second(
    server: tuple[TimingServer, str],
) -> None:
    fake, base_url = server
    async with DigipixClient("abc123", "secret-x", base_url=base_url, rate_limit=20) as client:
        await asyncio.gather(*(client.products.get("photobook") for _ in range(60)))
    times = sorted(fake.times)
    assert len(times) == 60
    # A burst of up to 20, then 20 a second: 60 requests take 2 s, never less, and
    # no window of T seconds holds more than the burst plus 20 * T.
    assert times[-1] - times[0] >= 1.9
    for start in times:
        for span in (0.25, 0.5, 1.0):
            in_window = [t for t in times if start <= t < start + span]
            assert len(in_window) <= 20 + 20 * span + 1  # one of slack at the edge


async def test_a_shared_memory_store_shares_the_rate_budget_between_clients(
    server: tuple[TimingServer, str],
) -> None:
    fake, base_url = server
    store = MemoryStore()
    clients = [
        DigipixClient("abc123", "secret-x", base_url=base_url, rate_limit=10, store=store)
        for _ in range(2)
    ]
    try:
        await asyncio.gather(
            *(client.products.get("photobook") for client in clients for _ in range(15))
        )
    finally:
        for client in clients:
            await client.close()
    times = sorted(fake.times)
    assert times[-1] - times[0] >= 1.9  # 30 requests at 10/s after a burst of 10


@pytest.mark.parametrize("bad", [0, -1, True, "5", float("inf"), float("nan")])
def test_a_bad_rate_limit_is_refused_at_construction(bad: object) -> None:
    with pytest.raises(ValueError, match="rate_limit"):
        DigipixClient("abc123", "secret-x", base_url="http://x.test", rate_limit=bad)  # type: ignore[arg-type]


async def test_the_gate_is_disengaged_without_a_limit_or_a_pause() -> None:
    gate = Gate(rate_limit=None, store=None, namespace="ns")
    assert gate.engaged is False
    await gate.pause(0.05)
    assert gate.engaged is True
    await gate.wait(GET, time.monotonic() + 5, 0)  # waits the pause out
    assert gate.engaged is False
