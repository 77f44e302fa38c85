"""Shared limits against the rate-limited sandbox: behaviour, not scripted replies.

The sandbox's token bucket per client id (``rate_limit_rps``) and its bound on
requests in flight (``max_concurrent``) answer 429 with ``Retry-After`` as a
rate-limited API does; arrivals and refusals are counted at the server.
"""

from __future__ import annotations

import asyncio

from digipix_async import DigipixClient
from digipix_async.sandbox import SandboxServer

CART = [{"product_id": "photobook", "quantity": 1}]


def client_for(sandbox: SandboxServer, **options: object) -> DigipixClient:
    return DigipixClient(
        sandbox.client_id,
        sandbox.client_secret,
        base_url=sandbox.base_url,
        **options,  # type: ignore[arg-type]
    )


async def test_fifty_calls_meeting_one_429_send_nothing_inside_its_window() -> None:
    async with SandboxServer() as sandbox, client_for(sandbox) as client:
        await client.products.list()  # warm: the token, one connection
        sandbox.faults.add("rate_limit", path="/v1/products", retry_after=1, times=1)
        first = asyncio.create_task(client.products.list())
        for _ in range(2000):  # until the client has read the 429
            if client._throttle_count() == 1:
                break
            await asyncio.sleep(0.001)
        others = [client.products.list() for _ in range(49)]
        results = await asyncio.gather(first, *others)
        arrivals = sandbox.arrivals("GET", "/v1/products")[1:]
    assert len(results) == 50
    refused_at, *after = arrivals
    assert len(after) == 50  # the refused call once more, and 49 others once each
    # Retry-After is whole seconds; allow the sandbox clock's rounding, nothing more.
    assert [at for at in after if at < refused_at + 0.99] == []


async def test_rate_limit_20_holds_the_client_to_20_per_second_over_100_calls() -> None:
    async with SandboxServer() as sandbox, client_for(sandbox, rate_limit=20) as client:
        results = await asyncio.gather(*(client.products.list() for _ in range(100)))
        arrivals = sandbox.arrivals("GET", "/v1/products")
    assert len(results) == 100
    assert arrivals[-1] - arrivals[0] >= (100 - 20) / 20 * 0.95  # a burst of 20, then 20/s
    for start in arrivals:  # no window of T seconds holds more than 20 + 20 T
        for span in (0.5, 1.0, 2.0):
            in_window = [at for at in arrivals if start <= at < start + span]
            assert len(in_window) <= 20 + 20 * span + 1


async def test_a_client_paced_under_the_servers_limit_is_never_refused() -> None:
    # A little under the server's 20/s: requests delayed on a busy machine and then
    # sent together must still find the server's bucket holding a token.
    async with (
        SandboxServer(rate_limit_rps=20) as sandbox,
        client_for(sandbox, rate_limit=16) as client,
    ):
        results = await asyncio.gather(*(client.products.list() for _ in range(60)))
    assert len(results) == 60
    assert sandbox.limits.refused == 0


async def test_create_many_of_300_quotes_converges_on_a_server_serving_8_at_a_time() -> None:
    async with SandboxServer(max_concurrent=8) as sandbox:
        # A slow server: without latency, 8 in flight would never be reached.
        sandbox.faults.add("latency", path="/v1/quote", seconds=0.02)
        async with client_for(sandbox) as client:
            carts = [{"zip_code": "01311100", "items": CART} for _ in range(300)]
            async with client.quotes.create_many(carts, concurrency=32) as results:
                outcomes = [result async for result in results]
        quotes = sandbox.request_count("POST", "/v1/quote")
        refused = sandbox.limits.refused_concurrent
    assert len(outcomes) == 300
    assert [o.index for o in outcomes if not o.ok] == []
    assert quotes == 300 + refused  # each refusal was retried, nothing else
    assert refused <= 0.1 * quotes  # few: the bulk job converged on the server's limit
