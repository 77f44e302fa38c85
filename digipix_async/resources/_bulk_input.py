"""A bulk run's input: read one mapping at a time, keep what broke it, close it early."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Iterator, Mapping
from typing import Any, Final

from digipix_async.resources._bulk_calls import keep_alive, retrieved

__all__ = ["END", "Input", "Source"]

Source = Iterable[Mapping[str, Any]] | AsyncIterable[Mapping[str, Any]]
#: What `Input.read` returns once there is nothing more to read.
END: Final = object()


class Input:
    """The source of a bulk run, read lazily: a plain iterable at once, an async one awaited.

    ``exhausted`` once it ended, broke or was closed. ``broken`` keeps the Exception
    it raised: the consumer gets it after the results of the calls already started
    (for creates: orders, maybe made), not instead of them.
    """

    def __init__(self, source: Source) -> None:
        self.source = source
        #: Its next input may be long in coming (a queue, a socket): a ready result
        #: never waits for it (the run reads it in a task of its own meanwhile, and
        #: starts its call at once: an input read is never held back unstarted).
        self.is_async = isinstance(source, AsyncIterable)
        self.exhausted = False
        self.broken: Exception | None = None
        self._iterator: Iterator[Any] | AsyncIterator[Any] | None = None
        # An async source is read by a task of its own, so that a consumer's timeout or
        # cancellation while it waits (``wait_for(anext(results), ...)``) leaves the read
        # going for the next call, instead of ending the source there and then.
        self._reading: asyncio.Task[Any] | None = None
        # Several consumers may iterate one run: each read's input goes to one of them.
        self._one_reader = asyncio.Lock()

    async def read(self) -> Any:
        """Return the next input, or `END`; a broken source is not read again."""
        iterator = self._started()
        if not isinstance(iterator, AsyncIterator):
            return self._got(lambda: next(iterator, END))
        async with self._one_reader:
            if self.exhausted:  # while this waited, another reader found the end
                return END
            reading = self._reading_task(iterator)
            # Not cancelled with its caller: the read, even one done by now, is then the
            # next call's; and its failure is not raised here but taken by `_got`.
            await asyncio.wait((reading,))
            self._reading = None
            return self._got(reading.result)

    def _started(self) -> Iterator[Any] | AsyncIterator[Any]:
        if self._iterator is None:
            source = self.source
            self._iterator = aiter(source) if isinstance(source, AsyncIterable) else iter(source)
        return self._iterator

    def _reading_task(self, iterator: AsyncIterator[Any]) -> asyncio.Task[Any]:
        """Return the task reading the next input of an async source, started if need be."""
        if self._reading is None:
            self._reading = asyncio.ensure_future(anext(iterator, END))
            keep_alive(self._reading)
            self._reading.add_done_callback(retrieved)  # failed, and nobody awaits it
        return self._reading

    def _got(self, take: Callable[[], Any]) -> Any:
        """Return what ``take`` read; the source's end or failure exhausts it."""
        try:
            kwargs = take()
        except asyncio.CancelledError:  # an async source's read was cancelled: it ended
            kwargs = END
        except Exception as error:
            self.exhausted, self.broken = True, error
            return END
        if kwargs is END:
            self.exhausted = True
        return kwargs

    def close(self) -> None:
        """Read no more, and close the source if it can be (a generator, sync or async)."""
        iterator, self.exhausted = self._iterator, True
        reading, self._reading = self._reading, None
        if reading is not None and not reading.done():
            reading.cancel()  # the generator is inside its read: this ends it
            return
        aclose = getattr(iterator, "aclose", None) if isinstance(iterator, AsyncIterator) else None
        close = getattr(iterator, "close", None) if isinstance(iterator, Iterator) else None
        with contextlib.suppress(Exception):  # a source busy or already closed: nothing to do
            if aclose is not None:
                task = asyncio.get_running_loop().create_task(aclose())
                keep_alive(task)
                task.add_done_callback(retrieved)
            elif close is not None:
                close()
