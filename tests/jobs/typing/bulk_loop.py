"""The README's bulk loops as a user writes them: checked by mypy --strict and pyright strict.

Not a test module (pytest does not collect it): ``test_bulk_typing.py`` runs both
type checkers on it. Each assignment states the type a user relies on.
"""

from __future__ import annotations

from digipix_async import BulkResult, DigipixClient, Order, ShippingOption


async def quote_all(client: DigipixClient, carts: list[dict[str, object]]) -> list[str]:
    lines: list[str] = []
    async for result in client.quotes.create_many(carts, concurrency=32):
        if result.ok:
            options: list[ShippingOption] = result.value
            lines.append(f"{result.index}: {options[0].id}")
        else:
            error: Exception = result.error
            lines.append(f"{result.index}: {error}")
    return lines


async def order_all(client: DigipixClient, orders: list[dict[str, object]]) -> list[Order]:
    created: list[Order] = []
    async with client.orders.create_many(orders) as results:
        async for result in results:
            if not result.ok:
                print(result.index, type(result.error).__name__)
                continue
            created.append(result.value)
    return created


def describe(result: BulkResult[Order]) -> str:
    return result.value.id if result.ok else str(result.error)
