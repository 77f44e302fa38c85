"""Every resource call on the wire (MockTransport): method, path, exact JSON body, result.

And every client-side validation rule, proven to send nothing at all: not even
the token request.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest
from samples import FLOW_1_BODY, ITEMS, ORDER_APPROVED, ORDER_QUOTE, QUOTE_OPTIONS, RECIPIENT

from digipix_async import (
    DigipixClient,
    Order,
    OrderStatus,
    Recipient,
    ShipmentMethod,
    ValidationError,
)
from digipix_async.testing import MockRequest, MockTransport, Response

BASE = "http://digipix.test"

# samples.md, "Orders": the 201 of flow 1 and the 200 of a PATCH / GET, as dicts.
QUOTE_ORDER = json.loads(ORDER_QUOTE)
APPROVED_ORDER = json.loads(ORDER_APPROVED)
FLOW_1 = {
    "partner_order_id": "INV-2020-0042",
    "custom_data": {"cart": "c-991"},
    "status_notification_url": "https://partner.example.com/digipix/notify?token=s3cr3t",
}


class Api:
    """Canned answers by method and path, behind a token endpoint that always grants."""

    def __init__(self) -> None:
        self.answers: dict[tuple[str, str], Response] = {}
        self.mock = MockTransport(self.answer)

    def answer(self, request: MockRequest) -> Response:
        if request.path == "/v1/oauth/token":
            return Response(200, json={"access_token": "tok", "expires_in": 3600})
        return self.answers[(request.method, request.path)]

    def get(self, path: str, **answer: Any) -> None:
        self.answers[("GET", path)] = Response(answer.pop("status", 200), **answer)

    def post(self, path: str, **answer: Any) -> None:
        self.answers[("POST", path)] = Response(answer.pop("status", 200), **answer)

    def patch(self, path: str, **answer: Any) -> None:
        self.answers[("PATCH", path)] = Response(answer.pop("status", 200), **answer)


@pytest.fixture
def api() -> Api:
    return Api()


@pytest.fixture
async def client(api: Api) -> AsyncIterator[DigipixClient]:
    async with DigipixClient("abc123", "secret", base_url=BASE, transport=api.mock) as client:
        yield client


def only_call(api: Api, method: str, path: str) -> MockRequest:
    (call,) = [r for r in api.mock.requests if (r.method, r.path) == (method, path)]
    assert call.url == f"{BASE}{path}"
    return call


def sent_json(api: Api, method: str, path: str) -> Any:
    return json.loads(only_call(api, method, path).body or b"")


async def test_products_list(api: Api, client: DigipixClient) -> None:
    api.get("/v1/products", json=[{"id": "photobook", "price": 10.9}])

    (product,) = await client.products.list()

    assert product.price == Decimal("10.9")
    assert only_call(api, "GET", "/v1/products").body is None


async def test_products_get(api: Api, client: DigipixClient) -> None:
    api.get(
        "/v1/products/photobook",
        body=b'{"id": "photobook", "name": "Photobook", "internalCode": 123, "price": 10.9, '
        b'"weight": 400, "productionTime": 5, '
        b'"parts": [{"id": "cover", "name": "Cover"}, {"id": "pages", "name": "Pages"}]}',
    )

    product = await client.products.get("photobook")

    assert (product.internal_code, product.weight, product.production_time) == (123, 400, 5)
    assert [part.name for part in product.parts] == ["Cover", "Pages"]


async def test_quote(api: Api, client: DigipixClient) -> None:
    api.post("/v1/quote", body=QUOTE_OPTIONS)

    options = await client.quotes.create(
        zip_code="01311-100", items=[{"product_id": "photobook", "quantity": 2, "pages": 24}]
    )

    assert only_call(api, "POST", "/v1/quote").body == (
        b'{"zipCode":"01311100","items":[{"productId":"photobook","quantity":2,"pages":24}]}'
    )
    assert [(o.shipment_method_id, o.cost) for o in options] == [
        (ShipmentMethod.CHEAPEST, Decimal("2.09")),
        (ShipmentMethod.FASTEST, Decimal("15.3")),
    ]


async def test_create_flow_1_is_the_samples_body_byte_for_byte(
    api: Api, client: DigipixClient
) -> None:
    api.post("/v1/orders", status=201, json=QUOTE_ORDER)

    order = await client.orders.create(recipient=RECIPIENT, items=ITEMS, **FLOW_1)

    assert only_call(api, "POST", "/v1/orders").body == FLOW_1_BODY
    assert order.status is OrderStatus.QUOTE
    assert order.created_at is not None
    assert order.created_at.microsecond == 758205
    assert order.total == Decimal("41.4")
    assert [option.id for option in order.shipments] == [
        "ZP2ckind4FwRhfIlt5dI",
        "Xk29dPq0LmA7rT5vB1cE",
    ]


async def test_create_flow_2_adds_status_and_shipment_id(api: Api, client: DigipixClient) -> None:
    api.post("/v1/orders", status=201, json=APPROVED_ORDER)

    await client.orders.create(
        recipient=RECIPIENT, items=ITEMS, shipment_id="ZP2ckind4FwRhfIlt5dI", **FLOW_1
    )

    body = only_call(api, "POST", "/v1/orders").body
    assert body == FLOW_1_BODY[:-1] + b',"status":"APPROVED","shipmentId":"ZP2ckind4FwRhfIlt5dI"}'


async def test_create_flow_3_adds_status_and_method(api: Api, client: DigipixClient) -> None:
    api.post("/v1/orders", status=201, json=APPROVED_ORDER)

    order = await client.orders.create(
        recipient=Recipient(**RECIPIENT), items=ITEMS, shipment_method=ShipmentMethod.CHEAPEST
    )

    body = sent_json(api, "POST", "/v1/orders")
    assert (body["status"], body["shipmentMethodId"]) == ("APPROVED", 1)
    assert "shipmentId" not in body
    assert "partnerOrderID" not in body
    assert order.total == Decimal("43.49")
    assert order.shipping_cost == Decimal("2.09")


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        (
            {"shipment_id": "ZP2ckind4FwRhfIlt5dI"},
            b'{"status":"approved","shipmentId":"ZP2ckind4FwRhfIlt5dI"}',
        ),
        (
            {"shipment_method": ShipmentMethod.FASTEST},
            b'{"status":"approved","shipmentMethodId":2}',
        ),
    ],
)
async def test_approve_both_ways(
    api: Api, client: DigipixClient, kwargs: dict[str, Any], expected: bytes
) -> None:
    api.patch("/v1/orders/tFN9mEXgro9feZ7Fjf61", json=APPROVED_ORDER)

    order = await client.orders.approve("tFN9mEXgro9feZ7Fjf61", **kwargs)

    assert only_call(api, "PATCH", "/v1/orders/tFN9mEXgro9feZ7Fjf61").body == expected
    assert order.status is OrderStatus.APPROVED


async def test_cancel(api: Api, client: DigipixClient) -> None:
    api.patch("/v1/orders/tFN9mEXgro9feZ7Fjf61", json={**QUOTE_ORDER, "status": "CANCELED"})

    order = await client.orders.cancel("tFN9mEXgro9feZ7Fjf61")

    call = only_call(api, "PATCH", "/v1/orders/tFN9mEXgro9feZ7Fjf61")
    assert call.body == b'{"status":"canceled"}'
    assert call.headers["Content-Type"] == "application/json"
    assert call.headers["Accept"] == "application/json"
    assert call.headers["User-Agent"].startswith("digipix-async/0.1.0 aiohttp/")
    assert order.status is OrderStatus.CANCELED


async def test_get_keeps_unknown_fields_and_statuses(api: Api, client: DigipixClient) -> None:
    api.get(
        "/v1/orders/icTwB5S3rtfEgvE41DEo",
        json={**APPROVED_ORDER, "id": "icTwB5S3rtfEgvE41DEo", "status": "ON_HOLD", "eta": 3},
    )

    order = await client.orders.get("icTwB5S3rtfEgvE41DEo")

    assert isinstance(order, Order)
    assert order.status == "ON_HOLD"
    assert order.extra == {"eta": 3}
    assert only_call(api, "GET", "/v1/orders/icTwB5S3rtfEgvE41DEo").headers["Authorization"] == (
        "Bearer tok"
    )


async def test_a_body_of_the_wrong_shape_is_a_response_validation_error(
    api: Api, client: DigipixClient
) -> None:
    from digipix_async import APIResponseValidationError

    api.get("/v1/orders/x", json={"status": "QUOTE"})
    api.get("/v1/orders/y", body=b"<html>not json</html>")

    with pytest.raises(APIResponseValidationError, match=r"id.*\$") as missing_id:
        await client.orders.get("x")
    with pytest.raises(APIResponseValidationError) as not_json:
        await client.orders.get("y")

    assert missing_id.value.status == 200
    assert not_json.value.body == "<html>not json</html>"


# -- client-side validation: nothing on the wire ------------------------------------

BAD_CALLS = [
    ("zip_code", lambda c: c.quotes.create(zip_code="1311-100", items=ITEMS)),
    ("items", lambda c: c.quotes.create(zip_code="01311100", items=[])),
    ("items[0].quantity", lambda c: c.quotes.create(
        zip_code="01311100", items=[{"product_id": "photobook", "quantity": 0}])),
    ("recipient.zip_code", lambda c: c.orders.create(
        recipient={**RECIPIENT, "zip_code": "0131110"}, items=ITEMS)),
    ("recipient.city", lambda c: c.orders.create(
        recipient={k: v for k, v in RECIPIENT.items() if k != "city"}, items=ITEMS)),
    ("recipient.zipcode", lambda c: c.orders.create(
        recipient={**RECIPIENT, "zipcode": "01311100"}, items=ITEMS)),
    ("partner_order_id", lambda c: c.orders.create(
        recipient=RECIPIENT, items=ITEMS, partner_order_id="x" * 65)),
    ("items", lambda c: c.orders.create(recipient=RECIPIENT, items=[])),
    ("items[0].quantity", lambda c: c.orders.create(
        recipient=RECIPIENT, items=[{"product_id": "photobook", "quantity": -1}])),
    ("shipment_method", lambda c: c.orders.create(
        recipient=RECIPIENT, items=ITEMS, shipment_id="a", shipment_method=1)),
    ("shipment_method", lambda c: c.orders.create(
        recipient=RECIPIENT, items=ITEMS, shipment_method=4)),
    ("status_notification_url", lambda c: c.orders.create(
        recipient=RECIPIENT, items=ITEMS, status_notification_url="notify-me")),
    ("shipment_id", lambda c: c.orders.approve("o1")),
    ("shipment_method", lambda c: c.orders.approve("o1", shipment_id="a", shipment_method=2)),
    ("order_id", lambda c: c.orders.get("")),
    ("order_id", lambda c: c.orders.cancel("..")),
    ("product_id", lambda c: c.products.get(None)),
]  # fmt: skip


@pytest.mark.parametrize(("field", "call"), BAD_CALLS)
async def test_bad_input_is_refused_before_anything_is_sent(
    api: Api, client: DigipixClient, field: str, call: Any
) -> None:
    with pytest.raises(ValidationError) as caught:
        await call(client)

    assert caught.value.field == field
    assert field in str(caught.value)
    assert api.mock.requests == []  # not even the token request
