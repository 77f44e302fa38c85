"""A server that creates an order first and answers later (or never), counting creates.

The embedded sandbox applies its latency and drop faults BEFORE its handler runs (no
order exists yet); these tests need the hard case, where the order exists at the
server while its answer is still on the way, or is lost.
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aiohttp import web

from digipix_async import DigipixClient


class SlowCreator:
    """Create every order at once; answer ``delay`` seconds later, or drop the answer."""

    def __init__(self, *, delay: float = 0.3) -> None:
        self.delay = delay
        self.delays: dict[str, float] = {}  # a delay of its own for some partner order ids
        self.drop: set[str] = set()  # partner order ids whose answer is lost
        self.unreadable: set[str] = set()  # partner order ids answered without a status
        self.refuse_first = 0  # answer this many creates with 429, creating nothing
        self.max_concurrent: int | None = None  # over this many at once: 429
        self.creates: collections.Counter[str] = collections.Counter()
        self.order_ids: dict[str, str] = {}
        self.requests = 0
        #: Called with (partner order id, raw body) as each create arrives.
        self.on_create: Callable[[str, bytes], None] | None = None
        self.refused = 0
        self.peak = 0
        self._serving = 0
        self._ids = itertools.count(1)
        self.runner: web.AppRunner | None = None
        self.base_url = ""

    @property
    def created(self) -> int:
        return sum(self.creates.values())

    async def token(self, request: web.Request) -> web.Response:
        return web.json_response(
            {"access_token": "tok", "token_type": "Bearer", "expires_in": 3600}
        )

    async def create(self, request: web.Request) -> web.StreamResponse:
        self.requests += 1
        raw = await request.read()
        body: dict[str, Any] = json.loads(raw)
        partner_order_id = body.get("partnerOrderID") or ""
        if self.on_create is not None:
            self.on_create(partner_order_id, raw)
        if self.refuse_first > 0 or (
            self.max_concurrent is not None and self._serving >= self.max_concurrent
        ):
            self.refuse_first = max(0, self.refuse_first - 1)
            self.refused += 1
            return web.json_response(
                {"message": "slow down"}, status=429, headers={"Retry-After": "0"}
            )
        self._serving += 1
        self.peak = max(self.peak, self._serving)
        try:
            order_id = f"ord{next(self._ids)}"
            self.creates[partner_order_id] += 1  # created before any answer leaves
            self.order_ids[partner_order_id] = order_id
            await asyncio.sleep(self.delays.get(partner_order_id, self.delay))
        finally:
            self._serving -= 1
        if partner_order_id in self.drop:
            assert request.transport is not None
            request.transport.close()
            return web.Response(status=500)
        answer = {
            "id": order_id,
            "status": None if partner_order_id in self.unreadable else "QUOTE",
            "partnerOrderID": partner_order_id,
            "customData": body.get("customData"),
        }
        return web.json_response(answer, status=201)

    async def get(self, request: web.Request) -> web.Response:
        order_id = request.match_info["order_id"]
        for partner_order_id, known in self.order_ids.items():
            if known == order_id:
                return web.json_response(
                    {"id": order_id, "status": "QUOTE", "partnerOrderID": partner_order_id}
                )
        return web.json_response({"message": "no such order"}, status=404)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/v1/oauth/token", self.token)
        app.router.add_post("/v1/orders", self.create)
        app.router.add_get("/v1/orders/{order_id}", self.get)
        self.runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.2)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = self.runner.addresses[0][1]
        self.base_url = f"http://127.0.0.1:{port}"

    async def close(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()


@pytest.fixture
async def slow_server() -> AsyncIterator[SlowCreator]:
    server = SlowCreator()
    await server.start()
    try:
        yield server
    finally:
        await server.close()


@pytest.fixture
async def slow_client(slow_server: SlowCreator) -> AsyncIterator[DigipixClient]:
    async with DigipixClient("id", "secret", base_url=slow_server.base_url, timeout=5) as client:
        yield client


def end_like_asyncio_run(runner: asyncio.Runner) -> None:
    """Cancel the tasks ``runner``'s loop still has, and wait for them, as ``asyncio.run``
    does once its main coroutine returned."""
    leftovers = asyncio.all_tasks(runner.get_loop())
    for task in leftovers:
        task.cancel()
    if leftovers:
        runner.run(asyncio.wait(leftovers))
