"""Bulk helpers without HTTP: one result per input, bounded concurrency and reading."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import aclosing
from typing import Any

import pytest

from digipix_async.resources._bulk import BulkResult, run_bulk


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
