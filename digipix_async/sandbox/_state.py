"""The sandbox's orders, quotes and their rules, as plain dicts: no sockets, no aiohttp.

Every method takes an already-decoded JSON body, checks it strictly and either returns
the JSON document to answer with or raises `ApiError` (status + message).
"""

from __future__ import annotations

import copy
import json
import secrets
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Final

from digipix_async.sandbox import _catalogue as catalogue
from digipix_async.sandbox import _fields as fields
from digipix_async.sandbox._clock import SandboxClock
from digipix_async.sandbox._quotes import QuoteBook
from digipix_async.sandbox._wire import (
    ApiError,
    Body,
    money,
    new_id,
    opt_int,
    opt_str,
    req_list,
    req_object,
    req_str,
    timestamp,
    to_decimal,
)

__all__ = ["LIFE_CYCLE", "SandboxState", "notification_payload"]

#: The steps an approved order goes through (API.md "Sandbox").
LIFE_CYCLE: Final = ("APPROVED", "IN_MANUFACTURING", "SHIPPED", "DELIVERED")
#: "Only orders that are not yet in production can be canceled" (reference, PATCH).
CANCELABLE: Final = frozenset({"QUOTE", "NEW", "APPROVED"})
#: "You have up to seven days to PATCH the created order" (reference, create flow 1):
#: a QUOTE order older than this is expired, neither approved nor canceled any more.
APPROVAL_WINDOW: Final = timedelta(days=7)
#: Orders kept at most, and their JSON size at most, the oldest forgotten first (see
#: `SandboxState.max_orders`): about 2.6 kB an order of the samples' shape.
MAX_ORDERS: Final = 20_000
MAX_ORDER_BYTES: Final = 64 * 1024**2

_METHOD_BY_LABEL: Final = {name.lower(): mid for mid, name in catalogue.METHOD_NAMES.items()}

StatusListener = Callable[[Body], None]


def notification_payload(order: Body) -> Body:
    """Build the status notification the vendor POSTs for an order document."""
    payload: Body = {"id": order["id"], "status": order["status"]}
    if "customData" in order:
        payload["customData"] = copy.deepcopy(order["customData"])
    # The notification names tracking info in snake_case (reference, Notifications).
    if order["status"] in ("SHIPPED", "DELIVERED"):
        payload["tracking_items"] = copy.deepcopy(order.get("trackingItems", []))
    return payload


@dataclass
class _Order:
    doc: Body
    created: datetime
    grams: int
    size: int = 0


@dataclass
class SandboxState:
    """Hold every order and quoted shipment, and apply the reference's rules to them."""

    clock: SandboxClock
    collect: bool = False
    partner_id: str = field(default_factory=new_id)
    partner_name: str = "Sandbox Partner"
    on_status: StatusListener | None = None
    #: Orders kept at most, oldest forgotten first: memory stays bounded however long the
    #: sandbox runs (a forgotten order is 404, and leaves `creates_for`'s counts).
    max_orders: int = MAX_ORDERS
    max_order_bytes: int = MAX_ORDER_BYTES
    quotes: QuoteBook = field(default_factory=QuoteBook, repr=False)
    _orders: dict[str, _Order] = field(default_factory=dict, repr=False)
    _creates: Counter[str] = field(default_factory=Counter, repr=False)
    _order_bytes: int = field(default=0, repr=False)

    # -- quotes -----------------------------------------------------------------------------

    def quote(self, body: Any) -> list[Body]:
        """Answer `POST /v1/quote`: price every shipping option, remember their ids."""
        body = req_object(body, "the request body")
        zip_code = fields.zip_code(body.get("zipCode"), "")
        pairs = []
        for index, raw in enumerate(req_list(body, "items")):
            where = f"items[{index}]."
            item = req_object(raw, f"items[{index}]")
            pairs.append((fields.product_id(item, where), fields.quantity(item, where)))
            fields.pages(item, where)
        options = self._options(zip_code, catalogue.weight_of(pairs))
        self.quotes.remember(options, zip_code, self.clock.now())
        return options

    def _options(self, zip_code: str, grams: int) -> list[Body]:
        return [
            {
                "id": new_id(),
                "shipmentMethodId": method,
                "name": catalogue.METHOD_NAMES[method],
                "cost": money(cost),
                "estimatedDeliveryDays": days,
            }
            for method, cost, days in catalogue.shipping_options(
                zip_code, grams, collect=self.collect
            )
        ]

    # -- orders -----------------------------------------------------------------------------

    def create_order(self, body: Any) -> Body:
        """Answer `POST /v1/orders` in one of the reference's three flows."""
        body = req_object(body, "the request body")
        partner_order_id = opt_str(body, "partnerOrderID")
        if partner_order_id is not None and len(partner_order_id) > 64:
            raise ApiError(400, "partnerOrderID must be at most 64 characters")
        custom_data = body.get("customData")
        if custom_data is not None:
            req_object(custom_data, "customData")
        url = opt_str(body, "statusNotificationUrl")
        if url is not None and not fields.is_http_url(url):
            raise ApiError(400, "statusNotificationUrl must be an absolute http(s) URL")
        recipient = fields.recipient(req_object(body.get("recipient"), "recipient"))
        items, pairs = fields.order_items(req_list(body, "items"))
        grams = catalogue.weight_of(pairs)
        subtotal = sum((catalogue.unit_price(p) * q for p, q in pairs), Decimal(0))

        status = opt_str(body, "status")
        if status is not None and status.upper() not in ("QUOTE", "APPROVED"):
            raise ApiError(400, f"status must be APPROVED (or omitted), got {status!r}")
        shipment = self._chosen_shipment(body, recipient["zipCode"], grams, None)
        if status is not None and status.upper() == "APPROVED" and shipment is None:
            raise ApiError(400, "status APPROVED needs a shipmentId or a shipmentMethodId")
        if status is not None and status.upper() == "QUOTE" and shipment is not None:
            raise ApiError(400, "a QUOTE order takes no shipmentId or shipmentMethodId")

        now = self.clock.now()
        doc: Body = {
            "id": new_id(),
            "partnerId": self.partner_id,
            "partnerName": self.partner_name,
            "status": "QUOTE" if shipment is None else "APPROVED",
            "createdAt": timestamp(now),
        }
        if partner_order_id is not None:
            doc["partnerOrderID"] = partner_order_id
        if custom_data is not None:
            doc["customData"] = copy.deepcopy(custom_data)
        if url is not None:
            doc["statusNotificationUrl"] = url
        doc["recipient"] = recipient
        doc["items"] = items
        if shipment is None:
            doc["shipments"] = self._options(recipient["zipCode"], grams)
            doc["subtotal"] = doc["total"] = money(subtotal)
        else:
            doc["subtotal"] = money(subtotal)
            self._set_shipment(doc, shipment)
        # Counted in bytes too: one order may carry up to a 1 MiB body of customData.
        size = len(json.dumps(doc))
        self._orders[doc["id"]] = _Order(doc, now, grams, size)
        self._order_bytes += size
        self._creates[partner_order_id or ""] += 1
        while len(self._orders) > 1 and self._over_budget():  # never the new one
            self._forget(next(iter(self._orders)))
        # Creation is not a status change: the 201 already tells it, so nothing is notified.
        return copy.deepcopy(doc)

    def _chosen_shipment(
        self, body: Body, zip_code: str, grams: int, offered: list[Body] | None
    ) -> Body | None:
        """Return the shipment the body selects; `offered` is a QUOTE order's own options."""
        shipment_id = opt_str(body, "shipmentId")
        method_id = opt_int(body, "shipmentMethodId")
        label = opt_str(body, "shipmentMethod")
        if sum(v is not None for v in (shipment_id, method_id, label)) > 1:
            raise ApiError(400, "give only one of shipmentId, shipmentMethodId, shipmentMethod")
        if label is not None:
            if label.lower() not in _METHOD_BY_LABEL:
                raise ApiError(400, "shipmentMethod must be Cheapest, Fastest or Collect")
            method_id = _METHOD_BY_LABEL[label.lower()]
        if method_id is not None:
            if method_id not in catalogue.METHOD_NAMES:
                raise ApiError(400, f"shipmentMethodId must be 1, 2 or 3, got {method_id}")
            options = offered if offered is not None else self._options(zip_code, grams)
            for option in options:
                if option["shipmentMethodId"] == method_id:
                    return copy.deepcopy(option)
            raise ApiError(400, "shipmentMethodId 3 (Collect) is not part of this contract")
        if shipment_id is None:
            return None
        if offered is not None:
            for option in offered:
                if option["id"] == shipment_id:
                    return copy.deepcopy(option)
            raise ApiError(400, f"shipmentId {shipment_id!r} is not one of this order's shipments")
        quoted = self.quotes.find(shipment_id, self.clock.now())
        if quoted is None:
            raise ApiError(
                400, f"unknown shipmentId {shipment_id[:64]!r} (a quote is kept seven days)"
            )
        option, quoted_zip = quoted
        if quoted_zip != zip_code:
            raise ApiError(400, f"shipmentId {shipment_id!r} was quoted for another zipCode")
        return option

    @staticmethod
    def _set_shipment(doc: Body, shipment: Body) -> None:
        doc.pop("shipments", None)
        doc.pop("total", None)
        subtotal = doc.pop("subtotal")  # re-added below to keep the samples' key order
        cost = to_decimal(shipment["cost"])
        doc["shipment"] = shipment
        doc["subtotal"] = subtotal
        doc["shippingCost"] = money(cost)
        doc["total"] = money(to_decimal(subtotal) + cost)

    def _order(self, order_id: str) -> _Order:
        order = self._orders.get(order_id)
        if order is None:
            raise ApiError(404, f"order {order_id[:64]!r} not found")
        return order

    def get_order(self, order_id: str) -> Body:
        """Answer `GET /v1/orders/{orderId}`."""
        return copy.deepcopy(self._order(order_id).doc)

    def patch_order(self, order_id: str, body: Any) -> Body:
        """Answer `PATCH /v1/orders/{orderId}`: approve a QUOTE order or cancel one."""
        order = self._order(order_id)
        body = req_object(body, "the request body")
        status = req_str(body, "status").lower()
        current = order.doc["status"]
        if current == "QUOTE" and self.clock.now() - order.created > APPROVAL_WINDOW:
            # The window holds for any PATCH (reference, flow 1), cancel as well as approve.
            raise ApiError(
                409,
                "this QUOTE order expired: it can be approved or canceled within seven days"
                " of its creation only",
            )
        if status == "canceled":
            if current not in CANCELABLE:
                raise ApiError(409, f"order is {current}: only orders not in production cancel")
            self._set_status(order, "CANCELED")
        elif status == "approved":
            if current != "QUOTE":
                raise ApiError(409, f"order is {current}: only QUOTE orders can be approved")
            offered = order.doc["shipments"]
            zip_code = order.doc["recipient"]["zipCode"]
            shipment = self._chosen_shipment(body, zip_code, order.grams, offered)
            if shipment is None:
                raise ApiError(400, "approving needs a shipmentId or a shipmentMethodId")
            self._set_shipment(order.doc, shipment)
            self._set_status(order, "APPROVED")
        else:
            raise ApiError(400, f"status must be 'approved' or 'canceled', got {status[:32]!r}")
        return copy.deepcopy(order.doc)

    # -- life cycle ---------------------------------------------------------------------------

    def advance(self, order_id: str, to: Any = None) -> Body:
        """Move an order one step along `LIFE_CYCLE`, or through every step up to `to`."""
        order = self._orders.get(order_id)
        if order is None:
            raise ValueError(f"unknown order {order_id!r}")
        current = order.doc["status"]
        if current not in LIFE_CYCLE[:-1]:
            raise ValueError(f"order {order_id} is {current}; only approved orders advance")
        position = LIFE_CYCLE.index(current)
        target = position + 1
        if to is not None:
            # Accept "shipped", "SHIPPED" or any str Enum such as the SDK's OrderStatus.
            name = str(getattr(to, "value", to)).upper()
            if name not in LIFE_CYCLE or LIFE_CYCLE.index(name) <= position:
                raise ValueError(f"order {order_id} is {current}; it cannot advance to {name}")
            target = LIFE_CYCLE.index(name)
        for status in LIFE_CYCLE[position + 1 : target + 1]:
            if status == "SHIPPED":
                code = f"BR{secrets.randbelow(10**9):09d}BR"
                order.doc["trackingItems"] = [
                    {
                        "code": code,
                        "url": f"https://rastreamento.example.com/{code}",
                        "carrier": "Correios",
                    }
                ]
            self._set_status(order, status)
        return copy.deepcopy(order.doc)

    def _set_status(self, order: _Order, status: str) -> None:
        order.doc["status"] = status
        if self.on_status is not None:
            self.on_status(copy.deepcopy(order.doc))

    def _over_budget(self) -> bool:
        return len(self._orders) > self.max_orders or self._order_bytes > self.max_order_bytes

    def _forget(self, order_id: str) -> None:
        order = self._orders.pop(order_id)
        self._order_bytes -= order.size
        partner_order_id = order.doc.get("partnerOrderID") or ""
        self._creates[partner_order_id] -= 1
        if self._creates[partner_order_id] <= 0:
            del self._creates[partner_order_id]

    # -- introspection for tests ----------------------------------------------------------

    def creates_for(self, partner_order_id: str | None) -> int:
        """Count orders created with this partnerOrderID (None: without one)."""
        return self._creates[partner_order_id or ""]

    def in_progress(self) -> list[str]:
        """Return the ids of orders that `advance()` can move."""
        return [oid for oid, o in self._orders.items() if o.doc["status"] in LIFE_CYCLE[:-1]]

    def order_ids(self) -> list[str]:
        """Return every order id, oldest first."""
        return list(self._orders)
