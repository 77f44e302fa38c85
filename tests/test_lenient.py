"""Lenient reading (issue 12.1): drifted answers still give models; identity is required.

Every reshaping is tried both ways: lenient (the default) returns the model with
the raw value in ``extra`` and exactly one WARNING per (model, field) per process;
strict raises StructureError naming the path.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from samples import ORDER_APPROVED, ORDER_QUOTE, QUOTE_OPTIONS

from digipix_async import _converter, _lenient
from digipix_async._converter import StructureError, response_reader, structure
from digipix_async._json import loads
from digipix_async._lenient import structure_leniently
from digipix_async._sansio import Response
from digipix_async.models import Order, OrderStatus, Product, ShippingOption

SECRET = "Maria-PII-4242"  # stands for personal data: never in a log line


@pytest.fixture(autouse=True)
def fresh_warnings() -> Iterator[None]:
    _lenient.reset_warnings()
    yield
    _lenient.reset_warnings()


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.name == "digipix_async" and record.levelno == logging.WARNING
    ]


def order_with(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    data = loads(ORDER_APPROVED)
    change(data)
    return data


def _rename_product_id(data: dict[str, Any]) -> None:
    data["items"][0]["productID"] = data["items"][0].pop("productId")


def _drop_part_url(data: dict[str, Any]) -> None:
    data["items"][0]["parts"] = [{"id": "cover", "pages": 1}]


def _name_as_number(data: dict[str, Any]) -> None:
    data["recipient"]["name"] = 5


def _recipient_as_list(data: dict[str, Any]) -> None:
    data["recipient"] = [{"name": SECRET}]


def _items_as_object(data: dict[str, Any]) -> None:
    data["items"] = {"productId": "photobook", "quantity": 1}


def _total_as_text(data: dict[str, Any]) -> None:
    data["total"] = SECRET


def _quantity_huge(data: dict[str, Any]) -> None:
    data["items"][0]["quantity"] = Decimal("1e999999")


def _shipment_without_id(data: dict[str, Any]) -> None:
    del data["shipment"]["id"]


def _created_at_garbled(data: dict[str, Any]) -> None:
    data["createdAt"] = SECRET


def _status_of_method_as_text(data: dict[str, Any]) -> None:
    data["shipment"]["shipmentMethodId"] = "cheapest"


# (reshaping, the model and field warned about, how the model shows it, raw value, strict path)
RESHAPED: list[tuple[Callable[[dict[str, Any]], None], str, Callable[[Order], Any], str, str]] = [
    (
        _rename_product_id,
        "OrderItem.product_id",
        lambda o: (o.items[0].product_id, o.items[0].extra["productID"]),
        "photobook",
        "required field missing @ $.items[0].product_id",
    ),
    (
        _drop_part_url,
        "ItemPart.url",
        lambda o: (o.items[0].parts[0].url, "cover"),
        "cover",
        "required field missing @ $.items[0].parts[0].url",
    ),
    (
        _name_as_number,
        "Recipient.name",
        lambda o: (o.recipient.name, o.recipient.extra["name"]),
        5,
        "expected a string, got int @ $.recipient.name",
    ),
    (
        _recipient_as_list,
        "Order.recipient",
        lambda o: (o.recipient, o.extra["recipient"]),
        [{"name": SECRET}],
        "expected a JSON object, got list @ $.recipient",
    ),
    (
        _items_as_object,
        "Order.items",
        lambda o: (o.items or None, o.extra["items"]),
        {"productId": "photobook", "quantity": 1},
        "expected a JSON array, got dict @ $.items",
    ),
    (
        _total_as_text,
        "Order.total",
        lambda o: (o.total, o.extra["total"]),
        SECRET,
        "expected an amount (a JSON number)",
    ),
    (
        _quantity_huge,
        "OrderItem.quantity",
        lambda o: (o.items[0].quantity, o.items[0].extra["quantity"]),
        Decimal("1e999999"),
        "at most 18 digits, got a larger one @ $.items[0].quantity",
    ),
    (
        _shipment_without_id,
        "Order.shipment",
        lambda o: (o.shipment, o.extra["shipment"]["name"]),
        "Cheapest",
        "required field missing @ $.shipment.id",
    ),
    (
        _created_at_garbled,
        "Order.created_at",
        lambda o: (o.created_at, o.extra["createdAt"]),
        SECRET,
        "@ $.created_at",
    ),
    (
        _status_of_method_as_text,
        "ShippingOption.shipment_method_id",
        lambda o: (o.shipment.shipment_method_id, o.shipment.extra["shipmentMethodId"]),
        "cheapest",
        "expected an integer, got 'cheapest' @ $.shipment.shipment_method_id",
    ),
]
IDS = [case[1] for case in RESHAPED]


@pytest.mark.parametrize(("reshape", "where", "shown", "raw", "path"), RESHAPED, ids=IDS)
def test_lenient_keeps_the_raw_value_and_warns_once(
    caplog: pytest.LogCaptureFixture,
    reshape: Callable[[dict[str, Any]], None],
    where: str,
    shown: Callable[[Order], Any],
    raw: Any,
    path: str,
) -> None:
    data = order_with(reshape)
    caplog.set_level(logging.WARNING, logger="digipix_async")
    for _ in range(20):  # many reads, one warning
        order = structure_leniently(copy.deepcopy(data), Order)
    assert order.id == "skR3yfgC9AfpDq6ixDzt"
    assert order.status is OrderStatus.APPROVED
    value, kept = shown(order)
    assert value is None
    assert kept == raw
    found = warnings_of(caplog)
    assert len(found) == 1, found
    model, field = where.split(".")
    assert f"{model}.{field}" in found[0]
    assert SECRET not in caplog.text
    assert "photobook" not in caplog.text
    # The rest of the answer is read as usual.
    assert order.subtotal == Decimal("41.4")


@pytest.mark.parametrize(("reshape", "where", "shown", "raw", "path"), RESHAPED, ids=IDS)
def test_strict_names_the_path(
    reshape: Callable[[dict[str, Any]], None], where: str, shown: Any, raw: Any, path: str
) -> None:
    with pytest.raises(StructureError) as caught:
        structure(order_with(reshape), Order)
    assert any(path in problem for problem in caught.value.problems), caught.value.problems


def test_a_well_formed_answer_warns_nothing(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="digipix_async")
    for body in (ORDER_QUOTE, ORDER_APPROVED):
        assert structure_leniently(loads(body), Order) == structure(loads(body), Order)
    assert structure_leniently(loads(QUOTE_OPTIONS), list[ShippingOption])[1].cost == Decimal(
        "15.3"
    )
    assert warnings_of(caplog) == []


def test_extra_nested_fields_are_kept_quietly(caplog: pytest.LogCaptureFixture) -> None:
    data = loads(ORDER_APPROVED)
    data["recipient"]["geo"] = {"lat": Decimal("-23.56"), "tags": [1, {"x": None}]}
    data["items"][0]["parts"] = [{"id": "c", "url": "u", "dpi": {"min": 300}}]
    order = structure_leniently(data, Order)
    assert order.recipient is not None
    assert order.recipient.extra == {"geo": {"lat": Decimal("-23.56"), "tags": [1, {"x": None}]}}
    assert order.items[0].parts[0].extra == {"dpi": {"min": 300}}
    assert warnings_of(caplog) == []


def test_each_model_and_field_warns_once_and_the_registry_resets(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="digipix_async")
    both = order_with(lambda d: (_name_as_number(d), _total_as_text(d)))
    for _ in range(5):
        structure_leniently(copy.deepcopy(both), Order)
        structure_leniently(order_with(_name_as_number), Order)
    assert sorted(m.split(" ")[2] for m in warnings_of(caplog)) == [
        "Order.total",
        "Recipient.name",
    ]
    _lenient.reset_warnings()
    structure_leniently(order_with(_name_as_number), Order)
    assert len(warnings_of(caplog)) == 3


@pytest.mark.parametrize(
    ("data", "cls", "message"),
    [
        ({"status": "NEW"}, Order, "required field missing @ $.id"),
        ({"id": "o"}, Order, "required field missing @ $.status"),
        ({"id": 7, "status": "NEW"}, Order, "expected a string, got int @ $.id"),
        ({"id": "o", "status": ""}, Order, "non-empty status string, got '' @ $.status"),
        ({"id": "o", "status": ["NEW"]}, Order, "@ $.status"),
        ([], Order, "expected a JSON object, got list @ $"),
        ({}, Product, "required field missing @ $.id"),
        ({"id": None}, Product, "expected a string, got NoneType @ $.id"),
        ([{"id": "a"}, {"cost": 1}], list[ShippingOption], "required field missing @ $[1].id"),
        ([{"id": "a"}, "b"], list[ShippingOption], "expected a JSON object, got str @ $[1]"),
        ({"id": "a"}, list[ShippingOption], "expected a JSON array, got dict @ $"),
    ],
)
def test_identity_fields_are_required_even_when_lenient(data: Any, cls: Any, message: str) -> None:
    with pytest.raises(StructureError) as caught:
        structure_leniently(data, cls)
    assert message in str(caught.value)


def test_a_product_and_an_option_degrade_field_by_field(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="digipix_async")
    product = structure_leniently(
        {"id": "p", "price": "10.90", "weight": Decimal("1e999999"), "parts": [{"name": "x"}]},
        Product,
    )
    assert (product.price, product.weight) == (None, None)
    assert product.extra == {"price": "10.90", "weight": Decimal("1e999999")}
    assert product.parts[0].id is None  # a guessed nested field: None, warned
    options = structure_leniently(
        [{"id": "a", "cost": 2.5, "estimatedDeliveryDays": "7"}], list[ShippingOption]
    )
    assert options[0].cost == Decimal("2.5")  # a float from another parser: exact text
    assert options[0].estimated_delivery_days is None
    assert options[0].extra == {"estimatedDeliveryDays": "7"}
    assert len(warnings_of(caplog)) == 4


def test_money_is_a_decimal_or_none_never_a_float() -> None:
    data = order_with(lambda d: d.update(total=True, subtotal=Decimal("1e40")))
    order = structure_leniently(data, Order)
    assert order.total is None
    assert order.subtotal is None
    assert order.shipping_cost == Decimal("2.09")
    assert type(order.shipping_cost) is Decimal


def test_the_response_reader_is_lenient_by_default_and_strict_on_request() -> None:
    body = ORDER_APPROVED.replace(b'"name": "Maria da Silva"', b'"name": 5')
    response = Response(201, {}, body)
    assert response_reader(Order)(response).recipient.name is None  # type: ignore[union-attr]
    assert response_reader(Order, strict=False) is response_reader(Order)
    with pytest.raises(StructureError, match=r"\$\.recipient\.name"):
        response_reader(Order, strict=True)(response)


def test_a_lenient_model_prints_and_compares() -> None:
    order = structure_leniently(order_with(_quantity_huge), Order)
    assert len(repr(order)) < 5000
    assert order == structure_leniently(order_with(_quantity_huge), Order)


# --- numbers cannot freeze the loop (issue 11.2)

HOSTILE_NUMBERS = [b"1e999999", b"1e9999999", b"-1e999999", b"1e-999999", b"9" * 4000]


async def test_hostile_numbers_never_freeze_the_loop() -> None:
    gaps: list[float] = []

    async def ticker() -> None:
        last = time.perf_counter()
        while True:
            await asyncio.sleep(0.01)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0.05)
    try:
        for number in HOSTILE_NUMBERS:
            for template, cls in [
                (
                    b'{"id": "o", "status": "NEW", "items": [{"productId": "p", "quantity": N}]}',
                    Order,
                ),
                (b'{"id": "o", "status": "NEW", "total": N}', Order),
                (b'{"id": "p", "internalCode": N, "weight": N, "productionTime": N}', Product),
                (
                    b'[{"id": "s", "shipmentMethodId": N, "estimatedDeliveryDays": N}]',
                    list[ShippingOption],
                ),
            ]:
                response = Response(200, {}, template.replace(b"N", number))
                lenient = response_reader(cls)(response)
                repr(lenient)  # a model that came back can always be printed
                with pytest.raises(StructureError):
                    response_reader(cls, strict=True)(response)
                await asyncio.sleep(0)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert gaps
    assert max(gaps) < 0.5


def test_reading_is_registered_for_every_model() -> None:
    for cls in _converter.MODELS:
        assert callable(_converter.reader_of(cls))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5) | st.decimals(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=12,
)
order_keys = st.sampled_from(
    ["id", "status", "recipient", "items", "shipments", "shipment", "total", "createdAt", "x"]
)


@settings(max_examples=300)
@given(st.dictionaries(order_keys, json_values) | json_values)
def test_any_data_gives_a_model_or_a_structure_error(data: Any) -> None:
    for cls in (Order, Product, list[ShippingOption]):
        try:
            value = structure_leniently(data, cls)
        except StructureError:
            continue
        repr(value)


@settings(max_examples=200)
@given(st.dictionaries(order_keys, json_values))
def test_lenient_agrees_with_strict_whenever_strict_accepts(data: dict[str, Any]) -> None:
    data = {"id": "o", "status": "NEW", **data}
    try:
        strict = structure(data, Order)
    except StructureError:
        return
    assert structure_leniently(data, Order) == strict
