"""The retry policy: which failures are retried, how long to wait, when to stop.

Waits come from backoff's exponential generator with full jitter; a server's
``Retry-After`` replaces the computed wait. The decision is a plain object the
client consults after each failed attempt (rather than ``backoff.on_exception``
wrapping the call) because it depends on the request (a create-order may only be
resent when it provably never arrived), one deadline bounds the whole call, and
the successful first attempt, the common case, must cost nothing here.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import backoff

from digipix_async._config import RetryPolicy
from digipix_async._errors import APIConnectionError, APIStatusError, DigipixError
from digipix_async._log import log
from digipix_async._sansio import Request, RetrySafety, unknown_outcome

__all__ = [
    "Retries",
    "is_transient",
    "pause",
    "pause_asked",
    "set_testing",
    "waits_enabled",
]

_TRANSIENT_STATUSES = frozenset({429, 502, 503, 504})
_waits_enabled = True


def set_testing(enabled: bool) -> None:
    """Make every retry wait zero (tests of retry logic then run in milliseconds).

    The wait that would have been slept is still computed and logged (the WARNING
    record's ``retry_wait``), so tests can check that ``Retry-After`` was honoured.
    """
    global _waits_enabled  # a process-wide switch, like stamina's
    _waits_enabled = not enabled


def waits_enabled() -> bool:
    """Tell whether waits are real (False in testing mode, see `set_testing`)."""
    return _waits_enabled


async def pause(seconds: float) -> None:
    """Sleep before the next attempt (not at all in testing mode)."""
    if _waits_enabled:
        await asyncio.sleep(seconds)


#: The answers whose Retry-After pauses the whole client, not just the call.
_PAUSING_STATUSES = frozenset({429, 503})


def pause_asked(error: APIStatusError) -> float | None:
    """Return the seconds ``error`` asks the whole client to pause, or None.

    A 429 or 503 with ``Retry-After`` speaks of the server's state, not of one
    request: every request of the client (and of its fleet) waits it out.
    """
    if error.retry_after is not None and error.status in _PAUSING_STATUSES:
        return error.retry_after
    return None


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


class Retries:
    """The retry budget of one call, consulted after each failed attempt.

    ``deadline`` is on the ``time.monotonic`` clock.
    """

    def __init__(self, policy: RetryPolicy, request: Request, deadline: float) -> None:
        self._policy = policy
        self._request = request
        self._deadline = deadline
        self._waits: Iterator[float] | None = None

    def after(
        self, error: APIConnectionError | APIStatusError, number: int
    ) -> float | DigipixError:
        """Return what follows failed attempt ``number``: seconds to wait, or the final error.

        The final error is ``error`` itself, or `OrderOutcomeUnknownError` wrapping
        it when the request may have created an order anyway.
        """
        delay = self.delay_after(error, number)
        if delay is not None:
            return delay
        return unknown_outcome(self._request, error) or error

    def delay_after(self, error: APIConnectionError | APIStatusError, number: int) -> float | None:
        """Return the seconds to wait before attempt ``number + 1``, or None to give up.

        Either way ``error`` now carries the number of attempts made.
        """
        error.attempts = number
        if number > self._policy.max_retries or not is_transient(error, self._request.retry):
            return None
        retry_after = getattr(error, "retry_after", None)
        if retry_after is not None:
            if retry_after > self._policy.max_retry_after:
                return None  # minutes of sleep help nobody; the caller sees retry_after
            # "Retry-After: 0" or a date already past is no reason to hammer the server.
            delay = max(float(retry_after), self._policy.initial_wait)
        else:
            if self._waits is None:
                self._waits = backoff.expo(
                    base=2, factor=self._policy.initial_wait, max_value=self._policy.max_wait
                )
                next(self._waits)  # backoff's generators start with a bare `yield`
            delay = float(backoff.full_jitter(next(self._waits)))
        if time.monotonic() + delay >= self._deadline:
            return None
        request = self._request
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
        return delay


def _reason(error: DigipixError) -> str:
    if isinstance(error, APIStatusError):
        return f"status {error.status}"
    return type(error).__name__
