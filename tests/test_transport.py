"""The client over real loopback sockets: timeouts, drops, cancellation, the pool, tracing,
answers bounded in size, and closing while calls wait for a connection.

Attempts are counted at the server: aiohttp itself re-sends an idempotent request
once when a kept-alive connection was dropped, which a client-side count would miss.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import logging
import pathlib
import socket
import struct
import subprocess
import sys
import zlib
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from types import SimpleNamespace

import aiohttp
import pytest
from aiohttp import web
from samples import ITEMS, RECIPIENT

from digipix_async import (
    APIConnectionError,
    APIResponseValidationError,
    APITimeoutError,
    DigipixClient,
    InternalServerError,
    OrderOutcomeUnknownError,
    Timeout,
    _retry,
)

ORDER = {"id": "o-1", "status": "APPROVED"}
TOKEN = {"access_token": "tok", "expires_in": 3600}


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
        return web.json_response(TOKEN)

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


# -- answers are bounded in size (issue 11.3) ------------------------------------------

KIB = 1024


class Hostile:
    """Answers that never end, announce 2 GB, or inflate a little gzip into a lot."""

    def __init__(self, bomb: bytes) -> None:
        self.bomb = bomb

    async def token(self, request: web.Request) -> web.Response:
        return web.json_response({"access_token": "tok", "expires_in": 3600})

    async def stream(self, request: web.Request) -> web.StreamResponse:
        kind = request.match_info.get("kind", "endless")  # a create: an endless answer
        status = 500 if kind == "error" else 201 if request.method == "POST" else 200
        response = web.StreamResponse(status=status, headers={"Content-Type": "application/json"})
        if kind == "huge":
            response.content_length = 2 * 1024**3
        if kind == "bomb":
            response.headers["Content-Encoding"] = "gzip"
            response.content_length = len(self.bomb)
        if kind == "gzipped":
            response.headers["Content-Encoding"] = "gzip"
        await response.prepare(request)
        if kind in ("chunked", "gzipped"):  # small answers, read by the chunked path
            data = json.dumps(ORDER).encode()
            data = gzip.compress(data) if kind == "gzipped" else data
            await response.write(data[:5])
            await response.write(data[5:])
            await response.write_eof()
            return response
        try:
            if kind == "bomb":
                await response.write(self.bomb)
            else:
                chunk = b"[" + b"0," * (32 * KIB)
                while True:  # until the client hangs up
                    await response.write(chunk)
        except (ConnectionError, RuntimeError):
            pass  # the client refused the rest: what these tests want
        return response

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v1/oauth/token", self.token)
        app.router.add_get("/v1/orders/{kind}", self.stream)
        app.router.add_post("/v1/orders", self.stream, name="create")
        return app


def gzip_of_zeros(size: int) -> bytes:
    """Return gzip data that inflates to ``size`` zero bytes (about size / 1000 bytes)."""
    block = bytes(min(size, 1024 * KIB))
    count = size // len(block)
    # A full flush resets the compressor, so every block of zeros deflates to the same
    # bytes: deflate one and repeat it (deflating a whole GiB takes 20 s here).
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    deflated = packer.compress(block) + packer.flush(zlib.Z_FULL_FLUSH)
    last = zlib.compressobj(9, zlib.DEFLATED, -15).flush()  # an empty final block
    crc = 0
    for _ in range(count):
        crc = zlib.crc32(block, crc)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    trailer = struct.pack("<II", crc, (count * len(block)) & 0xFFFFFFFF)
    return header + deflated * count + last + trailer


@pytest.fixture
async def hostile() -> AsyncIterator[tuple[Hostile, str]]:
    fake = Hostile(gzip_of_zeros(8 * 1024 * KIB))
    runner = web.AppRunner(fake.app(), shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield fake, f"http://127.0.0.1:{runner.addresses[0][1]}"
    await runner.cleanup()


@pytest.mark.parametrize(
    ("kind", "seen"),
    [
        ("endless", "more than 262144 bytes"),
        ("huge", "Content-Length 2147483648"),
        ("bomb", "more than 262144 bytes"),
    ],
)
async def test_an_answer_above_max_response_size_is_refused_naming_the_limit(
    hostile: tuple[Hostile, str], kind: str, seen: str
) -> None:
    _, base = hostile
    async with DigipixClient("id", "secret", base_url=base, max_response_size=256 * KIB) as client:
        with pytest.raises(APIResponseValidationError) as caught:
            await asyncio.wait_for(client.orders.get(kind), 10)

        assert "max_response_size (262144 bytes" in str(caught.value)
        assert seen in str(caught.value)
        assert caught.value.status == 200
        assert caught.value.path == f"/v1/orders/{kind}"
        # The refused connection was closed, not handed back to the pool.
        assert client._shared.transport.pool_in_use() == 0


async def test_an_error_answer_above_the_limit_keeps_its_status_error_with_the_body_cut(
    hostile: tuple[Hostile, str],
) -> None:
    _, base = hostile
    async with DigipixClient(
        "id", "secret", base_url=base, max_response_size=64 * KIB, max_retries=0
    ) as client:
        with pytest.raises(InternalServerError) as caught:
            await asyncio.wait_for(client.orders.get("error"), 10)

    assert caught.value.status == 500
    assert len(caught.value.body) == 64 * KIB


@pytest.mark.parametrize("kind", ["chunked", "gzipped"])
async def test_a_chunked_or_compressed_answer_below_the_limit_is_read_whole(
    hostile: tuple[Hostile, str], kind: str
) -> None:
    _, base = hostile
    async with DigipixClient("id", "secret", base_url=base, max_response_size=64 * KIB) as client:
        assert (await client.orders.get(kind)).id == "o-1"


async def test_an_answer_at_the_limit_is_read_whole(server: tuple[FakeDigipix, str]) -> None:
    _, base = server
    # web.json_response's own encoding; the larger of the two answers is exactly at the limit.
    size = max(len(json.dumps(body).encode()) for body in (ORDER, TOKEN))
    async with DigipixClient("id", "secret", base_url=base, max_response_size=size) as client:
        assert (await client.orders.get("o-1")).id == "o-1"


async def test_a_too_large_answer_to_a_create_says_the_order_was_created(
    hostile: tuple[Hostile, str],
) -> None:
    # The status line said 2xx: the order exists, however large its answer.
    _, base = hostile
    async with DigipixClient("id", "secret", base_url=base, max_response_size=64 * KIB) as client:
        with pytest.raises(APIResponseValidationError) as caught:
            await client.orders.create(recipient=RECIPIENT, items=ITEMS, partner_order_id="P-7")

    assert not isinstance(caught.value, OrderOutcomeUnknownError)
    assert caught.value.order_created is True
    assert caught.value.partner_order_id == "P-7"
    assert "max_response_size" in str(caught.value)


# A child process, so its peak RSS is its own: a server in one thread sends the three
# hostile answers, the client reads them with the default limit (10 MiB).
PEAK_RSS_CHILD = r"""
import asyncio, resource, sys, threading
from aiohttp import web
sys.path[:0] = sys.argv[2:]
from test_transport import Hostile, gzip_of_zeros
from digipix_async import APIResponseValidationError, DigipixClient

def serve(fake, ready, port):
    async def main():
        runner = web.AppRunner(fake.app(), shutdown_timeout=0.1)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        port.append(runner.addresses[0][1])
        ready.set()
        await asyncio.Event().wait()
    asyncio.run(main())

async def calls(base):
    async with DigipixClient("id", "secret", base_url=base, timeout=5) as client:
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        for kind in ("endless", "huge", "bomb"):
            try:
                await client.orders.get(kind)
            except APIResponseValidationError:
                pass
            else:
                raise SystemExit(f"{kind}: no error")
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print((after - before) // 1024)

fake = Hostile(gzip_of_zeros(int(sys.argv[1])))
ready, port = threading.Event(), []
threading.Thread(target=serve, args=(fake, ready, port), daemon=True).start()
ready.wait(10)
asyncio.run(calls(f"http://127.0.0.1:{port[0]}"))
"""


def test_hostile_answers_grow_the_peak_rss_by_less_than_60_mb() -> None:
    # A 1 GiB gzip bomb (about 1 MB on the wire), an endless chunked body and a
    # 2 GB Content-Length: each took gigabytes before the limit was enforced.
    here = str(pathlib.Path(__file__).parent)
    result = subprocess.run(
        [sys.executable, "-c", PEAK_RSS_CHILD, str(1024**3), here, *sys.path],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert int(result.stdout.strip()) < 60, f"peak RSS grew by {result.stdout.strip()} MB"


# -- close() while calls wait for a pooled connection (issue 11.5) -----------------------


def queue_watch(expected: int) -> tuple[aiohttp.TraceConfig, asyncio.Event]:
    """Return a trace config and an event set once ``expected`` requests queued for a
    pooled connection (all the connections being busy)."""
    queued = asyncio.Event()
    count = 0

    async def on_queued(session: aiohttp.ClientSession, context: object, params: object) -> None:
        nonlocal count
        count += 1
        if count >= expected:
            queued.set()

    trace = aiohttp.TraceConfig()
    trace.on_connection_queued_start.append(on_queued)
    return trace, queued


@pytest.mark.parametrize("max_connections", [1, 3, 10])
async def test_closing_while_1000_calls_wait_ends_them_as_not_sent_never_cancelled(
    server: tuple[FakeDigipix, str], max_connections: int
) -> None:
    fake, base = server
    fake.pool_size = max_connections
    trace, queued = queue_watch(1000 - max_connections)
    client = DigipixClient(
        "id", "secret", base_url=base, max_connections=max_connections, trace_configs=[trace]
    )
    await client.orders.get("o-0")  # the token first, so all 1,000 calls queue at the pool
    fake.plan = ["wait"] * 1000
    fake.hits.clear()
    calls = [asyncio.create_task(client.orders.get(f"o-{i}")) for i in range(1000)]
    await asyncio.wait_for(fake.pool_full.wait(), 10)
    await asyncio.wait_for(queued.wait(), 10)

    await client.close()
    results = await asyncio.gather(*calls, return_exceptions=True)

    assert not [r for r in results if isinstance(r, asyncio.CancelledError)]
    assert all(isinstance(r, APIConnectionError) for r in results)
    never_sent = [r for r in results if isinstance(r, APIConnectionError) and not r.request_sent]
    # Those on the wire were sent: retried after the close, they end as "the client is
    # closed" too, which is also true; none of the queued ones reached the server.
    assert len(never_sent) == 1000
    assert fake.hits["GET order"] == max_connections
    assert client._shared.transport.pool_in_use() == 0


async def test_closing_while_creates_wait_tells_sent_from_never_sent(
    server: tuple[FakeDigipix, str],
) -> None:
    fake, base = server
    trace, queued = queue_watch(97)
    client = DigipixClient("id", "secret", base_url=base, max_connections=3, trace_configs=[trace])
    await client.orders.get("o-0")
    fake.plan = ["wait"] * 100
    fake.pool_size = 3
    fake.hits.clear()
    creates = [
        asyncio.create_task(
            client.orders.create(recipient=RECIPIENT, items=ITEMS, partner_order_id=f"P-{i}")
        )
        for i in range(100)
    ]
    await asyncio.wait_for(fake.pool_full.wait(), 10)
    await asyncio.wait_for(queued.wait(), 10)

    await client.close()
    results = await asyncio.gather(*creates, return_exceptions=True)

    unknown = [r for r in results if isinstance(r, OrderOutcomeUnknownError)]
    not_sent = [r for r in results if isinstance(r, APIConnectionError) and not r.request_sent]
    assert len(unknown) == fake.hits["POST order"] == 3  # on the wire: may exist
    assert len(not_sent) == 97  # queued: provably never sent
