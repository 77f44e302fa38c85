"""The converter against the wire samples of spec/samples.md, and its error paths."""

from __future__ import annotations

import contextlib
import math
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from samples import ORDER_APPROVED, ORDER_QUOTE, QUOTE_OPTIONS

from digipix_async import _cattrs_rules, _converter, _wire_names
from digipix_async._converter import StructureError, structure
from digipix_async._converter import unstructure as unstructure_
from digipix_async._json import dumps, loads
from digipix_async._scalar_hooks import INT_LIMIT
from digipix_async.models import (
    ItemPart,
    Order,
    OrderItem,
    OrderStatus,
    Product,
    ProductPart,
    QuoteItem,
    Recipient,
    ShipmentMethod,
    ShippingOption,
    StatusNotification,
    TrackingItem,
)

PRODUCT = b"""{"id": "photobook", "name": "Photobook", "internalCode": 123, "price": 10.9,
 "weight": 400, "productionTime": 5,
 "parts": [{"id": "cover", "name": "Cover"}, {"id": "pages", "name": "Pages"}]}"""

ORDER_NEW = ORDER_APPROVED.replace(b'"APPROVED"', b'"NEW"').replace(
    b"2020-08-26T22:02:32.970683Z", b"2020-08-26T22:00:24.6153558Z"
)

NOTIFICATION_SHORT = b'{"id": "abc123", "status": "IN_MANUFACTURING"}'
NOTIFICATION_SHIPPED = b"""{"id": "tFN9mEXgro9feZ7Fjf61", "status": "SHIPPED",
 "customData": {"cart": "c-991"}, "tracking_items": [{"code": "BR123456789BR",
 "url": "https://rastreamento.example.com/BR123456789BR", "carrier": "Correios"}]}"""


# --- the samples parse, with exact values


def test_product_sample() -> None:
    product = structure(loads(PRODUCT), Product)
    assert product == Product(
        id="photobook",
        name="Photobook",
        internal_code=123,
        price=Decimal("10.9"),
        weight=400,
        production_time=5,
        parts=(ProductPart("cover", "Cover"), ProductPart("pages", "Pages")),
    )
    # Numbers that are not money stay ints: a Decimal would leak the wire's parser.
    assert type(product.internal_code) is int
    assert type(product.weight) is int
    assert type(product.production_time) is int
    assert str(product.price) == "10.9"


def test_fractional_weight_is_a_float_not_a_decimal() -> None:
    product = structure(loads(b'{"id": "p", "weight": 400.5}'), Product)
    assert type(product.weight) is float
    assert product.weight == 400.5


def test_quote_sample_is_a_list_of_options() -> None:
    options = structure(loads(QUOTE_OPTIONS), list[ShippingOption])
    assert options == [
        ShippingOption("ZP2ckind4FwRhfIlt5dI", 1, "Cheapest", Decimal("2.09"), 7),
        ShippingOption("Xk29dPq0LmA7rT5vB1cE", 2, "Fastest", Decimal("15.3"), 2),
    ]
    assert options[0].shipment_method_id is ShipmentMethod.CHEAPEST
    assert str(options[0].cost) == "2.09"


def test_unknown_shipment_method_stays_an_int() -> None:
    option = structure({"id": "x", "shipmentMethodId": 9}, ShippingOption)
    assert option.shipment_method_id == 9
    assert type(option.shipment_method_id) is int


def test_order_in_quote_sample() -> None:
    order = structure(loads(ORDER_QUOTE), Order)
    assert order.id == "tFN9mEXgro9feZ7Fjf61"
    assert order.status is OrderStatus.QUOTE
    assert order.partner_id == "eHxI1wQ5stcOsmTG5aAr"
    assert order.partner_name == "Partner Name"
    assert order.partner_order_id == "INV-2020-0042"
    assert order.custom_data == {"cart": "c-991"}
    # 7 fractional digits: the 7th is truncated, not rounded (…7582058 -> 758205 µs).
    assert order.created_at == datetime(2020, 8, 26, 21, 31, 10, 758205, tzinfo=UTC)
    assert order.recipient == Recipient(
        name="Maria da Silva",
        zip_code="01311100",
        street="Avenida Paulista",
        number="1000",
        city="Sao Paulo",
        state="SP",
        country="BR",
    )
    assert order.items == (
        OrderItem(
            "photobook", 1, (ItemPart("cover", "https://files.example.com/o42/cover.pdf", 1),)
        ),
    )
    assert [s.id for s in order.shipments] == ["ZP2ckind4FwRhfIlt5dI", "Xk29dPq0LmA7rT5vB1cE"]
    assert order.shipments[1].cost == Decimal("15.3")
    assert order.shipment is None
    assert order.subtotal == Decimal("41.4")
    assert order.total == Decimal("41.4")
    assert str(order.total) == "41.4"
    assert order.shipping_cost is None


def test_approved_order_sample() -> None:
    order = structure(loads(ORDER_APPROVED), Order)
    assert order.status is OrderStatus.APPROVED
    assert order.created_at == datetime(2020, 8, 26, 22, 2, 32, 970683, tzinfo=UTC)
    assert order.items[0].parts == ()
    assert order.shipments == ()
    assert order.shipment == ShippingOption(
        "ZP2ckind4FwRhfIlt5dI", ShipmentMethod.CHEAPEST, "Cheapest", Decimal("2.09"), 7
    )
    assert order.subtotal == Decimal("41.4")
    assert order.shipping_cost == Decimal("2.09")
    assert order.total == Decimal("43.49")
    assert str(order.total) == "43.49"
    assert order.subtotal + order.shipping_cost == order.total  # exact, no float drift


def test_get_order_sample_with_status_new() -> None:
    order = structure(loads(ORDER_NEW), Order)
    assert order.status is OrderStatus.NEW
    assert order.created_at == datetime(2020, 8, 26, 22, 0, 24, 615355, tzinfo=UTC)


def test_notification_samples() -> None:
    short = structure(loads(NOTIFICATION_SHORT), StatusNotification)
    assert short == StatusNotification("abc123", OrderStatus.IN_MANUFACTURING)
    shipped = structure(loads(NOTIFICATION_SHIPPED), StatusNotification)
    assert shipped.status is OrderStatus.SHIPPED
    assert shipped.custom_data == {"cart": "c-991"}
    assert shipped.tracking_items == (
        TrackingItem("BR123456789BR", "https://rastreamento.example.com/BR123456789BR", "Correios"),
    )


def test_null_lists_read_as_empty() -> None:
    data = {"id": "o", "status": "NEW", "items": None, "shipments": None}
    order = structure(data, Order)
    assert order.items == ()
    assert order.shipments == ()


def test_any_mapping_is_read_like_a_dict() -> None:
    data = MappingProxyType({"id": "abc123", "status": "shipped", "note": "x"})
    notification = structure(data, StatusNotification)
    assert notification.status is OrderStatus.SHIPPED
    assert notification.extra == {"note": "x"}


# --- round trips


@pytest.mark.parametrize(
    ("body", "cls"),
    [
        (PRODUCT, Product),
        (QUOTE_OPTIONS, list[ShippingOption]),
        (ORDER_APPROVED, Order),
        (NOTIFICATION_SHORT, StatusNotification),
        (NOTIFICATION_SHIPPED, StatusNotification),
    ],
)
def test_round_trip_gives_back_the_input(body: bytes, cls: Any) -> None:
    data = loads(body)
    assert unstructure_(structure(data, cls)) == data
    assert loads(dumps(unstructure_(structure(data, cls)))) == data


texts = st.text(max_size=10)
maybe_texts = st.none() | texts
# Within the bounds answers may hold (_scalar_hooks: 18-digit ints, money to 10**30).
ints = st.integers(-INT_LIMIT, INT_LIMIT)
money = st.none() | st.decimals(-(10**20), 10**20, places=2)
# Keys that cannot clash with a wire name, so they land in ``extra``.
extras = st.dictionaries(texts.map(lambda key: "x_" + key), ints | texts, max_size=2)
statuses = st.sampled_from(OrderStatus) | st.text(min_size=1).map(OrderStatus)
options = st.builds(
    ShippingOption,
    id=texts,
    shipment_method_id=st.none() | st.integers(0, 9),
    name=maybe_texts,
    cost=money,
    estimated_delivery_days=st.none() | st.integers(0, 60),
    extra=extras,
)
orders = st.builds(
    Order,
    id=texts,
    status=statuses,
    partner_id=maybe_texts,
    created_at=st.none() | st.datetimes(timezones=st.just(UTC)),
    partner_order_id=maybe_texts,
    custom_data=st.none() | st.dictionaries(texts, ints | texts, max_size=2),
    recipient=st.none() | st.builds(Recipient, name=maybe_texts, zip_code=maybe_texts),
    items=st.lists(
        st.builds(
            OrderItem,
            product_id=texts,
            quantity=ints,
            parts=st.lists(
                st.builds(ItemPart, texts, texts, st.none() | ints, extra=extras),
                max_size=2,
            ),
            extra=extras,
        ),
        max_size=2,
    ),
    shipments=st.lists(options, max_size=2),
    shipment=st.none() | options,
    subtotal=money,
    shipping_cost=money,
    total=money,
    extra=extras,
)


@given(orders)
def test_any_order_survives_the_wire(order: Order) -> None:
    again = structure(loads(dumps(unstructure_(order))), Order)
    assert again == order
    # extra is outside equality, so check it on its own, nested included.
    assert again.extra == order.extra
    assert [i.extra for i in again.items] == [i.extra for i in order.items]
    assert [[p.extra for p in i.parts] for i in again.items] == [
        [p.extra for p in i.parts] for i in order.items
    ]


@given(
    st.builds(
        Product,
        id=texts,
        name=maybe_texts,
        internal_code=st.none() | ints,
        price=money,
        weight=st.none() | st.integers(0, 10**6) | st.floats(0, 1e6),
        parts=st.lists(st.builds(ProductPart, texts, maybe_texts), max_size=2),
    ),
    st.builds(
        StatusNotification,
        id=texts,
        status=statuses,
        tracking_items=st.lists(st.builds(TrackingItem, maybe_texts, maybe_texts), max_size=2),
    ),
)
def test_any_product_and_notification_survive_the_wire(
    product: Product, notification: StatusNotification
) -> None:
    assert structure(loads(dumps(unstructure_(product))), Product) == product
    again = structure(loads(dumps(unstructure_(notification))), StatusNotification)
    assert again == notification


def test_round_trip_of_seven_digit_timestamp_keeps_microseconds() -> None:
    data = loads(ORDER_QUOTE)
    again = unstructure_(structure(data, Order))
    assert again.pop("createdAt") == "2020-08-26T21:31:10.758205Z"
    del data["createdAt"]
    assert again == data


def test_unknown_fields_are_kept_and_written_back() -> None:
    data = loads(ORDER_APPROVED)
    data["priority"] = {"level": 2, "fee": Decimal("1.50")}
    data["recipient"]["floor"] = "3"
    data["items"][0]["finish"] = "matte"
    data["shipment"]["carrier"] = "Correios"
    order = structure(data, Order)
    assert order.extra == {"priority": {"level": 2, "fee": Decimal("1.50")}}
    assert order.recipient is not None
    assert order.recipient.extra == {"floor": "3"}
    assert order.items[0].extra == {"finish": "matte"}
    assert order.shipment is not None
    assert order.shipment.extra == {"carrier": "Correios"}
    assert unstructure_(order) == data
    assert b'"fee":1.50' in dumps(unstructure_(order))


def test_known_field_wins_over_a_clashing_extra() -> None:
    recipient = Recipient(name="Ana", extra={"name": "stale", "floor": "3"})
    assert unstructure_(recipient) == {"name": "Ana", "floor": "3"}


def test_none_fields_are_left_out() -> None:
    assert unstructure_(Recipient(name="Ana", city=None)) == {"name": "Ana"}
    assert unstructure_(QuoteItem("p", 2)) == {"productId": "p", "quantity": 2}


def test_unstructure_gives_plain_values() -> None:
    out = unstructure_(structure({"id": "o", "status": "on_hold"}, Order))
    assert type(out["status"]) is str
    assert out["status"] == "on_hold"  # the server's text, as it sent it
    option = unstructure_(ShippingOption("x", ShipmentMethod.FASTEST))
    assert type(option["shipmentMethodId"]) is int


def test_wire_names_come_from_one_table() -> None:
    # Spot checks of the spellings that differ from a plain camelCase rule.
    assert _wire_names.WIRE_NAMES["partner_order_id"] == "partnerOrderID"
    assert "tracking_items" not in _wire_names.WIRE_NAMES
    out = unstructure_(Order("o", OrderStatus.NEW, partner_order_id="P", shipping_cost=Decimal(1)))
    assert set(out) == {"id", "status", "items", "partnerOrderID", "shippingCost"}


class _Refuse:
    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the hot path used {name}")


def test_good_data_takes_the_prebuilt_fast_path(monkeypatch: pytest.MonkeyPatch) -> None:
    # Valid responses must neither rebuild a reader nor go through the detailed converter.
    structure(loads(ORDER_QUOTE), Order)
    structure(loads(QUOTE_OPTIONS), list[ShippingOption])
    monkeypatch.setattr(_cattrs_rules, "detailed", _Refuse())
    monkeypatch.setattr(_converter, "make_reader", _Refuse())
    assert structure(loads(ORDER_QUOTE), Order).total == Decimal("41.4")
    assert structure(loads(QUOTE_OPTIONS), list[ShippingOption])[1].cost == Decimal("15.3")


# --- datetimes


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2020-08-26T21:31:10.7582058Z", datetime(2020, 8, 26, 21, 31, 10, 758205, tzinfo=UTC)),
        ("2020-08-26T22:02:32.970683Z", datetime(2020, 8, 26, 22, 2, 32, 970683, tzinfo=UTC)),
        ("2020-08-26T22:02:32.97Z", datetime(2020, 8, 26, 22, 2, 32, 970000, tzinfo=UTC)),
        ("2020-08-26T22:02:32Z", datetime(2020, 8, 26, 22, 2, 32, tzinfo=UTC)),
        # No offset: the vendor's times are UTC.
        ("2020-08-26T22:02:32.5", datetime(2020, 8, 26, 22, 2, 32, 500000, tzinfo=UTC)),
        (
            "2020-08-26T19:02:32-03:00",
            datetime(2020, 8, 26, 19, 2, 32, tzinfo=timezone(timedelta(hours=-3))),
        ),
    ],
)
def test_created_at_forms(text: str, expected: datetime) -> None:
    order = structure({"id": "o", "status": "NEW", "createdAt": text}, Order)
    assert order.created_at == expected
    assert order.created_at is not None
    assert order.created_at.utcoffset() == expected.utcoffset()


def test_dumps_writes_datetimes_as_iso() -> None:
    moment = datetime(2020, 8, 26, 22, 2, 32, 970683, tzinfo=UTC)
    assert dumps({"at": moment}) == b'{"at":"2020-08-26T22:02:32.970683Z"}'
    minus3 = moment.astimezone(timezone(timedelta(hours=-3)))
    assert dumps([minus3]) == b'["2020-08-26T19:02:32.970683-03:00"]'


@given(
    st.integers(min_value=2, max_value=6).flatmap(
        lambda places: st.decimals(-(10**20), 10**20, places=places)
    )
)
def test_money_is_exact_through_the_wire(amount: Decimal) -> None:
    wire = dumps({"id": "o", "status": "NEW", "total": amount})
    assert f'"total":{amount}'.encode() in wire  # a number, not a string
    order = structure(loads(wire), Order)
    assert order.total == amount
    assert order.total is not None
    assert order.total.as_tuple() == amount.as_tuple()  # same digits and exponent


# --- bad data: always StructureError, with the path


def test_structure_error_names_every_path() -> None:
    data = loads(ORDER_APPROVED)
    data["id"] = 7
    data["total"] = "43.49"
    data["items"][0]["quantity"] = "1"
    data["items"][0]["parts"] = [{"id": "cover"}]
    data["recipient"]["zipCode"] = ["01311100"]
    with pytest.raises(StructureError) as caught:
        structure(data, Order)
    problems = caught.value.problems
    assert "expected a string, got int @ $.id" in problems
    assert "expected an amount (a JSON number), got '43.49' @ $.total" in problems
    assert "expected an integer, got '1' @ $.items[0].quantity" in problems
    assert "required field missing @ $.items[0].parts[0].url" in problems
    assert "expected a string, got list @ $.recipient.zip_code" in problems
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize(
    ("data", "cls", "message"),
    [
        ({"status": "NEW"}, Order, "required field missing @ $.id"),
        ({"id": "o"}, StatusNotification, "required field missing @ $.status"),
        ({"id": "o", "status": ""}, Order, "non-empty status string, got '' @ $.status"),
        ([], Order, "expected a JSON object, got list @ $"),
        ("x", Product, "expected a JSON object, got str @ $"),
        ({"id": "o"}, list[Product], "expected a JSON array, got dict @ $"),
        ([{"id": "a"}, 3], list[Product], "expected a JSON object, got int @ $[1]"),
        ({"id": "o", "status": "NEW", "customData": [1]}, Order, "expected a mapping"),
        ({"id": "o", "status": "NEW", "createdAt": "yesterday"}, Order, "@ $.created_at"),
        ({"id": "o", "status": "NEW", "createdAt": 1598479930}, Order, "@ $.created_at"),
        ({"id": "p", "weight": True}, Product, "expected a number, got True @ $.weight"),
        ({"id": "p", "internalCode": 1.5}, Product, "@ $.internal_code"),
        ({"id": "o", "shipmentMethodId": "1"}, ShippingOption, "@ $.shipment_method_id"),
        ({"id": "o", "tracking_items": {"code": "x"}}, StatusNotification, "$.tracking_items"),
    ],
)
def test_bad_data_raises_structure_error(data: Any, cls: Any, message: str) -> None:
    with pytest.raises(StructureError, match=message.replace("$", r"\$").replace("[", r"\[")):
        structure(data, cls)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text() | st.decimals(allow_nan=False),
    lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner),
    max_leaves=20,
)


@given(json_values)
def test_arbitrary_data_never_escapes_as_another_exception(data: Any) -> None:
    for cls in (Order, list[ShippingOption], StatusNotification, Product):
        with contextlib.suppress(StructureError):
            structure(data, cls)


@given(
    st.dictionaries(st.sampled_from(["id", "status", "recipient", "items", "total"]), json_values)
)
def test_order_shaped_data_never_escapes_as_another_exception(data: dict[str, Any]) -> None:
    with contextlib.suppress(StructureError):
        structure(data, Order)


# --- bounded numbers (issue 11.2): refused before any conversion, never frozen


@pytest.mark.parametrize(
    ("value", "accepted"),
    [
        (INT_LIMIT, True),
        (-INT_LIMIT, True),
        (INT_LIMIT + 1, False),
        (Decimal("1e17"), True),
        (Decimal("1e18"), False),
        (Decimal("1e999999"), False),
        (Decimal("-1e9999999"), False),
        (Decimal("1e-999999"), False),  # not a whole number
        (Decimal("7.0"), True),
    ],
)
def test_an_integer_field_takes_at_most_18_digits(value: Any, accepted: bool) -> None:
    data = {"id": "p", "internalCode": value}
    if accepted:
        assert structure(data, Product).internal_code == int(value)
    else:
        with pytest.raises(StructureError, match=r"@ \$\.internal_code"):
            structure(data, Product)


@pytest.mark.parametrize(
    ("value", "accepted"),
    [
        (Decimal("1e308"), True),
        (Decimal("1.7e308"), True),
        (Decimal("1.8e308"), False),  # past the largest float
        (Decimal("1e309"), False),
        (Decimal("1e999999"), False),
        (10**400, False),
        (float("inf"), False),
        (float("nan"), False),
        (Decimal("0.5"), True),
    ],
)
def test_a_float_field_takes_only_what_a_float_holds(value: Any, accepted: bool) -> None:
    data = {"id": "p", "weight": value}
    if accepted:
        weight = structure(data, Product).weight
        assert weight is not None
        assert math.isfinite(weight)
    else:
        with pytest.raises(StructureError, match=r"@ \$\.weight"):
            structure(data, Product)


@pytest.mark.parametrize(
    ("value", "accepted"),
    [
        (Decimal("1e30"), True),
        (Decimal("1e-30"), True),
        (Decimal("1e31"), False),
        (Decimal("1e-31"), False),
        (Decimal("1e999999"), False),
        (10**17, True),
        (10**18, False),
        (Decimal("43.49"), True),
    ],
)
def test_money_has_a_bounded_magnitude(value: Any, accepted: bool) -> None:
    data = {"id": "p", "price": value}
    if accepted:
        assert structure(data, Product).price == value
    else:
        with pytest.raises(StructureError, match=r"@ \$\.price"):
            structure(data, Product)


def test_a_refused_huge_number_is_not_printed_whole() -> None:
    with pytest.raises(StructureError) as caught:
        structure({"id": "p", "internalCode": 10**4000}, Product)
    assert len(str(caught.value)) < 200
