"""Reading quote-bulk inputs: carts grouped, every bad row named by line and column."""

from __future__ import annotations

import json
import pathlib

import pytest

from digipix_async.cli._carts import (
    RECENT_IDS,
    BadCart,
    Cart,
    InputFileError,
    count_carts,
    read_carts,
)
from digipix_async.cli._rows import MAX_LINE

HEADER = b"cart_id,zip_code,product_id,quantity,pages\n"


def carts_of(tmp_path: pathlib.Path, data: bytes, fmt: str = "csv") -> list[Cart | BadCart]:
    path = tmp_path / f"in.{fmt}"
    path.write_bytes(data)
    with read_carts(str(path), fmt) as reader:
        return list(reader)


def test_consecutive_rows_form_one_cart_and_pages_are_optional(tmp_path: pathlib.Path) -> None:
    found = carts_of(
        tmp_path,
        HEADER + b"c1,01311-100,photobook,2,24\nc1,01311100,mug,1,\n\nc2,20040002,mug,3,\n",
    )

    assert found == [
        Cart(
            "c1",
            "01311100",
            ({"product_id": "photobook", "quantity": 2, "pages": 24},
             {"product_id": "mug", "quantity": 1}),
            2,
        ),
        Cart("c2", "20040002", ({"product_id": "mug", "quantity": 3},), 5),
    ]  # fmt: skip


def test_a_header_without_pages_and_with_a_bom_and_extra_columns_is_read(
    tmp_path: pathlib.Path,
) -> None:
    found = carts_of(
        tmp_path, b"\xef\xbb\xbfCart_ID, zip_code,product_id,quantity,note\nc1,01311100,mug,1,x\n"
    )

    assert found == [Cart("c1", "01311100", ({"product_id": "mug", "quantity": 1},), 2)]


@pytest.mark.parametrize(
    ("row", "column", "message"),
    [
        (b"c1,01311100,mug,two,", "quantity", "'two' is not a whole number from 1 to 1000000"),
        (b"c1,01311100,mug,0,", "quantity", "'0' is not a whole number from 1 to 1000000"),
        (b"c1,0131,mug,1,", "zip_code", "'0131' is not a zip code (8 digits expected)"),
        (b"c1,01311100,mug,1,-3", "pages", "'-3' is not a whole number from 1 to 1000000"),
        (b"c1,01311100,,1,", "product_id", "a product id is required"),
        (b"c1,01311100,mug", "quantity", "the row has no value for this column"),
        (b"c1,01311100,m\xe9g,1,", "product_id", "the value is not UTF-8 text"),
    ],
)
def test_a_bad_row_fails_its_cart_naming_line_and_column(
    tmp_path: pathlib.Path, row: bytes, column: str, message: str
) -> None:
    found = carts_of(tmp_path, HEADER + b"c0,01311100,mug,1,\n" + row + b"\nc2,01311100,mug,1,\n")

    assert found[0] == Cart("c0", "01311100", ({"product_id": "mug", "quantity": 1},), 2)
    assert found[1] == BadCart("c1", 3, column, message)
    assert found[1].describe() == f"line 3, column {column}: {message}"
    assert found[2] == Cart("c2", "01311100", ({"product_id": "mug", "quantity": 1},), 4)


def test_a_bad_row_inside_a_cart_fails_the_whole_cart_once(tmp_path: pathlib.Path) -> None:
    found = carts_of(
        tmp_path, HEADER + b"c1,01311100,mug,1,\nc1,01311100,mug,x,\nc1,01311100,mug,1,\n"
    )

    assert found == [BadCart("c1", 3, "quantity", "'x' is not a whole number from 1 to 1000000")]


def test_rows_of_one_cart_must_share_its_zip_code(tmp_path: pathlib.Path) -> None:
    found = carts_of(tmp_path, HEADER + b"c1,01311100,mug,1,\nc1,20040002,mug,1,\n")

    assert found == [
        BadCart("c1", 3, "zip_code", "20040002 differs from the cart's zip code 01311100")
    ]


def test_a_row_without_a_cart_id_is_reported_without_one(tmp_path: pathlib.Path) -> None:
    found = carts_of(tmp_path, HEADER + b" ,01311100,mug,1,\nc2,01311100,mug,1,\n")

    assert found[0] == BadCart(None, 2, "cart_id", "a cart id is required")
    assert isinstance(found[1], Cart)


def test_a_cart_id_seen_again_later_is_reported_not_quoted_twice(tmp_path: pathlib.Path) -> None:
    found = carts_of(
        tmp_path, HEADER + b"c1,01311100,mug,1,\nc2,01311100,mug,1,\nc1,01311100,mug,5,\n"
    )

    assert [type(entry) for entry in found] == [Cart, Cart, BadCart]
    bad = found[2]
    assert isinstance(bad, BadCart)
    # No cart id: the cart's first rows already have their entry in the output.
    assert bad.cart_id is None
    assert bad.line == 4
    assert "cart 'c1' was already read at line 2" in bad.message


def test_the_window_of_recent_cart_ids_is_bounded(tmp_path: pathlib.Path) -> None:
    rows = b"".join(b"c%d,01311100,mug,1,\n" % number for number in range(RECENT_IDS + 1))
    found = carts_of(tmp_path, HEADER + rows + b"c0,01311100,mug,1,\n")

    # c0 left the window: it is read as a cart of its own, as the docs say.
    assert isinstance(found[-1], Cart)
    assert found[-1].cart_id == "c0"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "line 1: the file is empty; expected the header"),
        (b"\n\n", "line 1: the file is empty"),
        (b"cart_id,zip_code,product_id\nc1,01311100,mug\n", "no column quantity"),
        (b"cart_id,zip_code,product_id,quantity,quantity\n", "quantity: the column appears twice"),
        (b"\xff\xfec\x00a\x00r\x00t\x00\n", "line 1: the header is not UTF-8 text"),
    ],
)  # fmt: skip
def test_a_file_that_cannot_be_read_at_all_is_refused_before_anything(
    tmp_path: pathlib.Path, data: bytes, message: str
) -> None:
    path = tmp_path / "in.csv"
    path.write_bytes(data)

    with pytest.raises(InputFileError, match=r"^line 1") as caught:
        read_carts(str(path), "csv")
    assert message in str(caught.value)


def jsonl(*documents: object) -> bytes:
    return b"".join(
        (doc if isinstance(doc, bytes) else json.dumps(doc).encode()) + b"\n" for doc in documents
    )


def test_jsonl_carts_are_read_with_their_line(tmp_path: pathlib.Path) -> None:
    found = carts_of(
        tmp_path,
        b"\xef\xbb\xbf"
        + jsonl(
            {"cart_id": "a", "zip_code": "01311-100",
             "items": [{"product_id": "mug", "quantity": 2, "pages": 3}]},
            b"   ",
            {"cart_id": 7, "zip_code": "20040002", "items": [{"product_id": "mug", "quantity": 1}]},
        ),
        "jsonl",
    )  # fmt: skip

    assert found == [
        Cart("a", "01311100", ({"product_id": "mug", "quantity": 2, "pages": 3},), 1),
        Cart("7", "20040002", ({"product_id": "mug", "quantity": 1},), 3),
    ]


A = b'{"cart_id": "a", "zip_code": "01311100", '
NUMBER = "is not a whole number from 1 to 1000000"


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (A + b'"items": [}', BadCart(None, 1, "52", "not JSON: Expecting value")),
        (b'{"cart_id": "a\xff"}', BadCart(None, 1, "15", "not UTF-8 text; save the file as UTF-8")),
        (b"[1, 2]", BadCart(None, 1, None, "each line must be a JSON object")),
        (
            b'{"cart_id": "a", "zip_code": "1", "items": []}',
            BadCart("a", 1, "zip_code", "'1' is not a zip code (8 digits expected)"),
        ),
        (A + b'"items": []}', BadCart("a", 1, "items", "a non-empty list of items is required")),
        (
            A + b'"items": [{"product_id": "mug", "quantity": "1.5"}]}',
            BadCart("a", 1, "items[0].quantity", f"'1.5' {NUMBER}"),
        ),
        (
            A + b'"items": [{"product_id": "mug", "qty": 1}]}',
            BadCart("a", 1, "items[0].qty", "unknown key (product_id, quantity, pages)"),
        ),
        (
            b'{"cart_id": "a", "zip": "01311100"}',
            BadCart("a", 1, "zip", "unknown key (expected cart_id, zip_code, items)"),
        ),
        (b'{"cart_id": true}', BadCart(None, 1, "cart_id", "a cart id is required")),
        (
            A + b'"items": [{"product_id": "mug", "quantity": NaN}]}',
            BadCart(None, 1, None, "not JSON: NaN is not valid JSON"),
        ),
    ],
)
def test_a_bad_jsonl_line_names_its_column_and_the_next_still_runs(
    tmp_path: pathlib.Path, line: bytes, expected: BadCart
) -> None:
    good = {"cart_id": "b", "zip_code": "01311100", "items": [{"product_id": "mug", "quantity": 1}]}

    found = carts_of(tmp_path, jsonl(line, good), "jsonl")

    assert found[0] == expected
    assert found[1] == Cart("b", "01311100", ({"product_id": "mug", "quantity": 1},), 2)


def test_an_overlong_jsonl_line_is_refused_in_bounded_memory(tmp_path: pathlib.Path) -> None:
    good = {"cart_id": "b", "zip_code": "01311100", "items": [{"product_id": "mug", "quantity": 1}]}

    found = carts_of(tmp_path, jsonl(b"x" * (3 * MAX_LINE), good), "jsonl")

    assert found[0] == BadCart(None, 1, None, f"the line is longer than {MAX_LINE} bytes")
    assert isinstance(found[1], Cart)
    assert found[1].line == 2


def test_count_carts_counts_carts_not_rows(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "in.csv"
    path.write_bytes(HEADER + b"c1,01311100,mug,1,\nc1,01311100,mug,1,\nc2,01311100,mug,1,\n")
    other = tmp_path / "in.jsonl"
    other.write_bytes(b'{"a": 1}\n\n{"b": 2}\nnot json\n')

    assert count_carts(str(path), "csv") == 2
    assert count_carts(str(other), "jsonl") == 3
