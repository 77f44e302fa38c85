"""No order is lost by `orders.create_many`, whatever ends the consumer's loop.

Against a server that creates each order at once and answers 0.3 s later: for every
kind of early exit, with and without ``async with``, the orders created at the server
are exactly the outcomes reported, each once: results consumed plus results handed
over (logged at WARNING with the order id and partner order id).

The old runner cancelled the creates in flight on every one of these exits and lost
their orders (input raising at 40: 39 created, 24 reported; a timeout: 45/29; a break
after the first result: 16/1), and did not support ``async with``.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import SlowCreator
from samples import ITEMS, RECIPIENT

from digipix_async import BulkResult, DigipixClient, Order
from digipix_async.resources._bulk_calls import IN_FLIGHT

INPUTS = 100


def order(number: int) -> dict[str, Any]:
    return {"recipient": RECIPIENT, "items": ITEMS, "partner_order_id": f"p{number}"}


def inputs(fail_at: int | None = None) -> Iterator[dict[str, Any]]:
    for number in range(INPUTS):
        if number == fail_at:
            raise RuntimeError(f"input {number} could not be read")
        yield order(number)


async def no_call_in_flight() -> None:
    """Wait for the creates still running in the background (bounded)."""
    await asyncio.sleep(0.5)  # longer than the server's delay: the last answers arrive
    in_flight = set(IN_FLIGHT)
    if in_flight:
        await asyncio.wait(in_flight, timeout=10)


def handed_over(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Return the partner order ids of the outcomes handed over (logged at WARNING)."""
    return [
        record.partner_order_id
        for record in caplog.records
        if record.name == "digipix_async" and hasattr(record, "partner_order_id")
    ]


def consumed_ids(consumed: list[BulkResult[Order]]) -> list[str]:
    ids = []
    for result in consumed:
        assert result.ok, result.error  # the server answers every create in time
        assert result.value.partner_order_id is not None
        ids.append(result.value.partner_order_id)
    return ids


async def loop_over(results: Any, kind: str, consumed: list[BulkResult[Order]]) -> None:
    async for result in results:
        consumed.append(result)
        if kind == "break":
            break


async def run(client: DigipixClient, kind: str, shape: str, consumed: list[Any]) -> None:
    """Consume ``create_many`` until ``kind`` stops it; ``shape`` is how it is held."""
    source = inputs(fail_at=40 if kind == "input raises" else None)
    if shape == "async with":
        async with client.orders.create_many(source, concurrency=16) as results:
            await loop_over(results, kind, consumed)
        assert results.handed_over  # what was in flight at the exit, settled by the block
        return
    # A plain loop over a temporary: nothing tells the runner but the iterator's end.
    async for result in client.orders.create_many(source, concurrency=16):
        consumed.append(result)
        if kind == "break":
            break


@pytest.mark.parametrize("shape", ["async with", "plain async for"])
@pytest.mark.parametrize("kind", ["input raises", "timeout", "break", "task cancelled"])
async def test_every_created_order_is_reported_once(
    slow_server: SlowCreator,
    slow_client: DigipixClient,
    caplog: pytest.LogCaptureFixture,
    kind: str,
    shape: str,
) -> None:
    caplog.set_level(logging.WARNING, logger="digipix_async")
    consumed: list[BulkResult[Order]] = []

    if kind == "input raises":
        with pytest.raises(RuntimeError, match="input 40"):
            await run(slow_client, kind, shape, consumed)
    elif kind == "timeout":
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.45):
                await run(slow_client, kind, shape, consumed)
    elif kind == "task cancelled":
        task = asyncio.create_task(run(slow_client, kind, shape, consumed))
        await asyncio.sleep(0.45)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    else:
        await run(slow_client, kind, shape, consumed)
    if shape == "async with":
        assert not IN_FLIGHT  # leaving the block waited for all
    await no_call_in_flight()

    reported = collections.Counter(consumed_ids(consumed) + handed_over(caplog))
    assert 0 < slow_server.created < INPUTS  # the exit did come early
    assert reported == slow_server.creates  # every created order reported, and once
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_leaving_the_block_reads_no_more_input(slow_client: DigipixClient) -> None:
    read: list[int] = []

    def source() -> Iterator[dict[str, Any]]:
        for number in range(INPUTS):
            read.append(number)
            yield order(number)

    async with slow_client.orders.create_many(source(), concurrency=4) as results:
        async for _ in results:
            break
    await asyncio.sleep(0.4)

    assert len(read) <= 4 + 1  # the first window, and the one read when a slot freed
    assert len(results.handed_over) == 3


async def test_the_consumers_cancellation_does_not_cut_the_drain_short(
    slow_server: SlowCreator, slow_client: DigipixClient
) -> None:
    slow_server.delay = 0.5
    slow_server.delays["p0"] = 0.05
    consumed: list[BulkResult[Order]] = []
    runs: list[Any] = []

    async def consume() -> None:
        async with slow_client.orders.create_many(inputs(), concurrency=8) as results:
            runs.append(results)
            async for result in results:
                consumed.append(result)
                raise ValueError("stop")  # leaves the block: the drain starts

    task = asyncio.create_task(consume())
    await asyncio.sleep(0.2)  # p0 is consumed; p1..p7 are being drained
    task.cancel()  # cancelled again, mid-drain
    with pytest.raises(asyncio.CancelledError):
        await task

    assert not IN_FLIGHT  # the drain still waited for every create
    assert slow_server.created == 8
    assert [result.index for result in consumed] == [0]
    assert sorted(result.value.partner_order_id or "" for result in runs[0].handed_over) == [
        f"p{number}" for number in range(1, 8)
    ]


def test_at_loop_shutdown_a_leftover_create_is_handed_over_as_unknown(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="digipix_async")
    server = SlowCreator(delay=30)
    kept: list[Any] = []

    async def main() -> None:
        await server.start()
        client = DigipixClient("id", "secret", base_url=server.base_url, timeout=60)
        kept.append(client)
        results = client.orders.create_many(inputs(), concurrency=3)
        kept.append(results)  # held, never iterated again: nobody consumes the rest
        task = asyncio.create_task(anext(results))
        await asyncio.sleep(0.3)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        # main returns with three creates in flight

    async def clean_up() -> None:
        await kept[0].close()
        await server.close()

    with asyncio.Runner() as runner:
        runner.run(main())
        # What asyncio.run does when its main coroutine returns: cancel what is left.
        leftovers = asyncio.all_tasks(runner.get_loop())
        for task in leftovers:
            task.cancel()
        runner.run(asyncio.wait(leftovers))
        runner.run(clean_up())

    unknown = [r for r in caplog.records if "OrderOutcomeUnknownError" in r.getMessage()]
    assert sorted(getattr(r, "partner_order_id", "") for r in unknown) == ["p0", "p1", "p2"]
    assert server.created == 3
    assert not [r for r in caplog.records if "destroyed but it is pending" in r.getMessage()]


@pytest.mark.parametrize("helper", ["wait_for", "create_task"])
async def test_iterating_through_helper_tasks_gets_every_result(
    slow_server: SlowCreator, slow_client: DigipixClient, helper: str
) -> None:
    # On Python 3.11 wait_for runs anext in a task of its own: the end of that task
    # is no sign that the consumer stopped.
    slow_server.delay = 0.01
    consumed: list[str] = []
    requests = [order(number) for number in range(20)]
    async with slow_client.orders.create_many(requests, concurrency=4) as results:
        while True:
            try:
                if helper == "wait_for":
                    result = await asyncio.wait_for(anext(results), 5)
                else:
                    result = await asyncio.create_task(anext(results))  # type: ignore[arg-type]
            except StopAsyncIteration:
                break
            consumed.append(result.value.partner_order_id or "")

    assert sorted(consumed) == sorted(f"p{number}" for number in range(20))
    assert results.handed_over == ()
