"""The answer the journal keeps is the body the server sent, and reads back as the same Order."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from samples import ITEMS, ORDER_APPROVED, ORDER_QUOTE, RECIPIENT

from digipix_async import DigipixClient, _retry
from digipix_async.jobs import OrderJournal
from digipix_async.testing import MockRequest, MockTransport, Response

# An answer that drifted from our reading: a new field, and a total that is no number.
DRIFTED = json.dumps(
    {**json.loads(ORDER_APPROVED), "printerNote": {"lane": 7}, "total": "n/a"}
).encode()


@pytest.fixture(autouse=True)
def _no_waits() -> Iterator[None]:
    _retry.set_testing(True)
    yield
    _retry.set_testing(False)


def api(order_body: bytes, creates: list[bytes]) -> Any:
    def handler(request: MockRequest) -> Response:
        if request.path == "/v1/oauth/token":
            return Response(200, json={"access_token": "tok", "expires_in": 3600})
        creates.append(request.body)
        return Response(201, body=order_body, headers={"Content-Type": "application/json"})

    return handler


@pytest.mark.parametrize(
    ("order_body", "strict"),
    [(ORDER_QUOTE, False), (ORDER_APPROVED, False), (ORDER_APPROVED, True), (DRIFTED, False)],
)
async def test_the_kept_answer_is_the_body_as_sent_and_a_rerun_reports_the_same_order(
    tmp_path: Path, order_body: bytes, strict: bool
) -> None:
    creates: list[bytes] = []
    arguments = {"recipient": RECIPIENT, "items": ITEMS, "partner_order_id": "p1"}
    async with OrderJournal(tmp_path / "j.db") as journal:
        async with DigipixClient(
            "abc123",
            "secret",
            base_url="http://digipix.test",
            transport=MockTransport(api(order_body, creates)),
            strict_responses=strict,
        ) as client:
            first = await client.orders.create(**arguments, journal=journal)
            again = await client.orders.create(**arguments, journal=journal)
        kept = await journal._row("p1")

    assert len(creates) == 1  # the rerun sent nothing
    assert kept is not None
    assert kept.answer == order_body  # byte for byte: nothing re-encoded, nothing dropped
    assert again == first
    if order_body is DRIFTED:
        assert again.extra["printerNote"] == {"lane": 7}
