"""The pipeline's decisions as plain functions: what an answer means, what a deadline means."""

from __future__ import annotations

import pytest

from digipix_async._errors import (
    APIConnectionError,
    APITimeoutError,
    BadRequestError,
    InternalServerError,
    OrderOutcomeUnknownError,
)
from digipix_async._sansio import (
    TOKEN_PATH,
    Phase,
    Request,
    RetrySafety,
    Verdict,
    deadline_error,
    unknown_outcome,
    verdict,
)

QUOTE = Request("POST", "/v1/quote", scope="quote", json={})
CREATE = Request(
    "POST",
    "/v1/orders",
    scope="orders",
    json={},
    retry=RetrySafety.UNSENT_ONLY,
    creates_order=True,
    partner_order_id="INV-1",
)
TOKEN = Request("POST", TOKEN_PATH, scope=None, json={})


def test_the_token_request_is_the_one_request_without_a_token() -> None:
    assert not TOKEN.needs_token
    assert QUOTE.needs_token
    assert CREATE.needs_token


@pytest.mark.parametrize("status", [200, 201])
def test_200_and_201_carry_the_result(status: int) -> None:
    assert verdict(status, token="t", refreshed=False) is Verdict.OK


def test_a_first_401_with_a_token_asks_for_a_fresh_token() -> None:
    assert verdict(401, token="t", refreshed=False) is Verdict.REFRESH


def test_a_second_401_is_an_error() -> None:
    assert verdict(401, token="t", refreshed=True) is Verdict.ERROR


def test_a_401_without_a_token_is_an_error() -> None:
    assert verdict(401, token=None, refreshed=False) is Verdict.ERROR


@pytest.mark.parametrize("status", [204, 301, 400, 403, 404, 409, 429, 500, 503])
def test_every_other_status_is_an_error(status: int) -> None:
    assert verdict(status, token="t", refreshed=False) is Verdict.ERROR


def test_a_deadline_while_waiting_for_a_token_never_sent_anything() -> None:
    error = deadline_error(CREATE, Phase.TOKEN, 1, 2.0)
    assert isinstance(error, APITimeoutError)
    assert error.request_sent is False
    assert error.attempts == 0
    assert "no access token in time" in str(error)


def test_a_deadline_while_awaiting_the_answer_may_have_created_the_order() -> None:
    error = deadline_error(CREATE, Phase.ANSWER, 2, 2.0)
    assert isinstance(error, OrderOutcomeUnknownError)
    assert error.partner_order_id == "INV-1"
    assert isinstance(error.cause, APITimeoutError)
    assert error.attempts == 2


def test_a_deadline_while_awaiting_a_quote_is_a_timeout() -> None:
    error = deadline_error(QUOTE, Phase.ANSWER, 1, 2.0)
    assert isinstance(error, APITimeoutError)
    assert error.request_sent is True
    assert "no answer within the call's 2.0 s" in str(error)


def test_a_deadline_during_a_retry_wait_sent_nothing_more() -> None:
    error = deadline_error(CREATE, Phase.RETRY_WAIT, 3, 2.0)
    assert isinstance(error, APITimeoutError)
    assert error.request_sent is False
    assert error.attempts == 3


def test_only_a_create_order_that_may_have_arrived_is_unknown() -> None:
    sent = APIConnectionError("reset", request_sent=True)
    unsent = APIConnectionError("refused", request_sent=False)
    server = InternalServerError("boom", status=500)
    refused = BadRequestError("bad", status=400)
    assert unknown_outcome(QUOTE, sent) is None
    assert unknown_outcome(CREATE, unsent) is None
    assert unknown_outcome(CREATE, refused) is None
    for cause in (sent, server):
        wrapped = unknown_outcome(CREATE, cause)
        assert isinstance(wrapped, OrderOutcomeUnknownError)
        assert wrapped.cause is cause
