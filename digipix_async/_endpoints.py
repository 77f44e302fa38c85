"""Build the request of every API call, checking the caller's input first.

No I/O: each function returns a :class:`~digipix_async._sansio.Request` or raises
:class:`~digipix_async._errors.ValidationError` naming the field, before anything
could be sent (the checks live in ``_input``). Bodies hold plain values whose
names and status values come from ``_wire_names``, looked up on every call, so
a corrected wire name reaches requests and answers alike.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote, urlsplit

from digipix_async import _converter, _input, _wire_names
from digipix_async._errors import ValidationError
from digipix_async._input import merge_extra_body, normalize_zip_code
from digipix_async._sansio import Request, RetrySafety
from digipix_async._wire_names import wire_name
from digipix_async.models import OrderItem, OrderStatus, QuoteItem, Recipient, ShipmentMethod

__all__ = [
    "approve_order",
    "cancel_order",
    "change_order_status",
    "create_order",
    "create_quote",
    "get_order",
    "get_product",
    "list_products",
    "merge_extra_body",
    "normalize_zip_code",
]

#: The reference: ``partnerOrderID`` string <= 64 characters.
_PARTNER_ORDER_ID_MAX = 64
_PATCH = (OrderStatus.APPROVED, OrderStatus.CANCELED)
#: A shipment method given as the reference's label: a short plain word.
_LABEL_MAX = 64


def list_products() -> Request:
    """Build ``GET /v1/products``."""
    return Request("GET", "/v1/products", "products")


def get_product(product_id: str) -> Request:
    """Build ``GET /v1/products/{product_id}``."""
    return Request("GET", f"/v1/products/{_path_id(product_id, 'product_id')}", "products")


def get_order(order_id: str) -> Request:
    """Build ``GET /v1/orders/{order_id}``."""
    return Request("GET", f"/v1/orders/{_path_id(order_id, 'order_id')}", "orders")


def create_quote(*, zip_code: str, items: Iterable[QuoteItem | Mapping[str, Any]]) -> Request:
    """Build ``POST /v1/quote``: the shipping options for ``items`` sent to ``zip_code``.

    Safe to retry: the reference says a quote is not saved.
    """
    names = (wire_name("product_id"), wire_name("quantity"), wire_name("pages"))
    raw_items = _input.sequence(items, "items")
    body = {
        wire_name("zip_code"): normalize_zip_code(zip_code, "zip_code"),
        wire_name("items"): [
            _input.quote_item_body(raw, index, names) for index, raw in enumerate(raw_items)
        ],
    }
    return Request("POST", "/v1/quote", "quote", json=body, retry=RetrySafety.IDEMPOTENT)


def create_order(
    *,
    recipient: Recipient | Mapping[str, Any],
    items: Iterable[OrderItem | Mapping[str, Any]],
    shipment_id: str | None = None,
    shipment_method: ShipmentMethod | int | str | None = None,
    partner_order_id: str | None = None,
    custom_data: Mapping[str, Any] | None = None,
    status_notification_url: str | None = None,
) -> Request:
    """Build ``POST /v1/orders`` for one of the reference's three flows.

    Without ``shipment_id`` or ``shipment_method`` the order is created in QUOTE
    (approve or cancel it later); with either one it is created APPROVED.
    Never retried once it may have reached the server (it could print twice).
    """
    body: dict[str, Any] = {}
    if partner_order_id is not None:
        body[wire_name("partner_order_id")] = _partner_order_id(partner_order_id)
    if custom_data is not None:
        body[wire_name("custom_data")] = _input.json_object(custom_data, "custom_data")
    if status_notification_url is not None:
        body[wire_name("status_notification_url")] = _http_url(status_notification_url)
    body[wire_name("recipient")] = _converter.unstructure(_input.recipient(recipient))
    order_items = _input.order_items(items)
    body[wire_name("items")] = [_converter.unstructure(item) for item in order_items]
    shipment = _shipment(shipment_id, shipment_method, required=False)
    if shipment:
        # Pre-approved flows: the reference wants APPROVED alongside the shipment.
        body[wire_name("status")] = _wire_names.APPROVED_ON_CREATE
        body.update(shipment)
    return Request(
        "POST",
        "/v1/orders",
        "orders",
        json=body,
        retry=RetrySafety.UNSENT_ONLY,
        creates_order=True,
        partner_order_id=partner_order_id,
    )


def change_order_status(
    order_id: str,
    *,
    status: OrderStatus | str,
    shipment_id: str | None = None,
    shipment_method: ShipmentMethod | int | str | None = None,
) -> Request:
    """Build ``PATCH /v1/orders/{order_id}``: approve (with a shipment) or cancel.

    ``status`` is ``approved`` or ``canceled`` in any case, or the matching
    :class:`OrderStatus`; approving needs exactly one of ``shipment_id`` and
    ``shipment_method``, cancelling takes neither.
    """
    path = f"/v1/orders/{_path_id(order_id, 'order_id')}"
    wanted = _patch_status(status)
    body: dict[str, Any] = {wire_name("status"): _wire_names.PATCH_STATUSES[wanted.value]}
    if wanted is OrderStatus.APPROVED:
        body.update(_shipment(shipment_id, shipment_method, required=True))
    elif shipment_id is not None or shipment_method is not None:
        field = "shipment_id" if shipment_id is not None else "shipment_method"
        raise ValidationError(field, "only an approval takes a shipment; cancelling takes none")
    return Request("PATCH", path, "orders", json=body, retry=RetrySafety.UNSENT_ONLY)


def approve_order(
    order_id: str,
    *,
    shipment_id: str | None = None,
    shipment_method: ShipmentMethod | int | str | None = None,
) -> Request:
    """Build the PATCH that approves an order with a quoted shipment or a method."""
    return change_order_status(
        order_id,
        status=OrderStatus.APPROVED,
        shipment_id=shipment_id,
        shipment_method=shipment_method,
    )


def cancel_order(order_id: str) -> Request:
    """Build the PATCH that cancels an order (only before production starts)."""
    return change_order_status(order_id, status=OrderStatus.CANCELED)


# --- checks of the builders' own arguments


def _path_id(value: object, field: str) -> str:
    if not isinstance(value, str) or not value:
        raise ValidationError(field, f"expected a non-empty string, got {type(value).__name__}")
    # URL normalisation resolves dot segments even percent-encoded: /v1/orders/..
    # would become /v1/, another resource entirely.
    if value in (".", ".."):
        raise ValidationError(field, f"{value!r} is not an id")
    if value.isascii() and value.isalnum():  # the vendor's ids: nothing to encode
        return value
    # safe="": a "/" or "?" in an id must stay inside its path segment.
    return quote(_input.checked_text(value, field), safe="")


def _partner_order_id(value: object) -> str:
    text = _input.non_empty_str(value, "partner_order_id")
    if len(text) > _PARTNER_ORDER_ID_MAX:
        raise ValidationError(
            "partner_order_id",
            f"at most {_PARTNER_ORDER_ID_MAX} characters, got {len(text)}",
        )
    return text


def _http_url(value: object) -> str:
    text = _input.non_empty_str(value, "status_notification_url")
    try:
        parts = urlsplit(text)
        absolute = parts.scheme.lower() in ("http", "https") and bool(parts.hostname)
    except ValueError:  # urlsplit refuses some malformed hosts ("http://[::1")
        absolute = False
    if not absolute:
        raise ValidationError(
            "status_notification_url", f"expected an absolute http(s) URL, got {text!r}"
        )
    return text


def _shipment(shipment_id: object, shipment_method: object, *, required: bool) -> dict[str, Any]:
    if shipment_id is not None and shipment_method is not None:
        raise ValidationError("shipment_method", "give shipment_id or shipment_method, not both")
    if shipment_id is not None:
        return {wire_name("shipment_id"): _input.non_empty_str(shipment_id, "shipment_id")}
    if isinstance(shipment_method, str):
        # The reference's label form ("cheapest"): sent as it is, under its own name.
        label = _input.non_empty_str(shipment_method, "shipment_method")
        if len(label) > _LABEL_MAX:
            raise ValidationError("shipment_method", f"at most {_LABEL_MAX} characters")
        return {wire_name("shipment_method"): label}
    if shipment_method is not None:
        return {wire_name("shipment_method_id"): _shipment_method(shipment_method)}
    if required:
        raise ValidationError("shipment_id", "approving needs shipment_id or shipment_method")
    return {}


def _shipment_method(value: object) -> int:
    known = ShipmentMethod._value2member_map_
    if isinstance(value, int) and not isinstance(value, bool) and value in known:
        return int(value)
    shown = (
        repr(value)
        if isinstance(value, int | float) and abs(value) < 10**6
        else type(value).__name__
    )
    raise ValidationError(
        "shipment_method",
        f"expected 1 (CHEAPEST), 2 (FASTEST), 3 (COLLECT) or a label, got {shown}",
    )


def _patch_status(value: object) -> OrderStatus:
    if isinstance(value, str) and value:
        status = OrderStatus(value)
        if status in _PATCH:
            return status
    shown = repr(value) if isinstance(value, str | int | None) and len(repr(value)) < 40 else "that"
    raise ValidationError("status", f"expected 'approved' or 'canceled', got {shown}")
