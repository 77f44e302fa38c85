"""Readers of the request fields that orders and quotes share: strict, bounded, 400 on error.

Every number a caller sends is bounded before any arithmetic: a quantity of 26 digits
would otherwise overflow the 28 digits of the money context and answer 500.
"""

from __future__ import annotations

import copy
from typing import Any, Final
from urllib.parse import urlsplit

from digipix_async.sandbox import _catalogue as catalogue
from digipix_async.sandbox._wire import (
    ApiError,
    Body,
    opt_int,
    opt_str,
    req_int,
    req_object,
    req_str,
)

__all__ = [
    "MAX_PAGES",
    "MAX_QUANTITY",
    "is_http_url",
    "order_items",
    "pages",
    "product_id",
    "quantity",
    "recipient",
    "zip_code",
]

#: The sandbox's own ceilings (the reference names none): no photo-lab order is larger.
MAX_QUANTITY: Final = 1_000_000
MAX_PAGES: Final = 10_000

_RECIPIENT_REQUIRED: Final = ("name", "zipCode", "street", "number", "city", "state")
_RECIPIENT_OPTIONAL: Final = ("email", "phone", "document", "complement", "neighborhood", "country")


def zip_code(value: Any, where: str) -> str:
    """Return the 8 digits of a zip code."""
    # Reference, Quote: "any non-numeric characters will be removed", then 8 digits.
    if not isinstance(value, str):
        raise ApiError(400, f"{where}zipCode must be a string of 8 digits")
    digits = "".join(ch for ch in value if ch.isascii() and ch.isdigit())
    if len(digits) != 8:
        raise ApiError(400, f"{where}zipCode must have 8 digits, got {value[:40]!r}")
    return digits


def is_http_url(url: str) -> bool:
    """Tell whether `url` is an absolute, printable http(s) URL with a host."""
    try:
        parts = urlsplit(url)
        return parts.scheme in ("http", "https") and bool(parts.hostname) and url.isprintable()
    except ValueError:
        return False


def product_id(item: Body, where: str) -> str:
    """Return the item's productId, refusing one the catalogue does not know."""
    value = req_str(item, "productId", where)
    try:
        catalogue.product(value)
    except ApiError:
        raise ApiError(400, f"{where}productId {value[:64]!r} is not a known product") from None
    return value


def _bounded(value: int, name: str, ceiling: int, where: str) -> int:
    if value < 1:
        raise ApiError(400, f"{where}{name} must be at least 1, got {value}")
    if value > ceiling:
        raise ApiError(400, f"{where}{name} must be at most {ceiling}")
    return value


def quantity(item: Body, where: str) -> int:
    """Return the item's quantity, 1 to `MAX_QUANTITY`."""
    return _bounded(req_int(item, "quantity", where), "quantity", MAX_QUANTITY, where)


def pages(body: Body, where: str) -> int | None:
    """Return the optional page count, 1 to `MAX_PAGES`."""
    value = opt_int(body, "pages", where)
    return None if value is None else _bounded(value, "pages", MAX_PAGES, where)


def recipient(raw: Body) -> Body:
    """Return a checked copy of an order's recipient, its zip code reduced to digits."""
    checked = copy.deepcopy(raw)  # unknown fields are echoed, as a real API would keep them
    for key in _RECIPIENT_REQUIRED:
        req_str(raw, key, "recipient.")
    for key in _RECIPIENT_OPTIONAL:
        opt_str(raw, key, "recipient.")
    checked["zipCode"] = zip_code(raw["zipCode"], "recipient.")
    return checked


def order_items(raw_items: list[Any]) -> tuple[list[Body], list[tuple[str, int]]]:
    """Return an order's checked items and their (productId, quantity) pairs."""
    items: list[Body] = []
    pairs: list[tuple[str, int]] = []
    for index, raw in enumerate(raw_items):
        where = f"items[{index}]."
        item = req_object(raw, f"items[{index}]")
        pid = product_id(item, where)
        count = quantity(item, where)
        part_ids = {p["id"] for p in catalogue.product(pid)["parts"]}
        parts: list[Body] = []
        raw_parts = item.get("parts")
        if raw_parts is not None and not isinstance(raw_parts, list):
            raise ApiError(400, f"{where}parts must be an array")
        for p_index, raw_part in enumerate(raw_parts or []):
            p_where = f"{where}parts[{p_index}]."
            part = req_object(raw_part, f"{where}parts[{p_index}]")
            part_id = req_str(part, "id", p_where)
            if part_id not in part_ids:
                raise ApiError(400, f"{p_where}id {part_id[:64]!r} is not a part of {pid}")
            req_str(part, "url", p_where)
            pages(part, p_where)
            parts.append(copy.deepcopy(part))
        items.append({**copy.deepcopy(item), "parts": parts})
        pairs.append((pid, count))
    return items, pairs
