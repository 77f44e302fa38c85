"""Read the carts of ``digipix quote-bulk`` from CSV or JSONL, one cart at a time.

Both readers stream: memory holds one cart (at most `MAX_ITEMS` rows) and a
bounded window of recent cart ids, however long the file. Every problem names
its line and column (a CSV header name, or a JSON position or key path); a bad
row spoils only its own cart, and the rest of the file still runs.

CSV rows of one cart must be consecutive. A cart id seen again after other carts
is reported (not quoted twice) when it is among the last `RECENT_IDS` carts;
further back it is not detected, and would be quoted as a cart of its own.
"""

from __future__ import annotations

import csv
import io
from collections import OrderedDict
from collections.abc import Iterator
from typing import IO, Any, Final

import attrs

from digipix_async.cli._rows import (
    RowError,
    check_zip_code,
    decode_line,
    lines,
    undecodable,
    whole_number,
)

__all__ = [
    "CSV_COLUMNS",
    "BadCart",
    "Cart",
    "CartReader",
    "InputFileError",
    "count_carts",
    "read_carts",
]

CSV_COLUMNS: Final = ("cart_id", "zip_code", "product_id", "quantity", "pages")
_REQUIRED: Final = CSV_COLUMNS[:4]
MAX_ITEMS: Final = 1000
MAX_ID: Final = 200
RECENT_IDS: Final = 10_000
_CART_KEYS: Final = frozenset({"cart_id", "zip_code", "items"})
_ITEM_KEYS: Final = frozenset({"product_id", "quantity", "pages"})


class InputFileError(ValueError):
    """The input file as a whole cannot be read (empty, no header, a missing column)."""


@attrs.frozen
class Cart:
    """One cart to quote: ``items`` are ``QuoteItem`` mappings, ``line`` its first line."""

    cart_id: str
    zip_code: str
    items: tuple[dict[str, Any], ...]
    line: int


@attrs.frozen
class BadCart:
    """A cart (or a line without a usable cart id) that cannot be quoted, and why."""

    cart_id: str | None
    line: int
    column: str | None
    message: str

    def describe(self) -> str:
        """Say where and what, as ``line 7, column quantity: ...``."""
        where = f"line {self.line}" + (f", column {self.column}" if self.column else "")
        return f"{where}: {self.message}"


# -- values shared by both formats -------------------------------------------------------


def _cart_id(value: Any, column: str) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        raise RowError(column, "a cart id is required")
    cart_id: str = value.strip()
    if len(cart_id) > MAX_ID or not cart_id.isprintable():
        raise RowError(column, f"a cart id is at most {MAX_ID} printable characters")
    return cart_id


def _item(product_id: Any, quantity: Any, pages: Any, prefix: str) -> dict[str, Any]:
    if not isinstance(product_id, str) or not product_id.strip():
        raise RowError(f"{prefix}product_id", "a product id is required")
    item: dict[str, Any] = {
        "product_id": product_id.strip(),
        "quantity": whole_number(quantity, f"{prefix}quantity", required=True),
    }
    number = whole_number(pages, f"{prefix}pages", required=False)
    if number is not None:
        item["pages"] = number
    return item


class _Recent:
    """Remember the last `RECENT_IDS` cart ids (and their lines), in bounded memory."""

    def __init__(self) -> None:
        self._lines: OrderedDict[str, int] = OrderedDict()

    def seen_at(self, cart_id: str) -> int | None:
        return self._lines.get(cart_id)

    def add(self, cart_id: str, line: int) -> None:
        self._lines[cart_id] = line
        if len(self._lines) > RECENT_IDS:
            self._lines.popitem(last=False)


def _again(cart_id: str, first: int, line: int, column: str) -> BadCart:
    # Not written under the cart's id: its first rows already have their entry.
    return BadCart(
        None,
        line,
        column,
        f"cart {cart_id!r} was already read at line {first}: the rows of one cart must be "
        "consecutive",
    )


# -- CSV ---------------------------------------------------------------------------------


class _CsvCarts:
    def __init__(self, stream: IO[bytes]) -> None:
        text = io.TextIOWrapper(stream, encoding="utf-8-sig", errors="surrogateescape", newline="")
        self._text = text
        self._reader = csv.reader(text)
        self._columns = self._header()

    def _header(self) -> dict[str, int]:
        try:
            header = next(self._reader, None)
        except csv.Error as error:
            raise InputFileError(f"line 1: not a CSV header: {error}") from None
        if not header or not any(cell.strip() for cell in header):
            raise InputFileError(
                "line 1: the file is empty; expected the header " + ",".join(CSV_COLUMNS)
            )
        if any(undecodable(cell) for cell in header):
            raise InputFileError("line 1: the header is not UTF-8 text; save the file as UTF-8")
        names = [cell.strip().lower() for cell in header]
        columns: dict[str, int] = {}
        for position, name in enumerate(names):
            if name in CSV_COLUMNS and name in columns:
                raise InputFileError(f"line 1, column {name}: the column appears twice")
            columns.setdefault(name, position)
        missing = [name for name in _REQUIRED if name not in columns]
        if missing:
            raise InputFileError(
                f"line 1: the header has no column {', '.join(missing)} "
                f"(expected {','.join(CSV_COLUMNS)}; pages is optional)"
            )
        return columns

    def _field(self, row: list[str], name: str) -> str:
        position = self._columns.get(name)
        if position is None or position >= len(row):
            if name == "pages":
                return ""
            raise RowError(name, "the row has no value for this column")
        value = row[position]
        if undecodable(value):
            raise RowError(name, "the value is not UTF-8 text")
        return value

    def __iter__(self) -> Iterator[Cart | BadCart]:
        recent = _Recent()
        current: str | None = None  # the cart being gathered
        zip_code, items, first_line = "", list[dict[str, Any]](), 0
        spoiled: BadCart | None = None
        previous = self._reader.line_num
        while True:
            try:
                row = next(self._reader, None)
            except csv.Error as error:
                yield BadCart(None, previous + 1, None, f"not a CSV row: {error}")
                previous = self._reader.line_num
                continue
            line, previous = previous + 1, self._reader.line_num
            if row is None:
                break
            if not any(cell.strip() for cell in row):
                continue  # a blank line
            try:
                cart_id = _cart_id(self._field(row, "cart_id"), "cart_id")
            except RowError as error:
                yield BadCart(None, line, error.column, error.message)
                continue
            if cart_id != current:
                if current is not None:
                    yield spoiled or Cart(current, zip_code, tuple(items), first_line)
                current, zip_code, items, first_line, spoiled = None, "", [], line, None
                first = recent.seen_at(cart_id)
                if first is not None:
                    yield _again(cart_id, first, line, "cart_id")
                    continue
                current = cart_id
                recent.add(cart_id, line)
            if spoiled is not None:
                continue  # the rest of a cart that already failed
            try:
                zip_code = self._add(row, zip_code, items)
            except RowError as error:
                spoiled = BadCart(cart_id, line, error.column, error.message)
        if current is not None:
            yield spoiled or Cart(current, zip_code, tuple(items), first_line)

    def _add(self, row: list[str], zip_code: str, items: list[dict[str, Any]]) -> str:
        """Add one row's item to the cart; return the cart's zip code."""
        value = check_zip_code(self._field(row, "zip_code"), "zip_code")
        if zip_code and value != zip_code:
            raise RowError("zip_code", f"{value} differs from the cart's zip code {zip_code}")
        if len(items) >= MAX_ITEMS:
            raise RowError(None, f"a cart holds at most {MAX_ITEMS} items")
        items.append(
            _item(
                self._field(row, "product_id"),
                self._field(row, "quantity"),
                self._field(row, "pages"),
                "",
            )
        )
        return value

    def close(self) -> None:
        self._text.close()


# -- JSONL -------------------------------------------------------------------------------


class _JsonlCarts:
    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream

    def __iter__(self) -> Iterator[Cart | BadCart]:
        recent = _Recent()
        for line, raw in lines(self._stream):
            if raw is not None and not raw.strip():
                continue
            cart_id: str | None = None
            try:
                document = decode_line(raw, line == 1)
                if not isinstance(document, dict):
                    raise RowError(None, "each line must be a JSON object")
                cart_id = _cart_id(document.get("cart_id"), "cart_id")
                first = recent.seen_at(cart_id)
                if first is not None:
                    yield _again(cart_id, first, line, "cart_id")
                    continue
                recent.add(cart_id, line)
                yield self._cart(document, cart_id, line)
            except RowError as error:
                yield BadCart(cart_id, line, error.column, error.message)

    @staticmethod
    def _cart(document: dict[str, Any], cart_id: str, line: int) -> Cart:
        unknown = sorted(set(document) - _CART_KEYS)
        if unknown:
            raise RowError(unknown[0], "unknown key (expected cart_id, zip_code, items)")
        zip_code = check_zip_code(document.get("zip_code"), "zip_code")
        raw_items = document.get("items")
        if not isinstance(raw_items, list) or not raw_items:
            raise RowError("items", "a non-empty list of items is required")
        if len(raw_items) > MAX_ITEMS:
            raise RowError("items", f"a cart holds at most {MAX_ITEMS} items")
        items = []
        for index, raw in enumerate(raw_items):
            prefix = f"items[{index}]."
            if not isinstance(raw, dict):
                raise RowError(f"items[{index}]", "an item must be a JSON object")
            extra = sorted(set(raw) - _ITEM_KEYS)
            if extra:
                raise RowError(prefix + extra[0], "unknown key (product_id, quantity, pages)")
            items.append(
                _item(raw.get("product_id"), raw.get("quantity"), raw.get("pages"), prefix)
            )
        return Cart(cart_id, zip_code, tuple(items), line)

    def close(self) -> None:
        self._stream.close()


class CartReader:
    """Iterate the carts of an input file; `close` it (or use ``with``)."""

    def __init__(self, path: str, fmt: str) -> None:
        stream = open(path, "rb")  # noqa: SIM115 - closed by close()
        try:
            self._reader: _CsvCarts | _JsonlCarts = (
                _CsvCarts(stream) if fmt == "csv" else _JsonlCarts(stream)
            )
        except BaseException:
            stream.close()
            raise

    def __iter__(self) -> Iterator[Cart | BadCart]:
        return iter(self._reader)

    def close(self) -> None:
        """Close the file."""
        self._reader.close()

    def __enter__(self) -> CartReader:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def read_carts(path: str, fmt: str) -> CartReader:
    """Open ``path`` as ``fmt`` (``csv`` or ``jsonl``); a CSV header is checked at once."""
    return CartReader(path, fmt)


def count_carts(path: str, fmt: str) -> int:
    """Count the carts (for the progress bar's total) in one cheap pass; 0 if none."""
    with open(path, "rb") as stream:
        if fmt != "csv":
            return sum(1 for _, raw in lines(stream) if raw is None or raw.strip())
        text = io.TextIOWrapper(stream, encoding="utf-8-sig", errors="replace", newline="")
        rows = csv.reader(text)
        count, current = 0, None
        try:
            header = [cell.strip().lower() for cell in next(rows, [])]
            position = header.index("cart_id") if "cart_id" in header else 0
            for row in rows:
                cart_id = row[position].strip() if position < len(row) else ""
                if cart_id and cart_id != current:
                    count, current = count + 1, cart_id
        except csv.Error:
            pass  # the reader reports it, with its line; this is only an estimate
        return count
