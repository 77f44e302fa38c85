"""``digipix orders get|approve|cancel``: one order at a time."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import click

from digipix_async import DigipixClient, Order, ShipmentMethod
from digipix_async.cli._app import api_options, cli, settings_from
from digipix_async.cli._context import Settings, connect, run
from digipix_async.cli._output import order_table, print_json, to_json

__all__ = ["approve", "cancel", "get", "orders"]

_METHODS = {method.name.lower(): method for method in ShipmentMethod}


@cli.group()
def orders() -> None:
    """Create, approve, cancel and look up orders."""


def _order_command(settings: Settings, call: Callable[[DigipixClient], Awaitable[Order]]) -> int:
    async def work() -> int:
        async with connect(settings) as client:
            order = await call(client)
        if settings.as_json:
            print_json(to_json(order), settings.out)
        else:
            settings.console.print(order_table(order))
        return 0

    return run(settings, work)


@orders.command()
@click.argument("order_id")
@api_options
@click.pass_context
def get(
    ctx: click.Context, order_id: str, sandbox: bool, as_json: bool, rate_limit: float | None
) -> int:
    """Show an order and its current status."""
    settings = settings_from(ctx, sandbox=sandbox, as_json=as_json, rate_limit=rate_limit)
    return _order_command(settings, lambda client: client.orders.get(order_id))


@orders.command()
@click.argument("order_id")
@click.option("--shipment-id", help="One of the order's shipment ids (see orders get).")
@click.option(
    "--shipment-method",
    type=click.Choice(sorted(_METHODS)),
    help="Or a shipping method instead of a shipment id.",
)
@api_options
@click.pass_context
def approve(
    ctx: click.Context,
    order_id: str,
    shipment_id: str | None,
    shipment_method: str | None,
    sandbox: bool,
    as_json: bool,
    rate_limit: float | None,
) -> int:
    """Approve an order in QUOTE with a shipment id or a shipping method (exactly one)."""
    if (shipment_id is None) == (shipment_method is None):
        raise click.UsageError("give exactly one of --shipment-id and --shipment-method")
    settings = settings_from(ctx, sandbox=sandbox, as_json=as_json, rate_limit=rate_limit)
    method = _METHODS[shipment_method] if shipment_method else None
    return _order_command(
        settings,
        lambda client: client.orders.approve(
            order_id, shipment_id=shipment_id, shipment_method=method
        ),
    )


@orders.command()
@click.argument("order_id")
@api_options
@click.pass_context
def cancel(
    ctx: click.Context, order_id: str, sandbox: bool, as_json: bool, rate_limit: float | None
) -> int:
    """Cancel an order that is not in production yet."""
    settings = settings_from(ctx, sandbox=sandbox, as_json=as_json, rate_limit=rate_limit)
    return _order_command(settings, lambda client: client.orders.cancel(order_id))
