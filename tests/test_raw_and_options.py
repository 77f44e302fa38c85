"""Raw answers, per-call escape hatches and a created order whose answer cannot be read."""

from __future__ import annotations

import json
from typing import Any

import pytest
from samples import ORDER_APPROVED

from digipix_async import (
    APIResponse,
    APIResponseValidationError,
    DigipixClient,
    ValidationError,
    testing,
)
from digipix_async._errors import NotFoundError, OrderOutcomeUnknownError
from digipix_async._sansio import Response
from digipix_async.models import Order, Product

SECRET = "s3cr3t-value"
TOKEN = Response(200, {}, b'{"access_token": "tok-1", "expires_in": 3600}')
PRODUCT = b'{"id": "photobook", "name": "Photobook", "price": 10.9}'
RECIPIENT = {
    "name": "Maria",
    "zip_code": "01311100",
    "street": "Av. Paulista",
    "number": "1000",
    "city": "Sao Paulo",
    "state": "SP",
}
ITEMS = [{"product_id": "photobook", "quantity": 1}]


def client_with(*answers: Response) -> tuple[DigipixClient, testing.MockTransport]:
    """A client whose requests get ``answers`` in turn (after the token's)."""
    script = [TOKEN, *answers]

    def handler(request: testing.MockRequest) -> testing.Response:
        answer = script.pop(0)
        return testing.Response(answer.status, headers=answer.headers, body=answer.body)

    transport = testing.MockTransport(handler)
    client = DigipixClient("abc123", SECRET, base_url="http://api.test", transport=transport)
    return client, transport


async def test_with_raw_response_hands_over_the_answer_as_it_came() -> None:
    client, _ = client_with(Response(200, {"X-Request-Id": "req-42"}, PRODUCT))
    async with client:
        raw = await client.with_raw_response.products.get("photobook")
    assert isinstance(raw, APIResponse)
    assert (raw.status, raw.body, raw.request_id, raw.attempts) == (200, PRODUCT, "req-42", 1)
    assert raw.elapsed >= 0
    product = raw.parse()
    assert isinstance(product, Product)
    assert product.id == "photobook"


async def test_with_raw_response_counts_the_attempts_of_a_retried_call() -> None:
    from digipix_async import _retry

    _retry.set_testing(True)
    try:
        client, _ = client_with(Response(503, {}, b""), Response(200, {}, ORDER_APPROVED))
        async with client:
            raw = await client.with_raw_response.orders.get("abc")
    finally:
        _retry.set_testing(False)
    assert raw.attempts == 2
    assert isinstance(raw.parse(), Order)


async def test_with_raw_response_still_raises_the_error_with_its_request_id() -> None:
    client, _ = client_with(Response(404, {"X-Request-Id": "req-7"}, b'{"message": "no"}'))
    async with client:
        with pytest.raises(NotFoundError) as caught:
            await client.with_raw_response.orders.get("missing")
    assert caught.value.request_id == "req-7"


async def test_extra_query_and_headers_reach_the_wire() -> None:
    client, transport = client_with(Response(200, {}, b"[]"))
    async with client:
        await client.products.list(
            extra_query={"page": 2, "lang": "pt-BR"}, extra_headers={"X-Trace": "abc"}
        )
    sent = transport.requests[1]
    assert sent.url == "http://api.test/v1/products?page=2&lang=pt-BR"
    assert sent.headers["X-Trace"] == "abc"
    assert sent.headers["Authorization"] == "Bearer tok-1"


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"extra_headers": {"X-Evil": "a\r\nInjected: 1"}}, "extra_headers['X-Evil']"),
        ({"extra_headers": {"Bad Name": "x"}}, "extra_headers"),
        ({"extra_query": {"q": object()}}, "extra_query['q']"),
        ({"extra_query": {"q": "\ud800"}}, "extra_query['q']"),
        ({"extra_body": {"a": 1}}, "extra_body"),  # a GET has no body
        ({"extra_stuff": {}}, "extra_stuff"),
    ],
)
async def test_bad_escape_hatches_are_refused_before_anything_is_sent(
    options: dict[str, Any], field: str
) -> None:
    client, transport = client_with()
    async with client:
        with pytest.raises(ValidationError) as caught:
            await client.products.list(**options)
    assert caught.value.field == field
    assert transport.requests == []


@pytest.mark.parametrize(
    "body",
    [b"<html>created</html>", b"{}", b'{"id": "ord-77", "status": "APPR', b""],
)
async def test_a_created_order_whose_answer_cannot_be_read_says_it_was_created(
    body: bytes,
) -> None:
    client, transport = client_with(Response(201, {"X-Request-Id": "r-1"}, body))
    async with client:
        with pytest.raises(APIResponseValidationError) as caught:
            await client.orders.create(recipient=RECIPIENT, items=ITEMS, partner_order_id="INV-9")
    error = caught.value
    assert not isinstance(error, OrderOutcomeUnknownError)
    assert error.order_created is True
    assert error.partner_order_id == "INV-9"
    assert error.body == body.decode()
    assert error.request_id == "r-1"
    assert "WAS CREATED" in str(error)
    assert error.order_id == ("ord-77" if b"ord-77" in body else None)
    assert len(transport.requests) == 2  # never resent


async def test_a_2xx_echoing_the_secret_is_redacted_in_the_error() -> None:
    echo = json.dumps({"id": 5, "echo": SECRET, "token": "tok-1"}).encode()
    client, _ = client_with(Response(200, {}, echo))
    async with client:
        with pytest.raises(APIResponseValidationError) as caught:
            await client.products.get("photobook")
    text = str(caught.value) + str(caught.value.body)
    assert SECRET not in text
    assert "tok-1" not in text
    assert "[redacted]" in str(caught.value.body)


async def test_extra_body_is_merged_last_into_a_create_order_as_sent() -> None:
    client, transport = client_with(Response(201, {}, ORDER_APPROVED))
    async with client:
        await client.orders.create(
            recipient=RECIPIENT,
            items=ITEMS,
            shipment_method="cheapest",
            partner_order_id="INV-1",
            extra_body={"coupon": "X1", "partnerOrderID": "INV-1-fixed"},
        )
    body = json.loads(transport.requests[1].body)
    assert body["coupon"] == "X1"
    assert body["partnerOrderID"] == "INV-1-fixed"  # last wins: a wire name corrected
    assert body["shipmentMethod"] == "cheapest"  # the reference's label form
    assert "shipmentMethodId" not in body
    assert list(body)[-1] == "coupon"


async def test_every_resource_method_takes_the_escape_hatches() -> None:
    answers = [
        Response(200, {}, b"[]"),
        Response(200, {}, PRODUCT),
        Response(200, {}, b"[]"),
        Response(200, {}, ORDER_APPROVED),
        Response(200, {}, ORDER_APPROVED),
        Response(200, {}, ORDER_APPROVED),
        Response(201, {}, ORDER_APPROVED),
    ]
    client, transport = client_with(*answers)
    hatch: dict[str, Any] = {"extra_headers": {"X-A": "1"}, "extra_query": {"q": "2"}}
    body = {**hatch, "extra_body": {"x": 3}}
    async with client:
        await client.products.list(**hatch)
        await client.products.get("photobook", **hatch)
        await client.quotes.create(zip_code="01311100", items=ITEMS, **body)
        await client.orders.get("abc", **hatch)
        await client.orders.approve("abc", shipment_id="s-1", **body)
        await client.orders.cancel("abc", **body)
        await client.orders.create(recipient=RECIPIENT, items=ITEMS, **body)
    for sent in transport.requests[1:]:
        assert sent.headers["X-A"] == "1"
        assert sent.url.endswith("?q=2")
        if sent.body is not None:
            assert json.loads(sent.body)["x"] == 3
    assert len(transport.requests) == 8


async def test_with_raw_response_covers_every_resource_method() -> None:
    answers = [
        Response(200, {}, b"[]"),
        Response(200, {}, PRODUCT),
        Response(200, {}, b"[]"),
        Response(200, {}, ORDER_APPROVED),
        Response(200, {}, ORDER_APPROVED),
        Response(200, {}, ORDER_APPROVED),
        Response(201, {}, ORDER_APPROVED),
    ]
    client, _ = client_with(*answers)
    async with client:
        raw = client.with_raw_response
        calls = [
            raw.products.list(),
            raw.products.get("photobook"),
            raw.quotes.create(zip_code="01311100", items=ITEMS),
            raw.orders.get("abc"),
            raw.orders.approve("abc", shipment_id="s-1"),
            raw.orders.cancel("abc"),
            raw.orders.create(recipient=RECIPIENT, items=ITEMS),
        ]
        for call in calls:
            answer = await call
            assert isinstance(answer, APIResponse)
            answer.parse()


async def test_with_raw_response_refuses_a_journal(tmp_path: Any) -> None:
    from digipix_async.jobs import OrderJournal

    client, transport = client_with()
    async with client, OrderJournal(tmp_path / "j.db") as journal:
        with pytest.raises(TypeError, match="journal"):
            await client.with_raw_response.orders.create(
                recipient=RECIPIENT, items=ITEMS, partner_order_id="P-1", journal=journal
            )
    assert transport.requests == []


async def test_the_journal_hashes_the_body_with_its_extra_body(tmp_path: Any) -> None:
    from digipix_async.jobs import OrderJournal

    client, transport = client_with(Response(201, {}, ORDER_APPROVED))
    order = {"recipient": RECIPIENT, "items": ITEMS, "partner_order_id": "P-1"}
    async with client, OrderJournal(tmp_path / "j.db") as journal:
        await client.orders.create(**order, journal=journal, extra_body={"coupon": "A"})
        again = await client.orders.create(**order, journal=journal, extra_body={"coupon": "A"})
        with pytest.raises(ValidationError) as caught:
            await client.orders.create(**order, journal=journal, extra_body={"coupon": "B"})
    assert again.id == "skR3yfgC9AfpDq6ixDzt"  # from the journal, no request
    assert caught.value.field == "partner_order_id"
    assert len(transport.requests) == 2  # the token and one create
    assert json.loads(transport.requests[1].body)["coupon"] == "A"


def test_extra_body_drops_a_body_encoded_before_it() -> None:
    # A request may carry its body already encoded (the journal hashes those bytes);
    # merging extra_body into the JSON must not leave the old bytes to be sent.
    from digipix_async import _endpoints, _json
    from digipix_async._options import with_options

    request = _endpoints.create_order(recipient=RECIPIENT, items=ITEMS)
    encoded = request._replace(body=_json.dumps(request.json))
    merged = with_options(encoded, {"extra_body": {"coupon": "A"}})

    assert merged.body is None
    assert merged.json is not None
    assert merged.json["coupon"] == "A"
