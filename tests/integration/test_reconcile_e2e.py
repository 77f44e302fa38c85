"""Reconciliation end to end: an order whose answer was lost is settled by its notification.

The sandbox creates the order and hangs up instead of answering (the
"drop_after" fault), so the journal holds it as unknown; the
first status notification for it, received by a `NotificationReceiver` given the
journal, settles the entry as created, and a rerun reports it without a create.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from aiohttp import web
from samples import ITEMS, RECIPIENT

from digipix_async import DigipixClient, OrderOutcomeUnknownError, ShipmentMethod
from digipix_async.jobs import JOURNAL_KEY, OrderJournal
from digipix_async.sandbox import SandboxServer
from digipix_async.webhooks import NotificationEvent, aiohttp_handler, notification_url

SECRET = "reconcile-s3cr3t"


async def test_a_notification_settles_a_journaled_order_whose_answer_was_lost(
    tmp_path: Path,
) -> None:
    events: list[NotificationEvent] = []

    async def on_status(event: NotificationEvent) -> None:
        events.append(event)

    async with (
        SandboxServer(notify_base_delay=0.01, notify_timeout=2.0) as sandbox,
        DigipixClient(
            sandbox.client_id, sandbox.client_secret, base_url=sandbox.base_url, timeout=0.5
        ) as client,
        OrderJournal(tmp_path / "orders.db") as journal,
    ):
        app = web.Application()
        handler = aiohttp_handler(on_status, secret=SECRET, verify_with=client, journal=journal)
        app.router.add_post("/hooks/digipix", handler)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        try:
            await web.TCPSite(runner, "127.0.0.1", 0).start()
            url = f"http://127.0.0.1:{runner.addresses[0][1]}/hooks/digipix"
            request = {
                "recipient": RECIPIENT,
                "items": ITEMS,
                "shipment_method": ShipmentMethod.CHEAPEST,
                "partner_order_id": "INV-LOST-1",
                "custom_data": {"cart": "c-7"},
                "status_notification_url": notification_url(url, SECRET),
            }
            sandbox.faults.add("drop_after", method="POST", path="/v1/orders", times=1)
            with pytest.raises(OrderOutcomeUnknownError):
                await client.orders.create(**request, journal=journal)
            [unknown] = await journal.unknown()
            assert unknown.partner_order_id == "INV-LOST-1"

            # The server did create it; its first step is notified to the receiver.
            assert sandbox.creates_for("INV-LOST-1") == 1
            [order_id] = [
                oid
                for oid in sandbox.state.order_ids()
                if sandbox.order(oid).get("partnerOrderID") == "INV-LOST-1"
            ]
            await sandbox.advance(order_id)
            await sandbox.wait_notifications(timeout=5)

            assert await journal.unknown() == []
            assert [event.order_id for event in events] == [order_id]
            assert events[0].notification.custom_data == {
                "cart": "c-7",
                JOURNAL_KEY: "INV-LOST-1",
            }
            again = await client.orders.create(**request, journal=journal)
        finally:
            await runner.cleanup()
    assert again.id == order_id
    assert sandbox.creates_for("INV-LOST-1") == 1  # never created twice
