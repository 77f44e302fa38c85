"""Models of the products endpoints (``GET /v1/products``, ``GET /v1/products/{id}``)."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import attrs

from digipix_async.models._extra import expected_field, extra_field, to_tuple

__all__ = ["Product", "ProductPart"]


@attrs.frozen
class ProductPart:
    """Describe one printable part of a product (a cover, the pages)."""

    id: str | None = expected_field()
    name: str | None = None
    extra: Mapping[str, Any] = extra_field()


@attrs.frozen
class Product:
    """Describe a product of the catalogue; ``price`` is exact money."""

    id: str
    name: str | None = None
    internal_code: int | None = None
    price: Decimal | None = None
    #: Grams: an int on the wire today, a float if the vendor ever sends a fraction.
    weight: float | None = None
    #: Working days in production.
    production_time: int | None = None
    parts: tuple[ProductPart, ...] = attrs.field(default=(), converter=to_tuple)
    extra: Mapping[str, Any] = extra_field()
