"""Bulk helpers without HTTP: one result per input, bounded concurrency and reading."""

from __future__ import annotations

import asyncio
import collections
import gc
import weakref
from collections.abc import AsyncIterator, Coroutine, Iterator
from contextlib import aclosing
from typing import Any

import pytest

from digipix_async import RateLimitError
from digipix_async._sansio import Request
from digipix_async.resources._bulk import BulkResult, run_bulk
from digipix_async.resources._concurrency import AdaptiveWindow
from digipix_async.resources.quotes import Quotes


class Recorder:
    """A fake call that tracks how many run at once; fails for odd `n`."""

    def __init__(self) -> None:
        self.running = 0
        self.peak = 0
        self.started: list[int] = []
        self.cancelled = 0

    async def __call__(self, *, n: int, delay: float = 0.001) -> int:
        self.started.append(n)
        self.running += 1
        self.peak = max(self.peak, self.running)
        try:
            await asyncio.sleep(delay)
            if n % 2:
                raise ValueError(f"odd {n}")
            return n * 10
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        finally:
            self.running -= 1


def inputs(count: int, *, delay: float, kind: str = "sync", pause: float = 0.0) -> Any:
    """``count`` inputs that succeed (even ``n``), from a generator or an async one that
    awaits ``pause`` before each (a queue being fed)."""
    if kind == "sync":
        return ({"n": n * 2, "delay": delay} for n in range(count))

    async def fed() -> AsyncIterator[dict[str, Any]]:
        for n in range(count):
            await asyncio.sleep(pause)
            yield {"n": n * 2, "delay": delay}

    return fed()


async def collect(results: AsyncIterator[BulkResult[int]]) -> list[BulkResult[int]]:
    return [result async for result in results]


async def test_one_result_per_input_and_failures_do_not_abort() -> None:
    call = Recorder()

    results = await collect(run_bulk(call, ({"n": n} for n in range(50)), concurrency=8))

    assert sorted(result.index for result in results) == list(range(50))
    for result in results:
        if result.index % 2:
            assert not result.ok
            assert isinstance(result.error, ValueError)
            with pytest.raises(ValueError, match=f"input {result.index} failed"):
                _ = result.value
        else:
            assert result.ok
            assert result.value == result.index * 10
    assert call.peak == 8


async def test_an_async_source_is_read_only_as_slots_free_up() -> None:
    call = Recorder()
    produced: list[int] = []

    async def source() -> AsyncIterator[dict[str, Any]]:
        for n in range(1000):
            produced.append(n)
            yield {"n": n * 2, "delay": 0.001 if n == 0 else 10}

    async with aclosing(run_bulk(call, source(), concurrency=4)) as results:
        first = await anext(results)

    # Memory stays bounded by the concurrency, not by the length of the source.
    assert first.ok
    assert len(produced) <= 6
    assert call.cancelled >= 3  # closing early cancels what still runs
    assert call.running == 0


async def test_results_reach_the_consumer_as_calls_finish_not_when_the_source_ends() -> None:
    # A source that awaits between inputs (the CLI's reader does) while the calls finish
    # at once: the run must hand over results as they come, not read the whole source
    # first and hold every result until it ends (memory, progress, written-as-finished).
    call = Recorder()
    produced = 0
    ahead: list[int] = []  # inputs read but not yet consumed, at each consumption

    async def source() -> AsyncIterator[dict[str, Any]]:
        nonlocal produced
        for n in range(2000):
            produced += 1
            yield {"n": n * 2, "delay": 0}
            await asyncio.sleep(0)

    consumed = 0
    async with run_bulk(call, source(), concurrency=8) as results:
        async for _result in results:
            consumed += 1
            ahead.append(produced - consumed)
            await asyncio.sleep(0)  # the consumer writes its line

    assert consumed == 2000
    # Calls running plus results waiting never exceed the concurrency (+1 being read).
    assert max(ahead) <= 8 + 1, max(ahead)


@pytest.mark.parametrize("source_kind", ["sync", "async"])
async def test_calls_keep_running_while_a_slow_consumer_works_through_results(
    source_kind: str,
) -> None:
    # A consumer slower than the calls (a back office writing each order to its
    # database, a bot answering in a chat while orders come from a queue): taking a
    # result must start the next call at once, not only once every waiting result is
    # taken, or the calls run in bursts with idle gaps between them.
    call = Recorder()
    running_seen: list[int] = []

    source = inputs(120, delay=0.01, kind=source_kind)
    async with run_bulk(call, source, concurrency=8) as results:
        async for _result in results:
            running_seen.append(call.running)
            await asyncio.sleep(0.003)

    assert len(running_seen) == 120
    # Calls running while results are handed out; in bursts, most would see none.
    steady = running_seen[8:]
    assert sum(1 for running in steady if running == 0) <= len(steady) // 10, running_seen


async def test_a_source_that_breaks_raises_only_after_the_results_already_in() -> None:
    # Results that finished before the source broke are the consumer's: they must be
    # handed out first, then the source's error, not the error while they wait unread.
    call = Recorder()

    def breaking() -> Iterator[dict[str, Any]]:
        for n in range(4):
            yield {"n": n * 2, "delay": 0}
        raise OSError("the input file went away")

    got: list[int] = []

    async def consume() -> None:
        async with run_bulk(call, breaking(), concurrency=8) as results:
            async for result in results:
                got.append(result.index)
                await asyncio.sleep(0.01)  # every call has finished meanwhile

    with pytest.raises(OSError, match="went away"):
        await consume()
    assert sorted(got) == [0, 1, 2, 3]


async def test_a_consumer_timing_out_while_the_input_is_awaited_loses_no_input() -> None:
    # A bot polls its results with a timeout while its orders trickle in from a queue:
    # a timeout that lands while the run awaits the next input must not cancel (and so
    # end) the source, or the run would stop early and say nothing of the rest.
    call = Recorder()
    got: list[int] = []
    timeouts = 0
    results = run_bulk(call, inputs(6, delay=0, kind="async", pause=0.03), concurrency=4)
    async with results:
        while True:
            try:
                result = await asyncio.wait_for(anext(results), timeout=0.01)
            except TimeoutError:
                timeouts += 1
                continue
            except StopAsyncIteration:
                break
            got.append(result.index)

    assert timeouts > 0
    assert sorted(got) == list(range(6))


@pytest.mark.parametrize("source_kind", ["sync", "async"])
async def test_several_consumers_of_one_run_get_each_result_once(source_kind: str) -> None:
    # Workers sharing one run (async for in each): every input is called once, and
    # its result goes to exactly one worker; reads of an async source do not overlap.
    call = Recorder()
    got: collections.Counter[int] = collections.Counter()
    source = inputs(300, delay=0.001, kind=source_kind)
    async with run_bulk(call, source, concurrency=8) as results:

        async def worker() -> None:
            async for result in results:
                got[result.index] += 1
                await asyncio.sleep(0.001)

        await asyncio.gather(worker(), worker(), worker())

    assert sorted(got) == list(range(300))
    assert set(got.values()) == {1}
    assert collections.Counter(call.started) == collections.Counter(n * 2 for n in range(300))


def bad_inputs() -> Iterator[Any]:
    yield {"n": 2}
    yield "not a mapping"
    yield {"n": 4, "unexpected": True}


async def test_bad_inputs_become_error_results() -> None:
    results = await collect(run_bulk(Recorder(), bad_inputs(), concurrency=2))

    by_index = {result.index: result for result in results}
    assert by_index[0].value == 20
    assert isinstance(by_index[1].error, TypeError)
    assert "input 1 is str, not a mapping" in str(by_index[1].error)
    assert isinstance(by_index[2].error, TypeError)  # unexpected keyword argument


@pytest.mark.parametrize("concurrency", [0, -1, 1.5, True])
def test_concurrency_is_checked_at_once(concurrency: Any) -> None:
    with pytest.raises(ValueError, match="concurrency"):
        run_bulk(Recorder(), [], concurrency=concurrency)


async def test_cancelling_the_consumer_cancels_the_calls() -> None:
    call = Recorder()

    async def consume() -> None:
        async with aclosing(
            run_bulk(call, ({"n": 2, "delay": 10} for _ in range(20)), concurrency=5)
        ) as results:
            async for _ in results:
                pass

    task = asyncio.create_task(consume())
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    assert call.cancelled == 5
    assert call.running == 0


# -- adaptive concurrency (AIMD) ---------------------------------------------------------


class Capacity:
    """A fake call served at most ``capacity`` at a time, refusing the rest with 429."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.serving = 0
        self.refused = 0
        self.served: collections.Counter[int] = collections.Counter()

    async def __call__(self, *, n: int) -> int:
        if self.serving >= self.capacity:
            self.refused += 1
            raise RateLimitError("busy", status=429, retry_after=0)
        self.serving += 1
        try:
            await asyncio.sleep(0.001)
            self.served[n] += 1
            return n
        finally:
            self.serving -= 1


def test_the_window_starts_slow_and_doubles_until_the_first_throttle() -> None:
    window = AdaptiveWindow(64)

    assert window.size == 8
    for _ in range(8 + 16):
        window.observe(throttled=False, in_flight=0)
    assert window.size == 32
    for _ in range(32 + 64):
        window.observe(throttled=False, in_flight=0)
    assert window.size == 64  # never above the maximum
    window.observe(throttled=True, in_flight=63)
    assert window.size == 32
    for _ in range(32):  # slow start is over: one more per window of successes
        window.observe(throttled=False, in_flight=0)
    assert window.size == 33


def test_the_window_halves_once_per_round_and_grows_by_one_per_window() -> None:
    window = AdaptiveWindow(16)
    for _ in range(8):
        window.observe(throttled=False, in_flight=0)
    assert window.size == 16

    window.observe(throttled=True, in_flight=15)
    assert window.size == 8
    for _ in range(15):  # the calls already in flight met the same overload
        window.observe(throttled=True, in_flight=7)
    assert window.size == 8
    window.observe(throttled=True, in_flight=7)  # a new round: halve again
    assert window.size == 4
    for _ in range(10):
        window.observe(throttled=True, in_flight=0)
    assert window.size == 1  # never below one
    for _ in range(1 + 2 + 3):  # a window of successes each: 1 -> 2 -> 3 -> 4
        window.observe(throttled=False, in_flight=0)
    assert window.size == 4
    for _ in range(200):
        window.observe(throttled=False, in_flight=0)
    assert window.size == 16  # never above the maximum


def test_the_clients_count_of_429s_halves_the_window() -> None:
    seen = [0]
    window = AdaptiveWindow(8, lambda: seen[0])

    window.observe(throttled=False, in_flight=3)
    assert window.size == 8
    seen[0] += 2  # the client's retries absorbed two 429s: no call failed
    window.observe(throttled=False, in_flight=3)
    assert window.size == 4


async def test_a_job_converges_on_the_servers_capacity_and_no_input_fails() -> None:
    server = Capacity(4)

    results = await collect(run_bulk(server, ({"n": n} for n in range(300)), concurrency=32))

    assert all(result.ok for result in results)
    assert sorted(result.value for result in results) == list(range(300))
    assert set(server.served.values()) == {1}
    # A fixed window of 32 meets ~28 refusals per round of 4 (about 2,000 in all).
    assert server.refused < 100


async def test_an_input_refused_too_often_is_reported() -> None:
    async def always_busy(*, n: int) -> int:
        raise RateLimitError("busy", status=429, retry_after=0)

    results = await collect(run_bulk(always_busy, [{"n": 1}], concurrency=2, rate_limit_retries=3))

    assert [type(result.error) for result in results] == [RateLimitError]


async def test_inputs_put_back_during_a_pause_keep_the_rest_of_the_source_unread() -> None:
    # While the server pauses the client (every call refused at once with Retry-After),
    # each refusal must not free a slot for the next input: the whole source would be
    # read into memory, to be retried all at the same moment.
    read = 0

    def source() -> Iterator[dict[str, Any]]:
        nonlocal read
        for n in range(100_000):
            read += 1
            yield {"n": n}

    async def refused(n: int) -> int:
        raise RateLimitError("slow down", status=429, retry_after=5.0)

    results = run_bulk(refused, source(), concurrency=8)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(anext(results), timeout=0.3)
    await results.aclose()

    assert read <= 8 + 1, read


async def test_create_many_follows_the_clients_throttle_count() -> None:
    class Stub:
        """A client as resources see it: every call answers, and 429s were absorbed."""

        def __init__(self) -> None:
            self.throttled = 0

        def _throttle_count(self) -> int:
            return self.throttled

        def _call(self, request: Request, result_type: type[Any]) -> Coroutine[Any, Any, Any]:
            async def answer() -> Any:
                self.throttled += 1  # each call met (and survived) one 429
                await asyncio.sleep(0.001)
                return []

            return answer()

    quotes = Quotes(Stub())
    carts = [{"zip_code": "01311100", "items": [{"product_id": "p", "quantity": 1}]}] * 20

    async with quotes.create_many(carts, concurrency=8) as results:
        assert results.concurrency == 8
        answered = [result async for result in results]

    assert len(answered) == 20
    assert results.concurrency < 8


async def test_a_finished_run_is_not_kept_alive_by_the_task_that_consumed_it() -> None:
    # A long-lived task (a worker running job after job) must not accumulate them.
    results = run_bulk(Recorder(), [{"n": 2}, {"n": 4}], concurrency=2)
    core = weakref.ref(results._core)

    values = [result.value async for result in results]
    del results
    gc.collect()

    assert core() is None
    assert sorted(values) == [20, 40]


@pytest.mark.parametrize("on_exit", ["drain", "cancel"])
async def test_an_early_exit_closes_the_input(on_exit: Any) -> None:
    closed: list[str] = []

    async def async_source() -> AsyncIterator[dict[str, Any]]:
        try:
            for n in range(100):
                yield {"n": n * 2, "delay": 0.01}
        finally:
            closed.append("async")

    def sync_source() -> Iterator[dict[str, Any]]:
        try:
            for n in range(100):
                yield {"n": n * 2, "delay": 0.01}
        finally:
            closed.append("sync")

    for source in (async_source(), sync_source()):
        async with run_bulk(Recorder(), source, concurrency=4, on_exit=on_exit) as results:
            async for _ in results:
                break
    await asyncio.sleep(0)  # an async generator is closed by a task of its own

    assert sorted(closed) == ["async", "sync"]


def test_results_nobody_read_are_handed_over_when_the_loop_ends() -> None:
    """A consumer cancelled at asyncio.run's end, its run still referenced: handed over.

    asyncio.run cancels the consumer while it waits; the calls that had finished
    sit unread. The loop's end (shutdown_asyncgens) stops the run, so each is
    handed over rather than lost (found on Python 3.12 and 3.13 by the soak).
    """
    handed: list[int] = []
    kept: list[Any] = []

    async def call(n: int) -> int:
        await asyncio.sleep(0.01 * n)
        return n

    async def main() -> None:
        results = run_bulk(
            call,
            ({"n": n} for n in range(6)),
            concurrency=6,
            on_exit="drain",
            hand_over=lambda result, kwargs: handed.append(kwargs["n"]),
        )
        kept.append(results)  # still referenced after the loop: no finalizer to help

        async def consume() -> None:
            async for _ in results:
                await asyncio.sleep(3600)  # reads one, then is still busy at the end

        asyncio.create_task(consume())  # noqa: RUF006 - asyncio.run ends it
        await asyncio.sleep(0.2)  # every call has finished by now

    asyncio.run(main())
    assert sorted(handed) == [1, 2, 3, 4, 5]  # all but the one the consumer read
    assert sorted(r.index for r in kept[0].handed_over) == [1, 2, 3, 4, 5]
