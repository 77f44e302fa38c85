"""Models of the order endpoints (``POST``/``PATCH``/``GET /v1/orders``)."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

import attrs

from digipix_async.models._extra import expected_field, extra_field, to_tuple
from digipix_async.models.quotes import ShippingOption

__all__ = [
    "ItemPart",
    "Order",
    "OrderItem",
    "OrderStatus",
    "Recipient",
    "ShipmentMethod",
]


class OrderStatus(enum.StrEnum):
    """Name a step of an order's life cycle.

    Lookup ignores case: responses say ``APPROVED``, PATCH bodies ``approved``,
    and both give :attr:`APPROVED`. A status this SDK does not know (the vendor
    adds one) is kept as a pseudo-member holding the server's text: it equals
    that text, equals no known member and is not listed when iterating the enum.
    """

    QUOTE = "QUOTE"
    NEW = "NEW"
    APPROVED = "APPROVED"
    IN_MANUFACTURING = "IN_MANUFACTURING"
    SHIPPED = "SHIPPED"
    DELIVERED = "DELIVERED"
    CANCELED = "CANCELED"

    @classmethod
    def _missing_(cls, value: object) -> OrderStatus | None:
        if not isinstance(value, str) or not value:
            return None
        known = cls._value2member_map_.get(value.upper())
        if known is not None:
            return known  # type: ignore[return-value]
        # Not cached in _value2member_map_: the server picks these strings, and a
        # cache would grow with whatever it sends. Pseudo-members compare by value.
        pseudo = str.__new__(cls, value)
        pseudo._name_ = value
        pseudo._value_ = value
        return pseudo

    @property
    def is_known(self) -> bool:
        """Tell whether this is one of the statuses listed in the reference."""
        return type(self).__members__.get(self._name_) is self


class ShipmentMethod(enum.IntEnum):
    """Pick a shipping method without a quote (the reference's shipmentMethodId table)."""

    CHEAPEST = 1
    FASTEST = 2
    #: Only for contracts that include it.
    COLLECT = 3


@attrs.frozen
class Recipient:
    """Say who receives an order and where; every field is optional in responses."""

    name: str | None = None
    email: str | None = None
    phone: str | None = None
    #: CPF/CNPJ or another tax id.
    document: str | None = None
    zip_code: str | None = None
    street: str | None = None
    number: str | None = None
    complement: str | None = None
    neighborhood: str | None = None
    city: str | None = None
    state: str | None = None
    country: str | None = None
    extra: Mapping[str, Any] = extra_field()


@attrs.frozen
class ItemPart:
    """Point to the file Digipix prints for one part of an item (a cover, the pages).

    ``id`` and ``url`` are required when ordering; an answer read leniently may
    leave them None (see API.md "Responses").
    """

    id: str | None = expected_field()
    url: str | None = expected_field()
    pages: int | None = None
    extra: Mapping[str, Any] = extra_field()


@attrs.frozen
class OrderItem:
    """Order ``quantity`` copies of a product made from ``parts``.

    ``product_id`` and ``quantity`` are required when ordering; an answer read
    leniently may leave them None (see API.md "Responses").
    """

    product_id: str | None = expected_field()
    quantity: int | None = expected_field()
    parts: tuple[ItemPart, ...] = attrs.field(default=(), converter=to_tuple)
    extra: Mapping[str, Any] = extra_field()


@attrs.frozen
class Order:
    """Hold an order as the server reports it; money fields are exact Decimals.

    ``shipments`` lists the options of an order still in QUOTE; ``shipment`` is
    the chosen one once approved. ``created_at`` is timezone-aware.
    """

    id: str
    status: OrderStatus
    partner_id: str | None = None
    partner_name: str | None = None
    created_at: datetime | None = None
    partner_order_id: str | None = None
    custom_data: Mapping[str, Any] | None = None
    status_notification_url: str | None = None
    recipient: Recipient | None = None
    items: tuple[OrderItem, ...] = attrs.field(default=(), converter=to_tuple)
    shipments: tuple[ShippingOption, ...] = attrs.field(default=(), converter=to_tuple)
    shipment: ShippingOption | None = None
    subtotal: Decimal | None = None
    shipping_cost: Decimal | None = None
    total: Decimal | None = None
    extra: Mapping[str, Any] = extra_field()
