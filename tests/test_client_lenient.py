"""The client reads answers leniently by default and strictly on request (strict_responses)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping

import pytest
from samples import ORDER_APPROVED

from digipix_async import APIResponseValidationError, DigipixClient, testing
from digipix_async._lenient import reset_warnings
from digipix_async._sansio import Response

TOKEN = Response(200, {}, b'{"access_token": "tok-1", "expires_in": 3600}')


def drifted_order() -> bytes:
    order = json.loads(ORDER_APPROVED)
    order["recipient"]["zipCode"] = 1311100  # a number where a string was guessed
    return json.dumps(order).encode()


@pytest.fixture(autouse=True)
def fresh_warnings() -> Iterator[None]:
    reset_warnings()
    yield
    reset_warnings()


def client(strict: bool, *answers: Response) -> DigipixClient:
    script = [TOKEN, *answers]

    def handler(request: testing.MockRequest) -> testing.Response:
        answer = script.pop(0)
        return testing.Response(answer.status, headers=answer.headers, body=answer.body)

    return DigipixClient(
        "abc123",
        "secret-x",
        base_url="http://api.test",
        transport=testing.MockTransport(handler),
        strict_responses=strict,
    )


async def test_by_default_a_drifted_field_is_kept_raw_and_warned_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    body = drifted_order()
    async with client(False, Response(200, {}, body), Response(200, {}, body)) as lenient:
        first = await lenient.orders.get("abc")
        second = await lenient.orders.get("abc")
    for order in (first, second):
        assert order.id == "skR3yfgC9AfpDq6ixDzt"
        assert order.recipient is not None
        assert order.recipient.zip_code is None
        assert isinstance(order.recipient.extra, Mapping)
        assert order.recipient.extra["zipCode"] == 1311100
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "Recipient" in warnings[0].getMessage()
    assert "1311100" not in warnings[0].getMessage()  # names the field, never the value


async def test_strict_responses_raise_on_the_same_drift() -> None:
    async with client(True, Response(200, {}, drifted_order())) as strict:
        with pytest.raises(APIResponseValidationError, match=r"recipient\.zip_code"):
            await strict.orders.get("abc")
