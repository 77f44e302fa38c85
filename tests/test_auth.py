"""The token refresher without sockets: a fake fetch and a clock the test moves."""

from __future__ import annotations

import asyncio

import pytest

from digipix_async._auth import AccessToken, TokenRefresher
from digipix_async._errors import APIConnectionError, AuthenticationError
from digipix_async._sansio import TokenGrant


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class FakeTokenEndpoint:
    """Counts token requests; each answers after `delay` with a new token."""

    def __init__(self, lifetime: float = 3600.0, delay: float = 0.01) -> None:
        self.requests = 0
        self.lifetime = lifetime
        self.delay = delay
        self.fail_with: Exception | None = None

    async def __call__(self) -> TokenGrant:
        self.requests += 1
        number = self.requests
        await asyncio.sleep(self.delay)
        if self.fail_with is not None:
            raise self.fail_with
        return TokenGrant(f"token-{number}", self.lifetime)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def endpoint() -> FakeTokenEndpoint:
    return FakeTokenEndpoint()


@pytest.fixture
async def refresher(endpoint: FakeTokenEndpoint, clock: FakeClock):
    refresher = TokenRefresher(endpoint, clock=clock)
    yield refresher
    await refresher.aclose()


async def test_500_concurrent_callers_on_a_cold_refresher_make_one_request(
    refresher: TokenRefresher, endpoint: FakeTokenEndpoint
) -> None:
    tokens = await asyncio.gather(*(refresher.token() for _ in range(500)))

    assert endpoint.requests == 1
    assert set(tokens) == {"token-1"}


async def test_a_fresh_token_is_reused_without_a_request(
    refresher: TokenRefresher, endpoint: FakeTokenEndpoint, clock: FakeClock
) -> None:
    await refresher.token()
    clock.now += 3000  # well before the early window (300 s before expiry)

    assert await refresher.token() == "token-1"
    assert endpoint.requests == 1


async def test_early_window_refreshes_in_background_without_stalling_callers(
    refresher: TokenRefresher, endpoint: FakeTokenEndpoint, clock: FakeClock
) -> None:
    await refresher.token()
    clock.now += 3600 - 200  # inside the early window, outside the late one
    endpoint.delay = 0.2

    # Callers get the still-valid token at once while one refresh runs behind them.
    tokens = await asyncio.wait_for(asyncio.gather(*(refresher.token() for _ in range(50))), 0.1)
    assert set(tokens) == {"token-1"}
    assert endpoint.requests == 2  # exactly one background refresh for 50 callers

    await asyncio.sleep(0.3)
    assert await refresher.token() == "token-2"
    assert endpoint.requests == 2


async def test_burst_after_expiry_makes_exactly_one_refresh(
    refresher: TokenRefresher, endpoint: FakeTokenEndpoint, clock: FakeClock
) -> None:
    await refresher.token()
    clock.now += 3601

    tokens = await asyncio.gather(*(refresher.token() for _ in range(500)))

    assert endpoint.requests == 2
    assert set(tokens) == {"token-2"}


async def test_late_window_makes_callers_wait_for_the_new_token(
    refresher: TokenRefresher, endpoint: FakeTokenEndpoint, clock: FakeClock
) -> None:
    await refresher.token()
    clock.now += 3600 - 10  # less than 30 s left: too close to expiry to use

    assert await refresher.token() == "token-2"


def test_windows_scale_with_short_lifetimes() -> None:
    token = AccessToken.from_grant(TokenGrant("t", 10.0), sent_at=100.0)

    assert token.expires_at == 110.0
    assert token.refresh_at == 105.0  # half the lifetime at most
    assert token.must_refresh_at == 109.0


async def test_a_short_lived_token_is_not_refreshed_on_every_call(
    endpoint: FakeTokenEndpoint, clock: FakeClock
) -> None:
    endpoint.lifetime = 2.0
    refresher = TokenRefresher(endpoint, clock=clock)
    try:
        for _ in range(100):
            await refresher.token()
            clock.now += 0.009  # 100 calls over 0.9 s of a 2 s token
        assert endpoint.requests == 1
    finally:
        await refresher.aclose()


async def test_expiry_counts_from_when_the_request_was_sent(
    endpoint: FakeTokenEndpoint, clock: FakeClock
) -> None:
    async def slow_grant() -> TokenGrant:
        clock.now += 100  # the token endpoint took 100 s to answer
        return TokenGrant("slow", 3600.0)

    refresher = TokenRefresher(slow_grant, clock=clock)
    await refresher.token()
    assert refresher._current is not None
    assert refresher._current.expires_at == 1000.0 + 3600.0
    await refresher.aclose()


async def test_invalidate_only_drops_the_token_that_failed(
    refresher: TokenRefresher, endpoint: FakeTokenEndpoint
) -> None:
    first = await refresher.token()
    refresher.invalidate("some-older-token")
    assert await refresher.token() == first  # a stale 401 must not force a refresh

    refresher.invalidate(first)
    assert await refresher.token() == "token-2"
    assert endpoint.requests == 2


async def test_many_401s_for_the_same_token_cause_one_refresh(
    refresher: TokenRefresher, endpoint: FakeTokenEndpoint
) -> None:
    failed = await refresher.token()

    async def on_401() -> str:
        refresher.invalidate(failed)
        return await refresher.token()

    tokens = await asyncio.gather(*(on_401() for _ in range(100)))

    assert set(tokens) == {"token-2"}
    assert endpoint.requests == 2


async def test_a_cancelled_waiter_does_not_cancel_the_fetch_for_the_others(
    refresher: TokenRefresher, endpoint: FakeTokenEndpoint
) -> None:
    endpoint.delay = 0.05
    first = asyncio.create_task(refresher.token())
    others = [asyncio.create_task(refresher.token()) for _ in range(10)]
    await asyncio.sleep(0.01)

    first.cancel()
    tokens = await asyncio.gather(*others)

    assert set(tokens) == {"token-1"}
    assert endpoint.requests == 1
    with pytest.raises(asyncio.CancelledError):
        await first


async def test_a_waiter_timeout_leaves_the_fetch_running(
    refresher: TokenRefresher, endpoint: FakeTokenEndpoint
) -> None:
    endpoint.delay = 0.1
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(refresher.token(), 0.01)

    assert await refresher.token() == "token-1"
    assert endpoint.requests == 1


async def test_a_failed_fetch_reaches_every_waiter_and_the_next_call_retries(
    refresher: TokenRefresher, endpoint: FakeTokenEndpoint
) -> None:
    endpoint.fail_with = AuthenticationError("bad credentials", status=401)
    results = await asyncio.gather(*(refresher.token() for _ in range(5)), return_exceptions=True)

    assert all(isinstance(result, AuthenticationError) for result in results)
    assert endpoint.requests == 1

    endpoint.fail_with = None
    assert await refresher.token() == "token-2"


async def test_a_failed_background_refresh_keeps_the_valid_token(
    refresher: TokenRefresher, endpoint: FakeTokenEndpoint, clock: FakeClock
) -> None:
    await refresher.token()
    clock.now += 3600 - 200
    endpoint.fail_with = AuthenticationError("token endpoint down", status=401)

    assert await refresher.token() == "token-1"
    await asyncio.sleep(0.05)  # the background refresh fails; its error is retrieved
    assert await refresher.token() == "token-1"
    assert endpoint.requests == 2  # paced: no new attempt on every call


async def test_aclose_cancels_a_refresh_in_flight_and_waiters_get_a_clear_error(
    endpoint: FakeTokenEndpoint, clock: FakeClock
) -> None:
    endpoint.delay = 10
    refresher = TokenRefresher(endpoint, clock=clock)
    waiter = asyncio.create_task(refresher.token())
    await asyncio.sleep(0.01)

    await refresher.aclose()

    # Not a CancelledError: the waiter's task was never cancelled.
    with pytest.raises(APIConnectionError, match="closed while this call waited"):
        await waiter
    assert refresher._inflight is None


async def test_a_cancelled_waiter_still_sees_its_own_cancellation(
    endpoint: FakeTokenEndpoint, clock: FakeClock
) -> None:
    endpoint.delay = 10
    refresher = TokenRefresher(endpoint, clock=clock)
    waiter = asyncio.create_task(refresher.token())
    await asyncio.sleep(0.01)

    waiter.cancel()
    await refresher.aclose()

    with pytest.raises(asyncio.CancelledError):
        await waiter


def test_repr_never_shows_the_token() -> None:
    token = AccessToken.from_grant(TokenGrant("s3cr3t-token", 60.0), sent_at=0.0)
    assert "s3cr3t-token" not in repr(token)
    assert "s3cr3t-token" not in repr(TokenGrant("s3cr3t-token", 60.0))
