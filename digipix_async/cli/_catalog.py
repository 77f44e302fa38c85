"""``digipix products`` and ``digipix quote``: the catalogue and one cart's shipping."""

from __future__ import annotations

from typing import Any

import click

from digipix_async.cli._app import api_options, cli, settings_from
from digipix_async.cli._context import Settings, connect, run
from digipix_async.cli._output import option_table, print_json, product_table, to_json
from digipix_async.cli._rows import RowError, check_zip_code, whole_number

__all__ = ["parse_item", "products", "quote"]


def parse_item(text: str) -> dict[str, Any]:
    """Read ``product_id:quantity[:pages]`` into a quote item; ValueError says what is wrong."""
    parts = text.split(":")
    if len(parts) not in (2, 3) or not parts[0].strip():
        raise ValueError(f"{text!r} is not product_id:quantity[:pages]")
    try:
        item: dict[str, Any] = {
            "product_id": parts[0].strip(),
            "quantity": whole_number(parts[1], "quantity", required=True),
        }
        if len(parts) == 3:
            item["pages"] = whole_number(parts[2], "pages", required=True)
    except RowError as error:
        raise ValueError(f"{text!r}: {error.column}: {error.message}") from None
    return item


def _items(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> Any:
    try:
        return tuple(parse_item(value) for value in values)
    except ValueError as error:
        raise click.BadParameter(str(error), ctx, param) from None


def _zip(ctx: click.Context, param: click.Parameter, value: str) -> str:
    try:
        return check_zip_code(value, "zip")
    except RowError as error:
        raise click.BadParameter(error.message, ctx, param) from None


@cli.command()
@api_options
@click.pass_context
def products(ctx: click.Context, sandbox: bool, as_json: bool, rate_limit: float | None) -> int:
    """List the products of the catalogue."""
    settings = settings_from(ctx, sandbox=sandbox, as_json=as_json, rate_limit=rate_limit)

    async def work() -> int:
        async with connect(settings) as client:
            found = await client.products.list()
        if settings.as_json:
            print_json([to_json(product) for product in found], settings.out)
        else:
            settings.console.print(product_table(found))
        return 0

    return run(settings, work)


@cli.command()
@click.option("--zip", "zip_code", required=True, callback=_zip, help="Destination zip code.")
@click.option(
    "--item",
    "items",
    required=True,
    multiple=True,
    callback=_items,
    metavar="PRODUCT:QUANTITY[:PAGES]",
    help="An item as product_id:quantity[:pages]; repeat for more.",
)
@api_options
@click.pass_context
def quote(
    ctx: click.Context,
    zip_code: str,
    items: tuple[dict[str, Any], ...],
    sandbox: bool,
    as_json: bool,
    rate_limit: float | None,
) -> int:
    """Quote the shipping options of one cart."""
    settings = settings_from(ctx, sandbox=sandbox, as_json=as_json, rate_limit=rate_limit)
    return run(settings, lambda: _quote(settings, zip_code, list(items)))


async def _quote(settings: Settings, zip_code: str, items: list[dict[str, Any]]) -> int:
    async with connect(settings) as client:
        options = await client.quotes.create(zip_code=zip_code, items=items)
    if settings.as_json:
        print_json([to_json(option) for option in options], settings.out)
    else:
        settings.console.print(option_table(options, title=f"shipping to {zip_code}"))
    return 0
