"""Run one coroutine per input with bounded concurrency, yielding results as they finish."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterable, Mapping
from typing import Any, Generic, TypeVar

import attrs

__all__ = ["BulkResult", "run_bulk"]

T = TypeVar("T")

DEFAULT_CONCURRENCY = 16


@attrs.frozen
class BulkResult(Generic[T]):
    """The outcome for one input of a bulk call: ``value`` or ``error``, never both.

    ``index`` is the input's position, since results arrive in completion order.
    """

    index: int
    value: T | None = None
    error: Exception | None = None

    @property
    def ok(self) -> bool:
        """Tell whether this input succeeded."""
        return self.error is None


async def _inputs(
    source: Iterable[Mapping[str, Any]] | AsyncIterable[Mapping[str, Any]],
) -> AsyncIterator[Mapping[str, Any]]:
    if isinstance(source, AsyncIterable):
        async for item in source:
            yield item
    else:
        for item in source:
            yield item


def run_bulk(
    call: Callable[..., Awaitable[T]],
    source: Iterable[Mapping[str, Any]] | AsyncIterable[Mapping[str, Any]],
    *,
    concurrency: int,
) -> AsyncIterator[BulkResult[T]]:
    """Yield a `BulkResult` for every mapping of keyword arguments in ``source``.

    At most ``concurrency`` calls run at once and the source is read only as
    slots free up, so memory stays bounded by ``concurrency`` however long the
    source is. One input's failure (a bad mapping included) never aborts the rest;
    cancelling the consumer, or closing the iterator early, cancels what runs.
    """
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise ValueError(f"concurrency must be a whole number >= 1, got {concurrency!r}")
    return _run(call, source, concurrency)


async def _run(
    call: Callable[..., Awaitable[T]],
    source: Iterable[Mapping[str, Any]] | AsyncIterable[Mapping[str, Any]],
    concurrency: int,
) -> AsyncIterator[BulkResult[T]]:
    async def one(index: int, kwargs: Mapping[str, Any]) -> BulkResult[T]:
        try:
            if not isinstance(kwargs, Mapping):
                raise TypeError(f"input {index} is {type(kwargs).__name__}, not a mapping")
            return BulkResult(index, value=await call(**kwargs))
        except Exception as error:  # one bad input must not abort the batch
            return BulkResult(index, error=error)

    running: set[asyncio.Task[BulkResult[T]]] = set()
    try:
        index = 0
        async for kwargs in _inputs(source):
            if len(running) >= concurrency:
                done, running = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    yield task.result()
            running.add(asyncio.create_task(one(index, kwargs)))
            index += 1
        while running:
            done, running = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                yield task.result()
    finally:
        for task in running:
            task.cancel()
        if running:
            await asyncio.gather(*running, return_exceptions=True)
