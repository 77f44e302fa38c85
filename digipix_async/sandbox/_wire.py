"""Wire helpers of the sandbox: error values, strict JSON field readers, money, ids, dates."""

from __future__ import annotations

import secrets
import string
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

__all__ = [
    "ApiError",
    "Body",
    "money",
    "new_id",
    "opt_int",
    "opt_str",
    "req_int",
    "req_list",
    "req_object",
    "req_str",
    "timestamp",
    "to_decimal",
]

Body = dict[str, Any]

_ID_ALPHABET = string.ascii_letters + string.digits
_CENT = Decimal("0.01")


class ApiError(Exception):
    """A refusal the sandbox answers with: an HTTP status and a JSON body."""

    def __init__(
        self,
        status: int,
        message: str,
        body: Body | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        # Most routes answer {"message": ...}; the token route answers RFC 6749 5.2 bodies.
        self.body: Body = body if body is not None else {"message": message}
        self.headers: dict[str, str] = headers or {}


def new_id() -> str:
    """Return a random 20-character id like the vendor's (`tFN9mEXgro9feZ7Fjf61`)."""
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(20))


def timestamp(moment: datetime) -> str:
    """Format a UTC moment with 7 fractional digits and `Z`, as the vendor does."""
    # datetime stops at microseconds; the vendor's .NET clock has 100 ns ticks,
    # so a seventh digit is appended to keep clients honest about parsing it.
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f") + str(secrets.randbelow(10)) + "Z"


def money(value: Decimal) -> float:
    """Round to cents and return the JSON number for it (shortest repr, e.g. 2.09)."""
    # float(Decimal("2.09")) is the double nearest 2.09, whose repr is exactly "2.09":
    # the arithmetic happened in Decimal, so the text on the wire has no float noise.
    return float(value.quantize(_CENT, rounding=ROUND_HALF_UP))


def to_decimal(value: float | int) -> Decimal:
    """Read back a money value stored as a JSON number, without binary noise."""
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)


def _type_name(value: Any) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}
    if value is None:
        return "null"
    if isinstance(value, int | float) and not isinstance(value, bool):
        return "a number"
    return names.get(type(value), type(value).__name__)


def req_object(value: Any, where: str) -> Body:
    """Return `value` if it is a JSON object, else refuse with 400."""
    if not isinstance(value, dict):
        raise ApiError(400, f"{where} must be an object, got {_type_name(value)}")
    return value


def req_list(body: Body, key: str, where: str = "") -> list[Any]:
    """Return the non-empty array at `key`."""
    value = body.get(key)
    if value is None:
        raise ApiError(400, f"{where}{key} is required")
    if not isinstance(value, list):
        raise ApiError(400, f"{where}{key} must be an array, got {_type_name(value)}")
    if not value:
        raise ApiError(400, f"{where}{key} must not be empty")
    return value


def opt_str(body: Body, key: str, where: str = "") -> str | None:
    """Return the string at `key`, None if absent or null."""
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ApiError(400, f"{where}{key} must be a string, got {_type_name(value)}")
    return value


def req_str(body: Body, key: str, where: str = "") -> str:
    """Return the non-blank string at `key`."""
    value = opt_str(body, key, where)
    if value is None or not value.strip():
        raise ApiError(400, f"{where}{key} is required")
    return value


def opt_int(body: Body, key: str, where: str = "") -> int | None:
    """Return the integer at `key`, None if absent or null (booleans and 2.0 refused)."""
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ApiError(400, f"{where}{key} must be an integer, got {_type_name(value)}")
    return value


def req_int(body: Body, key: str, where: str = "") -> int:
    """Return the integer at `key`."""
    value = opt_int(body, key, where)
    if value is None:
        raise ApiError(400, f"{where}{key} is required")
    return value
