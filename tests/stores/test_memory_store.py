"""MemoryStore on a clock the test moves: the bucket's arithmetic, expiry, and its bound."""

from __future__ import annotations

import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from digipix_async.stores import MemoryStore
from digipix_async.stores._memory import refill

NS = "0123456789abcdef0123456789abcdef"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_the_bucket_refills_on_the_clock() -> None:
    clock = FakeClock()
    store = MemoryStore(clock=clock)
    assert [await store.take_rate_token(NS, 10, 3) for _ in range(3)] == [0.0] * 3
    assert await store.take_rate_token(NS, 10, 3) == pytest.approx(0.1)
    clock.now += 0.05  # half a token: still a wait, and for the other half only
    assert await store.take_rate_token(NS, 10, 3) == pytest.approx(0.05)
    clock.now += 0.05
    assert await store.take_rate_token(NS, 10, 3) == 0.0
    clock.now += 3600  # a long idle time refills up to the burst, not beyond
    assert [await store.take_rate_token(NS, 10, 3) for _ in range(4)][-1] > 0


@given(
    rate=st.floats(0.5, 100),
    burst=st.integers(1, 20),
    steps=st.lists(st.floats(0, 0.5), min_size=1, max_size=60),
)
def test_the_bucket_never_exceeds_burst_plus_refill(
    rate: float, burst: int, steps: list[float]
) -> None:
    tokens, at, now, taken = float(burst), 0.0, 0.0, 0
    for step in steps:
        now += step
        tokens, wait = refill(tokens, at, now, rate, burst)
        at = now
        if wait == 0.0:
            taken += 1
        else:
            # Waiting exactly what it says is enough (up to float rounding).
            assert refill(tokens, at, now + wait + 1e-9, rate, burst)[1] == 0.0
    # Each take may round up by a millionth of a token (see refill), never more.
    assert taken <= burst + rate * now + 1e-6 * len(steps)


def test_a_burst_below_one_still_fills_to_one_token() -> None:
    # Without the floor the bucket would stop at half a token and wait forever.
    tokens, wait = refill(0.0, 0.0, 100.0, 0.5, 0.5)
    assert (tokens, wait) == (0.0, 0.0)


def test_a_clock_that_goes_back_refills_nothing() -> None:
    assert refill(0.5, 10.0, 5.0, 100, 5) == (0.5, pytest.approx(0.005))


async def test_the_token_and_pause_follow_the_monotonic_clock() -> None:
    clock = FakeClock()
    store = MemoryStore(clock=clock, wall_clock=lambda: 50_000.0)
    await store.set_token(NS, "tok-1", 50_060.0)
    await store.pause_until(NS, 50_030.0)
    assert await store.get_token(NS) == ("tok-1", 50_060.0)
    assert await store.paused_until(NS) == 50_030.0
    clock.now += 31
    assert await store.paused_until(NS) == 0.0
    assert await store.get_token(NS) == ("tok-1", 50_060.0)
    clock.now += 30
    assert await store.get_token(NS) is None


async def test_the_store_is_bounded() -> None:
    store = MemoryStore(max_entries=10)
    for i in range(100):
        assert await store.claim_notification(f"n{i}", pending_ttl=60) == "claimed"
    await store.set_token(NS, "tok-1", time.time() + 60)
    assert "notifications=10" in repr(store)
    # The oldest marks went first; the newest and the client state are kept.
    assert await store.claim_notification("n99", pending_ttl=60) == "pending"
    assert await store.get_token(NS) is not None


async def test_repr_shows_no_token() -> None:
    store = MemoryStore()
    await store.set_token(NS, "tok-secret-value", time.time() + 60)
    assert "tok-secret-value" not in repr(store)


def test_a_bad_bound_is_refused() -> None:
    with pytest.raises(ValueError, match="max_entries"):
        MemoryStore(max_entries=0)
