"""Hooks for the wire's scalar values: a wrong type is an error, never a silent cast.

cattrs' defaults would turn ``123`` into ``"123"`` and ``"7"`` into ``7``; these
hooks refuse instead, so a server (or user) sending the wrong type is told so.
Money is ``Decimal`` only; datetimes are aware (read and written here, side by
side); unknown statuses and shipment methods are kept.

Numbers are bounded, so no value can freeze the event loop or make a model that
cannot be printed: ``int(Decimal("1e999999"))`` builds a million-digit int (25 s
of CPU, API.md "Responses"). An integer has at most 18 digits, a float field
takes only what a float holds, money's magnitude stays within 10**±30. Every
check is O(1) (``Decimal.adjusted()``), done before any conversion.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from digipix_async.models import OrderStatus, ShipmentMethod

__all__ = [
    "INT_LIMIT",
    "METHOD_BY_NUMBER",
    "MONEY_EXPONENT_LIMIT",
    "STATUS_BY_TEXT",
    "BadValue",
    "format_datetime",
    "plain_int",
    "scalar_hook",
    "structure_datetime",
    "structure_float",
    "structure_int",
    "structure_mapping",
    "structure_method_id",
    "structure_money",
    "structure_status",
    "structure_str",
    "type_name",
    "unstructure_status",
]

Hook = Callable[[Any, Any], Any]

#: The largest integer a field takes: 18 digits, far beyond any count or code
#: the API has, and small enough that nothing built from it is ever slow.
INT_LIMIT = 10**18 - 1
#: Money's magnitude: between 10**-30 and 10**30 (``Decimal.adjusted()``).
MONEY_EXPONENT_LIMIT = 30
_FLOAT_MAX = sys.float_info.max
# Decimal.adjusted() of the largest finite float (1.79e308).
_FLOAT_EXPONENT_LIMIT = 308


class BadValue(ValueError):
    """A hook's own refusal; its text is already the message to show."""


def type_name(value: object) -> str:
    return type(value).__name__


def structure_str(value: Any, _: Any) -> str:
    if isinstance(value, str):
        return value
    raise BadValue(f"expected a string, got {type_name(value)}")


def _is_int(value: Any) -> bool:
    return type(value) is int or (isinstance(value, int) and not isinstance(value, bool))


def structure_int(value: Any, _: Any) -> int:
    if _is_int(value):
        if -INT_LIMIT <= value <= INT_LIMIT:
            return int(value)  # an IntEnum member is its plain number here
        raise BadValue("expected an integer of at most 18 digits, got a larger one")
    # A JSON "7.0" arrives as Decimal; accept it only when nothing is lost. The
    # magnitude first: int() of 1e999999 would build a million-digit int.
    if isinstance(value, Decimal) and value.is_finite():
        if value.adjusted() >= 18:
            raise BadValue("expected an integer of at most 18 digits, got a larger one")
        if value == value.to_integral_value():
            return int(value)
    raise BadValue(f"expected an integer, got {_short_repr(value)}")


def structure_float(value: Any, _: Any) -> float:
    if _is_int(value):
        if -_FLOAT_MAX <= value <= _FLOAT_MAX:
            return int(value)
        raise BadValue("expected a number a float can hold, got a larger one")
    if isinstance(value, float) and math.isfinite(value):
        return value
    if isinstance(value, Decimal) and value.is_finite():
        if value.adjusted() > _FLOAT_EXPONENT_LIMIT:
            raise BadValue("expected a number a float can hold, got a larger one")
        if value.adjusted() < 18 and value == value.to_integral_value():
            return int(value)
        number = float(value)
        if math.isfinite(number):
            return number
        raise BadValue("expected a number a float can hold, got a larger one")
    raise BadValue(f"expected a number, got {_short_repr(value)}")


def money_in_range(value: Decimal) -> bool:
    """Tell whether a finite Decimal's magnitude is one money may have."""
    return -MONEY_EXPONENT_LIMIT <= value.adjusted() <= MONEY_EXPONENT_LIMIT


def structure_money(value: Any, _: Any) -> Decimal:
    if isinstance(value, Decimal) and value.is_finite():
        amount = value
    elif _is_int(value) and -INT_LIMIT <= value <= INT_LIMIT:
        amount = Decimal(int(value))
    # Data that came through another JSON parser: the shortest repr is what was sent.
    elif isinstance(value, float) and math.isfinite(value):
        amount = Decimal(repr(value))
    else:
        raise BadValue(f"expected an amount (a JSON number), got {_short_repr(value)}")
    if money_in_range(amount):
        return amount
    raise BadValue(f"expected an amount within 10**±{MONEY_EXPONENT_LIMIT}, got one outside")


def _short_repr(value: Any) -> str:
    # A refused value is shown, but never a huge one (an int repr can even fail).
    if isinstance(value, int) and not -INT_LIMIT <= value <= INT_LIMIT:
        return "a larger integer"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def structure_mapping(value: Any, _: Any) -> dict[str, Any]:
    """Read a free-form JSON object (``customData``): kept as it is, keys are strings."""
    if value.__class__ is dict:  # parsed JSON: its keys are strings already
        return value
    if isinstance(value, Mapping) and all(isinstance(key, str) for key in value):
        return dict(value)
    raise BadValue(f"expected a mapping (a JSON object), got {type_name(value)}")


def structure_datetime(value: Any, _: Any) -> datetime:
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        try:
            # Python 3.11 reads any number of fractional digits and truncates past 6.
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise BadValue(f"expected an ISO 8601 date-time, got {_short_repr(value)}") from None
    else:
        raise BadValue(f"expected an ISO 8601 date-time, got {type_name(value)}")
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def format_datetime(value: datetime) -> str:
    """Write a datetime as ISO 8601 with microseconds, UTC as ``Z`` (as the vendor does)."""
    text = value.isoformat(timespec="microseconds")
    return text[:-6] + "Z" if text.endswith("+00:00") else text


# The statuses as the server spells them: a dict lookup instead of an Enum call.
STATUS_BY_TEXT: dict[str, OrderStatus] = {status.value: status for status in OrderStatus}


def structure_status(value: Any, _: Any) -> OrderStatus:
    if isinstance(value, str) and value:
        # Other spellings (lower case, unknown statuses) go through the Enum's rules.
        return STATUS_BY_TEXT.get(value) or OrderStatus(value)
    raise BadValue(f"expected a non-empty status string, got {_short_repr(value)}")


METHOD_BY_NUMBER: dict[int, ShipmentMethod] = {int(method): method for method in ShipmentMethod}


def structure_method_id(value: Any, _: Any) -> int | None:
    if value is None:
        return None
    number = structure_int(value, int)
    # A method the SDK does not know stays a plain int instead of failing.
    return METHOD_BY_NUMBER.get(number, number)


def plain_int(value: int | None) -> int | None:
    # A ShipmentMethod member becomes the bare number plain values are made of.
    return None if value is None else int(value)


def unstructure_status(value: OrderStatus) -> str:
    return str.__str__(value)


_BY_TYPE: dict[Any, Hook] = {
    str: structure_str,
    int: structure_int,
    float: structure_float,
    Decimal: structure_money,
    datetime: structure_datetime,
    OrderStatus: structure_status,
    Mapping[str, Any]: structure_mapping,
}


def scalar_hook(field_type: Any) -> Hook:
    """Return the hook of a scalar field type (``str``, money...); TypeError for others."""
    hook = _BY_TYPE.get(field_type)
    if hook is None:  # a new field type needs its hook here first
        raise TypeError(f"no hook for the field type {field_type!r}")
    return hook
