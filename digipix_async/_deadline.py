"""Deadlines for many concurrent calls on a few shared timers.

Every call is bounded by one deadline. ``asyncio.timeout`` (or aiohttp's total
timeout) would arm a loop timer for each call and cancel it afterwards: measured
on 2026-11-30 (benchmarks/README.md), that adds 21-29 µs to a call in a focused
A/B, and 1% (quotes) to 12% (orders) of a call's CPU in the side-by-side harness.
Here the calls whose deadlines fall in the same slot (``RESOLUTION`` seconds
wide) share one timer, so guarding a call costs a set insert and a set removal. A deadline is
enforced up to one slot late, never early.

The cancellation protocol is ``asyncio.timeout``'s: at the deadline the task is
cancelled, and the guard, on seeing that cancellation leave its block (and no
other cancellation requested meanwhile), raises `DeadlineExceeded` in its place.
A cancellation from anyone else passes through untouched.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from types import TracebackType
from typing import Self

__all__ = ["RESOLUTION", "DeadlineExceeded", "Deadlines", "Guard"]

#: Width of a slot in seconds: how late at most a deadline may fire.
RESOLUTION = 0.05


class DeadlineExceeded(Exception):
    """The guarded block was still running at its deadline."""


class Deadlines:
    """The deadline slots of the calls of one client (and so of one event loop).

    Deadlines are on the ``time.monotonic`` clock, the clock of asyncio's loop.
    """

    __slots__ = ("_loop", "_resolution", "_slots", "_thread")

    def __init__(self, resolution: float = RESOLUTION) -> None:
        self._resolution = resolution
        self._slots: dict[int, set[Guard]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = 0

    def guard(self, deadline: float) -> Guard:
        """Bound the current task's ``with`` block by ``deadline``."""
        return Guard(self, deadline)

    def _current_task(self) -> asyncio.Task[object]:
        # asyncio.current_task() finds the loop with get_running_loop(), which on
        # Python 3.11 makes a getpid() system call every time; given the loop, it
        # does not. A client's calls run in one loop: the last one seen, trusted
        # only in the thread that runs it.
        loop = self._loop
        task = None
        if loop is not None and self._thread == threading.get_ident():
            task = asyncio.current_task(loop)
        if task is None:
            task = asyncio.current_task()
            if task is None:
                raise RuntimeError("a deadline guard needs a running asyncio task")
            loop = task.get_loop()
            if loop is not self._loop:
                # Timers armed in another loop (one that has ended) never fire here:
                # a deadline joining one of their slots would never strike.
                self._slots = {}
            self._loop = loop
            self._thread = threading.get_ident()
        return task

    def pending(self) -> int:
        """Return how many guarded blocks are running (for tests)."""
        return sum(len(guards) for guards in self._slots.values())

    def _join(self, guard: Guard, deadline: float) -> int:
        slot = math.ceil(deadline / self._resolution)
        guards = self._slots.get(slot)
        if guards is None:
            guards = self._slots[slot] = set()
            delay = slot * self._resolution - time.monotonic()
            guard._task.get_loop().call_later(delay, self._expire, slot)
        guards.add(guard)
        return slot

    def _leave(self, guard: Guard, slot: int) -> None:
        guards = self._slots.get(slot)
        if guards is not None:
            guards.discard(guard)

    def _expire(self, slot: int) -> None:
        for guard in self._slots.pop(slot, ()):
            guard._expire()


class Guard:
    """A ``with`` block that ends with `DeadlineExceeded` if it outlives its deadline."""

    __slots__ = ("_cancelling", "_deadline", "_deadlines", "_expired", "_slot", "_task")

    def __init__(self, deadlines: Deadlines, deadline: float) -> None:
        self._deadlines = deadlines
        self._deadline = deadline
        self._expired = False

    def __enter__(self) -> Self:
        self._task = task = self._deadlines._current_task()
        # Cancellations already requested are not ours to absorb on the way out.
        self._cancelling = task.cancelling()
        self._slot = self._deadlines._join(self, self._deadline)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._deadlines._leave(self, self._slot)
        if not self._expired:
            return
        # Withdraw our cancellation; turn it into DeadlineExceeded only if it is what
        # is leaving the block and nobody else asked to cancel the task meanwhile.
        if self._task.uncancel() <= self._cancelling and exc_type is asyncio.CancelledError:
            raise DeadlineExceeded from exc

    @property
    def expired(self) -> bool:
        """Tell whether the deadline fired while the block ran."""
        return self._expired

    def _expire(self) -> None:
        self._expired = True
        self._task.cancel()
