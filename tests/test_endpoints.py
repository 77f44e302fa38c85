"""Request builders: exact paths and bodies from spec/samples.md, and every check."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from samples import FLOW_1_BODY
from samples import ITEMS as SAMPLE_ITEMS
from samples import RECIPIENT as SAMPLE_RECIPIENT

from digipix_async import _endpoints
from digipix_async._errors import ValidationError
from digipix_async._json import dumps
from digipix_async._sansio import Request, RetrySafety
from digipix_async.models import (
    ItemPart,
    OrderItem,
    OrderStatus,
    QuoteItem,
    Recipient,
    ShipmentMethod,
)

# The flow 1 body of samples.md, parsed (key order kept).
ORDER_BODY: dict[str, Any] = json.loads(FLOW_1_BODY)

# The same input as attrs instances (what the samples hold as mappings).
RECIPIENT = Recipient(**SAMPLE_RECIPIENT)
ITEMS = [
    OrderItem(item["product_id"], item["quantity"], [ItemPart(**part) for part in item["parts"]])
    for item in SAMPLE_ITEMS
]
RECIPIENT_MAPPING: dict[str, Any] = {
    "name": "Maria da Silva",
    "zip_code": "01311100",
    "street": "Avenida Paulista",
    "number": "1000",
    "city": "Sao Paulo",
    "state": "SP",
}
ITEM_MAPPING: dict[str, Any] = {"product_id": "photobook", "quantity": 1}


def order(**changes: Any) -> Request:
    arguments: dict[str, Any] = {
        "recipient": RECIPIENT,
        "items": ITEMS,
        "partner_order_id": "INV-2020-0042",
        "custom_data": {"cart": "c-991"},
        "status_notification_url": "https://partner.example.com/digipix/notify?token=s3cr3t",
    }
    arguments.update(changes)
    return _endpoints.create_order(**arguments)


# --- exact requests


def test_list_and_get_products() -> None:
    assert _endpoints.list_products() == Request("GET", "/v1/products", "products")
    assert _endpoints.get_product("photobook") == Request(
        "GET", "/v1/products/photobook", "products"
    )


def test_create_quote_body() -> None:
    request = _endpoints.create_quote(
        zip_code="01311-100", items=[{"product_id": "photobook", "quantity": 2, "pages": 24}]
    )
    assert (request.method, request.path, request.scope) == ("POST", "/v1/quote", "quote")
    assert request.retry is RetrySafety.IDEMPOTENT
    assert not request.creates_order
    assert request.json == {
        "zipCode": "01311100",
        "items": [{"productId": "photobook", "quantity": 2, "pages": 24}],
    }
    same = _endpoints.create_quote(zip_code="01311100", items=(QuoteItem("photobook", 2, 24),))
    assert same == request


def test_create_order_flow_1_to_be_approved() -> None:
    request = order()
    assert (request.method, request.path, request.scope) == ("POST", "/v1/orders", "orders")
    assert request.retry is RetrySafety.UNSENT_ONLY
    assert request.creates_order
    assert request.partner_order_id == "INV-2020-0042"
    assert request.json == ORDER_BODY
    assert list(request.json) == list(ORDER_BODY)  # key order as in samples.md
    assert "status" not in request.json


def test_create_order_flow_2_with_a_quoted_shipment() -> None:
    request = order(shipment_id="ZP2ckind4FwRhfIlt5dI")
    expected = {**ORDER_BODY, "status": "APPROVED", "shipmentId": "ZP2ckind4FwRhfIlt5dI"}
    assert request.json == expected
    assert list(request.json) == list(expected)


@pytest.mark.parametrize("method", [ShipmentMethod.CHEAPEST, 1])
def test_create_order_flow_3_with_a_method(method: int) -> None:
    request = order(shipment_method=method)
    expected = {**ORDER_BODY, "status": "APPROVED", "shipmentMethodId": 1}
    assert request.json == expected
    assert list(request.json) == list(expected)
    assert dumps(request.json).endswith(b',"status":"APPROVED","shipmentMethodId":1}')


def test_create_order_minimal_with_mappings() -> None:
    request = _endpoints.create_order(recipient=RECIPIENT_MAPPING, items=[ITEM_MAPPING])
    assert request.json == {
        "recipient": {
            "name": "Maria da Silva",
            "zipCode": "01311100",
            "street": "Avenida Paulista",
            "number": "1000",
            "city": "Sao Paulo",
            "state": "SP",
        },
        "items": [{"productId": "photobook", "quantity": 1, "parts": []}],
    }
    assert request.partner_order_id is None


def test_extra_fields_of_a_model_are_sent_back() -> None:
    recipient = Recipient(**{**RECIPIENT_MAPPING, "extra": {"floor": "3"}})
    item = OrderItem("photobook", 1, extra={"finish": "matte"})
    body = _endpoints.create_order(recipient=recipient, items=[item]).json
    assert body["recipient"]["floor"] == "3"
    assert body["items"][0]["finish"] == "matte"


def test_custom_data_is_copied() -> None:
    data = {"cart": "c-991"}
    request = order(custom_data=data)
    data["cart"] = "changed"
    assert request.json["customData"] == {"cart": "c-991"}


def test_approve_both_ways_and_cancel() -> None:
    by_id = _endpoints.approve_order("tFN9mEXgro9feZ7Fjf61", shipment_id="ZP2ckind4FwRhfIlt5dI")
    assert by_id == Request(
        "PATCH",
        "/v1/orders/tFN9mEXgro9feZ7Fjf61",
        "orders",
        json={"status": "approved", "shipmentId": "ZP2ckind4FwRhfIlt5dI"},
        retry=RetrySafety.UNSENT_ONLY,
    )
    by_method = _endpoints.approve_order(
        "tFN9mEXgro9feZ7Fjf61", shipment_method=ShipmentMethod.FASTEST
    )
    assert by_method.json == {"status": "approved", "shipmentMethodId": 2}
    assert type(by_method.json["shipmentMethodId"]) is int
    cancel = _endpoints.cancel_order("tFN9mEXgro9feZ7Fjf61")
    assert cancel == Request(
        "PATCH",
        "/v1/orders/tFN9mEXgro9feZ7Fjf61",
        "orders",
        json={"status": "canceled"},
        retry=RetrySafety.UNSENT_ONLY,
    )
    assert not cancel.creates_order


@pytest.mark.parametrize("status", ["approved", "APPROVED", "Approved", OrderStatus.APPROVED])
def test_change_status_reads_status_in_any_case(status: Any) -> None:
    request = _endpoints.change_order_status("o1", status=status, shipment_method=3)
    assert request.json == {"status": "approved", "shipmentMethodId": 3}


def test_get_order() -> None:
    assert _endpoints.get_order("icTwB5S3rtfEgvE41DEo") == Request(
        "GET", "/v1/orders/icTwB5S3rtfEgvE41DEo", "orders"
    )


@pytest.mark.parametrize(
    ("identifier", "segment"),
    [("a/b", "a%2Fb"), ("a?b=1", "a%3Fb%3D1"), ("../x", "..%2Fx"), ("é #", "%C3%A9%20%23")],
)
def test_ids_cannot_change_the_path(identifier: str, segment: str) -> None:
    assert _endpoints.get_order(identifier).path == f"/v1/orders/{segment}"
    assert _endpoints.get_product(identifier).path == f"/v1/products/{segment}"
    assert _endpoints.cancel_order(identifier).path == f"/v1/orders/{segment}"


@pytest.mark.parametrize("identifier", [".", ".."])
def test_dot_segments_are_not_ids(identifier: str) -> None:
    # A URL library resolves them: /v1/orders/.. would silently become /v1/.
    with pytest.raises(ValidationError, match="is not an id"):
        _endpoints.get_order(identifier)
    with pytest.raises(ValidationError, match="is not an id"):
        _endpoints.get_product(identifier)


# --- validation: every rule names its field


def fails(field: str, build: Any, match: str | None = None) -> None:
    with pytest.raises(ValidationError, match=match) as caught:
        build()
    assert caught.value.field == field


@given(st.text() | st.text(alphabet="0123456789\u0663-", min_size=7, max_size=9))
def test_zip_code_keeps_exactly_its_ascii_digits(text: str) -> None:
    digits = "".join(ch for ch in text if ch in "0123456789")
    if len(digits) == 8:
        assert _endpoints.normalize_zip_code(text, "zip_code") == digits
    else:
        fails("zip_code", lambda: _endpoints.normalize_zip_code(text, "zip_code"), "8 digits")


@given(
    st.text(alphabet="0123456789", min_size=8, max_size=8),
    st.lists(st.sampled_from(["-", " ", ".", "CEP"]), max_size=3),
)
def test_zip_code_with_punctuation(digits: str, noise: list[str]) -> None:
    text = digits[:5] + "".join(noise) + digits[5:]
    assert _endpoints.create_quote(zip_code=text, items=[ITEM_MAPPING]).json["zipCode"] == digits


@pytest.mark.parametrize("zip_code", ["0131110", "013111000", "", "١٢٣٤٥٦٧٨", 1311100, None])
def test_bad_zip_codes(zip_code: Any) -> None:
    fails("zip_code", lambda: _endpoints.create_quote(zip_code=zip_code, items=[ITEM_MAPPING]))
    bad = {**RECIPIENT_MAPPING, "zip_code": zip_code}
    fails("recipient.zip_code", lambda: _endpoints.create_order(recipient=bad, items=ITEMS))


def test_recipient_zip_code_is_normalised() -> None:
    assert order().json["recipient"]["zipCode"] == "01311100"


@pytest.mark.parametrize("field", ["name", "zip_code", "street", "number", "city", "state"])
@pytest.mark.parametrize("value", ["", "   ", None])
def test_required_recipient_fields(field: str, value: Any) -> None:
    bad = {**RECIPIENT_MAPPING, field: value}
    fails(f"recipient.{field}", lambda: _endpoints.create_order(recipient=bad, items=ITEMS))


def test_missing_recipient_field_and_typos() -> None:
    missing = {k: v for k, v in RECIPIENT_MAPPING.items() if k != "city"}
    fails("recipient.city", lambda: _endpoints.create_order(recipient=missing, items=ITEMS))
    typo = {**RECIPIENT_MAPPING, "zipcode": "01311100"}
    fails(
        "recipient.zipcode",
        lambda: _endpoints.create_order(recipient=typo, items=ITEMS),
        "did you mean 'zip_code'",
    )
    fails("recipient", lambda: _endpoints.create_order(recipient="Maria", items=ITEMS))


@pytest.mark.parametrize(
    ("item", "field"),
    [
        ({"product_id": "p", "quantity": 0}, "items[1].quantity"),
        ({"product_id": "p", "quantity": -3}, "items[1].quantity"),
        ({"product_id": "p", "quantity": True}, "items[1].quantity"),
        ({"product_id": "p", "quantity": "2"}, "items[1].quantity"),
        ({"product_id": "p", "quantity": 2.0}, "items[1].quantity"),
        ({"product_id": "p"}, "items[1].quantity"),
        ({"product_id": "", "quantity": 1}, "items[1].product_id"),
        ({"product_id": "p", "quantity": 1, "pages": 0}, "items[1].pages"),
        ({"product_id": "p", "quantity": 1, "pages": False}, "items[1].pages"),
        ({"product_id": "p", "quantity": 1, "copies": 2}, "items[1].copies"),
        (QuoteItem("p", 0), "items[1].quantity"),
        (5, "items[1]"),
    ],
)
def test_quote_item_rules(item: Any, field: str) -> None:
    fails(field, lambda: _endpoints.create_quote(zip_code="01311100", items=[ITEM_MAPPING, item]))


@pytest.mark.parametrize(
    ("item", "field"),
    [
        (OrderItem("p", 0), "items[1].quantity"),
        ({"product_id": "p", "quantity": 1, "pages": 2}, "items[1].pages"),  # not an order field
        (
            {"product_id": "p", "quantity": 1, "parts": [{"id": "c", "url": 3}]},
            "items[1].parts[0].url",
        ),
        (
            {"product_id": "p", "quantity": 1, "parts": [{"id": "c", "url": "u", "pages": 0}]},
            "items[1].parts[0].pages",
        ),
        (OrderItem("p", 1, [ItemPart("c", "")]), "items[1].parts[0].url"),
        (QuoteItem("p", 1), "items[1]"),  # the wrong model for an order
    ],
)
def test_order_item_rules(item: Any, field: str) -> None:
    fails(field, lambda: _endpoints.create_order(recipient=RECIPIENT, items=[ITEM_MAPPING, item]))


@pytest.mark.parametrize("items", [[], (), "photobook", {"product_id": "p", "quantity": 1}, None])
def test_items_must_be_a_non_empty_list(items: Any) -> None:
    fails("items", lambda: _endpoints.create_quote(zip_code="01311100", items=items))
    fails("items", lambda: _endpoints.create_order(recipient=RECIPIENT, items=items))


def test_partner_order_id_length() -> None:
    assert order(partner_order_id="x" * 64).partner_order_id == "x" * 64
    fails("partner_order_id", lambda: order(partner_order_id="x" * 65), "at most 64")
    fails("partner_order_id", lambda: order(partner_order_id=42))
    fails("partner_order_id", lambda: order(partner_order_id=""))


def test_both_shipment_fields_are_refused() -> None:
    fails("shipment_method", lambda: order(shipment_id="s", shipment_method=1), "not both")
    fails(
        "shipment_method",
        lambda: _endpoints.approve_order("o", shipment_id="s", shipment_method=1),
        "not both",
    )


# "1" is a label now (API.md "Resources"), sent as shipmentMethod: see the label tests.
@pytest.mark.parametrize(
    "method", [0, 4, "", " ", True, 1.0, None, pytest.param(10**5000, id="huge")]
)
def test_shipment_method_range(method: Any) -> None:
    if method is not None:
        fails("shipment_method", lambda: order(shipment_method=method))
        fails("shipment_method", lambda: _endpoints.approve_order("o", shipment_method=method))
    else:
        fails("shipment_id", lambda: _endpoints.approve_order("o"), "needs shipment_id")


def test_shipment_id_must_be_a_non_empty_string() -> None:
    fails("shipment_id", lambda: order(shipment_id=""))
    fails("shipment_id", lambda: _endpoints.approve_order("o", shipment_id=5))


@pytest.mark.parametrize("status", ["QUOTE", "shipped", "", "approve", None, 1])
def test_patch_refuses_other_statuses(status: Any) -> None:
    fails("status", lambda: _endpoints.change_order_status("o", status=status, shipment_id="s"))


def test_cancel_takes_no_shipment() -> None:
    fails(
        "shipment_id",
        lambda: _endpoints.change_order_status("o", status="canceled", shipment_id="s"),
    )


@pytest.mark.parametrize(
    "url",
    [
        "partner.example.com/notify",
        "ftp://partner.example.com/x",
        "https://",
        "/notify",
        "http://[::1",
        "",
        5,
    ],
)
def test_status_notification_url_must_be_absolute_http(url: Any) -> None:
    fails("status_notification_url", lambda: order(status_notification_url=url))


def test_custom_data_must_be_a_json_mapping() -> None:
    fails("custom_data", lambda: order(custom_data=["cart"]), "mapping")
    fails("custom_data", lambda: order(custom_data={"when": object()}), "JSON")
    fails("custom_data", lambda: order(custom_data={"n": float("nan")}), "JSON")
    looped: dict[str, Any] = {}
    looped["self"] = looped
    fails("custom_data", lambda: order(custom_data=looped), "contains itself")


@pytest.mark.parametrize("identifier", ["", None, 42])
def test_ids_must_be_non_empty_strings(identifier: Any) -> None:
    fails("order_id", lambda: _endpoints.get_order(identifier))
    fails("order_id", lambda: _endpoints.cancel_order(identifier))
    fails("product_id", lambda: _endpoints.get_product(identifier))


def test_a_request_repr_never_shows_its_body() -> None:
    # The token request's body holds the client secret.
    request = Request("POST", "/v1/oauth/token", None, json={"client_secret": "s3cr3t"})
    assert "s3cr3t" not in repr(request)
    assert repr(request).startswith("Request(method='POST', path='/v1/oauth/token'")


# --- shipment method labels and quote item extras (issue 12.3)


@pytest.mark.parametrize("label", ["cheapest", "FASTEST", "1", "retirada na loja"])
def test_a_shipment_method_label_is_sent_as_shipment_method(label: str) -> None:
    created = order(shipment_method=label).json
    assert created["shipmentMethod"] == label
    assert "shipmentMethodId" not in created
    assert list(created)[-2:] == ["status", "shipmentMethod"]
    assert created["status"] == "APPROVED"
    approved = _endpoints.approve_order("o", shipment_method=label).json
    assert approved == {"status": "approved", "shipmentMethod": label}


def test_a_shipment_method_number_is_still_sent_as_its_id() -> None:
    assert _endpoints.approve_order("o", shipment_method=ShipmentMethod.COLLECT).json == {
        "status": "approved",
        "shipmentMethodId": 3,
    }


@pytest.mark.parametrize("label", ["", "   ", "x" * 65, "a\ud800"])
def test_a_bad_label_is_refused(label: str) -> None:
    fails("shipment_method", lambda: order(shipment_method=label))
    fails("shipment_method", lambda: _endpoints.approve_order("o", shipment_method=label))


def test_a_label_with_a_shipment_id_is_refused() -> None:
    fails("shipment_method", lambda: order(shipment_id="s", shipment_method="cheapest"), "not both")


def test_quote_items_carry_extra_fields_after_the_known_ones() -> None:
    items = [
        QuoteItem("photobook", 2, 24, extra={"finish": "matte", "quantity": 99}),
        {"product_id": "card", "quantity": 1, "extra": {"paper": "linen"}},
    ]
    body = _endpoints.create_quote(zip_code="01311100", items=items).json
    assert body["items"] == [
        {"productId": "photobook", "quantity": 2, "pages": 24, "finish": "matte"},
        {"productId": "card", "quantity": 1, "paper": "linen"},
    ]
    assert list(body["items"][0]) == ["productId", "quantity", "pages", "finish"]


def test_quote_item_extra_must_be_a_json_mapping() -> None:
    fails(
        "items[0].extra",
        lambda: _endpoints.create_quote(
            zip_code="01311100", items=[{"product_id": "p", "quantity": 1, "extra": [1]}]
        ),
        "mapping",
    )
