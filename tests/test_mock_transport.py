"""`testing.MockTransport` (issue 15.3): every request to a handler, no sockets at all."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from samples import ITEMS, RECIPIENT

from digipix_async import (
    APIConnectionError,
    APIResponseValidationError,
    DigipixClient,
    NotFoundError,
    OrderOutcomeUnknownError,
    RateLimitError,
    _retry,
)
from digipix_async.testing import MockRequest, MockTransport, Response

SECRET = "s3cr3t-value"
TOKEN = {"access_token": "tok-1", "expires_in": 3600}
ORDER = {"id": "o-1", "status": "APPROVED"}


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # Any connection attempt (aiohttp's goes through the loop) fails the test.
    async def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a MockTransport test tried to connect")

    monkeypatch.setattr(asyncio.BaseEventLoop, "create_connection", refuse)
    monkeypatch.setattr(asyncio.BaseEventLoop, "getaddrinfo", refuse)
    _retry.set_testing(True)
    yield
    _retry.set_testing(False)


def api(request: MockRequest) -> Response:
    """A happy API: a token, quotes, orders."""
    if request.path == "/v1/oauth/token":
        return Response(200, json=TOKEN)
    if request.path == "/v1/quote":
        return Response(200, json=[])
    return Response(201 if request.method == "POST" else 200, json=ORDER)


def client_for(handler: Any, **options: Any) -> DigipixClient:
    return DigipixClient(
        "abc123",
        SECRET,
        base_url="http://digipix.test",
        transport=MockTransport(handler),
        **options,
    )


async def test_every_request_reaches_the_handler_token_request_included() -> None:
    mock = MockTransport(api)
    async with DigipixClient("abc123", SECRET, base_url="http://digipix.test", transport=mock) as c:
        order = await c.orders.get("o-1")

    assert order.id == "o-1"
    token, get = mock.requests
    assert (token.method, token.path, token.url) == (
        "POST",
        "/v1/oauth/token",
        "http://digipix.test/v1/oauth/token",
    )
    assert token.json["client_id"] == "abc123"
    assert token.json["grant_type"] == "client_credentials"
    assert "authorization" not in token.headers
    assert (get.method, get.path, get.body, get.json) == ("GET", "/v1/orders/o-1", None, None)
    assert get.headers["authorization"] == "Bearer tok-1"  # case-insensitive
    assert get.headers["User-Agent"].startswith("digipix-async/")


async def test_an_async_handler_is_awaited() -> None:
    gate = asyncio.Event()

    async def slow(request: MockRequest) -> Response:
        if request.path.startswith("/v1/orders"):
            await gate.wait()
        return api(request)

    async with client_for(slow) as client:
        call = asyncio.create_task(client.orders.get("o-1"))
        await asyncio.sleep(0)
        assert not call.done()
        gate.set()
        assert (await call).id == "o-1"


async def test_the_body_is_the_exact_wire_bytes() -> None:
    mock = MockTransport(api)
    async with DigipixClient("abc123", SECRET, base_url="http://digipix.test", transport=mock) as c:
        await c.quotes.create(zip_code="01311-100", items=[{"product_id": "p", "quantity": 2}])

    quote = mock.requests[-1]
    assert quote.body == b'{"zipCode":"01311100","items":[{"productId":"p","quantity":2}]}'
    assert quote.json == {"zipCode": "01311100", "items": [{"productId": "p", "quantity": 2}]}


async def test_status_answers_become_the_sdks_errors() -> None:
    def handler(request: MockRequest) -> Response:
        if request.path == "/v1/oauth/token":
            return Response(200, json=TOKEN)
        if request.path == "/v1/orders/gone":
            return Response(404, json={"message": "order not found"})
        return Response(429, json={"message": "slow down"}, headers={"retry-after": "3600"})

    async with client_for(handler) as client:
        with pytest.raises(NotFoundError, match="order not found"):
            await client.orders.get("gone")
        with pytest.raises(RateLimitError) as caught:
            await client.orders.get("busy")
    assert caught.value.retry_after == 3600.0  # read through case-insensitive headers


async def test_a_body_that_is_not_json_is_a_response_validation_error() -> None:
    def handler(request: MockRequest) -> Response:
        if request.path == "/v1/oauth/token":
            return Response(200, json=TOKEN)
        return Response(200, body="<html>maintenance</html>")

    async with client_for(handler) as client:
        with pytest.raises(APIResponseValidationError) as caught:
            await client.orders.get("o-1")
    assert caught.value.body == "<html>maintenance</html>"


async def test_a_connection_error_from_the_handler_is_retried_then_raised() -> None:
    attempts = 0

    def handler(request: MockRequest) -> Response:
        nonlocal attempts
        if request.path == "/v1/oauth/token":
            return Response(200, json=TOKEN)
        attempts += 1
        raise APIConnectionError("connection refused", request_sent=False)

    async with client_for(handler, max_retries=2) as client:
        with pytest.raises(APIConnectionError, match="connection refused"):
            await client.orders.get("o-1")
    assert attempts == 3


async def test_a_create_whose_connection_broke_after_sending_is_outcome_unknown() -> None:
    def handler(request: MockRequest) -> Response:
        if request.path == "/v1/oauth/token":
            return Response(200, json=TOKEN)
        raise APIConnectionError("reset by peer", request_sent=True)

    mock = MockTransport(handler)
    async with DigipixClient("abc123", SECRET, base_url="http://digipix.test", transport=mock) as c:
        with pytest.raises(OrderOutcomeUnknownError) as caught:
            await c.orders.create(recipient=RECIPIENT, items=ITEMS, partner_order_id="P-1")

    assert caught.value.partner_order_id == "P-1"
    assert [r.path for r in mock.requests].count("/v1/orders") == 1  # never re-sent


async def test_a_handler_returning_something_else_is_told_what_to_return() -> None:
    async with client_for(lambda request: {"access_token": "x"}) as client:
        with pytest.raises(TypeError, match=r"must return testing\.Response"):
            await client.orders.get("o-1")


async def test_a_closed_mock_refuses_requests_as_not_sent() -> None:
    mock = MockTransport(api)
    await mock.aclose()
    with pytest.raises(APIConnectionError) as caught:
        await mock.send("GET", "http://x/v1/products", headers={}, body=None, connect=1, read=1)
    assert caught.value.request_sent is False


def test_reprs_never_show_the_secret_or_the_token() -> None:
    token_request = MockRequest(
        "POST",
        "http://digipix.test/v1/oauth/token",
        {"Authorization": "Bearer tok-1"},
        b'{"client_secret": "s3cr3t-value"}',
    )
    assert SECRET not in repr(token_request)
    assert "tok-1" not in repr(token_request.headers)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"status": 42}, "status must be an HTTP status"),
        ({"status": True}, "status must be an HTTP status"),
        ({"json": {}, "body": b"{}"}, "not both"),
    ],
)
def test_a_response_is_checked(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Response(**kwargs)


def test_a_json_response_is_compact_utf8_with_its_content_type() -> None:
    answer = Response(200, json={"city": "São Paulo"})
    assert answer.body == '{"city":"São Paulo"}'.encode()
    assert answer.headers["content-type"] == "application/json"
    assert Response(200, json={}, headers={"Content-Type": "text/json"}).headers == {
        "Content-Type": "text/json"
    }
