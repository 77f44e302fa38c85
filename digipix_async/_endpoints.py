"""Build the request of every API call, checking the caller's input first.

No I/O: each function returns a :class:`~digipix_async._request.Request` or raises
:class:`~digipix_async._errors.ValidationError` naming the field, before anything
could be sent. Bodies hold plain values with wire names, from the converter.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote, urlsplit

import attrs

from digipix_async import _converter, _json
from digipix_async._errors import ValidationError
from digipix_async._sansio import Request, RetrySafety
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
    "normalize_zip_code",
]

_NOT_DIGITS = re.compile(r"[^0-9]")
#: The reference: ``partnerOrderID`` string <= 64 characters.
_PARTNER_ORDER_ID_MAX = 64
_RECIPIENT_REQUIRED = ("name", "zip_code", "street", "number", "city", "state")
_PATCH_STATUSES = {OrderStatus.APPROVED: "approved", OrderStatus.CANCELED: "canceled"}


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
    body = {
        "zipCode": normalize_zip_code(zip_code, "zip_code"),
        "items": [_quote_item_body(raw, i) for i, raw in enumerate(_sequence(items, "items"))],
    }
    return Request("POST", "/v1/quote", "quote", json=body, retry=RetrySafety.IDEMPOTENT)


def create_order(
    *,
    recipient: Recipient | Mapping[str, Any],
    items: Iterable[OrderItem | Mapping[str, Any]],
    shipment_id: str | None = None,
    shipment_method: ShipmentMethod | int | None = None,
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
        body["partnerOrderID"] = _partner_order_id(partner_order_id)
    if custom_data is not None:
        body["customData"] = _custom_data(custom_data)
    if status_notification_url is not None:
        body["statusNotificationUrl"] = _http_url(status_notification_url)
    body["recipient"] = _converter.unstructure(_recipient(recipient))
    body["items"] = [_converter.unstructure(item) for item in _order_items(items)]
    shipment = _shipment(shipment_id, shipment_method, required=False)
    if shipment:
        # Pre-approved flows: the reference wants APPROVED alongside the shipment.
        body["status"] = "APPROVED"
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
    shipment_method: ShipmentMethod | int | None = None,
) -> Request:
    """Build ``PATCH /v1/orders/{order_id}``: approve (with a shipment) or cancel.

    ``status`` is ``approved`` or ``canceled`` in any case, or the matching
    :class:`OrderStatus`; approving needs exactly one of ``shipment_id`` and
    ``shipment_method``, cancelling takes neither.
    """
    path = f"/v1/orders/{_path_id(order_id, 'order_id')}"
    wanted = _patch_status(status)
    body: dict[str, Any] = {"status": _PATCH_STATUSES[wanted]}
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
    shipment_method: ShipmentMethod | int | None = None,
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


def normalize_zip_code(value: object, field: str) -> str:
    """Return the 8 digits of a Brazilian CEP, dropping everything else (``01311-100``).

    Only ASCII digits count: the reference's pattern is ``^[0-9]{8}``.
    """
    if not isinstance(value, str):
        raise ValidationError(field, f"expected a string, got {type(value).__name__}")
    if len(value) == 8 and value.isascii() and value.isdigit():
        return value  # already 8 digits: no pattern to run
    digits = _NOT_DIGITS.sub("", value)
    if len(digits) != 8:
        raise ValidationError(field, f"must have 8 digits, found {len(digits)} in {value!r}")
    return digits


# --- checks shared by the builders


def _path_id(value: object, field: str) -> str:
    if not isinstance(value, str) or not value:
        raise ValidationError(field, f"expected a non-empty string, got {value!r}")
    # URL normalisation resolves dot segments even percent-encoded: /v1/orders/..
    # would become /v1/, another resource entirely.
    if value in (".", ".."):
        raise ValidationError(field, f"{value!r} is not an id")
    if value.isascii() and value.isalnum():  # the vendor's ids: nothing to encode
        return value
    # safe="": a "/" or "?" in an id must stay inside its path segment.
    return quote(value, safe="")


def _non_empty_str(value: object, field: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(field, f"expected a non-empty string, got {value!r}")
    return value


def _count(value: int, field: str) -> None:
    # Types were checked by from_input; only the range is left.
    if value < 1:
        raise ValidationError(field, f"must be at least 1, got {value}")


def _sequence(items: object, field: str) -> list[Any]:
    # A list or tuple needs no ABC check (the common case, on every request).
    if (items.__class__ is not list and items.__class__ is not tuple) and (
        isinstance(items, str | bytes | Mapping) or not isinstance(items, Iterable)
    ):
        raise ValidationError(field, f"expected a list, got {type(items).__name__}")
    found = list(items)
    if not found:
        raise ValidationError(field, "at least one item is needed")
    return found


def _quote_item(raw: object, index: int) -> QuoteItem:
    item = _converter.from_input(raw, QuoteItem, f"items[{index}]")
    # Types were checked by from_input; the ranges are checked here, and the
    # field's path is spelled out only when one is out of range.
    pages = item.pages
    if not item.product_id.strip() or item.quantity < 1 or (pages is not None and pages < 1):
        where = f"items[{index}]"
        _non_empty_str(item.product_id, f"{where}.product_id")
        _count(item.quantity, f"{where}.quantity")
        _count(pages if pages is not None else 1, f"{where}.pages")
    return item


_QUOTE_ITEM_FIELDS = frozenset(field.name for field in attrs.fields(QuoteItem))
_PRODUCT_ID, _QUANTITY, _PAGES = map(_converter.wire_name, ("product_id", "quantity", "pages"))


def _quote_item_body(raw: object, index: int) -> dict[str, Any]:
    """Return the wire form of quote item ``index``, checked as `_quote_item` checks it."""
    # One pass for the common input, a dict of exactly typed values in range (a bulk
    # job quotes thousands); anything else takes the full path, which names the problem.
    if type(raw) is dict and raw.keys() <= _QUOTE_ITEM_FIELDS:
        product_id = raw.get("product_id")
        quantity = raw.get("quantity")
        pages = raw.get("pages")
        if (
            type(product_id) is str
            and product_id.strip()
            and type(quantity) is int
            and quantity >= 1
        ):
            if pages is None:
                return {_PRODUCT_ID: product_id, _QUANTITY: quantity}
            if type(pages) is int and pages >= 1:
                return {_PRODUCT_ID: product_id, _QUANTITY: quantity, _PAGES: pages}
    body: dict[str, Any] = _converter.unstructure(_quote_item(raw, index))
    return body


def _order_items(items: object) -> list[OrderItem]:
    checked = []
    for index, raw in enumerate(_sequence(items, "items")):
        item = _converter.from_input(raw, OrderItem, f"items[{index}]")
        if not item.product_id.strip() or item.quantity < 1:
            where = f"items[{index}]"
            _non_empty_str(item.product_id, f"{where}.product_id")
            _count(item.quantity, f"{where}.quantity")
        for part_index, part in enumerate(item.parts):
            pages = part.pages
            if not part.id.strip() or not part.url.strip() or (pages is not None and pages < 1):
                part_where = f"items[{index}].parts[{part_index}]"
                _non_empty_str(part.id, f"{part_where}.id")
                _non_empty_str(part.url, f"{part_where}.url")
                _count(pages if pages is not None else 1, f"{part_where}.pages")
        checked.append(item)
    return checked


def _recipient(value: object) -> Recipient:
    recipient = _converter.from_input(value, Recipient, "recipient")
    for name in _RECIPIENT_REQUIRED:
        _non_empty_str(getattr(recipient, name), f"recipient.{name}")
    zip_code = normalize_zip_code(recipient.zip_code, "recipient.zip_code")
    return attrs.evolve(recipient, zip_code=zip_code)


def _partner_order_id(value: object) -> str:
    text = _non_empty_str(value, "partner_order_id")
    if len(text) > _PARTNER_ORDER_ID_MAX:
        raise ValidationError(
            "partner_order_id",
            f"at most {_PARTNER_ORDER_ID_MAX} characters, got {len(text)}",
        )
    return text


def _custom_data(value: object) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise ValidationError("custom_data", f"expected a mapping, got {type(value).__name__}")
    try:
        _json.dumps_exact(value)
    except (TypeError, ValueError) as exc:
        raise ValidationError("custom_data", f"must be JSON-serialisable: {exc}") from None
    # A copy, so a later change to the caller's dict cannot alter a built request.
    return dict(value)


def _http_url(value: object) -> str:
    text = _non_empty_str(value, "status_notification_url")
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
        return {"shipmentId": _non_empty_str(shipment_id, "shipment_id")}
    if shipment_method is not None:
        return {"shipmentMethodId": _shipment_method(shipment_method)}
    if required:
        raise ValidationError("shipment_id", "approving needs shipment_id or shipment_method")
    return {}


def _shipment_method(value: object) -> int:
    known = ShipmentMethod._value2member_map_
    if isinstance(value, int) and not isinstance(value, bool) and value in known:
        return int(value)
    raise ValidationError(
        "shipment_method",
        f"expected 1 (CHEAPEST), 2 (FASTEST) or 3 (COLLECT), got {value!r}",
    )


def _patch_status(value: object) -> OrderStatus:
    if isinstance(value, str) and value:
        status = OrderStatus(value)
        if status in _PATCH_STATUSES:
            return status
    raise ValidationError("status", f"expected 'approved' or 'canceled', got {value!r}")
