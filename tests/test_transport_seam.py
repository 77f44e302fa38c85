"""The transport seam: DigipixClient(transport=...) takes any object with send and aclose."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pytest
from samples import ORDER_APPROVED

from digipix_async import DigipixClient
from digipix_async._errors import APIConnectionError, OrderOutcomeUnknownError
from digipix_async._sansio import Response

SECRET = "s3cr3t-value"


class RecordingTransport:
    """Answers from a script and records every request as the client made it."""

    def __init__(self, answers: list[Response | Exception]) -> None:
        self.answers = answers
        self.sent: list[dict[str, Any]] = []
        self.closed = 0

    async def send(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        body: bytes | None,
        connect: float,
        read: float | None,
    ) -> Response:
        self.sent.append({"method": method, "url": url, "headers": dict(headers), "body": body})
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    async def aclose(self) -> None:
        self.closed += 1


TOKEN = Response(200, {}, b'{"access_token": "tok-1", "expires_in": 3600}')


def client_with(transport: RecordingTransport) -> DigipixClient:
    return DigipixClient("abc123", SECRET, base_url="http://api.test", transport=transport)


async def test_every_request_goes_through_the_given_transport() -> None:
    transport = RecordingTransport([TOKEN, Response(200, {}, ORDER_APPROVED)])
    async with client_with(transport) as client:
        order = await client.orders.get("abc")
    assert order.id == "skR3yfgC9AfpDq6ixDzt"
    assert [(sent["method"], sent["url"]) for sent in transport.sent] == [
        ("POST", "http://api.test/v1/oauth/token"),
        ("GET", "http://api.test/v1/orders/abc"),
    ]
    token_request = json.loads(transport.sent[0]["body"])
    assert token_request["grant_type"] == "client_credentials"
    assert transport.sent[1]["headers"]["Authorization"] == "Bearer tok-1"


async def test_every_request_says_it_speaks_json_even_a_get() -> None:
    # The reference marks Content-Type: application/json required on the product GETs.
    transport = RecordingTransport([TOKEN, Response(200, {}, b"[]")])
    async with client_with(transport) as client:
        await client.products.list()
    for sent in transport.sent:
        assert sent["headers"]["Content-Type"] == "application/json"
        assert sent["headers"]["Accept"] == "application/json"


async def test_a_borrowed_transport_is_not_closed_by_the_client() -> None:
    transport = RecordingTransport([])
    async with client_with(transport):
        pass
    assert transport.closed == 0


async def test_the_transport_errors_drive_the_same_decisions() -> None:
    # A reset after sending a create-order: the outcome is unknown, never retried.
    transport = RecordingTransport([TOKEN, APIConnectionError("reset", request_sent=True)])
    recipient = {
        "name": "Maria",
        "zip_code": "01311100",
        "street": "Av. Paulista",
        "number": "1000",
        "city": "Sao Paulo",
        "state": "SP",
    }
    async with client_with(transport) as client:
        with pytest.raises(OrderOutcomeUnknownError):
            await client.orders.create(
                recipient=recipient,
                items=[{"product_id": "photobook", "quantity": 1}],
                partner_order_id="INV-1",
            )
    assert [sent["url"] for sent in transport.sent].count("http://api.test/v1/orders") == 1


def test_a_transport_and_a_session_together_are_refused() -> None:
    with pytest.raises(ValueError, match="transport or session"):
        DigipixClient(
            "abc123",
            SECRET,
            base_url="http://api.test",
            transport=RecordingTransport([]),
            trace_configs=[object()],  # type: ignore[list-item]
        )
