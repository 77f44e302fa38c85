"""The client's aiohttp session over loopback: a borrowed session, the owned one's life,
and a create-order answer cut short on the wire.

The rest of the client pipeline is tested without sockets in `test_client.py`.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from types import SimpleNamespace

import aiohttp
import pytest
from aiohttp import web
from samples import ITEMS, RECIPIENT

from digipix_async import APIConnectionError, DigipixClient, OrderOutcomeUnknownError, _retry
from digipix_async._transport import AiohttpTransport

SECRET = "cl13nt-s3cr3t"
PRODUCT = {"id": "photobook", "name": "Photobook", "price": 10.9, "parts": []}


@pytest.fixture(autouse=True)
def zero_retry_waits() -> Iterator[None]:
    _retry.set_testing(True)
    yield
    _retry.set_testing(False)


class Server:
    """A token endpoint, a product list, and a create-order whose answer is cut short."""

    def __init__(self) -> None:
        self.hits: Counter[str] = Counter()

    async def token(self, request: web.Request) -> web.Response:
        self.hits["token"] += 1
        return web.json_response({"access_token": "tok-1", "expires_in": 3600})

    async def products(self, request: web.Request) -> web.Response:
        self.hits["products"] += 1
        assert request.headers["Authorization"] == "Bearer tok-1"
        return web.json_response([PRODUCT])

    async def create(self, request: web.Request) -> web.StreamResponse:
        self.hits["create"] += 1
        await request.read()
        # 201 and a Content-Length, then the connection ends 10 bytes into the body.
        response = web.StreamResponse(status=201, headers={"Content-Type": "application/json"})
        response.content_length = 100
        await response.prepare(request)
        await response.write(b'{"id": "o-')
        assert request.transport is not None
        request.transport.close()
        return response

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v1/oauth/token", self.token)
        app.router.add_get("/v1/products", self.products)
        app.router.add_post("/v1/orders", self.create)
        return app


@pytest.fixture
async def server() -> AsyncIterator[tuple[Server, str]]:
    fake = Server()
    runner = web.AppRunner(fake.app(), shutdown_timeout=0.1, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield fake, f"http://127.0.0.1:{runner.addresses[0][1]}"
    await runner.cleanup()


async def test_a_borrowed_session_is_used_and_never_closed(server: tuple[Server, str]) -> None:
    fake, base = server
    sent: list[str] = []

    async def on_request_start(
        session: aiohttp.ClientSession,
        context: SimpleNamespace,
        params: aiohttp.TraceRequestStartParams,
    ) -> None:
        sent.append(f"{params.method} {params.url.path}")

    trace = aiohttp.TraceConfig()
    trace.on_request_start.append(on_request_start)
    async with aiohttp.ClientSession(trace_configs=[trace]) as session:
        async with DigipixClient("abc123", SECRET, base_url=base, session=session) as client:
            await client.products.list()
        assert not session.closed

    assert sent == ["POST /v1/oauth/token", "GET /v1/products"]
    assert fake.hits == {"token": 1, "products": 1}


async def test_the_owned_session_is_created_lazily_and_closed(server: tuple[Server, str]) -> None:
    fake, base = server
    client = DigipixClient("abc123", SECRET, base_url=base)
    transport = client._shared.transport
    assert isinstance(transport, AiohttpTransport)
    assert transport._session is None

    async with client:
        await client.products.list()
        session = transport._session
        assert session is not None
        assert not session.closed

    assert session.closed
    assert fake.hits == {"token": 1, "products": 1}


async def test_a_create_order_whose_answer_is_cut_short_is_never_resent(
    server: tuple[Server, str],
) -> None:
    # aiohttp's ClientPayloadError: the order may exist. (A dropped connection and a
    # read timeout on a create: test_transport.py.)
    fake, base = server
    async with DigipixClient("abc123", SECRET, base_url=base) as client:
        with pytest.raises(OrderOutcomeUnknownError) as caught:
            await asyncio.wait_for(
                client.orders.create(recipient=RECIPIENT, items=ITEMS, partner_order_id="INV-2"),
                10,
            )

    assert isinstance(caught.value.cause, APIConnectionError)
    assert caught.value.cause.request_sent is True
    assert "ClientPayloadError" in str(caught.value.cause)
    assert caught.value.partner_order_id == "INV-2"
    assert fake.hits["create"] == 1
