"""The access token: its state, and the single-flight refresher shared by every call.

A token has three phases on the monotonic clock, measured from when its request
was *sent* (so a slow token response cannot make us overestimate its life):

- fresh: used as is;
- early window (``refresh_at`` .. ``must_refresh_at``): still used, while one
  background refresh runs, so no caller stalls;
- late window (``must_refresh_at`` .. expiry) and after: callers wait for the refresh.

Both windows scale with the token's lifetime and never exceed half of it, so a
short-lived token is not refreshed on every call.

Single flight: one shared ``asyncio.Task`` fetches the token, and every caller
awaits it through ``asyncio.shield``. A waiter that is cancelled (or times out)
stops waiting, but the fetch goes on for the others. This replaces the usual
lock-and-recheck: with a lock, the fetch would run inside the first waiter and
die with it. The task is created with no await between the check and the
creation, so two callers can never start two fetches.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable

import attrs

from digipix_async._errors import APIConnectionError
from digipix_async._log import log
from digipix_async._sansio import TokenGrant

__all__ = ["AccessToken", "TokenRefresher"]


# At most this long before expiry for a 1-hour token; proportionally less for short ones.
_EARLY_WINDOW = 300.0
_LATE_WINDOW = 30.0


@attrs.frozen
class AccessToken:
    """A token and the moments (monotonic seconds) that bound its phases."""

    value: str = attrs.field(repr=False)
    lifetime: float
    refresh_at: float
    must_refresh_at: float
    expires_at: float

    @classmethod
    def from_grant(cls, grant: TokenGrant, *, sent_at: float) -> AccessToken:
        """Place a granted token on the clock, counting from when it was requested."""
        lifetime = max(grant.expires_in, 0.0)
        early = min(_EARLY_WINDOW, lifetime / 2)
        late = min(_LATE_WINDOW, lifetime / 10)
        expires_at = sent_at + lifetime
        return cls(
            value=grant.access_token,
            lifetime=lifetime,
            refresh_at=expires_at - early,
            must_refresh_at=expires_at - late,
            expires_at=expires_at,
        )


class TokenRefresher:
    """Hand out a valid access token to any number of concurrent callers.

    ``fetch`` performs one token request (with its own retries); ``clock`` is
    injectable so tests can move time.
    """

    def __init__(
        self,
        fetch: Callable[[], Awaitable[TokenGrant]],
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fetch = fetch
        self._clock = clock
        self._current: AccessToken | None = None
        self._inflight: asyncio.Task[AccessToken] | None = None
        self._background_failed_at = -math.inf

    def __repr__(self) -> str:
        state = "none" if self._current is None else "held"
        return f"<TokenRefresher token={state} refreshing={self._inflight is not None}>"

    def held(self) -> str | None:
        """Return the token held now, whatever its phase (the one a refresh replaces)."""
        return self._current.value if self._current is not None else None

    def forget_refresh(self) -> None:
        """Drop a refresh started in an event loop that is gone; the token is kept."""
        self._inflight = None

    def usable(self) -> str | None:
        """Return the current token if callers may use it now, else None (no waiting).

        In the early window this starts the background refresh and still answers.
        The hot path of every call: no await, no allocation.
        """
        current = self._current
        if current is None:
            return None
        now = self._clock()
        if now < current.refresh_at:
            return current.value
        if now < current.must_refresh_at:
            self._refresh_in_background(current, now)
            return current.value
        return None

    async def token(self) -> str:
        """Return a token that is valid now, waiting for a refresh only when needed.

        Bound the wait with ``asyncio.timeout``: giving up stops only this caller.
        """
        value = self.usable()
        if value is not None:
            return value
        task = self._start_fetch()
        try:
            # shield: a waiter giving up must not cancel the fetch the others wait for.
            return (await asyncio.shield(task)).value
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if task.cancelled() and current is not None and not current.cancelling():
                # The fetch was cancelled by aclose(), not this caller: a cancellation
                # nobody asked for must not leak into the caller's task.
                raise APIConnectionError(
                    "the client was closed while this call waited for a token",
                    request_sent=False,
                    attempts=0,
                ) from None
            raise

    def invalidate(self, value: str) -> None:
        """Forget the token ``value`` after a 401, unless a newer one already replaced it."""
        if self._current is not None and self._current.value == value:
            self._current = None

    async def aclose(self) -> None:
        """Cancel a refresh in flight and wait for it to end."""
        task, self._inflight = self._inflight, None
        if task is not None and not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        self._current = None

    def _refresh_in_background(self, current: AccessToken, now: float) -> None:
        # After a failed background refresh, pause before the next try: every call in
        # the early window would otherwise hit a failing token endpoint again.
        if now - self._background_failed_at < max(1.0, current.lifetime / 100):
            return
        self._start_fetch()

    def _start_fetch(self) -> asyncio.Task[AccessToken]:
        if self._inflight is None:
            self._inflight = asyncio.create_task(self._fetch_and_store())
            self._inflight.add_done_callback(self._fetch_done)
        return self._inflight

    async def _fetch_and_store(self) -> AccessToken:
        sent_at = self._clock()
        grant = await self._fetch()
        token = AccessToken.from_grant(grant, sent_at=sent_at)
        self._current = token
        return token

    def _fetch_done(self, task: asyncio.Task[AccessToken]) -> None:
        if self._inflight is task:
            self._inflight = None
        if task.cancelled():
            return
        error = task.exception()  # retrieved here, so no "never retrieved" warning
        if error is not None:
            self._background_failed_at = self._clock()
            log.warning("token refresh failed: %s", error)
