"""The retry policy with fake attempts: what is retried, how long it waits, when it stops."""

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
    BadRequestError,
    InternalServerError,
    NotFoundError,
    RateLimitError,
)
from digipix_async._request import Request, RetrySafety

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
    from digipix_async._errors import status_error_class

    return status_error_class(code)("x", status=code, retry_after=retry_after)


class Script:
    """An attempt function that raises the scripted errors, then returns "ok"."""

    def __init__(self, *outcomes: Exception) -> None:
        self.outcomes = list(outcomes)
        self.calls = 0

    async def __call__(self, number: int) -> str:
        self.calls += 1
        assert number == self.calls
        if self.outcomes:
            raise self.outcomes.pop(0)
        return "ok"


async def run(script: Script, request: Request = GET, **policy: float) -> str:
    return await _retry.retry_call(
        script,
        request=request,
        policy=RetryPolicy(**policy),  # type: ignore[arg-type]
        deadline=time.monotonic() + 60,
    )


async def test_503_503_200_succeeds_in_three_attempts() -> None:
    script = Script(status(503), status(503))
    assert await run(script) == "ok"
    assert script.calls == 3


@pytest.mark.parametrize("code", [429, 502, 503, 504])
def test_transient_statuses_are_retried_for_idempotent_requests(code: int) -> None:
    assert _retry.is_transient(status(code), RetrySafety.IDEMPOTENT)


@pytest.mark.parametrize("code", [400, 401, 403, 404, 409, 422, 500])
def test_other_statuses_are_not_retried(code: int) -> None:
    assert not _retry.is_transient(status(code), RetrySafety.IDEMPOTENT)


def test_a_create_is_retried_only_if_unsent_or_refused() -> None:
    assert _retry.is_transient(status(429), RetrySafety.UNSENT_ONLY)
    assert _retry.is_transient(APIConnectionError("refused", request_sent=False), CREATE.retry)
    assert not _retry.is_transient(APIConnectionError("reset"), CREATE.retry)
    assert not _retry.is_transient(APITimeoutError("read"), CREATE.retry)
    for code in (500, 502, 503, 504):
        assert not _retry.is_transient(status(code), CREATE.retry)


async def test_exhausted_retries_raise_the_last_error_with_the_attempt_count() -> None:
    script = Script(status(503), status(502), status(504), status(503))
    with pytest.raises(InternalServerError) as caught:
        await run(script)
    assert caught.value.status == 503
    assert caught.value.attempts == 4  # 1 + max_retries
    assert script.calls == 4


@pytest.mark.parametrize(
    "error", [NotFoundError("x", status=404), BadRequestError("x", status=400)]
)
async def test_404_and_400_are_not_retried(error: APIStatusError) -> None:
    script = Script(error)
    with pytest.raises(type(error)):
        await run(script)
    assert script.calls == 1


async def test_retry_after_replaces_the_computed_wait(caplog: pytest.LogCaptureFixture) -> None:
    script = Script(status(429, retry_after=1.0))
    with caplog.at_level(logging.WARNING, logger="digipix_async"):
        assert await run(script) == "ok"

    (record,) = caplog.records
    assert record.retry_wait == 1.0  # type: ignore[attr-defined]
    assert record.getMessage() == ("GET /v1/orders/1: status 429 on attempt 1, retrying in 1.000 s")


async def test_a_retry_after_beyond_the_cap_raises_at_once_with_retry_after() -> None:
    script = Script(status(429, retry_after=600.0))
    with pytest.raises(RateLimitError) as caught:
        await run(script, max_retry_after=30.0)
    assert caught.value.retry_after == 600.0
    assert script.calls == 1


async def test_backoff_waits_grow_and_stay_capped(caplog: pytest.LogCaptureFixture) -> None:
    script = Script(*(status(503) for _ in range(6)))
    with caplog.at_level(logging.WARNING, logger="digipix_async"):
        await run(script, max_retries=6, initial_wait=0.5, max_wait=2.0)

    waits = [record.retry_wait for record in caplog.records]  # type: ignore[attr-defined]
    caps = [0.5, 1.0, 2.0, 2.0, 2.0, 2.0]
    assert len(waits) == 6
    assert all(0 <= wait <= cap for wait, cap in zip(waits, caps, strict=True))


async def test_the_deadline_bounds_all_attempts() -> None:
    script = Script(status(503, retry_after=5.0))
    with pytest.raises(InternalServerError):
        await _retry.retry_call(
            script, request=GET, policy=RetryPolicy(), deadline=time.monotonic() + 1.0
        )
    assert script.calls == 1  # waiting 5 s would overrun the 1 s left


async def test_a_real_wait_is_slept_when_testing_mode_is_off() -> None:
    _retry.set_testing(False)
    script = Script(status(503, retry_after=0.2))
    started = time.monotonic()
    await run(script)
    assert time.monotonic() - started >= 0.2
