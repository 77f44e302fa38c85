"""AIMD: how many calls of a bulk job may be in flight, following the server's 429s."""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["AdaptiveWindow"]


class AdaptiveWindow:
    """The number of calls a bulk job may have in flight, between 1 and ``maximum``.

    Additive increase, multiplicative decrease, as TCP does with its congestion
    window: a throttled call (a 429 the client saw while retrying, or a call that
    ended in `RateLimitError`) halves the window; every full window of successes
    without one grows it by one, back up to ``maximum``.

    Like TCP it begins with a slow start: ``INITIAL`` calls, doubled by every
    window of successes until the first throttle. A job of ``concurrency=64``
    against a server that serves 4 at once would otherwise open with 60 refusals;
    against a server with room it reaches 64 after 8 + 16 + 32 calls.

    The calls already in flight when the window shrank met the same overload, so
    their throttles do not halve it again: after a decrease the next ``in_flight``
    completions may only keep it where it is (once per round trip, as TCP does).

    ``throttle_count`` returns how many 429 answers the client has seen so far; it
    catches the 429s that the client's own retries absorbed, which never reach the
    bulk job as errors but tell as clearly that the server is at its limit.
    """

    INITIAL = 8

    def __init__(self, maximum: int, throttle_count: Callable[[], int] | None = None) -> None:
        self.maximum = maximum
        self.size = min(maximum, self.INITIAL)
        self._slow_start = True
        self._count = throttle_count
        self._seen = throttle_count() if throttle_count is not None else 0
        self._successes = 0
        self._hold = 0  # completions still to come from calls sent before the last decrease

    def __repr__(self) -> str:
        return f"<AdaptiveWindow {self.size}/{self.maximum}>"

    def observe(self, *, throttled: bool, in_flight: int) -> None:
        """Account for one finished call; ``in_flight`` counts the calls still running."""
        if self._count is not None:
            count = self._count()
            throttled = throttled or count > self._seen
            self._seen = count
        holding = self._hold > 0
        if holding:
            self._hold -= 1
        if throttled:
            self._successes = 0
            self._slow_start = False
            if not holding:
                self.size = max(1, self.size // 2)
                self._hold = in_flight
            return
        self._successes += 1
        if self._successes >= self.size and self.size < self.maximum:
            grown = self.size * 2 if self._slow_start else self.size + 1
            self.size = min(grown, self.maximum)
            self._successes = 0
