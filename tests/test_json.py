"""_json: exact money both ways, the stdlib's verdicts on bad JSON, no CPython internals."""

from __future__ import annotations

import json
import pathlib
import threading
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from digipix_async import _json
from digipix_async._json import dumps, dumps_exact, loads
from digipix_async.models import OrderStatus, ShipmentMethod


def test_dumps_writes_datetimes_as_iso() -> None:
    moment = datetime(2020, 8, 26, 22, 2, 32, 970683, tzinfo=UTC)
    assert dumps({"at": moment}) == b'{"at":"2020-08-26T22:02:32.970683Z"}'
    minus3 = moment.astimezone(timezone(timedelta(hours=-3)))
    assert dumps([minus3]) == b'["2020-08-26T19:02:32.970683-03:00"]'


# --- loads / dumps


@pytest.mark.parametrize(
    "text", ['  {"a": [1, "x"]} ', "\n[]\t", "1", '"s"', "", " ", '{"a": 1} x', "[1,]", "{"]
)
def test_loads_reads_and_refuses_like_the_stdlib(text: str) -> None:
    try:
        expected: Any = ("value", json.loads(text))
    except json.JSONDecodeError as exc:
        expected = ("refused", str(exc))
    try:
        got: Any = ("value", loads(text))
    except json.JSONDecodeError as exc:
        got = ("refused", str(exc))
    assert got == expected


def test_loads_never_goes_through_float() -> None:
    value = loads(b'{"a": 43.49, "b": 0.1, "c": 1e-7, "d": 7}')
    assert value == {"a": Decimal("43.49"), "b": Decimal("0.1"), "c": Decimal("1e-7"), "d": 7}
    assert type(value["d"]) is int
    assert loads('"ç"') == "ç"


@pytest.mark.parametrize("text", ["NaN", "[Infinity]", '{"a": -Infinity}'])
def test_loads_refuses_non_json_numbers(text: str) -> None:
    with pytest.raises(ValueError, match="not a valid JSON number"):
        loads(text)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Decimal("43.49"), b"43.49"),
        (Decimal("41.40"), b"41.40"),
        (Decimal("-0.000001"), b"-0.000001"),
        (Decimal("1E+2"), b"1E+2"),
        ({"a": [1, True, None, "é\n"]}, '{"a":[1,true,null,"é\\n"]}'.encode()),
        ((ShipmentMethod.COLLECT, OrderStatus.NEW), b'[3,"NEW"]'),
        (0.5, b"0.5"),
    ],
)
def test_dumps_exact_and_compact(value: Any, expected: bytes) -> None:
    assert dumps(value) == expected


@pytest.mark.parametrize(
    "value", [Decimal("NaN"), Decimal("Infinity"), float("nan"), float("-inf")]
)
def test_dumps_refuses_non_finite_numbers(value: Any) -> None:
    with pytest.raises(ValueError, match="cannot be written as JSON"):
        dumps({"x": value})


@pytest.mark.parametrize("value", [{1: "a"}, {"a": object()}, {"a": {1, 2}}])
def test_dumps_exact_refuses_what_json_cannot_hold(value: Any) -> None:
    with pytest.raises(TypeError):
        dumps_exact(value)


@given(
    st.recursive(
        st.none()
        | st.booleans()
        | st.integers()
        | st.text()
        | st.floats(allow_nan=False, allow_infinity=False),
        lambda children: st.lists(children) | st.dictionaries(st.text(), children),
        max_leaves=20,
    )
)
def test_the_fast_and_the_exact_encoder_agree(value: Any) -> None:
    assert dumps(value) == dumps_exact(value)


def test_a_body_holding_a_decimal_is_written_exactly() -> None:
    value = {"zipCode": "01311100", "items": [{"quantity": 2, "cost": Decimal("2.09")}], "é": None}
    assert (
        dumps(value)
        == dumps_exact(value)
        == '{"zipCode":"01311100","items":[{"quantity":2,"cost":2.09}],"é":null}'.encode()
    )


def test_dumps_refuses_a_value_that_contains_itself() -> None:
    looped: list[Any] = []
    looped.append(looped)
    with pytest.raises(ValueError, match="contains itself"):
        dumps(looped)


@given(st.text())
def test_dumps_strings_like_the_stdlib(text: str) -> None:
    assert json.loads(dumps({"t": text})) == {"t": text}


def test_only_the_public_json_api_is_used() -> None:
    # No scanner, no C encoder maker, no exception used to switch encoders.
    source = pathlib.Path(_json.__file__).read_text(encoding="utf-8")
    for internal in ("c_make_encoder", "scan_once", "_HoldsDecimal", "Out of range float"):
        assert internal not in source


@pytest.mark.parametrize("digits", [4301, 5000, 100_000])
def test_a_huge_integer_literal_is_a_plain_value_error(digits: int) -> None:
    # CPython's own limit on int parsing (4300 digits): a clean ValueError, quickly.
    with pytest.raises(ValueError, match="limit") as caught:
        loads('{"quantity": ' + "9" * digits + "}")
    assert type(caught.value) is ValueError


def test_a_huge_exponent_is_read_as_a_decimal_without_expanding_it() -> None:
    assert loads("[1e999999]") == [Decimal("1e999999")]


def test_dumps_is_safe_from_two_threads() -> None:
    # The Decimal-spotting list belongs to one call: threads never see each other's.
    plain = {"a": [1, 2, "x"]}
    exact = {"a": [Decimal("1.50")]}
    failures: list[bytes] = []

    def write(value: dict[str, Any], expected: bytes) -> None:
        for _ in range(2000):
            got = dumps(value)
            if got != expected:
                failures.append(got)

    threads = [
        threading.Thread(target=write, args=(plain, b'{"a":[1,2,"x"]}')),
        threading.Thread(target=write, args=(exact, b'{"a":[1.50]}')),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


@pytest.mark.parametrize("value", [{"a": {1, 2}}, {"a": object()}])
def test_dumps_refuses_what_json_cannot_hold(value: Any) -> None:
    with pytest.raises(TypeError):
        dumps(value)
