"""Every name the wire spells differently from Python, in one table read both ways.

The reader of answers and the builders of request bodies both look names up
here, when they are used (readers are generated on first use, bodies on every
call), so a corrected wire name is a one-line change that requests and
responses follow alike. Where the reference collapses a nested object (see
API.md "Models") the names are our best reading.
"""

from __future__ import annotations

__all__ = ["APPROVED_ON_CREATE", "PATCH_STATUSES", "WIRE_NAMES", "wire_name"]

#: Python name -> wire name, for every model field and request argument (the API
#: reuses names consistently). A name not listed is the same on the wire (the
#: notification's ``tracking_items`` is snake_case there).
WIRE_NAMES: dict[str, str] = {
    "internal_code": "internalCode",
    "production_time": "productionTime",
    "product_id": "productId",
    "shipment_method_id": "shipmentMethodId",
    "estimated_delivery_days": "estimatedDeliveryDays",
    "zip_code": "zipCode",
    "partner_id": "partnerId",
    "partner_name": "partnerName",
    "created_at": "createdAt",
    "partner_order_id": "partnerOrderID",  # sic: capital ID in the reference
    "custom_data": "customData",
    "status_notification_url": "statusNotificationUrl",
    "shipping_cost": "shippingCost",
    # Request-only: the shipment an order is approved with.
    "shipment_id": "shipmentId",
    "shipment_method": "shipmentMethod",  # the reference's label form ("cheapest")
}

#: The status a create-order body carries in the pre-approved flows.
APPROVED_ON_CREATE = "APPROVED"

#: The statuses a PATCH may set, as the reference spells them (lower case there).
PATCH_STATUSES: dict[str, str] = {"APPROVED": "approved", "CANCELED": "canceled"}


def wire_name(name: str) -> str:
    """Return the wire name of a Python field or argument (itself when it has no other)."""
    return WIRE_NAMES.get(name, name)
