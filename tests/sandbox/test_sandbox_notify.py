"""Life cycle and status notifications, delivered to a receiver on loopback."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from digipix_async.sandbox import SandboxServer


class Receiver:
    """A partner endpoint that records notifications and fails the first `fail_first` tries."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.fail_first = 0
        self.calls = 0
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        self.calls += 1
        if self.calls <= self.fail_first:
            return web.Response(status=500, text="try again")
        self.received.append(await request.json())
        return web.Response(status=204)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    receiver = Receiver()
    app = web.Application()
    app.router.add_post("/notify", receiver.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    receiver.url = f"http://127.0.0.1:{runner.addresses[0][1]}/notify"
    yield receiver
    await runner.cleanup()


async def _approved(api: Any, recipient: Any, items: Any, url: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "recipient": recipient,
        "items": items,
        "customData": {"cart": "c-991"},
        "status": "APPROVED",
        "shipmentMethodId": 1,
    }
    if url is not None:
        body["statusNotificationUrl"] = url
    status, order = await api.call("POST", "/v1/orders", body)
    assert status == 201
    return order  # type: ignore[no-any-return]


async def test_life_cycle_notified_in_order(
    api: Any, receiver: Receiver, recipient: Any, items: Any
) -> None:
    receiver.fail_first = 1  # the first POST fails: the sandbox must retry it
    order = await _approved(api, recipient, items, receiver.url)
    sandbox: SandboxServer = api.sandbox
    assert (await sandbox.advance(order["id"]))["status"] == "IN_MANUFACTURING"
    delivered = await sandbox.advance(order["id"], to="delivered")
    assert delivered["status"] == "DELIVERED"
    records = await sandbox.wait_notifications(timeout=5)
    assert [r.payload["status"] for r in records] == ["IN_MANUFACTURING", "SHIPPED", "DELIVERED"]
    assert all(r.delivered and r.finished for r in records)
    assert records[0].attempts == 2
    assert records[0].last_error == "HTTP 500"
    assert [n["status"] for n in receiver.received] == ["IN_MANUFACTURING", "SHIPPED", "DELIVERED"]
    first, shipped, done = receiver.received
    assert first == {
        "id": order["id"],
        "status": "IN_MANUFACTURING",
        "customData": {"cart": "c-991"},
    }
    assert shipped["customData"] == {"cart": "c-991"}
    tracking = shipped["tracking_items"]
    assert set(tracking[0]) == {"code", "url", "carrier"}
    assert done["tracking_items"] == tracking
    status, got = await api.call("GET", f"/v1/orders/{order['id']}")
    assert (status, got["status"], got["trackingItems"]) == (200, "DELIVERED", tracking)
    with pytest.raises(ValueError, match="DELIVERED"):
        await sandbox.advance(order["id"])


async def test_cancel_and_approve_are_notified(
    api: Any, receiver: Receiver, recipient: Any, items: Any
) -> None:
    body = {"recipient": recipient, "items": items, "statusNotificationUrl": receiver.url}
    _, first = await api.call("POST", "/v1/orders", body)
    _, second = await api.call("POST", "/v1/orders", body)
    await api.call("PATCH", f"/v1/orders/{first['id']}", {"status": "canceled"})
    await api.call(
        "PATCH", f"/v1/orders/{second['id']}", {"status": "approved", "shipmentMethodId": 2}
    )
    await api.sandbox.wait_notifications()
    assert sorted((n["id"], n["status"]) for n in receiver.received) == sorted(
        [(first["id"], "CANCELED"), (second["id"], "APPROVED")]
    )
    with pytest.raises(ValueError, match="CANCELED"):
        await api.sandbox.advance(first["id"])


async def test_gives_up_after_bounded_tries(
    make_api: Any, receiver: Receiver, recipient: Any, items: Any
) -> None:
    receiver.fail_first = 100
    async with SandboxServer(notify_max_tries=3, notify_base_delay=0.001) as sandbox:
        api = await make_api(sandbox)
        order = await _approved(api, recipient, items, receiver.url)
        await sandbox.advance(order["id"])
        (record,) = await sandbox.wait_notifications()
        assert (record.attempts, record.delivered, record.finished) == (3, False, True)
        assert receiver.calls == 3


async def test_giving_up_never_logs_the_receivers_secret(
    make_api: Any,
    receiver: Receiver,
    recipient: Any,
    items: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    receiver.fail_first = 100
    url = f"{receiver.url}?token=hush-hush"
    async with SandboxServer(notify_max_tries=2, notify_base_delay=0.001) as sandbox:
        api = await make_api(sandbox)
        order = await _approved(api, recipient, items, url)
        with caplog.at_level("WARNING", logger="digipix_async.sandbox"):
            await sandbox.advance(order["id"])
            (record,) = await sandbox.wait_notifications()

    (warning,) = caplog.records
    assert warning.getMessage().startswith(f"gave up notifying {receiver.url} of order")
    assert "hush-hush" not in warning.getMessage()
    assert "hush-hush" not in repr(record)


async def test_unreachable_receiver_and_close_mid_delivery(
    make_api: Any, recipient: Any, items: Any
) -> None:
    async with SandboxServer(notify_max_tries=50, notify_base_delay=0.01) as sandbox:
        api = await make_api(sandbox)
        # Port 9 (discard) on loopback: nothing listens, every try is refused.
        order = await _approved(api, recipient, items, "http://127.0.0.1:9/notify")
        await sandbox.advance(order["id"])
        await asyncio.sleep(0.05)
        (record,) = sandbox.notifications
        assert record.attempts >= 1
        assert record.last_error is not None
    # close() cancelled the pending retries: no task or session is left behind.
    assert record.finished
    assert not record.delivered


async def test_auto_advance(make_api: Any, receiver: Receiver, recipient: Any, items: Any) -> None:
    async with SandboxServer(auto_advance=0.05) as sandbox:
        api = await make_api(sandbox)
        order = await _approved(api, recipient, items, receiver.url)
        for _ in range(100):
            if sandbox.order(order["id"])["status"] == "DELIVERED":
                break
            await asyncio.sleep(0.02)
        assert sandbox.order(order["id"])["status"] == "DELIVERED"
        await sandbox.wait_notifications()
        assert [n["status"] for n in receiver.received] == [
            "IN_MANUFACTURING",
            "SHIPPED",
            "DELIVERED",
        ]
