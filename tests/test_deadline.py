"""Shared-timer deadlines: they fire on time, never early, and leave no cancellation behind."""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from digipix_async._deadline import RESOLUTION, DeadlineExceeded, Deadlines


async def test_a_block_outliving_its_deadline_ends_with_deadline_exceeded() -> None:
    deadlines = Deadlines()
    started = time.monotonic()
    with pytest.raises(DeadlineExceeded), deadlines.guard(started + 0.1):
        await asyncio.sleep(5)
    elapsed = time.monotonic() - started
    assert 0.1 <= elapsed < 0.1 + RESOLUTION + 0.1  # never early, at most a slot late
    # Our cancellation was withdrawn: the task goes on as if nothing happened.
    task = asyncio.current_task()
    assert task is not None
    assert task.cancelling() == 0
    await asyncio.sleep(0.01)


async def test_a_block_that_ends_in_time_is_left_alone() -> None:
    deadlines = Deadlines()
    with deadlines.guard(time.monotonic() + 0.05) as guard:
        await asyncio.sleep(0.01)
    assert not guard.expired
    assert deadlines.pending() == 0
    await asyncio.sleep(0.1)  # the slot's timer fires now and finds nobody to cancel


async def test_a_deadline_already_past_fires_at_the_next_await() -> None:
    deadlines = Deadlines()
    with pytest.raises(DeadlineExceeded), deadlines.guard(time.monotonic() - 1):
        await asyncio.sleep(1)


async def test_the_calls_of_one_slot_share_one_timer() -> None:
    deadlines = Deadlines(resolution=1.0)
    loop = asyncio.get_running_loop()
    timers_before = len(loop._scheduled)  # type: ignore[attr-defined]
    deadline = (int(time.monotonic()) + 3) * 1.0 - 0.5  # mid-slot, well ahead
    release = asyncio.Event()

    async def call() -> None:
        with deadlines.guard(deadline):
            await release.wait()

    tasks = [asyncio.create_task(call()) for _ in range(1000)]
    await asyncio.sleep(0)
    assert deadlines.pending() == 1000
    assert len(loop._scheduled) - timers_before == 1  # type: ignore[attr-defined]
    release.set()
    await asyncio.gather(*tasks)
    assert deadlines.pending() == 0


async def test_many_calls_expire_together_and_each_gets_deadline_exceeded() -> None:
    deadlines = Deadlines()
    deadline = time.monotonic() + 0.05

    async def call() -> str:
        try:
            with deadlines.guard(deadline):
                await asyncio.sleep(5)
        except DeadlineExceeded:
            return "timed out"
        return "finished"

    assert await asyncio.gather(*(call() for _ in range(200))) == ["timed out"] * 200
    assert deadlines.pending() == 0


async def test_a_cancellation_from_outside_passes_through() -> None:
    deadlines = Deadlines()

    async def call() -> None:
        with deadlines.guard(time.monotonic() + 5):
            await asyncio.sleep(5)

    task = asyncio.create_task(call())
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert deadlines.pending() == 0


async def test_an_outside_cancellation_at_the_deadline_wins() -> None:
    deadlines = Deadlines()
    entered = asyncio.Event()

    async def call() -> None:
        with deadlines.guard(time.monotonic() + 0.05):
            entered.set()
            try:
                await asyncio.sleep(5)
            finally:
                # Cancelled by the deadline; the owner cancels too before we leave.
                task.cancel()
                await asyncio.sleep(0)

    task = asyncio.create_task(call())
    await entered.wait()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_an_inner_timeout_that_fires_first_is_its_own() -> None:
    deadlines = Deadlines()
    with deadlines.guard(time.monotonic() + 5), pytest.raises(TimeoutError):
        async with asyncio.timeout(0.01):
            await asyncio.sleep(1)
    assert deadlines.pending() == 0


def test_a_guard_needs_a_running_task() -> None:
    with pytest.raises(RuntimeError, match="running"), Deadlines().guard(1.0):
        pass


async def _guard_holds_the_current_task(deadlines: Deadlines) -> bool:
    with deadlines.guard(time.monotonic() + 5) as guard:
        await asyncio.sleep(0)
    return guard._task is asyncio.current_task()


def test_a_guard_finds_its_own_task_in_each_new_loop() -> None:
    deadlines = Deadlines()
    for _ in range(2):
        assert asyncio.run(_guard_holds_the_current_task(deadlines))


async def test_a_guard_finds_its_own_task_in_another_threads_loop() -> None:
    deadlines = Deadlines()
    assert await _guard_holds_the_current_task(deadlines)  # remembers this loop
    # This task is still running here (blocked) while the other thread's guard looks
    # for its own task: it must not take this one.
    with ThreadPoolExecutor(1) as pool:
        other = pool.submit(asyncio.run, _guard_holds_the_current_task(deadlines))
        assert other.result(timeout=5)
