"""Deduplication through a `NotificationStore` (issue 13 item 6), across "workers" in-process.

Two receivers sharing one fake store stand for two worker processes behind one
load balancer: a notification posted to both is handled once. The Redis-backed
version of these tests lives with the stores.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from digipix_async import Order, OrderStatus
from digipix_async.stores import MemoryStore
from digipix_async.webhooks import (
    ClaimState,
    MemoryNotificationStore,
    NotificationEvent,
    NotificationReceiver,
    NotificationStore,
    _receiver,
    aiohttp_handler,
    notification_key,
)


class FakeStore:
    """A store shared by "workers": one dict, a suspension point per call, every call recorded."""

    def __init__(self) -> None:
        self.state: dict[str, str] = {}
        self.calls: list[tuple[str, str, float | None]] = []
        self.fail: set[str] = set()
        self.answer: Any = None
        self.hang = False

    async def _io(self, name: str, key: str, ttl: float | None) -> None:
        self.calls.append((name, key, ttl))
        await asyncio.sleep(0)  # a network round trip would let others run here
        if self.hang:
            await asyncio.Event().wait()
        if name in self.fail:
            raise ConnectionError(f"store down during {name}")

    async def claim_notification(self, key: str, *, pending_ttl: float) -> ClaimState:
        await self._io("claim", key, pending_ttl)
        if self.answer is not None:
            return self.answer  # type: ignore[no-any-return]
        if key in self.state:
            return "done" if self.state[key] == "done" else "pending"
        self.state[key] = "pending"
        return "claimed"

    async def finish_notification(self, key: str, *, ttl: float) -> None:
        await self._io("finish", key, ttl)
        self.state[key] = "done"

    async def release_notification(self, key: str) -> None:
        await self._io("release", key, None)
        if self.state.get(key) == "pending":
            del self.state[key]


class Shop:
    """The callback of every worker: one list of events, a gate, failures on demand."""

    def __init__(self, *, fail_times: int = 0) -> None:
        self.events: list[NotificationEvent] = []
        self.calls = 0
        self.fail_times = fail_times
        self.gate: asyncio.Event | None = None

    async def __call__(self, event: NotificationEvent) -> None:
        self.calls += 1
        if self.gate is not None:
            await self.gate.wait()
        if self.calls <= self.fail_times:
            raise RuntimeError("database briefly unavailable")
        self.events.append(event)


def body(order_id: str = "o1", status: str = "SHIPPED") -> bytes:
    return json.dumps({"id": order_id, "status": status}).encode()


KEY = notification_key("o1", "SHIPPED")


def workers(store: NotificationStore, shop: Shop, **options: Any) -> list[NotificationReceiver]:
    return [NotificationReceiver(shop, store=store, **options) for _ in range(2)]


def test_the_fake_and_every_shipped_store_implement_the_protocol() -> None:
    assert isinstance(FakeStore(), NotificationStore)
    assert isinstance(MemoryNotificationStore(), NotificationStore)
    assert isinstance(MemoryStore(), NotificationStore)
    assert not isinstance(object(), NotificationStore)


async def test_a_notification_posted_to_two_workers_is_handled_once() -> None:
    store, shop = FakeStore(), Shop()
    first, second = workers(store, shop)

    answers = [await first.handle(body(), {}), await second.handle(body(), {})]

    assert [(a.status, a.reason) for a in answers] == [
        (200, "ok"),
        (200, "duplicate: already handled"),
    ]
    assert shop.calls == 1
    # Claimed before the callback, finished after it for dedupe_ttl (7 days by default).
    assert store.calls == [
        ("claim", KEY, 60.0),
        ("finish", KEY, 7 * 24 * 3600.0),
        ("claim", KEY, 60.0),
    ]


async def test_while_one_worker_handles_it_the_other_asks_the_sender_to_retry() -> None:
    store, shop = FakeStore(), Shop()
    shop.gate = asyncio.Event()
    first, second = workers(store, shop)

    running = asyncio.create_task(first.handle(body(), {}))
    await asyncio.sleep(0.01)
    meanwhile = await second.handle(body(), {})
    shop.gate.set()
    done = await running
    later = await second.handle(body(), {})

    assert (meanwhile.status, meanwhile.reason, meanwhile.retry_after) == (
        503,
        "being handled by another worker, try again later",
        2,
    )
    assert not meanwhile.ok
    assert (done.reason, later.reason) == ("ok", "duplicate: already handled")
    assert shop.calls == 1


async def test_a_failed_callback_releases_its_claim_so_another_worker_runs_it() -> None:
    store, shop = FakeStore(), Shop(fail_times=1)
    first, second = workers(store, shop)

    failed = await first.handle(body(), {})
    retried = await second.handle(body(), {})

    assert [(failed.status, failed.reason), (retried.status, retried.reason)] == [
        (500, "callback failed"),
        (200, "ok"),
    ]
    assert [name for name, _, _ in store.calls] == ["claim", "release", "claim", "finish"]
    assert len(shop.events) == 1


async def test_a_cancelled_handler_releases_its_claim() -> None:
    store, shop = FakeStore(), Shop()
    shop.gate = asyncio.Event()
    first, second = workers(store, shop)

    running = asyncio.create_task(first.handle(body(), {}))
    await asyncio.sleep(0.01)
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    shop.gate.set()

    assert store.state == {}
    assert (await second.handle(body(), {})).reason == "ok"


class OneOrder:
    """``client.orders.get`` of a client whose only order is o1 in ``status``."""

    def __init__(self, status: str) -> None:
        self.status = status
        self.orders = self

    async def get(self, order_id: str) -> Order:
        return Order(order_id, OrderStatus(self.status))


async def test_a_refused_notification_releases_its_claim_so_the_genuine_one_runs_later() -> None:
    store, shop, client = FakeStore(), Shop(), OneOrder("IN_MANUFACTURING")
    receiver = NotificationReceiver(shop, store=store, verify_with=client, refusal_ttl=0)  # type: ignore[arg-type]

    early = await receiver.handle(body(), {})
    client.status = "SHIPPED"
    genuine = await receiver.handle(body(), {})

    assert (early.reason, genuine.reason) == ("ignored: status mismatch", "ok")
    assert [name for name, _, _ in store.calls] == ["claim", "release", "claim", "finish"]


async def test_a_duplicate_costs_no_verification_get() -> None:
    store, shop = FakeStore(), Shop()
    store.state[KEY] = "done"  # another worker handled it

    class NoGets:
        orders = None  # any GET would raise AttributeError

    receiver = NotificationReceiver(shop, store=store, verify_with=NoGets())  # type: ignore[arg-type]

    assert (await receiver.handle(body(), {})).reason == "duplicate: already handled"
    assert shop.calls == 0


@pytest.mark.parametrize(
    ("failing", "status", "reason", "calls"),
    [
        ("claim", 503, "deduplication store unavailable, try again later", 0),
        ("finish", 200, "ok", 1),  # the callback ran: a retry would run it twice
        ("release", 500, "callback failed", 1),
    ],
)
async def test_a_store_failure_never_escapes_the_receiver(
    caplog: pytest.LogCaptureFixture, failing: str, status: int, reason: str, calls: int
) -> None:
    store, shop = FakeStore(), Shop(fail_times=1 if failing == "release" else 0)
    store.fail.add(failing)
    receiver = NotificationReceiver(shop, store=store)

    outcome = await receiver.handle(body(), {})

    assert (outcome.status, outcome.reason, shop.calls) == (status, reason, calls)
    assert any(r.levelno == logging.ERROR and "store" in r.getMessage() for r in caplog.records)


async def test_a_store_answering_nonsense_is_a_store_failure() -> None:
    store, shop = FakeStore(), Shop()
    store.answer = "maybe"

    outcome = await NotificationReceiver(shop, store=store).handle(body(), {})

    assert (outcome.status, shop.calls) == (503, 0)


async def test_a_hanging_store_is_given_up_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_receiver, "_STORE_TIMEOUT", 0.05)
    store, shop = FakeStore(), Shop()
    store.hang = True

    outcome = await NotificationReceiver(shop, store=store).handle(body(), {})

    assert (outcome.status, outcome.reason) == (
        503,
        "deduplication store unavailable, try again later",
    )
    assert shop.calls == 0


async def test_the_key_is_a_hash_the_same_for_every_spelling_of_a_status() -> None:
    store, shop = FakeStore(), Shop()
    first, second = workers(store, shop)

    await first.handle(body("o1", "SHIPPED"), {})
    await second.handle(body("o1", "shipped"), {})

    keys = {key for _, key, _ in store.calls}
    assert keys == {KEY}
    assert len(KEY) == 32
    assert int(KEY, 16) >= 0  # hex: no user text reaches the store
    assert "o1" not in KEY


async def test_the_stores_memory_store_dedupes_across_two_receivers() -> None:
    store, shop = MemoryStore(), Shop()
    first, second = workers(store, shop)

    await first.handle(body(), {})
    assert (await second.handle(body(), {})).reason == "duplicate: already handled"
    assert shop.calls == 1


async def test_pending_ttl_and_dedupe_ttl_reach_the_store() -> None:
    store, shop = FakeStore(), Shop()
    receiver = NotificationReceiver(shop, store=store, pending_ttl=5, dedupe_ttl=90)

    await receiver.handle(body(), {})

    assert store.calls == [("claim", KEY, 5.0), ("finish", KEY, 90.0)]


def test_bad_store_options_are_refused() -> None:
    with pytest.raises(TypeError, match="NotificationStore"):
        NotificationReceiver(Shop(), store=object())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="not both"):
        NotificationReceiver(Shop(), store=FakeStore(), dedupe_size=5)
    for name in ("pending_ttl", "dedupe_ttl"):
        for bad in (0, -1, float("nan"), float("inf"), True):
            with pytest.raises(ValueError, match=name):
                NotificationReceiver(Shop(), **{name: bad})
    with pytest.raises(ValueError, match="refusal_ttl"):
        NotificationReceiver(Shop(), refusal_ttl=-1)


# -- MemoryNotificationStore, the one-process default ---------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_the_memory_store_claims_lapse_and_marks_expire() -> None:
    clock = Clock()
    store = MemoryNotificationStore(clock=clock)

    assert await store.claim_notification("k", pending_ttl=10) == "claimed"
    assert await store.claim_notification("k", pending_ttl=10) == "pending"
    clock.now = 10.5  # the worker holding the claim died: it lapses
    assert await store.claim_notification("k", pending_ttl=10) == "claimed"
    await store.finish_notification("k", ttl=100)
    await store.release_notification("k")  # a late release never undoes "done"
    assert await store.claim_notification("k", pending_ttl=10) == "done"
    clock.now = 200
    assert await store.claim_notification("k", pending_ttl=10) == "claimed"
    await store.release_notification("k")
    assert (len(store), store.size_in_bytes) == (0, 0)


async def test_the_memory_store_with_no_room_remembers_nothing() -> None:
    store = MemoryNotificationStore(max_entries=0)

    assert await store.claim_notification("k", pending_ttl=10) == "claimed"
    await store.finish_notification("k", ttl=100)
    assert await store.claim_notification("k", pending_ttl=10) == "claimed"
    assert len(store) == 0


# -- the aiohttp handler tells the sender when to come back ---------------------------


@asynccontextmanager
async def serve(*handlers: Any) -> AsyncIterator[list[str]]:
    app = web.Application()
    for index, handler in enumerate(handlers):
        app.router.add_post(f"/worker{index}", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        port = runner.addresses[0][1]
        yield [f"http://127.0.0.1:{port}/worker{index}" for index in range(len(handlers))]
    finally:
        await runner.cleanup()


async def test_the_aiohttp_handler_sends_retry_after_while_another_worker_handles_it() -> None:
    store, shop = FakeStore(), Shop()
    shop.gate = asyncio.Event()
    handlers = [aiohttp_handler(shop, store=store) for _ in range(2)]
    async with (
        serve(*handlers) as urls,
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http,
    ):

        async def post(url: str) -> tuple[int, str | None, str]:
            async with http.post(url, data=body()) as response:
                return response.status, response.headers.get("Retry-After"), await response.text()

        running = asyncio.create_task(post(urls[0]))
        await asyncio.sleep(0.05)
        meanwhile = await post(urls[1])
        shop.gate.set()
        done = await running
        later = await post(urls[1])

    assert meanwhile == (503, "2", "being handled by another worker, try again later")
    assert done == (200, None, "ok")
    assert later == (200, None, "duplicate: already handled")
    assert shop.calls == 1
