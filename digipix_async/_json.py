"""JSON text in and out, exact for money: the only place bytes become values and back.

- ``loads`` parses every JSON fraction as ``Decimal`` straight from its text, so
  ``43.49`` is ``Decimal("43.49")`` and never passes through a float.
- ``dumps`` writes compact UTF-8 with the stdlib encoder, falling back to the
  exact encoder for a value holding a Decimal (the stdlib cannot write one as a
  raw JSON number).
- ``dumps_exact`` is strict: non-string keys and unknown types are a TypeError.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from digipix_async._scalar_hooks import format_datetime

__all__ = ["dumps", "dumps_exact", "loads"]


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a valid JSON number")


# Built once: json.loads() with options would build a decoder on every call.
_DECODER = json.JSONDecoder(parse_float=Decimal, parse_constant=_reject_constant)


def loads(data: bytes | str) -> Any:
    """Parse JSON into plain values, every fraction as an exact ``Decimal``.

    Bytes must be UTF-8, as RFC 8259 requires of JSON exchanged between systems.
    Raises ``json.JSONDecodeError`` or ``UnicodeDecodeError`` (both ``ValueError``)
    on bad input, and ``ValueError`` for ``NaN``/``Infinity`` (not JSON), hostile
    nesting depth or an integer literal of more than 4300 digits (CPython's own
    limit on int parsing, which keeps a huge literal from freezing the loop).
    """
    if not isinstance(data, str):
        data = data.decode("utf-8")
    try:
        return _DECODER.decode(data)
    except RecursionError:
        # Callers catch ValueError for bad bodies; a hostile nesting depth is one.
        raise ValueError("JSON nested too deeply") from None


# Set by _default when the value being written holds a Decimal; per thread, since
# JSONEncoder calls default() in the thread that called encode().
_written = threading.local()


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return format_datetime(value)
    if isinstance(value, Decimal):
        # The stdlib writes no number it did not make itself: note the Decimal,
        # and dumps() writes the whole value again with the exact encoder.
        _written.decimal = True
        return None
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


# Built once: json.dumps() with options would build an encoder on every call.
_ENCODER = json.JSONEncoder(
    ensure_ascii=False,
    check_circular=False,  # a loop is a RecursionError, explained by dumps_exact
    allow_nan=False,
    separators=(",", ":"),
    default=_default,
)
_TOO_DEEP = "the value is nested too deeply (or contains itself) to be written as JSON"


def dumps(value: Any) -> bytes:
    """Write plain values as compact UTF-8 JSON; a Decimal keeps its exact digits.

    The stdlib's C encoder writes the common body (no Decimal); a value it cannot
    write (a Decimal, a NaN, a loop, an unknown type) is written again by
    ``dumps_exact``, whose error names the problem. The stdlib turns an int key
    into a string; SDK-built bodies have none, and user-supplied free-form data
    (``custom_data``, ``extra``) is checked with ``dumps_exact`` when the request
    is built, so nothing is changed silently.
    """
    _written.decimal = False
    try:
        text = _ENCODER.encode(value)
    except (TypeError, ValueError, RecursionError):
        return dumps_exact(value)
    return dumps_exact(value) if _written.decimal else text.encode()


_encode_str = json.encoder.encode_basestring


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
