"""The `Store` protocol, held by both stores: MemoryStore and RedisStore on a real server."""

from __future__ import annotations

import asyncio
import math
import time

import pytest

from digipix_async.stores import MemoryStore, RedisStore, Store

NS = "0123456789abcdef0123456789abcdef"
OTHER_NS = "fedcba9876543210fedcba9876543210"


def test_both_stores_are_stores() -> None:
    assert isinstance(MemoryStore(), Store)
    assert issubclass(RedisStore, Store)


# -- token ------------------------------------------------------------------------------


async def test_no_token_at_first(store: Store) -> None:
    assert await store.get_token(NS) is None


async def test_a_token_is_read_back_with_its_expiry(store: Store) -> None:
    expires_at = time.time() + 3600
    await store.set_token(NS, "tok-1", expires_at)
    token, read_expiry = await store.get_token(NS) or ("", 0.0)
    assert token == "tok-1"
    # RedisStore reads the remaining life (ms) back on this machine's clock.
    assert read_expiry == pytest.approx(expires_at, abs=1.0)
    assert await store.get_token(OTHER_NS) is None


async def test_an_expired_token_is_not_stored(store: Store) -> None:
    await store.set_token(NS, "tok-1", time.time() - 1)
    assert await store.get_token(NS) is None


async def test_a_token_disappears_when_it_expires(store: Store) -> None:
    await store.set_token(NS, "tok-1", time.time() + 0.05)
    await asyncio.sleep(0.15)
    assert await store.get_token(NS) is None


async def test_a_newer_token_replaces_the_old(store: Store) -> None:
    await store.set_token(NS, "tok-1", time.time() + 3600)
    await store.set_token(NS, "tok-2", time.time() + 3600)
    assert (await store.get_token(NS) or ("",))[0] == "tok-2"


async def test_invalidate_forgets_the_token_that_failed(store: Store) -> None:
    await store.set_token(NS, "tok-1", time.time() + 3600)
    await store.invalidate_token(NS, "tok-1")
    assert await store.get_token(NS) is None


async def test_invalidate_with_a_stale_token_keeps_the_new_one(store: Store) -> None:
    # Worker A's call failed with tok-1 while worker B already stored tok-2.
    await store.set_token(NS, "tok-2", time.time() + 3600)
    await store.invalidate_token(NS, "tok-1")
    assert (await store.get_token(NS) or ("",))[0] == "tok-2"


# -- refresh lock -----------------------------------------------------------------------


async def test_one_of_fifty_concurrent_lockers_wins(store: Store) -> None:
    results = await asyncio.gather(
        *(store.acquire_refresh_lock(NS, f"owner-{i}", 30) for i in range(50))
    )
    assert results.count(True) == 1


async def test_the_lock_is_per_namespace(store: Store) -> None:
    assert await store.acquire_refresh_lock(NS, "a", 30)
    assert await store.acquire_refresh_lock(OTHER_NS, "b", 30)


async def test_release_by_another_owner_does_nothing(store: Store) -> None:
    assert await store.acquire_refresh_lock(NS, "owner-a", 30)
    await store.release_refresh_lock(NS, "owner-b")
    assert not await store.acquire_refresh_lock(NS, "owner-b", 30)
    await store.release_refresh_lock(NS, "owner-a")
    assert await store.acquire_refresh_lock(NS, "owner-b", 30)


async def test_a_lock_whose_owner_died_expires(store: Store) -> None:
    assert await store.acquire_refresh_lock(NS, "owner-a", 0.05)
    await asyncio.sleep(0.15)
    assert await store.acquire_refresh_lock(NS, "owner-b", 30)


# -- pause ------------------------------------------------------------------------------


async def test_no_pause_reads_zero(store: Store) -> None:
    assert await store.paused_until(NS) == 0.0


async def test_a_pause_is_read_back(store: Store) -> None:
    until = time.time() + 60
    await store.pause_until(NS, until)
    assert await store.paused_until(NS) == pytest.approx(until, abs=1.0)
    assert await store.paused_until(OTHER_NS) == 0.0


async def test_the_later_pause_wins_in_either_order(store: Store) -> None:
    now = time.time()
    await store.pause_until(NS, now + 60)
    await store.pause_until(NS, now + 5)
    assert await store.paused_until(NS) == pytest.approx(now + 60, abs=1.0)
    await store.pause_until(NS, now + 120)
    assert await store.paused_until(NS) == pytest.approx(now + 120, abs=1.0)


async def test_concurrent_pauses_keep_the_latest(store: Store) -> None:
    now = time.time()
    moments = [now + 10 + i for i in range(40)]
    await asyncio.gather(*(store.pause_until(NS, moment) for moment in reversed(moments)))
    assert await store.paused_until(NS) == pytest.approx(moments[-1], abs=1.0)


async def test_a_pause_in_the_past_is_no_pause(store: Store) -> None:
    await store.pause_until(NS, time.time() - 5)
    assert await store.paused_until(NS) == 0.0


async def test_a_pause_ends_by_itself(store: Store) -> None:
    await store.pause_until(NS, time.time() + 0.05)
    await asyncio.sleep(0.15)
    assert await store.paused_until(NS) == 0.0


# -- rate budget ------------------------------------------------------------------------


async def test_a_full_bucket_hands_out_burst_tokens_then_a_wait(store: Store) -> None:
    # A refill so slow that no token can come back during the test: exact counts.
    waits = [await store.take_rate_token(NS, 0.001, 5) for _ in range(7)]
    assert waits[:5] == [0.0] * 5
    assert all(wait > 0 for wait in waits[5:])
    # One token at 0.001/s is 1000 s away (minus the trickle since the first call).
    assert waits[5] == pytest.approx(1000, abs=5)


async def test_two_hundred_concurrent_takes_share_one_bucket(store: Store) -> None:
    started = time.monotonic()
    waits = await asyncio.gather(*(store.take_rate_token(NS, 20, 20) for _ in range(200)))
    elapsed = time.monotonic() - started
    taken = waits.count(0.0)
    # The burst, plus what 20/s refilled while the calls ran: never more.
    assert 20 <= taken <= 20 + math.floor(elapsed * 20)
    assert all(0 < wait <= 1 / 20 + 1e-9 for wait in waits if wait)


async def test_exactly_the_burst_under_concurrency(store: Store) -> None:
    waits = await asyncio.gather(*(store.take_rate_token(NS, 0.001, 20) for _ in range(200)))
    assert waits.count(0.0) == 20


async def test_the_bucket_refills_at_the_rate(store: Store) -> None:
    assert await store.take_rate_token(NS, 50, 1) == 0.0
    wait = await store.take_rate_token(NS, 50, 1)
    assert 0 < wait <= 1 / 50
    await asyncio.sleep(wait + 0.01)
    assert await store.take_rate_token(NS, 50, 1) == 0.0


async def test_a_rate_below_one_per_second_lets_one_request_go_at_a_time(store: Store) -> None:
    # rate_limit=0.5 with bursts "up to the rate": a burst below 1 counts as 1.
    assert await store.take_rate_token(NS, 0.5, 0.5) == 0.0
    assert 1.0 < await store.take_rate_token(NS, 0.5, 0.5) <= 2.0


async def test_buckets_are_per_namespace(store: Store) -> None:
    assert await store.take_rate_token(NS, 0.001, 1) == 0.0
    assert await store.take_rate_token(NS, 0.001, 1) > 0
    assert await store.take_rate_token(OTHER_NS, 0.001, 1) == 0.0


# -- webhook dedup ----------------------------------------------------------------------


async def test_a_notification_is_claimed_once(store: Store) -> None:
    answers = await asyncio.gather(
        *(store.claim_notification("order-1:shipped", pending_ttl=30) for _ in range(20))
    )
    assert sorted(answers) == ["claimed"] + ["pending"] * 19


async def test_a_finished_notification_reads_done(store: Store) -> None:
    assert await store.claim_notification("n1", pending_ttl=30) == "claimed"
    await store.finish_notification("n1", ttl=60)
    assert await store.claim_notification("n1", pending_ttl=30) == "done"
    await store.release_notification("n1")  # "done" stays: only a pending claim is dropped
    assert await store.claim_notification("n1", pending_ttl=30) == "done"


async def test_a_released_claim_can_be_claimed_again(store: Store) -> None:
    assert await store.claim_notification("n1", pending_ttl=30) == "claimed"
    await store.release_notification("n1")
    assert await store.claim_notification("n1", pending_ttl=30) == "claimed"


async def test_a_claim_whose_worker_died_expires(store: Store) -> None:
    assert await store.claim_notification("n1", pending_ttl=0.05) == "claimed"
    await asyncio.sleep(0.15)
    assert await store.claim_notification("n1", pending_ttl=30) == "claimed"


async def test_a_done_mark_expires_after_its_ttl(store: Store) -> None:
    await store.finish_notification("n1", ttl=0.05)
    await asyncio.sleep(0.15)
    assert await store.claim_notification("n1", pending_ttl=30) == "claimed"


# -- bad input: refused before anything is stored or sent ----------------------------------


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda s: s.get_token(""), "namespace"),
        (lambda s: s.set_token(NS, "", time.time() + 60), "token"),
        (lambda s: s.set_token(NS, "t", math.nan), "expires_at"),
        (lambda s: s.acquire_refresh_lock(NS, "o", 0), "ttl"),
        (lambda s: s.acquire_refresh_lock(NS, "", 5), "owner"),
        (lambda s: s.pause_until(NS, math.inf), "until"),
        (lambda s: s.take_rate_token(NS, 0, 5), "rate"),
        (lambda s: s.take_rate_token(NS, 5, 0), "burst"),
        (lambda s: s.claim_notification("k", pending_ttl=-1), "pending_ttl"),
        (lambda s: s.finish_notification("x" * 600, ttl=5), "key"),
    ],
)
async def test_bad_input_names_the_field(store: Store, call: object, field: str) -> None:
    with pytest.raises(ValueError, match=rf"^{field} "):
        await call(store)  # type: ignore[operator]


async def test_an_error_about_a_token_never_shows_it(store: Store) -> None:
    secret_looking = "x" * 20_000
    with pytest.raises(ValueError, match="token must be") as caught:
        await store.set_token(NS, secret_looking, time.time() + 60)
    assert "xxxx" not in str(caught.value)
