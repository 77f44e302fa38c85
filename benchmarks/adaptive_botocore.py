"""botocore's "adaptive" retry mode, written again from its description, for asyncio.

The anchor issue 13 asks us to beat. What botocore does (``botocore/retries/adaptive.py``,
``throttling.py``, ``bucket.py``, ``standard.py``; the algorithm, not its code):

- **A client-side token bucket** (`SendBucket`) that every request must take a token
  from, but only once the client has been throttled at least once (before that,
  requests go unhindered). Its fill rate is the "max rate"; its capacity equals the
  rate (at least 1); the rate never drops below 0.5 requests a second.
- **The measured send rate** (`RateClocker`): requests are counted in half-second
  buckets; when a bucket ends, the rate it saw is smoothed into the measurement,
  ``0.8 * new + 0.2 * old``.
- **CUBIC** (`CubicCalculator`, from TCP CUBIC): on a throttle, the rate the client
  was sending at becomes ``w_max`` (the measured rate, or the bucket's rate if lower),
  the new rate is ``0.7 * w_max``, and ``k = cbrt(w_max * (1 - 0.7) / 0.4)`` is how
  many seconds the curve takes to climb back to ``w_max``. On every success the rate
  is ``0.4 * (t - last_throttle - k) ** 3 + w_max``: fast growth far below the last
  maximum, flat near it, then probing beyond it.
- After every answer the bucket's rate becomes ``min(new_rate, 2 * measured_rate)``.
- **Retries** are the "standard" mode's: 3 attempts in all; a wait of
  ``random() * min(2 ** (attempt - 1), 20)`` seconds; a retry quota of 500 units of
  which each retry takes 5 (a throttle or an error) and a success gives 1 back (or
  what its own retry took). ``Retry-After`` is not read (only newer versions read
  AWS's own ``x-amz-retry-after``).

`BotocoreAdaptive.call` wraps one SDK call in all of that. The benchmark gives it a
client with ``max_retries=0`` whose transport hides ``Retry-After`` (`HideRetryAfter`),
so nothing of our own pause or retries helps it: what is measured is botocore's
algorithm driving our ``quotes.create``.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

from multidict import CIMultiDict

from digipix_async import RateLimitError

T = TypeVar("T")

# The constants of botocore's description.
SCALE_CONSTANT = 0.4  # CUBIC's C
BETA = 0.7  # the share of the rate kept after a throttle
SMOOTHING = 0.8  # weight of the newest half-second in the measured rate
TIME_BUCKET = 0.5  # seconds per measurement bucket
MIN_RATE = 0.5  # requests per second, the bucket's floor
MAX_RATE_SCALE = 2.0  # the rate never exceeds twice what was measured
MAX_ATTEMPTS = 3
MAX_BACKOFF = 20.0
QUOTA = 500
RETRY_COST = 5
NO_RETRY_INCREMENT = 1


class CubicCalculator:
    """The CUBIC rate curve: where the rate is ``t`` seconds after the last throttle."""

    def __init__(self, start_time: float, starting_max_rate: float = 0.0) -> None:
        self.w_max = starting_max_rate
        self.last_throttle = start_time
        self.k = self._zero_point()

    def _zero_point(self) -> float:
        return float((self.w_max * (1 - BETA) / SCALE_CONSTANT) ** (1 / 3))

    def success(self, now: float) -> float:
        """Return the rate the curve allows at ``now``."""
        return SCALE_CONSTANT * (now - self.last_throttle - self.k) ** 3 + self.w_max

    def throttled(self, rate: float, now: float) -> float:
        """Record a throttle while sending at ``rate``; return the reduced rate."""
        self.w_max = rate
        self.k = self._zero_point()
        self.last_throttle = now
        return rate * BETA


class RateClocker:
    """The client's own send rate, measured per half second and smoothed."""

    def __init__(self, now: float) -> None:
        self.rate = 0.0
        self._count = 0
        self._last_bucket = float(math.floor(now))

    def record(self, now: float) -> float:
        """Count one answer at ``now``; return the measured rate."""
        bucket = math.floor(now / TIME_BUCKET) * TIME_BUCKET
        self._count += 1
        if bucket > self._last_bucket:
            current = self._count / (bucket - self._last_bucket)
            self.rate = current * SMOOTHING + self.rate * (1 - SMOOTHING)
            self._count = 0
            self._last_bucket = bucket
        return self.rate


class SendBucket:
    """The client-side token bucket: ``rate`` tokens a second, holding at most ``rate``."""

    def __init__(self, rate: float, now: float) -> None:
        self._fill = max(rate, MIN_RATE)
        self._capacity = max(rate, 1.0)
        self._tokens = 0.0
        self._stamp = now
        self._turn = asyncio.Lock()  # waiters queue up in order, as threads on a lock do

    @property
    def rate(self) -> float:
        """Return the fill rate (requests a second)."""
        return self._fill

    def _refill(self, now: float) -> None:
        self._tokens = min(self._capacity, self._tokens + (now - self._stamp) * self._fill)
        self._stamp = now

    def set_rate(self, rate: float, now: float) -> None:
        """Change the rate; tokens earned so far are counted at the old one."""
        self._refill(now)
        self._fill = max(rate, MIN_RATE)
        self._capacity = max(rate, 1.0)
        self._tokens = min(self._tokens, self._capacity)

    async def take(self) -> None:
        """Wait for one token and take it."""
        async with self._turn:
            while True:
                now = time.monotonic()
                self._refill(now)
                if self._tokens >= 1.0:
                    self._tokens -= 1.0
                    return
                # Short naps: a rate raised meanwhile is seen within 0.1 s, as
                # botocore's condition variable is notified of a new rate.
                await asyncio.sleep(min((1.0 - self._tokens) / self._fill, 0.1))


class BotocoreAdaptive:
    """botocore's adaptive mode around any coroutine call (see the module docstring)."""

    def __init__(
        self,
        *,
        is_throttle: Callable[[BaseException], bool] = lambda e: isinstance(e, RateLimitError),
        max_attempts: int = MAX_ATTEMPTS,
        rng: random.Random | None = None,
    ) -> None:
        now = time.monotonic()
        self.enabled = False
        self.cubic = CubicCalculator(now)
        self.clocker = RateClocker(now)
        self.bucket = SendBucket(1.0, now)
        self.quota = QUOTA
        self.max_attempts = max_attempts
        self._is_throttle = is_throttle
        self._random = rng or random.Random()
        #: Counters for the report: throttles seen, retries made, calls given up.
        self.throttles = 0
        self.retries = 0
        self.quota_refusals = 0
        self.lowest_rate: float | None = None

    def _answered(self, throttled: bool) -> None:
        """Botocore's ``on_receiving_response``: follow CUBIC after every answer."""
        now = time.monotonic()
        measured = self.clocker.record(now)
        if throttled:
            self.throttles += 1
            rate = measured if not self.enabled else min(measured, self.bucket.rate)
            new_rate = self.cubic.throttled(rate, now)
            self.enabled = True
        else:
            new_rate = self.cubic.success(now)
        self.bucket.set_rate(min(new_rate, MAX_RATE_SCALE * measured), now)
        if self.enabled:
            rate = self.bucket.rate
            self.lowest_rate = rate if self.lowest_rate is None else min(self.lowest_rate, rate)

    async def call(self, function: Callable[..., Awaitable[T]], kwargs: Mapping[str, Any]) -> T:
        """Call ``function(**kwargs)`` as botocore would: bucket, CUBIC, standard retries."""
        attempt = 1
        took = 0  # quota held by this call's last retry
        while True:
            if self.enabled:
                await self.bucket.take()
            try:
                result = await function(**kwargs)
            except Exception as error:
                throttled = self._is_throttle(error)
                self._answered(throttled)
                if not throttled or attempt >= self.max_attempts:
                    raise
                if self.quota < RETRY_COST:
                    self.quota_refusals += 1
                    raise
                self.quota -= RETRY_COST
                took = RETRY_COST
                self.retries += 1
                await asyncio.sleep(self._random.random() * min(2 ** (attempt - 1), MAX_BACKOFF))
                attempt += 1
                continue
            self._answered(False)
            self.quota = min(QUOTA, self.quota + (took or NO_RETRY_INCREMENT))
            return result


class HideRetryAfter:
    """A transport that drops ``Retry-After`` from every answer (botocore does not read it).

    Wraps any transport of the SDK's protocol (``send``, ``aclose``); without the
    header a 429 neither pauses the client nor sets its retry wait.
    """

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    async def send(self, method: str, url: str, **options: Any) -> Any:
        response = await self._inner.send(method, url, **options)
        if "Retry-After" in response.headers:
            headers = CIMultiDict(
                (k, v) for k, v in response.headers.items() if k.lower() != "retry-after"
            )
            return response._replace(headers=headers)
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()
