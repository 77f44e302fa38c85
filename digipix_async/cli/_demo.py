"""``digipix demo``: the SDK end to end.

With ``--sandbox`` (or without credentials, which it then says on stderr) it starts
the embedded sandbox and runs every flow. With ``DIGIPIX_CLIENT_ID`` and
``DIGIPIX_CLIENT_SECRET`` set and no ``--sandbox``, it runs only the read-only
part (products, a quote) against the API those credentials belong to.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import AsyncIterator
from typing import TextIO

import click
from aiohttp import web

from digipix_async import DigipixClient
from digipix_async.cli._app import cli, settings_from
from digipix_async.cli._context import Settings, has_credentials, run
from digipix_async.models import Order, OrderStatus, ShipmentMethod, ShippingOption
from digipix_async.sandbox import SandboxServer
from digipix_async.webhooks import NotificationEvent, aiohttp_handler, notification_url

__all__ = ["demo"]

DEMO_ZIP = "01311-100"  # Avenida Paulista, Sao Paulo
DEMO_RECIPIENT = {
    "name": "Maria da Silva",
    "email": "maria@example.com",
    "zip_code": DEMO_ZIP,
    "street": "Avenida Paulista",
    "number": "1000",
    "complement": "apto 12",
    "neighborhood": "Bela Vista",
    "city": "Sao Paulo",
    "state": "SP",
    "country": "BR",
}


def _items(product_id: str) -> list[dict[str, object]]:
    return [
        {
            "product_id": product_id,
            "quantity": 1,
            "parts": [
                {"id": "cover", "url": "https://files.example.com/demo/cover.pdf", "pages": 1},
                {"id": "pages", "url": "https://files.example.com/demo/pages.pdf", "pages": 24},
            ],
        }
    ]


class _Printer:
    def __init__(self, out: TextIO) -> None:
        self.out = out

    def section(self, title: str) -> None:
        print(f"\n== {title}", file=self.out)

    def line(self, text: str) -> None:
        print(f"   {text}", file=self.out)

    def option(self, option: ShippingOption) -> None:
        self.line(
            f"{option.name or '?':<9} method {option.shipment_method_id}  "
            f"R$ {option.cost}  {option.estimated_delivery_days} days  (id {option.id})"
        )

    def order(self, label: str, order: Order) -> None:
        total = f"R$ {order.total}" if order.total is not None else "total pending"
        self.line(f"{label:<24} {order.id}  {order.status.value:<16} {total}")


async def _read_only_tour(client: DigipixClient, say: _Printer) -> str:
    """List products and quote a cart; return the product id used."""
    say.section("Products")
    products = await client.products.list()
    for product in products:
        say.line(
            f"{product.id:<14} {product.name or '':<22} R$ {product.price}  "
            f"{product.weight} g  {product.production_time} days"
        )
    if not products:
        raise click.ClickException("the catalogue is empty: nothing to quote")
    chosen = products[0].id

    say.section(f"Quote: 2 x {chosen} to {DEMO_ZIP}")
    options = await client.quotes.create(
        zip_code=DEMO_ZIP, items=[{"product_id": chosen, "quantity": 2, "pages": 24}]
    )
    for option in options:
        say.option(option)
    return chosen


@contextlib.asynccontextmanager
async def _receiver(client: DigipixClient, say: _Printer) -> AsyncIterator[str]:
    """Run a status-notification receiver on loopback; yield the URL to give Digipix."""

    async def on_status(event: NotificationEvent) -> None:
        tracking = ", ".join(
            f"{item.carrier} {item.code}" for item in event.notification.tracking_items
        )
        say.line(
            f"notified: {event.order_id} is {event.status.value}"
            f"{f' ({tracking})' if tracking else ''}, customData "
            f"{dict(event.notification.custom_data or {})}"
        )

    secret = secrets.token_urlsafe(16)
    app = web.Application()
    app.router.add_post("/digipix", aiohttp_handler(on_status, secret=secret, verify_with=client))
    runner = web.AppRunner(app, access_log=None)  # an access log would show the secret
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        yield notification_url(f"http://127.0.0.1:{port}/digipix", secret)
    finally:
        await runner.cleanup()


async def _sandbox_tour(sandbox: SandboxServer, say: _Printer) -> None:
    async with (
        DigipixClient(
            sandbox.client_id, sandbox.client_secret, base_url=sandbox.base_url
        ) as client,
        _receiver(client, say) as notify_url,
    ):
        product_id = await _read_only_tour(client, say)
        items = _items(product_id)

        say.section("Flow 1: create as QUOTE, then approve")
        quoted = await client.orders.create(
            recipient=DEMO_RECIPIENT,
            items=items,
            partner_order_id="DEMO-0001",
            custom_data={"cart": "c-991"},
            status_notification_url=notify_url,
        )
        say.order("created", quoted)
        for option in quoted.shipments:
            say.option(option)
        approved = await client.orders.approve(quoted.id, shipment_id=quoted.shipments[0].id)
        say.order("approved", approved)
        await sandbox.wait_notifications()

        say.section("Flow 2: pre-approved with a quote's shipment id")
        options = await client.quotes.create(
            zip_code=DEMO_ZIP, items=[{"product_id": product_id, "quantity": 1}]
        )
        fastest = min(options, key=lambda option: option.estimated_delivery_days or 99)
        second = await client.orders.create(
            recipient=DEMO_RECIPIENT,
            items=items,
            shipment_id=fastest.id,
            partner_order_id="DEMO-0002",
        )
        say.order(f"created ({fastest.name})", second)

        say.section("Flow 3: pre-approved in one call (cheapest method)")
        third = await client.orders.create(
            recipient=DEMO_RECIPIENT,
            items=items,
            shipment_method=ShipmentMethod.CHEAPEST,
            partner_order_id="DEMO-0003",
        )
        say.order("created", third)
        cancelled = await client.orders.cancel(third.id)
        say.order("cancelled", cancelled)

        say.section(f"Life cycle of {approved.id}, with its status notifications")
        for step in (OrderStatus.IN_MANUFACTURING, OrderStatus.SHIPPED, OrderStatus.DELIVERED):
            await sandbox.advance(approved.id, to=step)
            # Steps are days apart in real life: let each notification arrive (and be
            # verified against the API) before the next step.
            await sandbox.wait_notifications()
            say.order("now", await client.orders.get(approved.id))
        delivered = await client.orders.get(approved.id)
        received = sum(record.delivered for record in sandbox.notifications)

    say.section("Summary")
    say.line(f"orders placed: 3 (one cancelled); {approved.id} is {delivered.status.value}")
    say.line(f"status notifications delivered to the receiver: {received}")
    say.line(f"token requests the sandbox saw: {sandbox.token_requests}")


async def _demo(settings: Settings) -> int:
    say = _Printer(settings.out)
    if not settings.sandbox:
        async with DigipixClient.from_env() as client:
            say.line(f"credentials found: read-only tour of {client.base_url}")
            await _read_only_tour(client, say)
        return 0
    async with SandboxServer() as sandbox:
        say.line(f"embedded sandbox: {sandbox.base_url}")
        await _sandbox_tour(sandbox, say)
    return 0


@cli.command()
@click.option(
    "--sandbox",
    is_flag=True,
    help="Run every flow on an embedded sandbox, even when credentials are set.",
)
@click.pass_context
def demo(ctx: click.Context, sandbox: bool) -> int:
    """Show products, quotes and every order flow, end to end.

    With credentials in the environment and no --sandbox, only the read-only part
    (products and a quote) runs, against the real API.
    """
    settings = settings_from(ctx, sandbox=sandbox, as_json=False, rate_limit=None)
    if not sandbox and not has_credentials():
        settings.say(
            "digipix demo: no credentials in the environment (DIGIPIX_CLIENT_ID, "
            "DIGIPIX_CLIENT_SECRET): running every flow on an embedded sandbox"
        )
        settings = settings_from(ctx, sandbox=True, as_json=False, rate_limit=None)
    return run(settings, lambda: _demo(settings))
