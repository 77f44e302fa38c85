"""The sandbox's product catalogue and its deterministic shipping price table.

Pricing rules (the vendor publishes none; these are the sandbox's own, chosen so
the samples' figures come out for `01311100`):

- an item costs `price * quantity`; pages do not change the price;
- the parcel weighs `weight * quantity` summed over items, charged per started
  kilogram (at least one);
- the region is the first digit of the zip code (Brazilian CEP ranges): 0-1 Sao Paulo,
  2-3 Rio/Espirito Santo/Minas, 4-6 North-East and North, 7-9 Centre-West and South;
- Cheapest (1) and Fastest (2) cost `base + per_kg * kilograms` of the region;
- Collect (3, pick-up at the lab, free, 1 day) exists only when the sandbox's
  contract includes it (`SandboxServer(collect=True)`), as the reference says.
"""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any, Final

from digipix_async.sandbox._wire import ApiError

__all__ = ["METHOD_NAMES", "PRODUCTS", "product", "shipping_options", "unit_price", "weight_of"]

Product = dict[str, Any]

# The samples.md shape: id, name, internalCode, price, weight (g), productionTime (days), parts.
PRODUCTS: Final[tuple[Product, ...]] = (
    {
        "id": "photobook",
        "name": "Photobook",
        "internalCode": 123,
        "price": 10.9,
        "weight": 400,
        "productionTime": 5,
        "parts": [{"id": "cover", "name": "Cover"}, {"id": "pages", "name": "Pages"}],
    },
    {
        "id": "print-10x15",
        "name": "Print 10x15",
        "internalCode": 201,
        "price": 0.89,
        "weight": 5,
        "productionTime": 1,
        "parts": [{"id": "photo", "name": "Photo"}],
    },
    {
        "id": "canvas-30x40",
        "name": "Canvas 30x40",
        "internalCode": 305,
        "price": 89.9,
        "weight": 1200,
        "productionTime": 4,
        "parts": [{"id": "image", "name": "Image"}],
    },
    {
        "id": "calendar-a4",
        "name": "Wall Calendar A4",
        "internalCode": 410,
        "price": 49.9,
        "weight": 350,
        "productionTime": 3,
        "parts": [{"id": "cover", "name": "Cover"}, {"id": "pages", "name": "Pages"}],
    },
    {
        "id": "mug",
        "name": "Photo Mug",
        "internalCode": 512,
        "price": 39.9,
        "weight": 450,
        "productionTime": 2,
        "parts": [{"id": "wrap", "name": "Wrap"}],
    },
)

_BY_ID: Final = {p["id"]: p for p in PRODUCTS}

METHOD_NAMES: Final = {1: "Cheapest", 2: "Fastest", 3: "Collect"}

# region -> method id -> (base, per started kg, estimated delivery days)
_RATES: Final[dict[int, dict[int, tuple[Decimal, Decimal, int]]]] = {
    1: {1: (Decimal("1.20"), Decimal("0.89"), 7), 2: (Decimal("12.50"), Decimal("2.80"), 2)},
    2: {1: (Decimal("4.50"), Decimal("1.20"), 9), 2: (Decimal("18.90"), Decimal("3.50"), 3)},
    3: {1: (Decimal("8.90"), Decimal("2.10"), 14), 2: (Decimal("29.90"), Decimal("5.90"), 4)},
    4: {1: (Decimal("6.40"), Decimal("1.60"), 11), 2: (Decimal("22.50"), Decimal("4.20"), 3)},
}
_REGION_OF_DIGIT: Final = {0: 1, 1: 1, 2: 2, 3: 2, 4: 3, 5: 3, 6: 3, 7: 4, 8: 4, 9: 4}


def product(product_id: str) -> Product:
    """Return a deep copy of one product (callers may mutate it), 404 if unknown."""
    found = _BY_ID.get(product_id)
    if found is None:
        raise ApiError(404, f"product {product_id[:64]!r} not found")
    return copy.deepcopy(found)


def unit_price(product_id: str) -> Decimal:
    """Return the exact unit price of a known product."""
    return Decimal(repr(_BY_ID[product_id]["price"]))


def weight_of(items: list[tuple[str, int]]) -> int:
    """Return the grams of (productId, quantity) pairs of known products."""
    return sum(int(_BY_ID[pid]["weight"]) * qty for pid, qty in items)


def shipping_options(zip_code: str, grams: int, *, collect: bool) -> list[tuple[int, Decimal, int]]:
    """Price every shipping method as (shipmentMethodId, cost, estimatedDeliveryDays)."""
    kilograms = max(1, -(-grams // 1000))  # started kilograms, ceiling division
    rates = _RATES[_REGION_OF_DIGIT[int(zip_code[0])]]
    options = [
        (method, base + per_kg * kilograms, days) for method, (base, per_kg, days) in rates.items()
    ]
    if collect:
        options.append((3, Decimal("0.00"), 1))
    return options
