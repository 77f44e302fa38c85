"""Check what users give before anything is sent (API.md "Client-side validation").

Every refusal is a :class:`ValidationError` naming the field's path
(``items[1].parts[0].url``). Models and mappings of Python field names are
read by one detailed cattrs converter that refuses unknown keys (a typo is
never dropped) and shares the scalar hooks of answers, so the same bounds hold:
no integer over 18 digits, then each count within ``COUNT_LIMIT``. Text must be
valid Unicode (a lone surrogate cannot be sent as UTF-8), and free-form data
(``extra``, ``custom_data``, ``extra_body``) must be writable as JSON.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

import attrs

from digipix_async import _json
from digipix_async._converter import unstructure
from digipix_async._errors import ValidationError
from digipix_async._scalar_hooks import type_name
from digipix_async.models import OrderItem, QuoteItem, Recipient

__all__ = [
    "COUNT_LIMIT",
    "checked_text",
    "count",
    "from_input",
    "json_object",
    "merge_extra_body",
    "non_empty_str",
    "normalize_zip_code",
    "order_items",
    "quote_item",
    "quote_item_body",
    "recipient",
    "sequence",
]

T = TypeVar("T")
Hook = Callable[[Any, Any], Any]

#: The largest quantity or page count accepted: far beyond any print run.
COUNT_LIMIT = 10**9
_NOT_DIGITS = re.compile(r"[^0-9]")
_RECIPIENT_REQUIRED = ("name", "zip_code", "street", "number", "city", "state")


def checked_text(value: str, field: str) -> str:
    """Return ``value`` if it can be sent as UTF-8 (no lone surrogate such as ``"\\ud800"``)."""
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValidationError(field, "holds a lone surrogate, not valid Unicode") from None
    return value


def from_input(value: Any, cls: type[T], field: str) -> T:
    """Check user input (a ``cls`` instance or a mapping of its Python field names).

    Raises ``ValidationError`` naming the path under ``field`` (``recipient.zip_code``,
    ``items[1].quantity``) of a wrong type, a missing field or an unknown key.
    """
    hook = _HOOKS.get(cls)
    if hook is None:
        from digipix_async._cattrs_rules import for_input  # cattrs: on first use

        hook = _HOOKS[cls] = for_input(detailed=False).get_structure_hook(cls)
    try:
        return hook(value, cls)  # type: ignore[no-any-return]
    except Exception:  # bad input: read it again, noting the path of each problem
        from digipix_async._cattrs_rules import for_input, problems

        try:
            for_input(detailed=True).structure(value, cls)
        except Exception as exc:
            path, problem = problems(exc, field)[0]
            raise ValidationError(path, problem) from None
        raise  # pragma: no cover - both converters share every rule


# Resolved once per model: input is checked on every request.
_HOOKS: dict[type[Any], Callable[[Any, Any], Any]] = {}


# --- checks shared by the builders


def non_empty_str(value: object, field: str) -> str:
    """Return a non-blank string that can be sent, else refuse naming ``field``."""
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(field, f"expected a non-empty string, got {type_name(value)}")
    return value if value.isascii() else checked_text(value, field)


def count(value: int | None, field: str) -> None:
    """Refuse a quantity or page count out of 1..COUNT_LIMIT (its type is checked already)."""
    if value is not None and not 1 <= value <= COUNT_LIMIT:
        raise ValidationError(field, f"must be between 1 and {COUNT_LIMIT}, got {value}")


def sequence(items: object, field: str) -> list[Any]:
    """Return a non-empty list of the items (any iterable but a string or mapping)."""
    # A list or tuple needs no ABC check (the common case, on every request).
    if (items.__class__ is not list and items.__class__ is not tuple) and (
        isinstance(items, str | bytes | Mapping) or not isinstance(items, Iterable)
    ):
        raise ValidationError(field, f"expected a list, got {type_name(items)}")
    found = list(items)
    if not found:
        raise ValidationError(field, "at least one item is needed")
    return found


def normalize_zip_code(value: object, field: str) -> str:
    """Return the 8 digits of a Brazilian CEP, dropping everything else (``01311-100``).

    Only ASCII digits count: the reference's pattern is ``^[0-9]{8}``.
    """
    if not isinstance(value, str):
        raise ValidationError(field, f"expected a string, got {type_name(value)}")
    if len(value) == 8 and value.isascii() and value.isdigit():
        return value  # already 8 digits: no pattern to run
    digits = _NOT_DIGITS.sub("", value)
    if len(digits) != 8:
        raise ValidationError(field, f"must have 8 digits, found {len(digits)}")
    return digits


def json_object(value: object, field: str) -> dict[str, Any]:
    """Return a copy of a mapping that can be written as JSON exactly, else refuse it."""
    if not isinstance(value, Mapping):
        raise ValidationError(field, f"expected a mapping, got {type_name(value)}")
    try:
        _json.dumps_exact(value)
    except (TypeError, ValueError) as exc:  # UnicodeEncodeError is a ValueError
        raise ValidationError(field, f"must be JSON-serialisable: {exc}") from None
    # A copy, so a later change to the caller's dict cannot alter a built request.
    return dict(value)


def merge_extra_body(
    body: dict[str, Any], extra_body: Mapping[str, Any] | None, field: str = "extra_body"
) -> dict[str, Any]:
    """Return ``body`` with ``extra_body`` merged last: its keys override the SDK's.

    The escape hatch for a field the SDK does not model yet, or a wire name to
    correct; checked like ``custom_data`` (JSON-writable, string keys).
    """
    if extra_body is None:
        return body
    return {**body, **json_object(extra_body, field)}


# --- items and recipients


def quote_item(raw: object, index: int) -> QuoteItem:
    """Check quote item ``index`` (a QuoteItem or a mapping of its fields)."""
    item = from_input(raw, QuoteItem, f"items[{index}]")
    where = f"items[{index}]"
    non_empty_str(item.product_id, f"{where}.product_id")
    count(item.quantity, f"{where}.quantity")
    count(item.pages, f"{where}.pages")
    return item


_QUOTE_FAST_KEYS = frozenset({"product_id", "quantity", "pages"})


def quote_item_body(raw: object, index: int, names: tuple[str, str, str]) -> dict[str, Any]:
    """Return the wire form of quote item ``index``, checked as `quote_item` checks it.

    ``names`` are the wire names of product_id, quantity and pages, looked up by
    the caller once per request.
    """
    # One pass for the common input, a dict of exactly typed values in range (a bulk
    # job quotes thousands); anything else takes the full path, which names the problem.
    if type(raw) is dict and raw.keys() <= _QUOTE_FAST_KEYS:
        product_id = raw.get("product_id")
        quantity = raw.get("quantity")
        pages = raw.get("pages")
        if (
            type(product_id) is str
            and product_id.isascii()
            and product_id.strip()
            and type(quantity) is int
            and 1 <= quantity <= COUNT_LIMIT
        ):
            if pages is None:
                return {names[0]: product_id, names[1]: quantity}
            if type(pages) is int and 1 <= pages <= COUNT_LIMIT:
                return {names[0]: product_id, names[1]: quantity, names[2]: pages}
    body: dict[str, Any] = unstructure(quote_item(raw, index))
    return body


def order_items(items: object) -> list[OrderItem]:
    """Check the items of an order: each needs a product, a quantity, and parts with urls."""
    checked = []
    for index, raw in enumerate(sequence(items, "items")):
        item = from_input(raw, OrderItem, f"items[{index}]")
        where = f"items[{index}]"
        non_empty_str(item.product_id, f"{where}.product_id")
        count(item.quantity, f"{where}.quantity")
        for part_index, part in enumerate(item.parts):
            part_where = f"{where}.parts[{part_index}]"
            non_empty_str(part.id, f"{part_where}.id")
            non_empty_str(part.url, f"{part_where}.url")
            count(part.pages, f"{part_where}.pages")
        checked.append(item)
    return checked


def recipient(value: object) -> Recipient:
    """Check a recipient: the fields a parcel cannot do without, and an 8-digit zip code."""
    checked = from_input(value, Recipient, "recipient")
    for name in _RECIPIENT_REQUIRED:
        non_empty_str(getattr(checked, name), f"recipient.{name}")
    zip_code = normalize_zip_code(checked.zip_code, "recipient.zip_code")
    return attrs.evolve(checked, zip_code=zip_code)
