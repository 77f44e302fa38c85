"""The retry policy as plain decisions: what is retried, how long to wait, when to stop."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import pytest

from digipix_async import _retry
from digipix_async._config import RetryPolicy
from digipix_async._errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    status_error_class,
)
from digipix_async._sansio import Request, RetrySafety

GET = Request("GET", "/v1/orders/1", scope="orders")
CREATE = Request(
    "POST", "/v1/orders", scope="orders", retry=RetrySafety.UNSENT_ONLY, creates_order=True
)


@pytest.fixture(autouse=True)
def zero_waits() -> Iterator[None]:
    _retry.set_testing(True)
    yield
    _retry.set_testing(False)


def status(code: int, retry_after: float | None = None) -> APIStatusError:
    return status_error_class(code)("x", status=code, retry_after=retry_after)


def retries(request: Request = GET, seconds_left: float = 60, **policy: float) -> _retry.Retries:
    return _retry.Retries(
        RetryPolicy(**policy),  # type: ignore[arg-type]
        request,
        time.monotonic() + seconds_left,
    )


@pytest.mark.parametrize("code", [429, 502, 503, 504])
def test_transient_statuses_are_retried_for_idempotent_requests(code: int) -> None:
    assert _retry.is_transient(status(code), RetrySafety.IDEMPOTENT)
    assert retries().delay_after(status(code), 1) is not None


@pytest.mark.parametrize("code", [400, 401, 403, 404, 409, 422, 500])
def test_other_statuses_are_not_retried(code: int) -> None:
    assert not _retry.is_transient(status(code), RetrySafety.IDEMPOTENT)
    assert retries().delay_after(status(code), 1) is None


def test_connection_errors_and_timeouts_are_retried_for_idempotent_requests() -> None:
    assert retries().delay_after(APIConnectionError("reset"), 1) is not None
    assert retries().delay_after(APITimeoutError("slow"), 1) is not None


def test_a_create_is_retried_only_if_unsent_or_refused() -> None:
    assert _retry.is_transient(status(429), CREATE.retry)
    assert _retry.is_transient(APIConnectionError("refused", request_sent=False), CREATE.retry)
    assert not _retry.is_transient(APIConnectionError("reset"), CREATE.retry)
    assert not _retry.is_transient(APITimeoutError("read"), CREATE.retry)
    for code in (500, 502, 503, 504):
        assert not _retry.is_transient(status(code), CREATE.retry)


def test_the_budget_is_max_retries_and_the_error_counts_attempts() -> None:
    budget = retries(max_retries=3)
    for number in (1, 2, 3):
        assert budget.delay_after(status(503), number) is not None
    last = status(503)

    assert budget.delay_after(last, 4) is None
    assert last.attempts == 4


def test_retry_after_replaces_the_computed_wait(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="digipix_async"):
        assert retries().delay_after(status(429, retry_after=1.0), 1) == 1.0

    (record,) = caplog.records
    assert record.retry_wait == 1.0  # type: ignore[attr-defined]
    assert record.getMessage() == "GET /v1/orders/1: status 429 on attempt 1, retrying in 1.000 s"


def test_a_retry_after_beyond_the_cap_gives_up_at_once() -> None:
    error = status(429, retry_after=600.0)
    assert retries(max_retry_after=30.0).delay_after(error, 1) is None
    assert error.retry_after == 600.0


def test_backoff_waits_grow_with_jitter_and_stay_capped() -> None:
    budget = retries(max_retries=6, initial_wait=0.5, max_wait=2.0)
    waits = [budget.delay_after(status(503), number) for number in range(1, 7)]

    caps = [0.5, 1.0, 2.0, 2.0, 2.0, 2.0]
    assert all(wait is not None and 0 <= wait <= cap for wait, cap in zip(waits, caps, strict=True))


def test_a_wait_beyond_the_deadline_gives_up() -> None:
    # Waiting 5 s would overrun the 1 s left of the call.
    assert retries(seconds_left=1.0).delay_after(status(503, retry_after=5.0), 1) is None


async def test_pause_sleeps_only_outside_testing_mode() -> None:
    started = time.monotonic()
    await _retry.pause(5)
    assert time.monotonic() - started < 1

    _retry.set_testing(False)
    started = time.monotonic()
    await _retry.pause(0.2)
    assert time.monotonic() - started >= 0.2


def test_after_gives_a_delay_while_retries_remain() -> None:
    step = retries().after(status(503), 1)
    assert isinstance(step, float)


def test_after_gives_the_error_itself_when_retries_are_spent() -> None:
    error = status(503)
    assert retries(max_retries=1).after(error, 2) is error


def test_after_gives_an_unknown_outcome_for_a_create_that_may_have_arrived() -> None:
    from digipix_async._errors import OrderOutcomeUnknownError

    cause = status(500)
    step = retries(CREATE).after(cause, 1)
    assert isinstance(step, OrderOutcomeUnknownError)
    assert step.cause is cause


@pytest.mark.parametrize("retry_after", [0.0, 0.01])
def test_a_zero_or_tiny_retry_after_still_waits_the_first_backoff(retry_after: float) -> None:
    assert retries(initial_wait=0.5).delay_after(status(429, retry_after), 1) == 0.5
