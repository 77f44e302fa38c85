"""What runs around each call of a bulk run: the call itself, and cleanups."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping
from typing import Any, TypeVar

from digipix_async.resources._bulk_result import BulkResult

__all__ = ["IN_FLIGHT", "at_loop_end", "keep_alive", "one", "retrieved"]

T = TypeVar("T")

# Strong references to every task a bulk run starts: a task referenced only by the
# event loop may be garbage-collected mid-run ("Task was destroyed but it is pending").
IN_FLIGHT: set[asyncio.Task[Any]] = set()


def keep_alive(task: asyncio.Task[Any]) -> None:
    """Hold ``task`` in `IN_FLIGHT` until it is done."""
    IN_FLIGHT.add(task)
    task.add_done_callback(IN_FLIGHT.discard)


async def one(call: Callable[..., Awaitable[T]], index: int, kwargs: Any) -> BulkResult[T]:
    try:
        if not isinstance(kwargs, Mapping):
            raise TypeError(f"input {index} is {type(kwargs).__name__}, not a mapping")
        return BulkResult(index, value=await call(**kwargs))
    except Exception as error:  # one bad input must not abort the batch
        return BulkResult(index, error=error)


def retrieved(task: asyncio.Task[Any]) -> None:
    # A source still running when closed refuses ("already running"); it is stopped
    # all the same (its reader is gone), and that is no error worth a traceback.
    if not task.cancelled():
        task.exception()


async def at_loop_end(core: Any) -> AsyncGenerator[None, None]:
    """Park until the event loop shuts down; then stop the run nobody will read."""
    try:
        yield
    finally:
        core._keeper = None  # this generator is finishing: nothing to release
        # The loop finalises an async source itself; a task started now would not run.
        core.stop(close_source=False)
