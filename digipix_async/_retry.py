"""The retry policy: which failures are retried, how long to wait, when to stop.

Waits come from backoff's exponential generator with full jitter; a server's
``Retry-After`` replaces the computed wait. The loop is ours rather than
``backoff.on_exception`` because the decision depends on the request (a
create-order may only be resent when it provably never arrived) and a single
deadline bounds the whole call.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import TypeVar

import backoff

from digipix_async._config import RetryPolicy
from digipix_async._errors import APIConnectionError, APIStatusError, DigipixError
from digipix_async._log import log
from digipix_async._request import Request, RetrySafety

__all__ = ["is_transient", "retry_call", "set_testing"]

T = TypeVar("T")


_TRANSIENT_STATUSES = frozenset({429, 502, 503, 504})
_waits_enabled = True


def set_testing(enabled: bool) -> None:
    """Make every retry wait zero (tests of retry logic then run in milliseconds).

    The wait that would have been slept is still computed and logged (the WARNING
    record's ``retry_wait``), so tests can check that ``Retry-After`` was honoured.
    """
    global _waits_enabled
    _waits_enabled = not enabled


def is_transient(error: DigipixError, safety: RetrySafety) -> bool:
    """Tell whether ``error`` may be retried for a request of the given safety."""
    if isinstance(error, APIConnectionError):
        return safety is RetrySafety.IDEMPOTENT or not error.request_sent
    if isinstance(error, APIStatusError):
        if safety is RetrySafety.IDEMPOTENT:
            return error.status in _TRANSIENT_STATUSES
        # A 429 is a refusal: the server did nothing, so even a create-order may be resent.
        return error.status == 429
    return False


def _waits(policy: RetryPolicy) -> Iterator[float]:
    waits = backoff.expo(base=2, factor=policy.initial_wait, max_value=policy.max_wait)
    next(waits)  # backoff's generators start with a bare `yield` to be primed
    return waits


async def retry_call(
    attempt: Callable[[int], Awaitable[T]],
    *,
    request: Request,
    policy: RetryPolicy,
    deadline: float,
) -> T:
    """Run ``attempt(number)`` until it succeeds, fails for good, or time runs out.

    ``deadline`` is on the ``time.monotonic`` clock. The error that ends the call
    carries the number of attempts made. Cancellation is never caught.
    """
    waits: Iterator[float] | None = None
    number = 1
    while True:
        try:
            return await attempt(number)
        except (APIConnectionError, APIStatusError) as error:
            error.attempts = number
            if number > policy.max_retries or not is_transient(error, request.retry):
                raise
            retry_after = getattr(error, "retry_after", None)
            if retry_after is not None:
                if retry_after > policy.max_retry_after:
                    raise  # minutes of sleep help nobody; the caller sees retry_after
                delay = retry_after
            else:
                waits = waits or _waits(policy)
                delay = backoff.full_jitter(next(waits))
            if time.monotonic() + delay >= deadline:
                raise
            log.warning(
                "%s %s: %s on attempt %d, retrying in %.3f s",
                request.method,
                request.path,
                _reason(error),
                number,
                delay,
                extra={
                    "method": request.method,
                    "path": request.path,
                    "attempt": number,
                    "retry_wait": delay,
                },
            )
            if _waits_enabled:
                await asyncio.sleep(delay)
            number += 1


def _reason(error: DigipixError) -> str:
    if isinstance(error, APIStatusError):
        return f"status {error.status}"
    return type(error).__name__
