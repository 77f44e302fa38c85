"""Frozen attrs models of the Digipix API; they know nothing of the wire format."""

from digipix_async.models.notifications import StatusNotification, TrackingItem
from digipix_async.models.orders import (
    ItemPart,
    Order,
    OrderItem,
    OrderStatus,
    Recipient,
    ShipmentMethod,
)
from digipix_async.models.products import Product, ProductPart
from digipix_async.models.quotes import QuoteItem, ShippingOption

__all__ = [
    "ItemPart",
    "Order",
    "OrderItem",
    "OrderStatus",
    "Product",
    "ProductPart",
    "QuoteItem",
    "Recipient",
    "ShipmentMethod",
    "ShippingOption",
    "StatusNotification",
    "TrackingItem",
]
