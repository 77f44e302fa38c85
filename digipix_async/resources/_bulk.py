"""Run one call per input with adaptive concurrency, and lose no outcome on an early exit.

`run_bulk` returns a `BulkRun`: an async iterator of `BulkResult`s and an async
context manager. How a consumer's early exit (break, an exception, a timeout,
cancellation) treats the calls in flight is the caller's ``on_exit``:

- ``"cancel"`` (quotes: a quote is not saved, so nothing is lost by cancelling);
- ``"drain"`` (orders: a create in flight may already have printed an order). The
  calls are never cancelled: leaving ``async with`` (or ``aclose()``) waits for them,
  shielded from the consumer's cancellation and bounded by each call's own deadline;
  without ``async with`` they finish in the background. Either way every outcome
  nobody consumed goes to ``hand_over`` (which logs it) and into ``handed_over``.

The consumer is known to be done when it leaves ``async with``, calls ``aclose()``
or drops the iterator (``async for ... break`` frees it at once); only then is
nothing more read from the input or started. Not when some task ends: iterating
through helper tasks (``asyncio.wait_for(anext(results), ...)`` on Python 3.11,
``create_task(anext(results))``) is legitimate, and ending the run with the first
such task would end it after one result. A create cancelled from outside (the
loop shutting down) is handed over at once, as unknown: nobody will read it.
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping
from types import TracebackType
from typing import Any, Generic, Literal, NamedTuple, TypeVar

from digipix_async._errors import RateLimitError
from digipix_async._log import log
from digipix_async._loop_end import park, unpark
from digipix_async.resources._bulk_calls import at_loop_end, keep_alive, one
from digipix_async.resources._bulk_input import END, Input, Source
from digipix_async.resources._bulk_result import BulkResult
from digipix_async.resources._concurrency import AdaptiveWindow

__all__ = ["DEFAULT_CONCURRENCY", "BulkResult", "BulkRun", "run_bulk"]

T = TypeVar("T")

DEFAULT_CONCURRENCY = 16
#: How often an input refused with 429 is put back before its RateLimitError is reported.
DEFAULT_RATE_LIMIT_RETRIES = 5
#: The longest a put-back input waits for the server's Retry-After (the client's own
#: shared pause, where there is one, keeps the real moment).
_MAX_PUT_BACK_WAIT = 60.0

#: Called for each outcome nobody consumed, with the input's keyword arguments.
HandOver = Callable[[BulkResult[Any], Mapping[str, Any]], None]
#: Builds the error of a call cancelled from outside (the event loop shutting down).
Interrupted = Callable[[Mapping[str, Any]], Exception]


class _Input(NamedTuple):
    position: int  # the input's index (NamedTuple already has an index() method)
    kwargs: Mapping[str, Any]
    tries: int = 0  # times it was refused with 429 and put back
    not_before: float = 0.0


def run_bulk(
    call: Callable[..., Awaitable[T]],
    source: Source,
    *,
    concurrency: int,
    on_exit: Literal["cancel", "drain"] = "cancel",
    hand_over: HandOver | None = None,
    interrupted: Interrupted | None = None,
    throttle_count: Callable[[], int] | None = None,
    rate_limit_retries: int = DEFAULT_RATE_LIMIT_RETRIES,
) -> BulkRun[T]:
    """Return a `BulkRun` yielding a `BulkResult` for every mapping of keyword arguments.

    At most ``concurrency`` calls run at once (fewer while the server answers 429,
    see `AdaptiveWindow`) and the source is read only as slots free up, so memory
    stays bounded by ``concurrency`` however long the source is. One input's failure
    (a bad mapping included) never aborts the rest; an input refused with
    `RateLimitError` is put back and tried again, up to ``rate_limit_retries`` times.
    """
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise ValueError(f"concurrency must be a whole number >= 1, got {concurrency!r}")
    if on_exit not in ("cancel", "drain"):
        raise ValueError(f"on_exit must be 'cancel' or 'drain', got {on_exit!r}")
    core = _Core(
        call,
        source,
        AdaptiveWindow(concurrency, throttle_count),
        drain=on_exit == "drain",
        hand_over=hand_over,
        interrupted=interrupted,
        rate_limit_retries=rate_limit_retries,
    )
    return BulkRun(core)


class BulkRun(Generic[T]):
    """The results of a bulk call, in completion order (see `BulkResult.index`).

    Iterate it with ``async for``; use it as ``async with ... as results:`` to have
    the block's end settle whatever is still in flight (see the module docstring).
    ``handed_over`` lists the outcomes that finished after the consumer stopped.
    """

    def __init__(self, core: _Core[T]) -> None:
        self._core = core
        # Dropping the iterator (async for ... break) is the consumer's way to stop.
        weakref.finalize(self, core.stop)

    def __aiter__(self) -> BulkRun[T]:
        return self

    async def __anext__(self) -> BulkResult[T]:
        return await self._core.next()

    async def __aenter__(self) -> BulkRun[T]:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._core.aclose()

    async def aclose(self) -> None:
        """Stop: read no more input, then drain or cancel what is in flight."""
        await self._core.aclose()

    @property
    def handed_over(self) -> tuple[BulkResult[T], ...]:
        """Return the outcomes nobody consumed, handed over since the consumer stopped."""
        return tuple(self._core.handed_over)

    @property
    def concurrency(self) -> int:
        """Return how many calls may be in flight now (halved on 429s, regrown on success)."""
        return self._core.window.size


class _Core(Generic[T]):
    """The state of one bulk run, apart from the object the consumer holds."""

    def __init__(
        self,
        call: Callable[..., Awaitable[T]],
        source: Source,
        window: AdaptiveWindow,
        *,
        drain: bool,
        hand_over: HandOver | None,
        interrupted: Interrupted | None,
        rate_limit_retries: int,
    ) -> None:
        self.call = call
        self.window = window
        self.handed_over: list[BulkResult[T]] = []
        self._input = Input(source)
        self._drain = drain
        self._hand_over = hand_over
        self._interrupted = interrupted
        self._retries = rate_limit_retries
        self._next_index = 0
        self._stopped = False
        self._running: dict[asyncio.Task[BulkResult[T]], _Input] = {}
        self._ready: list[tuple[BulkResult[T], Mapping[str, Any]]] = []
        self._put_back: list[_Input] = []
        self._wake: asyncio.Event | None = None
        self._filling: asyncio.Task[None] | None = None  # see _fill_behind
        self._drained: asyncio.Future[None] | None = None
        # Stops the run at the event loop's end, should nobody else (see _loop_end).
        self._keeper: AsyncGenerator[None, None] | None = None

    # -- the consumer's side -----------------------------------------------------------

    async def next(self) -> BulkResult[T]:
        if self._stopped:
            raise StopAsyncIteration
        if self._ready:
            # The slot this result frees goes to the next call now, not once every
            # waiting result is taken (a slow consumer would get the calls in bursts).
            await self._fill(wait=False)
            self._fill_behind()
        wake = self._wake = self._wake or asyncio.Event()
        while not self._ready:
            wake.clear()
            await self._fill()
            if self._ready:
                break
            if not self._running and not self._put_back and self._input.exhausted:
                self._stopped = True
                self._release_keeper()
                if self._input.broken is not None:
                    raise self._input.broken
                raise StopAsyncIteration
            await self._sleep(wake)
        return self._ready.pop(0)[0]

    def _can_run(self) -> bool:
        """Whether a call may start: calls running plus results unread < the window.

        Unread results count: otherwise calls finishing while an async source is read
        free slots as fast as it yields, and the whole source is called before one result.
        """
        return len(self._running) + len(self._ready) < self.window.size

    def _can_read(self) -> bool:
        """Whether a new input may be read: inputs put back (429) hold their slot too.

        Otherwise, during a server's pause, each refusal would free a slot for the next
        input, and the whole source would be read in, to be retried all at once.
        """
        held = len(self._running) + len(self._ready) + len(self._put_back)
        return held < self.window.size

    async def _fill(self, *, wait: bool = True) -> None:
        """Start calls while the window has room: inputs put back first, then new ones.

        ``wait=False`` (a result is ready to hand over): only inputs to be had at once,
        not an async source's (see `Input.is_async`).
        """
        loop = asyncio.get_running_loop()
        while self._can_run() and not self._stopped:
            due = [item for item in self._put_back if item.not_before <= loop.time()]
            if due:
                item = min(due, key=lambda due_item: due_item.not_before)
                self._put_back.remove(item)
            elif not self._can_read() or self._input.exhausted:
                return
            elif self._input.is_async and not wait:
                return  # its next input may be long in coming, and results are ready
            else:
                kwargs = await self._input.read()
                if kwargs is END or self._stopped:
                    return
                item = _Input(self._next_index, kwargs)
                self._next_index += 1
            self._start(item)

    def _fill_behind(self) -> None:
        """Read an async source in a task of its own while results are handed out.

        Not in `next`: the next input may be long in coming, and a ready result must
        not wait for it. An input read there is started at once, as `next` would. Only
        once half the window is idle: a consumer that keeps up refills it itself, and
        a task per result would cost it ~5% of its CPU.
        """
        idle = self._filling is None and not self._stopped and not self._input.exhausted
        draining = len(self._running) <= self.window.size // 2
        if idle and draining and self._input.is_async and self._can_read():
            self._filling = asyncio.get_running_loop().create_task(self._fill())
            keep_alive(self._filling)
            self._filling.add_done_callback(self._filled)

    def _filled(self, task: asyncio.Task[None]) -> None:
        self._filling = None
        error = None if task.cancelled() else task.exception()
        if isinstance(error, Exception):  # raised by the run, not the source: still say it
            self._input.exhausted, self._input.broken = True, error
        if self._wake is not None:
            self._wake.set()

    async def _sleep(self, wake: asyncio.Event) -> None:
        """Wait for a call to finish, or for the first put-back input to be due."""
        loop = asyncio.get_running_loop()
        timer = None
        if self._put_back and self._can_run():
            when = min(item.not_before for item in self._put_back)
            timer = loop.call_at(when, wake.set)
        try:
            await wake.wait()
        finally:
            if timer is not None:
                timer.cancel()

    # -- the calls ----------------------------------------------------------------------

    def _start(self, item: _Input) -> None:
        if self._keeper is None and self._drain:
            # A consumer that is cancelled at the loop's end (asyncio.run returning)
            # while it still holds the run never stops it: the loop's end does, and
            # what finished unread is handed over instead of sitting in _ready.
            self._keeper = at_loop_end(self)
            park(self._keeper)
        task = asyncio.create_task(one(self.call, item.position, item.kwargs))
        self._running[task] = item
        keep_alive(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[BulkResult[T]]) -> None:
        item = self._running.pop(task)
        result = self._outcome(task, item)
        if result is not None:
            error = None if result.ok else result.error
            limited = isinstance(error, RateLimitError)
            self.window.observe(throttled=limited, in_flight=len(self._running))
            if limited and item.tries < self._retries and not self._stopped:
                # A 429 means the call was refused, not served (an order was not
                # created): the input goes back and is tried once the server allows.
                wait = min(getattr(error, "retry_after", None) or 0.0, _MAX_PUT_BACK_WAIT)
                not_before = asyncio.get_running_loop().time() + wait
                log.warning(
                    "bulk input %d refused with 429 (try %d of %d), put back for %.3f s",
                    item.position,
                    item.tries + 1,
                    self._retries,
                    wait,
                    extra={"input": item.position, "retry_wait": wait},
                )
                self._put_back.append(item._replace(tries=item.tries + 1, not_before=not_before))
            elif self._stopped or (self._drain and task.cancelled()):
                # Nobody reads it, or nobody will: a create cancelled from outside is
                # the event loop shutting down (asyncio.run cancels what is left).
                self._give(result, item.kwargs)
            else:
                self._ready.append((result, item.kwargs))
        if self._wake is not None:
            self._wake.set()
        if not self._running and self._drained is not None and not self._drained.done():
            self._drained.set_result(None)

    def _outcome(self, task: asyncio.Task[BulkResult[T]], item: _Input) -> BulkResult[T] | None:
        if not task.cancelled():
            return task.result()  # _one turns every Exception into a result
        if self._stopped and not self._drain:
            return None  # cancel-fast: we cancelled it, nobody waits for it
        # Cancelled from outside (asyncio.run cancels what is left at shutdown): the
        # outcome is unknown, and says so rather than vanish.
        if self._interrupted is not None:
            return BulkResult(item.position, error=self._interrupted(item.kwargs))
        return BulkResult(item.position, error=RuntimeError("the call was cancelled"))

    def _give(self, result: BulkResult[T], kwargs: Mapping[str, Any]) -> None:
        if not self._drain:
            return
        self.handed_over.append(result)
        if self._hand_over is not None:
            self._hand_over(result, kwargs)

    # -- stopping -----------------------------------------------------------------------

    def stop(self, *, close_source: bool = True) -> None:
        """Read no more input; hand over what waits; cancel calls unless draining."""
        if self._stopped:
            return
        self._stopped = True
        self._release_keeper()
        if close_source:
            self._input.close()
        if self._filling is not None:
            with contextlib.suppress(RuntimeError):  # called at exit: the loop is gone
                self._filling.cancel()
        waiting, self._ready = self._ready, []
        for result, kwargs in waiting:
            self._give(result, kwargs)
        put_back, self._put_back = self._put_back, []
        for item in put_back:
            error = RateLimitError(
                "refused with 429 and not tried again: the consumer stopped",
                status=429,
            )
            self._give(BulkResult(item.position, error=error), item.kwargs)
        if not self._drain:
            for task in self._running:
                with contextlib.suppress(RuntimeError):  # called at exit: the loop is gone
                    task.cancel()

    async def aclose(self) -> None:
        self.stop()
        if not self._running:
            return
        if not self._drain:
            await asyncio.gather(*self._running, return_exceptions=True)
            return
        self._drained = self._drained or asyncio.get_running_loop().create_future()
        interrupted = False
        while not self._drained.done():
            try:
                # Shielded: the consumer's cancellation (or timeout) must not cut a
                # create short; each call's own deadline bounds the wait.
                await asyncio.shield(self._drained)
            except asyncio.CancelledError:
                interrupted = True
        if interrupted:
            raise asyncio.CancelledError

    def _release_keeper(self) -> None:
        keeper, self._keeper = self._keeper, None
        if keeper is not None:
            unpark(keeper)
