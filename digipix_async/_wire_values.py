"""Strict hooks for the wire's scalar values: a wrong type is an error, never a silent cast.

cattrs' defaults would turn ``123`` into ``"123"`` and ``"7"`` into ``7``; these
hooks refuse instead, so a server (or user) sending the wrong type is told so.
Money is ``Decimal`` only; datetimes are aware; unknown statuses and shipment
methods are kept.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from digipix_async.models import OrderStatus, ShipmentMethod

__all__ = [
    "METHOD_BY_NUMBER",
    "STATUS_BY_TEXT",
    "BadValue",
    "plain_int",
    "structure_datetime",
    "structure_float",
    "structure_int",
    "structure_method_id",
    "structure_money",
    "structure_status",
    "structure_str",
    "type_name",
    "unstructure_status",
]


class BadValue(ValueError):
    """A hook's own refusal; its text is already the message to show."""


def type_name(value: object) -> str:
    return type(value).__name__


def structure_str(value: Any, _: Any) -> str:
    if isinstance(value, str):
        return value
    raise BadValue(f"expected a string, got {type_name(value)}")


def structure_int(value: Any, _: Any) -> int:
    if type(value) is int or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    # A JSON "7.0" arrives as Decimal; accept it only when nothing is lost.
    if isinstance(value, Decimal) and value.is_finite() and value == value.to_integral_value():
        return int(value)
    raise BadValue(f"expected an integer, got {value!r}")


def structure_float(value: Any, _: Any) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    if isinstance(value, Decimal) and value.is_finite():
        return int(value) if value == value.to_integral_value() else float(value)
    raise BadValue(f"expected a number, got {value!r}")


def structure_money(value: Any, _: Any) -> Decimal:
    if isinstance(value, Decimal) and value.is_finite():
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    # Data that came through another JSON parser: the shortest repr is what was sent.
    if isinstance(value, float) and math.isfinite(value):
        return Decimal(repr(value))
    raise BadValue(f"expected an amount (a JSON number), got {value!r}")


def structure_datetime(value: Any, _: Any) -> datetime:
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        try:
            # Python 3.11 reads any number of fractional digits and truncates past 6.
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise BadValue(f"expected an ISO 8601 date-time, got {value!r}") from None
    else:
        raise BadValue(f"expected an ISO 8601 date-time, got {type_name(value)}")
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


# The statuses as the server spells them: a dict lookup instead of an Enum call.
STATUS_BY_TEXT: dict[str, OrderStatus] = {status.value: status for status in OrderStatus}


def structure_status(value: Any, _: Any) -> OrderStatus:
    if isinstance(value, str) and value:
        # Other spellings (lower case, unknown statuses) go through the Enum's rules.
        return STATUS_BY_TEXT.get(value) or OrderStatus(value)
    raise BadValue(f"expected a non-empty status string, got {value!r}")


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
