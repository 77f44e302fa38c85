"""Models of the quote endpoint (``POST /v1/quote``)."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import attrs

from digipix_async.models._extra import extra_field

__all__ = ["QuoteItem", "ShippingOption"]


@attrs.frozen
class QuoteItem:
    """Ask for the shipping of ``quantity`` copies of a product (request only).

    ``extra`` holds fields this SDK does not model yet, sent after the known ones.
    """

    product_id: str
    quantity: int
    pages: int | None = None
    extra: Mapping[str, Any] = extra_field()


@attrs.frozen
class ShippingOption:
    """Offer one way to ship: its ``id`` pre-approves an order, ``cost`` is exact money.

    ``shipment_method_id`` is a :class:`~digipix_async.models.ShipmentMethod` when
    the value is one this SDK knows, else the server's plain int.
    """

    id: str
    shipment_method_id: int | None = None
    name: str | None = None
    cost: Decimal | None = None
    estimated_delivery_days: int | None = None
    extra: Mapping[str, Any] = extra_field()
