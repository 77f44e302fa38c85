"""The receiver is no memory or request amplifier (issue 11 item 9).

Absurd ids are refused as malformed; deduplication memory is bounded in bytes;
with verification, refusals are remembered and concurrent posts for one order
share one GET (counted at a fake client); a trickling body is dropped (over a
real socket).
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import pathlib
import subprocess
import sys
import tracemalloc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Any

import pytest
from aiohttp import web

from digipix_async import NotFoundError, Order, OrderStatus
from digipix_async.webhooks import (
    InvalidNotificationError,
    MemoryNotificationStore,
    NotificationEvent,
    NotificationReceiver,
    _verify,
    aiohttp_handler,
    notification_key,
    parse_notification,
)
from digipix_async.webhooks._verify import Verifier


class Calls:
    """A callback that counts its events."""

    def __init__(self) -> None:
        self.events: list[NotificationEvent] = []

    async def __call__(self, event: NotificationEvent) -> None:
        self.events.append(event)


class FakeOrders:
    """``client.orders`` answering from a dict, counting GETs; ``gate`` holds them."""

    def __init__(self, statuses: dict[str, str]) -> None:
        self.statuses = statuses
        self.gets: list[str] = []
        self.gate: asyncio.Event | None = None
        self.cancelled = 0

    async def get(self, order_id: str) -> Order:
        self.gets.append(order_id)
        try:
            if self.gate is not None:
                await self.gate.wait()
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        if order_id not in self.statuses:
            raise NotFoundError("order not found", status=404, method="GET", path="/v1/orders/x")
        return Order(order_id, OrderStatus(self.statuses[order_id]))


class FakeClient:
    """Just what the receiver uses of a `DigipixClient`: ``orders.get``."""

    def __init__(self, statuses: dict[str, str]) -> None:
        self.orders = FakeOrders(statuses)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def body(order_id: str = "o1", status: str = "SHIPPED", **extra: Any) -> bytes:
    return json.dumps({"id": order_id, "status": status, **extra}).encode()


def verified(statuses: dict[str, str], clock: Clock | None = None) -> tuple[
    NotificationReceiver, FakeOrders, Calls
]:  # fmt: skip
    client = FakeClient(statuses)
    calls = Calls()
    receiver = NotificationReceiver(calls, verify_with=client)  # type: ignore[arg-type]
    if clock is not None:
        receiver._verifier = Verifier(client, clock=clock)  # type: ignore[arg-type]
    return receiver, client.orders, calls


# -- absurd ids and statuses are malformed --------------------------------------------


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        (body("x" * 257), "id: 257 characters is over the limit of 256"),
        (body("x" * 60_000), "id: 60000 characters is over the limit of 256"),
        (body(status="S" * 65), "status: 65 characters is over the limit of 64"),
        (body("o1\nforged log line"), "id: control or unpaired surrogate character U+000A at"),
        (body("o1\x00"), "id: control or unpaired surrogate character U+0000 at position 2"),
        (body("o1\x85"), "id: control or unpaired surrogate character U+0085"),
        (b'{"id": "o1\\ud800", "status": "SHIPPED"}', "id: control or unpaired surrogate"),
        (body(status="SHIPPED\r\n"), "status: control or unpaired surrogate character U+000D"),
    ],
)
def test_absurd_ids_and_statuses_are_malformed(raw: bytes, problem: str) -> None:
    with pytest.raises(InvalidNotificationError) as caught:
        parse_notification(raw)

    assert str(caught.value).startswith(problem)


def test_ids_up_to_the_limit_and_any_printable_text_are_fine() -> None:
    assert parse_notification(body("x" * 256)).id == "x" * 256
    assert parse_notification(body("pédido-漢字 1")).id == "pédido-漢字 1"


async def test_an_absurd_id_answers_400_and_is_never_remembered() -> None:
    store = MemoryNotificationStore()
    calls = Calls()
    receiver = NotificationReceiver(calls, store=store)

    outcome = await receiver.handle(body("x" * 60_000), {})

    assert (outcome.status, outcome.reason) == (
        400,
        "invalid notification: id: 60000 characters is over the limit of 256",
    )
    assert (len(store), calls.events) == (0, [])


# -- deduplication memory is bounded in bytes -----------------------------------------


def test_keys_are_fixed_size_hashes_of_id_and_status() -> None:
    keys = {notification_key("x" * n, "SHIPPED") for n in (1, 256, 60_000)}

    assert {len(key) for key in keys} == {32}
    assert len(keys) == 3
    assert notification_key("o1", "SHIPPED") != notification_key("o1", "DELIVERED")
    assert notification_key("a", "bSHIPPED") != notification_key("ab", "SHIPPED")


async def traced_growth(work: Any) -> int:
    """Run ``await work()`` and return how many bytes it left allocated."""
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        await work()
        gc.collect()
        return tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()


async def test_huge_keys_given_to_the_store_stay_within_its_byte_bound() -> None:
    # The numbers: 10,000 notifications with 60 kB ids kept 575 MB.
    store = MemoryNotificationStore(max_bytes=1024 * 1024)
    prefix = "k" * 60_000

    async def fill() -> None:
        for i in range(2_000):
            key = f"{prefix}{i}"
            assert await store.claim_notification(key, pending_ttl=60) == "claimed"
            await store.finish_notification(key, ttl=3600)

    growth = await traced_growth(fill)

    assert store.size_in_bytes <= 1024 * 1024
    assert 0 < len(store) <= 17  # 1 MiB holds 17 keys of 60 kB
    assert growth < 1.25 * 1024 * 1024  # without the byte bound: about 120 MB
    # The most recent one is still remembered, the first long forgotten.
    assert await store.claim_notification(f"{prefix}1999", pending_ttl=60) == "done"
    assert await store.claim_notification(f"{prefix}0", pending_ttl=60) == "claimed"


async def test_ten_thousand_notifications_with_the_longest_ids_fit_the_default_bound() -> None:
    store = MemoryNotificationStore()
    handled = 0

    async def count(event: NotificationEvent) -> None:
        nonlocal handled
        handled += 1

    receiver = NotificationReceiver(count, store=store)
    bodies = [body(f"{i:0256d}") for i in range(10_000)]

    async def handle_all() -> None:
        for raw in bodies:
            await receiver.handle(raw, {})
            # Let the loop run between requests, as a server's does (it then
            # drops the cancelled timers of the store calls' timeouts).
            await asyncio.sleep(0)

    growth = await traced_growth(handle_all)

    assert handled == 10_000

    assert len(store) == 10_000  # the count bound is reached first with hashed keys
    assert store.size_in_bytes <= store.max_bytes == 4 * 1024 * 1024
    assert growth < store.max_bytes
    assert (await receiver.handle(bodies[-1], {})).reason == "duplicate: already handled"


async def test_a_small_byte_bound_forgets_the_oldest_first() -> None:
    store = MemoryNotificationStore(max_bytes=3 * 300)  # room for 3 entries of ~290 bytes
    calls = Calls()
    receiver = NotificationReceiver(calls, store=store)

    for order_id in ("a", "b", "c", "d", "a"):
        await receiver.handle(body(order_id), {})

    assert [e.order_id for e in calls.events] == ["a", "b", "c", "d", "a"]
    assert len(store) == 3


def test_bad_store_bounds_are_refused() -> None:
    with pytest.raises(ValueError, match="max_bytes"):
        MemoryNotificationStore(max_bytes=-1)
    with pytest.raises(ValueError, match="dedupe_max_bytes"):
        NotificationReceiver(Calls(), dedupe_max_bytes=-1)


# -- verification is no request amplifier ---------------------------------------------


async def test_200_forged_posts_for_a_status_not_reached_cost_one_get() -> None:
    receiver, orders, calls = verified({"o1": "IN_MANUFACTURING"})

    outcomes = [await receiver.handle(body("o1", "DELIVERED"), {}) for _ in range(200)]

    assert {(o.status, o.reason) for o in outcomes} == {(200, "ignored: status mismatch")}
    assert orders.gets == ["o1"]
    assert calls.events == []


async def test_posts_for_an_unknown_order_cost_one_get_whatever_their_status() -> None:
    receiver, orders, _ = verified({})

    for status in ["SHIPPED", "DELIVERED", "IN_MANUFACTURING", "APPROVED"] * 50:
        outcome = await receiver.handle(body("nope", status), {})
        assert outcome.reason == "ignored: unknown order"

    assert orders.gets == ["nope"]


async def test_a_refusal_is_forgotten_after_refusal_ttl_so_a_genuine_step_gets_through() -> None:
    clock = Clock()
    receiver, orders, calls = verified({"o1": "IN_MANUFACTURING"}, clock)

    first = await receiver.handle(body("o1", "SHIPPED"), {})
    orders.statuses["o1"] = "SHIPPED"
    clock.now += 29.9
    remembered = await receiver.handle(body("o1", "SHIPPED"), {})
    clock.now += 0.2
    genuine = await receiver.handle(body("o1", "SHIPPED"), {})

    assert [first.reason, remembered.reason, genuine.reason] == [
        "ignored: status mismatch",
        "ignored: status mismatch",
        "ok",
    ]
    assert orders.gets == ["o1", "o1"]
    assert [e.status for e in calls.events] == [OrderStatus.SHIPPED]


async def test_refusal_ttl_0_verifies_every_post() -> None:
    client = FakeClient({"o1": "APPROVED"})
    receiver = NotificationReceiver(Calls(), verify_with=client, refusal_ttl=0)  # type: ignore[arg-type]

    for _ in range(3):
        await receiver.handle(body("o1", "SHIPPED"), {})

    assert client.orders.gets == ["o1"] * 3


async def test_the_memory_of_refusals_and_flights_is_bounded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert _verify.MAX_REFUSALS == 10_000
    monkeypatch.setattr(_verify, "MAX_REFUSALS", 100)  # the same code, fewer posts to test it
    receiver, orders, _ = verified({})
    verifier = receiver._verifier
    assert verifier is not None

    for i in range(150):
        await receiver.handle(body(f"forged-{i}", "SHIPPED"), {})

    assert len(orders.gets) == 150  # every new id costs its one GET
    assert len(verifier._refused) == 100  # fixed-size keys: bounded bytes too
    assert verifier._flights == {}
    # The oldest refusals were forgotten first, the latest are remembered.
    await receiver.handle(body("forged-149", "SHIPPED"), {})
    await receiver.handle(body("forged-0", "SHIPPED"), {})
    assert orders.gets[150:] == ["forged-0"]


async def test_concurrent_posts_for_one_order_share_one_get() -> None:
    receiver, orders, calls = verified({"o1": "DELIVERED"})
    orders.gate = asyncio.Event()
    statuses = ["IN_MANUFACTURING", "SHIPPED", "DELIVERED", "CANCELED"]

    tasks = [
        asyncio.create_task(receiver.handle(body("o1", status), {})) for status in statuses * 10
    ]
    await asyncio.sleep(0.01)
    orders.gate.set()
    outcomes = await asyncio.gather(*tasks)

    assert orders.gets == ["o1"]
    assert sorted(e.status for e in calls.events) == sorted(statuses[:3])
    assert sum(o.reason == "ok" for o in outcomes) == 3
    assert sum(o.reason == "ignored: status mismatch" for o in outcomes) == 10


async def test_a_cancelled_post_does_not_fail_the_others_sharing_its_get() -> None:
    receiver, orders, calls = verified({"o1": "SHIPPED"})
    orders.gate = asyncio.Event()

    first = asyncio.create_task(receiver.handle(body("o1", "SHIPPED"), {}))
    second = asyncio.create_task(receiver.handle(body("o1", "IN_MANUFACTURING"), {}))
    await asyncio.sleep(0.01)
    first.cancel()
    await asyncio.sleep(0.01)
    orders.gate.set()

    assert (await second).reason == "ok"
    with pytest.raises(asyncio.CancelledError):
        await first
    assert (orders.gets, orders.cancelled) == (["o1"], 0)
    assert [e.status for e in calls.events] == [OrderStatus.IN_MANUFACTURING]


async def test_the_get_nobody_waits_for_any_more_is_cancelled() -> None:
    receiver, orders, _ = verified({"o1": "SHIPPED"})
    orders.gate = asyncio.Event()

    post = asyncio.create_task(receiver.handle(body("o1", "SHIPPED"), {}))
    await asyncio.sleep(0.01)
    post.cancel()
    with pytest.raises(asyncio.CancelledError):
        await post
    await asyncio.sleep(0)

    assert orders.cancelled == 1
    orders.gate.set()
    assert (await receiver.handle(body("o1", "SHIPPED"), {})).reason == "ok"
    assert orders.gets == ["o1", "o1"]


# -- a trickling body is dropped ------------------------------------------------------


@asynccontextmanager
async def serve(handler: Any) -> AsyncIterator[int]:
    app = web.Application()
    app.router.add_post("/digipix", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        yield runner.addresses[0][1]
    finally:
        await runner.cleanup()


async def test_a_body_trickling_in_is_answered_408_and_its_connection_closed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    calls = Calls()
    payload = body("o1", "SHIPPED")
    async with serve(aiohttp_handler(calls, body_timeout=0.3)) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        head = (
            f"POST /digipix HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {len(payload)}\r\n\r\n"
        ).encode()
        writer.write(head)

        async def trickle() -> None:
            # One byte every 50 ms: the whole body would take over 1.5 s.
            with suppress(ConnectionError):  # the server hangs up on us
                for byte in payload[:-1]:
                    writer.write(bytes([byte]))
                    await writer.drain()
                    await asyncio.sleep(0.05)

        sender = asyncio.create_task(trickle())
        try:
            # Read late, as a busy sender would: the refusal (at 0.3 s) must still
            # be readable, not destroyed by a reset while the sender keeps writing.
            await asyncio.sleep(0.7)
            async with asyncio.timeout(10):  # a safety net, not a speed assertion
                answer = await reader.read()  # until the server closes the connection
            closed_while_trickling = not sender.done()
        finally:
            sender.cancel()
            with suppress(asyncio.CancelledError):
                await sender
            writer.close()
            with suppress(ConnectionError):
                await writer.wait_closed()

    status_line, _, rest = answer.partition(b"\r\n")
    assert status_line == b"HTTP/1.1 408 Request Timeout"
    assert rest.endswith(b"\r\n\r\nbody too slow")
    assert b"Connection: close" in rest
    # Closed before the sender was done: aiohttp did not linger to read the rest.
    assert closed_while_trickling
    assert calls.events == []
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_a_refused_sender_that_keeps_sending_is_hung_up_on() -> None:
    # After the 408 the server reads and drops the sender's bytes only briefly:
    # a sender that never stops must not hold the socket open for ever.
    calls = Calls()
    async with serve(aiohttp_handler(calls, body_timeout=0.2)) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"POST /digipix HTTP/1.1\r\nHost: x\r\nContent-Length: 8000\r\n\r\n{")
        hung_up = False
        try:
            async with asyncio.timeout(10):  # a safety net, not a speed assertion
                answer = await reader.read()
                while not hung_up:
                    try:
                        writer.write(b" ")
                        await writer.drain()
                    except ConnectionError:
                        hung_up = True
                    await asyncio.sleep(0.05)
        finally:
            writer.close()
            with suppress(ConnectionError):
                await writer.wait_closed()

    assert answer.startswith(b"HTTP/1.1 408 Request Timeout")
    assert hung_up
    assert calls.events == []


async def test_a_sender_hanging_up_mid_body_logs_no_error_and_the_server_keeps_serving(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    calls = Calls()
    async with serve(aiohttp_handler(calls)) as port:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b'POST /digipix HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"id"')
        await writer.drain()
        await asyncio.sleep(0.05)  # the handler is reading the body now
        writer.close()
        await writer.wait_closed()
        await asyncio.sleep(0.05)
        after = await raw_post(port, body("o1", "SHIPPED"))

    assert after.startswith(b"HTTP/1.1 200 OK")
    assert [e.order_id for e in calls.events] == ["o1"]
    # Before: aiohttp logged "Error handling request" with a ConnectionResetError traceback.
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
    assert "sender hung up before its body ended" in caplog.text


async def raw_post(port: int, payload: bytes) -> bytes:
    """POST ``payload`` to /digipix over a fresh connection; return the whole answer."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        b"POST /digipix HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        + f"Content-Length: {len(payload)}\r\n\r\n".encode()
        + payload
    )
    async with asyncio.timeout(10):  # a safety net, not a speed assertion
        answer = await reader.read()
    writer.close()
    await writer.wait_closed()
    return answer


async def test_a_body_in_time_is_served_and_bad_body_timeouts_are_refused() -> None:
    calls = Calls()
    async with serve(aiohttp_handler(calls, body_timeout=5)) as port:
        answer = await raw_post(port, body("o1", "SHIPPED"))

    assert answer.startswith(b"HTTP/1.1 200 OK")
    assert len(calls.events) == 1
    for bad in (0, -1, float("inf"), True, "5"):
        with pytest.raises(ValueError, match="body_timeout"):
            aiohttp_handler(calls, body_timeout=bad)  # type: ignore[arg-type]


# -- the scenario, measured as the operating system sees it -------------------

_RSS_SCRIPT = """
import asyncio, json, resource, sys
from digipix_async.webhooks import NotificationReceiver

async def main() -> None:
    async def on_status(event): pass
    receiver = NotificationReceiver(on_status)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    answers = set()
    for i in range(2_000):
        order_id = f"{i:060000d}"  # a 60 kB id, as in the issue: refused
        body = json.dumps({"id": order_id, "status": "SHIPPED"})
        answers.add((await receiver.handle(body, {})).status)
        await asyncio.sleep(0)
    for i in range(12_000):  # past the 10,000 entries of the default store
        order_id = f"{i:0256d}"  # the longest id accepted: remembered, within bounds
        body = json.dumps({"id": order_id, "status": "SHIPPED"})
        answers.add((await receiver.handle(body, {})).status)
        await asyncio.sleep(0)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"answers": sorted(answers), "growth_kib": after - before}))

asyncio.run(main())
"""


def test_long_ids_do_not_grow_the_process() -> None:
    # In a subprocess: peak RSS (ru_maxrss, KiB on Linux) belongs to it alone.
    # Before the fix the 2,000 ids of 60 kB were all kept: 115 MB.
    done = subprocess.run(
        [sys.executable, "-c", _RSS_SCRIPT],
        cwd=pathlib.Path(__file__).parents[1],  # this checkout's digipix_async
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    result = json.loads(done.stdout)

    assert result["answers"] == [200, 400]
    # The default store's bound is 4 MiB; the rest is the allocator's slack.
    assert result["growth_kib"] < 16 * 1024
