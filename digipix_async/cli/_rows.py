"""Reading input files line by line: bounded lines, UTF-8, JSON, and checked values.

Every problem is a `RowError` naming its column (a CSV header name, a JSON
position or key path), so the command can say ``line 7, column quantity: ...``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import IO, Any, Final

__all__ = [
    "MAX_LINE",
    "MAX_NUMBER",
    "RowError",
    "check_zip_code",
    "decode_line",
    "lines",
    "undecodable",
    "whole_number",
]

#: Bounds that keep one bad line from holding the whole memory.
MAX_LINE: Final = 1024 * 1024
MAX_NUMBER: Final = 1_000_000


class RowError(ValueError):
    """One line's problem: ``column`` names where (a header, a JSON column or key path)."""

    def __init__(self, column: str | None, message: str) -> None:
        super().__init__(message)
        self.column = column
        self.message = message


def check_zip_code(value: Any, column: str) -> str:
    # The SDK's rule (API.md, client-side validation): 8 digits once non-digits are removed.
    if not isinstance(value, str):
        raise RowError(column, "the zip code must be a string of 8 digits")
    digits = "".join(ch for ch in value if ch.isascii() and ch.isdigit())
    if len(digits) != 8:
        raise RowError(column, f"{value!r} is not a zip code (8 digits expected)")
    return digits


def whole_number(value: Any, column: str, *, required: bool) -> int | None:
    """Return a whole number from 1 to `MAX_NUMBER` given as an int or its digits."""
    number = value
    if isinstance(value, str):
        text = value.strip()
        if not text:
            if required:
                raise RowError(column, "a value is required")
            return None
        number = int(text) if text.isascii() and text.isdigit() and len(text) <= 7 else None
    elif value is None:
        if required:
            raise RowError(column, "a value is required")
        return None
    if isinstance(number, bool) or not isinstance(number, int) or not 1 <= number <= MAX_NUMBER:
        raise RowError(column, f"{value!r} is not a whole number from 1 to {MAX_NUMBER}")
    return number


def undecodable(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: surrogateescape kept a bad byte
        return True
    return False


def lines(stream: IO[bytes]) -> Iterator[tuple[int, bytes | None]]:
    """Yield (line number, bytes) of every line; None for a line over `MAX_LINE`."""
    number = 0
    while True:
        raw = stream.readline(MAX_LINE + 1)
        if not raw:
            return
        number += 1
        if len(raw) > MAX_LINE and not raw.endswith(b"\n"):
            while raw and not raw.endswith(b"\n"):  # skip the rest of the long line
                raw = stream.readline(MAX_LINE)
            yield number, None
            continue
        yield number, raw


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def decode_line(raw: bytes | None, first: bool) -> Any:
    """Decode one JSONL line; raise `RowError` naming the column of the problem."""
    if raw is None:
        raise RowError(None, f"the line is longer than {MAX_LINE} bytes")
    if first and raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise RowError(str(error.start + 1), "not UTF-8 text; save the file as UTF-8") from None
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as error:
        raise RowError(str(error.colno), f"not JSON: {error.msg}") from None
    except (ValueError, RecursionError) as error:  # 5,000-digit numbers, deep nesting
        raise RowError(None, f"not JSON: {error}") from None
