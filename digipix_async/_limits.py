"""The client as one well-mannered caller: a shared pause after a 429, and ``rate_limit``.

A 429 (or 503) with ``Retry-After`` pauses the whole client, not just the call
that saw it: no request leaves before the moment the server named. A call whose
deadline ends before that moment fails at once with `RateLimitError` (carrying
``retry_after``) instead of sending a request the server already refused.
``rate_limit=N`` keeps the client at or below N requests a second: a token
bucket holding up to N tokens (bursts up to N), refilled at N a second.

Where the pause and the budget live is the store's business (`stores`): with
none, they live here, in the process; with a `Store` (a `RedisStore` shared by a
fleet), in it: then every request asks the store first (one round trip). The hot
path of a call with neither a rate limit nor a store nor a pause in force is one
attribute test (`Gate.engaged`).
"""

from __future__ import annotations

import asyncio
import time

from digipix_async._errors import RateLimitError
from digipix_async._retry import waits_enabled
from digipix_async._sansio import Request
from digipix_async.stores import Store
from digipix_async.stores._memory import refill

__all__ = ["Gate"]


class Gate:
    """Hold a client's requests back while paused or over budget."""

    def __init__(
        self,
        *,
        rate_limit: float | None,
        store: Store | None,
        namespace: str,
    ) -> None:
        if rate_limit is not None and (
            isinstance(rate_limit, bool)
            or not isinstance(rate_limit, int | float)
            or not 0 < rate_limit < 1e6
        ):
            raise ValueError(f"rate_limit must be requests per second > 0, got {rate_limit!r}")
        self._rate = float(rate_limit) if rate_limit is not None else None
        self._store = store
        self._namespace = namespace
        # Epoch seconds: a pause is a moment the server named, shared across machines.
        self._paused_until = 0.0
        # The local bucket (no store): tokens and when they were counted (monotonic).
        self._tokens = max(1.0, self._rate) if self._rate is not None else 0.0
        self._counted_at = time.monotonic()
        #: True when a request may have to wait here; False makes `wait` unnecessary.
        self.engaged = self._rate is not None or store is not None

    @property
    def paused_until(self) -> float:
        """The epoch moment this client's pause ends (0.0: none known)."""
        return self._paused_until

    async def pause(self, seconds: float) -> None:
        """Pause every request of this client (and its fleet) for ``seconds`` from now."""
        until = time.time() + seconds
        if until > self._paused_until:
            self._paused_until = until
            self.engaged = True
        if self._store is not None:
            await self._store.pause_until(self._namespace, until)

    async def wait(self, request: Request, deadline: float, attempts: int) -> float:
        """Wait until ``request`` may go; `RateLimitError` if that is past ``deadline``.

        ``deadline`` is on the monotonic clock; ``attempts`` is how many requests
        the call has sent so far (for the error). Returns the seconds waited.
        """
        if not waits_enabled():
            return 0.0  # testing mode: the pause was decided (and logged), not slept
        waited = 0.0
        while True:
            # The pause first: a rate token taken during a pause would be wasted.
            delay = await self._pause_left()
            if delay <= 0:
                delay = await self._take_token()
            if delay <= 0:
                if self._rate is None and self._store is None:
                    self.engaged = False  # the pause is over; back to the fast path
                return waited
            if time.monotonic() + delay > deadline:
                raise RateLimitError(
                    f"the client may send its next request in {delay:.2f} s (a server's "
                    "Retry-After or rate_limit), beyond this call's deadline; nothing was sent",
                    status=429,
                    method=request.method,
                    path=request.path,
                    attempts=attempts,
                    retry_after=delay,
                )
            await asyncio.sleep(delay)
            waited += delay

    async def _pause_left(self) -> float:
        if self._store is not None:
            # Asked before every request: a peer's 429 must hold this process back
            # from its very next request (one round trip to the store, the price of
            # sharing a pause).
            shared = await self._store.paused_until(self._namespace)
            self._paused_until = max(self._paused_until, shared)
        return self._paused_until - time.time()

    async def _take_token(self) -> float:
        rate = self._rate
        if rate is None:
            return 0.0
        # Bursts up to N, and at least one request (rate_limit=0.5: one every 2 s).
        burst = max(1.0, rate)
        if self._store is not None:
            return await self._store.take_rate_token(self._namespace, rate, burst)
        now = time.monotonic()
        self._tokens, delay = refill(self._tokens, self._counted_at, now, rate, burst)
        self._counted_at = now
        return delay
