"""Limits a real API puts on its callers: a request rate per client and requests in flight.

``SandboxServer(rate_limit_rps=N)`` gives every client id a token bucket of N tokens that
refills at N per second (bursts up to N); ``max_concurrent=M`` serves at most M requests
at once. Beyond either, the answer is 429 with a ``Retry-After`` in whole seconds, as a
rate-limited API answers. Time is the event loop's monotonic clock, not `SandboxClock`:
tests jump the sandbox clock by days, and a rate budget must not refill by that jump.

The token endpoint is exempt from both: a real authorisation server limits it on its own
terms, and counting it into the API budget would make "one token request per fleet" tests
measure two things at once (arm a ``rate_limit`` fault on it to test a refused token).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Final

__all__ = ["Limits"]

_MAX_CLIENTS: Final = 1_000  # buckets kept; the sandbox has one client id, this is a guard


@dataclass
class _Bucket:
    tokens: float
    stamp: float


@dataclass
class Limits:
    """The limits of one sandbox, and what they refused so far (counters for tests).

    ``refused_rate``: 429s sent because a client's bucket was empty;
    ``refused_concurrent``: 429s sent because ``max_concurrent`` requests were in flight;
    ``in_flight`` / ``peak_in_flight``: API requests being served now / at most at once;
    ``accepted``: API requests let through; ``peak_rps``: the most accepted within one
    whole second of the loop clock (a cheap observed rate).
    """

    rate_limit_rps: float | None = None
    max_concurrent: int | None = None
    refused_rate: int = 0
    refused_concurrent: int = 0
    in_flight: int = 0
    peak_in_flight: int = 0
    accepted: int = 0
    peak_rps: int = 0
    _buckets: dict[str, _Bucket] = field(default_factory=dict, repr=False)
    _second: int = field(default=0, repr=False)
    _in_second: int = field(default=0, repr=False)

    def __post_init__(self) -> None:
        if self.rate_limit_rps is not None and not (
            math.isfinite(self.rate_limit_rps) and self.rate_limit_rps > 0
        ):
            raise ValueError(f"rate_limit_rps must be a positive number, got {self.rate_limit_rps}")
        if self.max_concurrent is not None and self.max_concurrent < 1:
            raise ValueError(f"max_concurrent must be at least 1, got {self.max_concurrent}")

    @property
    def refused(self) -> int:
        """Return how many 429s the limits sent, for either reason."""
        return self.refused_rate + self.refused_concurrent

    def retry_after_rate(self, client_id: str, now: float) -> int | None:
        """Take one token from `client_id`'s bucket; return None, or the seconds to wait."""
        rate = self.rate_limit_rps
        if rate is None:
            return None
        burst = max(1.0, rate)  # bursts up to N, and a rate under 1/s still lets one through
        bucket = self._buckets.get(client_id)
        if bucket is None:
            if len(self._buckets) >= _MAX_CLIENTS:
                self._buckets.pop(next(iter(self._buckets)))
            bucket = self._buckets[client_id] = _Bucket(tokens=burst, stamp=now)
        bucket.tokens = min(burst, bucket.tokens + (now - bucket.stamp) * rate)
        bucket.stamp = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return None
        self.refused_rate += 1
        # Whole seconds until one token is back, rounded up, never 0 (RFC 9110 delay-seconds).
        return max(1, math.ceil((1.0 - bucket.tokens) / rate))

    def enter(self) -> bool:
        """Count one API request in flight; False (and counted as refused) if over the cap."""
        if self.max_concurrent is not None and self.in_flight >= self.max_concurrent:
            self.refused_concurrent += 1
            return False
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        return True

    def leave(self) -> None:
        """Count one API request finished (answered, refused later, or hung up)."""
        self.in_flight -= 1

    def count_accepted(self, now: float) -> None:
        """Count one request let through, for ``accepted`` and ``peak_rps``."""
        self.accepted += 1
        second = int(now)
        if second != self._second:
            self._second, self._in_second = second, 0
        self._in_second += 1
        self.peak_rps = max(self.peak_rps, self._in_second)
