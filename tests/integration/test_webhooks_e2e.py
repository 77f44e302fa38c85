"""Status notifications end to end: the real sandbox POSTs to `aiohttp_handler` over loopback.

The receiver runs with a secret and ``verify_with=client``, as a production app
should. The order is advanced one step at a time, waiting for each delivery, as
in real life where steps are days apart; and straight to DELIVERED, where every
step arrives after the order moved past it and is still handed over once.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import attrs
import pytest
from aiohttp import web
from samples import ITEMS, RECIPIENT

from digipix_async import DigipixClient, Order, OrderStatus, ShipmentMethod
from digipix_async.sandbox import SandboxServer
from digipix_async.webhooks import (
    NotificationEvent,
    aiohttp_handler,
    notification_url,
    parse_notification,
)

SECRET = "e2e-wh-s3cr3t-41f0"


class Shop:
    """The partner's app: records status events; the first delivery fails once."""

    def __init__(self) -> None:
        self.events: list[NotificationEvent] = []
        self.calls = 0
        self.fail_first = True

    async def on_status(self, event: NotificationEvent) -> None:
        self.calls += 1
        if self.fail_first:
            self.fail_first = False
            raise RuntimeError("database briefly unavailable")
        self.events.append(event)


@attrs.define
class World:
    sandbox: SandboxServer
    client: DigipixClient
    shop: Shop
    url: str  # the receiver's URL, without the secret
    http: aiohttp.ClientSession

    async def new_order(self) -> Order:
        return await self.client.orders.create(
            recipient=RECIPIENT,
            items=ITEMS,
            shipment_method=ShipmentMethod.CHEAPEST,
            custom_data={"cart": "c-991"},
            status_notification_url=notification_url(self.url, SECRET),
        )

    async def post(self, url: str, data: Any) -> tuple[int, str]:
        async with self.http.post(url, data=data) as response:
            return response.status, await response.text()


@pytest.fixture
async def world(caplog: pytest.LogCaptureFixture) -> AsyncIterator[World]:
    caplog.set_level(logging.DEBUG)
    shop = Shop()
    async with (
        SandboxServer(notify_base_delay=0.01, notify_timeout=2.0) as sandbox,
        DigipixClient(
            sandbox.client_id, sandbox.client_secret, base_url=sandbox.base_url
        ) as client,
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http,
    ):
        app = web.Application()
        handler = aiohttp_handler(shop.on_status, secret=SECRET, verify_with=client)
        app.router.add_post("/hooks/digipix", handler)
        # access_log=None: an access log line would hold the URL, secret included.
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        try:
            await web.TCPSite(runner, "127.0.0.1", 0).start()
            url = f"http://127.0.0.1:{runner.addresses[0][1]}/hooks/digipix"
            yield World(sandbox, client, shop, url, http)
        finally:
            await runner.cleanup()
    # Whatever happened, no log line of the SDK, the sandbox or aiohttp quotes the secret.
    assert not [r for r in caplog.records if SECRET in r.getMessage()]


async def test_each_step_reaches_the_callback_once_in_order(world: World) -> None:
    order = await world.new_order()

    for step in (OrderStatus.IN_MANUFACTURING, OrderStatus.SHIPPED, OrderStatus.DELIVERED):
        assert (await world.sandbox.advance(order.id))["status"] == step
        await world.sandbox.wait_notifications(timeout=5)

    events = world.shop.events
    assert [e.status for e in events] == ["IN_MANUFACTURING", "SHIPPED", "DELIVERED"]
    assert all(e.order_id == order.id for e in events)
    assert all(e.notification.custom_data == {"cart": "c-991"} for e in events)
    # Verified: each event carries the order as the API reported it at that step.
    assert [e.order.status if e.order else None for e in events] == [e.status for e in events]
    assert all(e.order is not None and e.order.custom_data == {"cart": "c-991"} for e in events)
    first, shipped, delivered = events
    assert first.notification.tracking_items == ()
    [tracking] = shipped.notification.tracking_items
    assert tracking.carrier == "Correios"
    assert tracking.code
    assert tracking.url
    assert delivered.notification.tracking_items == shipped.notification.tracking_items
    # The first delivery failed (500) and was retried by the sandbox; it ran once in the end.
    records = world.sandbox.notifications
    assert [(r.attempts, r.delivered) for r in records] == [(2, True), (1, True), (1, True)]
    assert records[0].last_error == "HTTP 500"
    assert world.shop.calls == 4


async def test_a_replayed_notification_is_acknowledged_but_not_run_again(world: World) -> None:
    world.shop.fail_first = False
    order = await world.new_order()
    await world.sandbox.advance(order.id)
    await world.sandbox.wait_notifications(timeout=5)
    [record] = world.sandbox.notifications

    replay = await world.post(notification_url(world.url, SECRET), json.dumps(record.payload))

    assert replay == (200, "duplicate: already handled")
    assert world.shop.calls == 1


async def test_jumping_straight_to_delivered_still_hands_over_every_step_once(
    world: World,
) -> None:
    world.shop.fail_first = False
    order = await world.new_order()
    gets_before = world.sandbox.request_count("GET", "/v1/orders/{orderId}")

    await world.sandbox.advance(order.id, to=OrderStatus.DELIVERED)
    records = await world.sandbox.wait_notifications(timeout=5)

    # IN_MANUFACTURING and SHIPPED arrive when the order is already DELIVERED:
    # steps it has passed, each handed over once with the order as it is now.
    assert [(r.payload["status"], r.delivered) for r in records] == [
        ("IN_MANUFACTURING", True),
        ("SHIPPED", True),
        ("DELIVERED", True),
    ]
    events = world.shop.events
    assert [e.status for e in events] == ["IN_MANUFACTURING", "SHIPPED", "DELIVERED"]
    assert [e.late for e in events] == [True, True, False]
    assert all(e.order is not None and e.order.status == "DELIVERED" for e in events)
    assert all(e.order is not None and e.order.id == order.id for e in events)
    # Each step keeps what its own notification said: SHIPPED its tracking codes.
    manufacturing, shipped, delivered = events
    assert manufacturing.notification.tracking_items == ()
    [tracking] = shipped.notification.tracking_items
    assert (tracking.carrier, bool(tracking.code), bool(tracking.url)) == ("Correios", True, True)
    assert shipped.notification == parse_notification(records[1].payload)
    assert delivered.notification.tracking_items == shipped.notification.tracking_items
    # One verification GET per step, at most.
    gets = world.sandbox.request_count("GET", "/v1/orders/{orderId}") - gets_before
    assert 1 <= gets <= 3

    # Re-sent, each one is a duplicate: nothing runs twice.
    replays = [
        await world.post(notification_url(world.url, SECRET), json.dumps(r.payload))
        for r in records
    ]
    assert replays == [(200, "duplicate: already handled")] * 3
    assert world.shop.calls == 3


async def test_hostile_requests_are_refused_or_ignored(world: World) -> None:
    world.shop.fail_first = False
    order = await world.new_order()
    await world.sandbox.advance(order.id)  # really IN_MANUFACTURING
    await world.sandbox.wait_notifications(timeout=5)
    good = notification_url(world.url, SECRET)

    def forged(order_id: str, status: str) -> str:
        return json.dumps({"id": order_id, "status": status, "customData": {"cart": "evil"}})

    answers = {
        "garbage": await world.post(good, b"\x00\xff garbage"),
        "not an object": await world.post(good, b'["id", "status"]'),
        "no status": await world.post(good, json.dumps({"id": order.id})),
        "deep nesting": await world.post(good, b"[" * 50_000),
        "huge": await world.post(good, io.BytesIO(b" " * (2 * 1024 * 1024))),
        "no secret": await world.post(world.url, forged(order.id, "DELIVERED")),
        "wrong secret": await world.post(
            notification_url(world.url, "guess"), forged(order.id, "DELIVERED")
        ),
        "forged status": await world.post(good, forged(order.id, "DELIVERED")),
        "forged past status": await world.post(good, forged(order.id, "APPROVED")),
        "unknown order": await world.post(good, forged("no-such-order", "SHIPPED")),
        "path trick": await world.post(good, forged("../products", "SHIPPED")),
    }

    assert {name: status for name, (status, _) in answers.items()} == {
        "garbage": 400,
        "not an object": 400,
        "no status": 400,
        "deep nesting": 400,
        "huge": 413,
        "no secret": 401,
        "wrong secret": 403,
        "forged status": 200,
        "forged past status": 200,
        "unknown order": 200,
        "path trick": 200,
    }
    assert answers["forged status"][1] == "ignored: status mismatch"
    # APPROVED is a step the order really passed: handed over (see below).
    assert answers["forged past status"][1] == "ok"
    assert answers["unknown order"][1] == "ignored: unknown order"
    assert answers["path trick"][1] == "ignored: unknown order"
    # The genuine notification reached the shop, and the past step: late, and
    # with the authoritative order beside what the sender claimed in customData.
    genuine, past = world.shop.events
    assert (genuine.status, genuine.late) == ("IN_MANUFACTURING", False)
    assert genuine.notification.custom_data == {"cart": "c-991"}
    assert (past.status, past.late) == ("APPROVED", True)
    assert past.notification.custom_data == {"cart": "evil"}
    assert past.order is not None
    assert (past.order.status, past.order.custom_data) == ("IN_MANUFACTURING", {"cart": "c-991"})

    # A flood of the same forgeries costs no more GETs: the refusals are remembered.
    gets = world.sandbox.request_count("GET", "/v1/orders/{orderId}")
    for _ in range(50):
        assert await world.post(good, forged(order.id, "DELIVERED")) == (
            200,
            "ignored: status mismatch",
        )
        assert await world.post(good, forged("no-such-order", "SHIPPED")) == (
            200,
            "ignored: unknown order",
        )
    assert world.sandbox.request_count("GET", "/v1/orders/{orderId}") == gets

    # After all that, the receiver still serves the genuine next step.
    await world.sandbox.advance(order.id)
    await world.sandbox.wait_notifications(timeout=5)
    assert [e.status for e in world.shop.events] == ["IN_MANUFACTURING", "APPROVED", "SHIPPED"]
