"""JSON text in and out, exact for money: the only place bytes become values and back.

- ``loads`` parses every JSON fraction as ``Decimal`` straight from its text, so
  ``43.49`` is ``Decimal("43.49")`` and never passes through a float.
- ``dumps`` writes compact UTF-8 with the C encoder, falling back to the exact
  encoder for a value holding a Decimal (the stdlib cannot write one as a raw
  JSON number). The C encoder turns an int key into a string; SDK-built bodies
  have none, and user-supplied free-form data (``custom_data``) is checked with
  ``dumps_exact`` when the request is built, so nothing is changed silently.
- ``dumps_exact`` is strict: non-string keys and unknown types are a TypeError.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

__all__ = ["dumps", "dumps_exact", "format_datetime", "loads"]


def format_datetime(value: datetime) -> str:
    """Write a datetime as ISO 8601 with microseconds, UTC as ``Z`` (as the vendor does)."""
    text = value.isoformat(timespec="microseconds")
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a valid JSON number")


# Built once: json.loads() with options would build a decoder on every call.
_DECODER = json.JSONDecoder(parse_float=Decimal, parse_constant=_reject_constant)
# The decoder's scanner (the C one when there is one); typeshed does not list it.
_scan: Callable[[str, int], tuple[Any, int]] = _DECODER.scan_once  # type: ignore[attr-defined]
_SPACE = " \t\n\r"  # JSON's whitespace (RFC 8259)


def loads(data: bytes | str) -> Any:
    """Parse JSON into plain values, every fraction as an exact ``Decimal``.

    Bytes must be UTF-8, as RFC 8259 requires of JSON exchanged between systems.
    Raises ``json.JSONDecodeError`` or ``UnicodeDecodeError`` (both ``ValueError``)
    on bad input, and ``ValueError`` for ``NaN``/``Infinity`` (not JSON) or hostile
    nesting depth.
    """
    if not isinstance(data, str):
        data = data.decode("utf-8")
    try:
        # The scanner itself: JSONDecoder.decode() would add two Python calls and
        # two whitespace matches around it on every response.
        start = len(data) - len(data.lstrip(_SPACE)) if data[:1] in _SPACE else 0
        value, end = _scan(data, start)
        if end != len(data):
            rest = data[end:]
            end += len(rest) - len(rest.lstrip(_SPACE))
            if end != len(data):
                raise json.JSONDecodeError("Extra data", data, end)
        return value
    except StopIteration as exc:  # the scanner's way to say no value starts there
        raise json.JSONDecodeError("Expecting value", data, exc.value) from None
    except RecursionError:
        # Callers catch ValueError for bad bodies; a hostile nesting depth is one.
        raise ValueError("JSON nested too deeply") from None


class _HoldsDecimal(Exception):
    """Raised inside the C encoder to hand a value over to the exact encoder."""


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return format_datetime(value)
    if isinstance(value, Decimal):
        raise _HoldsDecimal
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


# Built once: json.dumps() with options would build an encoder on every call.
_ENCODER = json.JSONEncoder(
    ensure_ascii=False, allow_nan=False, separators=(",", ":"), default=_default
)
_encode_str = json.encoder.encode_basestring
_TOO_DEEP = "the value is nested too deeply (or contains itself) to be written as JSON"


# The C encoder, made once and called directly: JSONEncoder.encode() makes a new
# one on every call, half the cost of writing a small body. It keeps no record of
# the containers it is in (markers=None): a body is a tree, and custom_data, the
# only part a caller nests freely, is written with dumps_exact when it is checked.
_make_c_encoder = getattr(json.encoder, "c_make_encoder", None)
_c_encode = (
    None
    if _make_c_encoder is None  # an interpreter without the C accelerator
    else _make_c_encoder(None, _default, _encode_str, None, ":", ",", False, False, False)
)


def dumps(value: Any) -> bytes:
    """Write plain values as compact UTF-8 JSON; a Decimal keeps its exact digits."""
    try:
        chunks = _c_encode(value, 0) if _c_encode is not None else _ENCODER.iterencode(value)
        return "".join(chunks).encode()
    except RecursionError:
        raise ValueError(_TOO_DEEP) from None
    except ValueError as exc:
        if "Out of range float" in str(exc):
            raise ValueError("a NaN or infinite float cannot be written as JSON") from None
        raise
    except _HoldsDecimal:
        return dumps_exact(value)


def dumps_exact(value: Any) -> bytes:
    """Write plain values as JSON, refusing anything JSON cannot hold exactly."""
    out: list[str] = []
    try:
        _encode_exact(value, out)
    except RecursionError:
        raise ValueError(_TOO_DEEP) from None
    return "".join(out).encode()


def _encode_exact(value: Any, out: list[str]) -> None:
    # bool before int: bool is an int.
    if isinstance(value, str):
        out.append(_encode_str(value))
    elif value is None:
        out.append("null")
    elif isinstance(value, bool):
        out.append("true" if value else "false")
    elif isinstance(value, int):
        out.append(int.__repr__(value))  # an IntEnum writes its number, not its repr
    elif isinstance(value, Mapping):
        out.append("{")
        for index, (key, item) in enumerate(value.items()):
            if not isinstance(key, str):
                raise TypeError(f"JSON object keys must be strings, not {type(key).__name__}")
            out.append("," if index else "")
            out.append(_encode_str(key))
            out.append(":")
            _encode_exact(item, out)
        out.append("}")
    elif isinstance(value, list | tuple):
        out.append("[")
        for index, item in enumerate(value):
            out.append("," if index else "")
            _encode_exact(item, out)
        out.append("]")
    elif isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"{value!r} cannot be written as JSON")
        # str() keeps every digit and is always a valid JSON number ("1E+2" too).
        out.append(str(value))
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{value!r} cannot be written as JSON")
        out.append(float.__repr__(value))
    elif isinstance(value, datetime):
        out.append(_encode_str(format_datetime(value)))
    else:
        raise TypeError(f"{type(value).__name__} is not JSON serializable")
