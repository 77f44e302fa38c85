"""_input: user input is checked before anything is sent, every refusal naming its field."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from digipix_async import _endpoints, _input
from digipix_async._converter import unstructure
from digipix_async._errors import ValidationError
from digipix_async._input import COUNT_LIMIT, from_input, merge_extra_body
from digipix_async.models import ItemPart, OrderItem, QuoteItem, Recipient

# --- from_input


def test_from_input_accepts_instances_and_mappings() -> None:
    item = OrderItem("p", 2, [ItemPart("c", "https://x/c.pdf")])
    assert from_input(item, OrderItem, "items[0]") == item
    assert (
        from_input(
            {"product_id": "p", "quantity": 2, "parts": [{"id": "c", "url": "https://x/c.pdf"}]},
            OrderItem,
            "items[0]",
        )
        == item
    )
    assert from_input({"name": "Ana", "extra": {"floor": "3"}}, Recipient, "r").extra == {
        "floor": "3"
    }


@pytest.mark.parametrize(
    ("value", "cls", "field", "problem"),
    [
        ({"zipcode": "1"}, Recipient, "recipient.zipcode", "did you mean 'zip_code'"),
        ({"zipCode": "1"}, Recipient, "recipient.zipCode", "unknown field"),
        ({"name": 5}, Recipient, "recipient.name", "expected a string"),
        ("Ana", Recipient, "recipient", "expected Recipient or a mapping, got str"),
        ({"product_id": "p"}, QuoteItem, "items[1].quantity", "required field missing"),
        ({"product_id": "p", "quantity": 1.0}, QuoteItem, "items[1].quantity", "integer"),
        (QuoteItem("p", True), QuoteItem, "items[1].quantity", "expected an integer, got True"),
        (
            {"product_id": "p", "quantity": 1, "parts": [{"id": "c", "url": 5}]},
            OrderItem,
            "items[1].parts[0].url",
            "expected a string",
        ),
        (
            OrderItem("p", 1, [ItemPart("c", "u", pages="2")]),  # type: ignore[arg-type]
            OrderItem,
            "items[1].parts[0].pages",
            "expected an integer",
        ),
        (
            {"product_id": "p", "quantity": 1, "parts": [{"id": "c", "url": "u", "page": 1}]},
            OrderItem,
            "items[1].parts[0].page",
            "did you mean 'pages'",
        ),
    ],
)
def test_from_input_names_the_exact_path(value: Any, cls: Any, field: str, problem: str) -> None:
    root = "recipient" if cls is Recipient else "items[1]"
    with pytest.raises(ValidationError) as caught:
        from_input(value, cls, root)
    assert caught.value.field == field
    assert problem in caught.value.problem


# --- the quote item fast path

NAMES = ("productId", "quantity", "pages")


def _outcome(build: Any) -> Any:
    try:
        return ("body", repr(build()))  # repr: the types of the values count too
    except ValidationError as exc:
        return ("refused", str(exc))


quote_item_values = (
    st.none()
    | st.booleans()
    | st.integers(-2, 3)
    | st.sampled_from([COUNT_LIMIT, COUNT_LIMIT + 1, 10**5000, "\ud800", "é"])
    | st.sampled_from(["", " ", "p", "photobook", 2.0])
    | st.text(max_size=3)
)


@given(
    st.dictionaries(
        st.sampled_from(["product_id", "quantity", "pages", "copies"]), quote_item_values
    )
    | st.builds(QuoteItem, quote_item_values, quote_item_values, quote_item_values)
)
@example({"product_id": " ", "quantity": 1})
@example({"product_id": "p", "quantity": 1, "pages": 0})
@settings(max_examples=400)
def test_the_quote_item_fast_path_agrees_with_the_full_checks(item: Any) -> None:
    fast = _outcome(lambda: _input.quote_item_body(item, 3, NAMES))
    full = _outcome(lambda: unstructure(_input.quote_item(item, 3)))
    assert fast == full


# --- hostile input: a clear ValidationError naming the field, nothing built (issue 11.8)

RECIPIENT: dict[str, Any] = {
    "name": "Ana",
    "zip_code": "01311100",
    "street": "Avenida Paulista",
    "number": "1000",
    "city": "Sao Paulo",
    "state": "SP",
}
ITEM: dict[str, Any] = {"product_id": "p", "quantity": 1}


def refused(field: str, build: Any, match: str | None = None) -> ValidationError:
    with pytest.raises(ValidationError, match=match) as caught:
        build()
    assert caught.value.field == field
    return caught.value


def order(**changes: Any) -> Any:
    arguments: dict[str, Any] = {"recipient": RECIPIENT, "items": [ITEM], **changes}
    return _endpoints.create_order(**arguments)


def test_a_lone_surrogate_is_refused_wherever_it_is() -> None:
    bad = "a\ud800b"
    refused("order_id", lambda: _endpoints.get_order(bad), "surrogate")
    refused("product_id", lambda: _endpoints.get_product(bad), "surrogate")
    refused("order_id", lambda: _endpoints.cancel_order(bad), "surrogate")
    refused("recipient.name", lambda: order(recipient={**RECIPIENT, "name": bad}), "surrogate")
    refused("recipient.complement", lambda: order(recipient={**RECIPIENT, "complement": bad}))
    refused("items[0].product_id", lambda: order(items=[{**ITEM, "product_id": bad}]))
    refused("partner_order_id", lambda: order(partner_order_id=bad), "surrogate")
    refused("shipment_id", lambda: order(shipment_id=bad), "surrogate")
    refused("shipment_method", lambda: order(shipment_method=bad), "surrogate")
    refused("status_notification_url", lambda: order(status_notification_url="https://x/" + bad))
    refused("custom_data", lambda: order(custom_data={"note": bad}), "JSON")
    refused("custom_data", lambda: order(custom_data={bad: 1}), "JSON")
    quote = _endpoints.create_quote
    refused(
        "items[0].product_id",
        lambda: quote(zip_code="01311100", items=[{**ITEM, "product_id": bad}]),
    )


@pytest.mark.parametrize(
    "value",
    [
        *(COUNT_LIMIT + 1, 10**18, 10**19, 0),
        pytest.param(10**5000, id="10**5000"),
        pytest.param(-(10**5000), id="-10**5000"),
    ],
)
def test_counts_are_bounded(value: int) -> None:
    quote = _endpoints.create_quote
    refused(
        "items[0].quantity", lambda: quote(zip_code="01311100", items=[{**ITEM, "quantity": value}])
    )
    refused("items[0].pages", lambda: quote(zip_code="01311100", items=[{**ITEM, "pages": value}]))
    refused("items[0].quantity", lambda: order(items=[{**ITEM, "quantity": value}]))
    part = {"id": "c", "url": "https://x/c.pdf", "pages": value}
    refused("items[0].parts[0].pages", lambda: order(items=[{**ITEM, "parts": [part]}]))


def test_the_largest_count_is_accepted() -> None:
    body = order(items=[{**ITEM, "quantity": COUNT_LIMIT}]).json
    assert body["items"][0]["quantity"] == COUNT_LIMIT


@pytest.mark.parametrize(
    "bad", [{1, 2}, float("nan"), object(), Decimal("NaN"), {"deep": [float("inf")]}, b"bytes"]
)
def test_extra_and_custom_data_must_be_writable_as_json(bad: Any) -> None:
    refused("custom_data", lambda: order(custom_data={"x": bad}), "JSON")
    refused("items[0].extra", lambda: order(items=[OrderItem("p", 1, extra={"x": bad})]), "JSON")
    part = ItemPart("c", "https://x/c.pdf", extra={"x": bad})
    refused("items[0].parts[0].extra", lambda: order(items=[OrderItem("p", 1, [part])]))
    recipient = Recipient(**RECIPIENT, extra={"x": bad})
    refused("recipient.extra", lambda: order(recipient=recipient), "JSON")
    quote_item = QuoteItem("p", 1, extra={"x": bad})
    refused(
        "items[0].extra",
        lambda: _endpoints.create_quote(zip_code="01311100", items=[quote_item]),
    )


def test_extra_keys_must_be_strings() -> None:
    refused("items[0].extra", lambda: order(items=[OrderItem("p", 1, extra={1: "x"})]))


def test_expected_fields_of_order_items_are_required_in_input() -> None:
    # Optional in answers (read leniently), required from users.
    refused("items[0].product_id", lambda: order(items=[{"quantity": 1}]), "required field missing")
    refused("items[0].quantity", lambda: order(items=[OrderItem("p")]), "expected an integer")
    part = {"id": "c"}
    refused("items[0].parts[0].url", lambda: order(items=[{**ITEM, "parts": [part]}]), "missing")


# --- merge_extra_body (the lead's extra_body= calls it)


def test_merge_extra_body_goes_last_and_overrides() -> None:
    body = {"zipCode": "01311100", "items": []}
    merged = merge_extra_body(body, {"zipCode": "99999999", "coupon": "X1"})
    assert merged == {"zipCode": "99999999", "items": [], "coupon": "X1"}
    assert list(merged) == ["zipCode", "items", "coupon"]
    assert body == {"zipCode": "01311100", "items": []}  # the built body is not changed
    assert merge_extra_body(body, None) is body


def test_merge_extra_body_copies_the_callers_mapping() -> None:
    extra = {"coupon": "X1"}
    merged = merge_extra_body({}, extra)
    extra["coupon"] = "changed"
    assert merged == {"coupon": "X1"}


@pytest.mark.parametrize(
    "bad", [["a"], {"x": {1, 2}}, {"x": float("nan")}, {"x": object()}, {1: "a"}, {"x": "\ud800"}]
)
def test_merge_extra_body_refuses_what_cannot_be_sent(bad: Any) -> None:
    refused("extra_body", lambda: merge_extra_body({}, bad))
    refused("extra_query", lambda: merge_extra_body({}, bad, field="extra_query"))
