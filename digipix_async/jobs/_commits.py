"""Group commit: the journal's worker thread, and the queue of intents and outcomes it writes.

An intent must be on disk before its create is sent, so its create waits for the
commit; an outcome need not (an intent without one reads as unknown on a rerun,
never as something to send again), so nobody waits for it and it rides in the
next transaction. A commit costs about 0.2 ms of CPU, most of it the fsync, and
the same whether it holds one entry or twenty: the fewer commits per order, the
cheaper the journal. So a round may wait a little for more entries:

- intents wait at most `GATHER_FOR` for the intents of the other creates on the
  wire (a bulk job's next creates follow them), and not at all when every create
  in flight is already waiting (a lone create, or a job of one at a time);
- outcomes alone wait at most `OUTCOMES_WAIT` for intents to ride with.

`OrderJournal.aclose` ends the waits, and every read of the journal commits the
outcomes still queued first (`Worker.commit` with no intents).
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import contextlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Final

from digipix_async._log import log
from digipix_async.jobs._store import Begin, Decision, Finish, Store

__all__ = ["GATHER_FOR", "OUTCOMES_WAIT", "GroupCommit", "Worker"]

#: Seconds a commit waits for the intents of creates still on the wire.
GATHER_FOR: Final = 0.002
#: Seconds outcomes alone wait for intents to share a commit with.
OUTCOMES_WAIT: Final = 0.05


class Worker:
    """The journal's thread, its connection and the outcomes queued for it.

    Closable without the journal itself. Only `outcomes` is touched from the event
    loop's thread too (a deque: append and popleft are atomic).
    """

    def __init__(self) -> None:
        self.executor: ThreadPoolExecutor | None = None
        self.store: Store | None = None  # made, used and closed on the executor's thread
        self.outcomes: collections.deque[Finish] = collections.deque()

    def take_outcomes(self) -> list[Finish]:
        """Take every outcome queued so far, oldest first."""
        outcomes = []
        with contextlib.suppress(IndexError):
            while True:
                outcomes.append(self.outcomes.popleft())
        return outcomes

    def give_up(self, why: str) -> None:
        """Drop the outcomes still queued, logging each (nothing can commit them now)."""
        _log_lost(self.take_outcomes(), why)

    def commit(self, intents: list[Begin]) -> list[Any]:
        """Commit the queued outcomes and ``intents`` in one transaction (worker thread).

        Return each intent's result. Outcomes go first: each belongs to an intent
        committed before, and may precede a new intent for the same key.
        """
        outcomes = self.take_outcomes()
        if not outcomes and not intents:
            return []
        if self.store is None:
            _log_lost(outcomes, "the journal is closed")
            raise RuntimeError("the journal is closed")
        try:
            results = self.store.apply([*outcomes, *intents])
        except BaseException as error:
            _log_lost(outcomes, str(error))
            raise
        return results[len(outcomes) :]

    def close_store(self) -> None:
        """Commit the outcomes still queued, then close the connection (worker thread)."""
        if self.store is not None:
            try:
                self.commit([])
            finally:
                self.store.close()
                self.store = None

    def commit_soon(self) -> None:
        """Have the worker thread commit the queued outcomes, whatever the event loop does.

        For when no task can be relied on to run (a cancellation, perhaps the loop
        shutting down): the executor runs what was submitted even at interpreter exit.
        """
        executor = self.executor
        if executor is None:
            return  # closed: what is left reads as unknown on a rerun
        with contextlib.suppress(RuntimeError):  # shut down meanwhile: as above
            executor.submit(self.commit, []).add_done_callback(_retrieve)

    def abandon(self) -> None:
        """Commit, close the connection on its thread and let the thread end (journal dropped)."""
        executor, self.executor = self.executor, None
        if executor is not None:
            with contextlib.suppress(RuntimeError):  # interpreter exit: already shut down
                executor.submit(self.close_store).add_done_callback(_retrieve)
            executor.shutdown(wait=False)


class GroupCommit:
    """The event loop's side: queue intents (awaited) and outcomes (not), commit in rounds.

    ``in_flight`` tells how many creates hold a key right now, waiting intents included.
    """

    def __init__(self, worker: Worker, in_flight: Callable[[], int]) -> None:
        self._worker = worker
        self._in_flight = in_flight
        self._intents: list[tuple[Begin, asyncio.Future[Decision]]] = []
        self._flusher: asyncio.Task[None] | None = None
        self._wakeup: asyncio.Future[None] | None = None
        self._until: Callable[[], bool] = bool
        self._hurry = False

    async def intent(self, intent: Begin) -> Decision:
        """Queue ``intent`` and wait until it is committed; return what it decided."""
        done: asyncio.Future[Decision] = asyncio.get_running_loop().create_future()
        self._intents.append((intent, done))
        self._start()
        self.poke()
        return await done

    def outcome(self, outcome: Finish) -> None:
        """Queue ``outcome`` for a coming round."""
        self._worker.outcomes.append(outcome)
        self._start()

    def poke(self) -> None:
        """Let a waiting round go if what it waits for is there (an intent came, a create ended)."""
        wakeup = self._wakeup
        if wakeup is not None and not wakeup.done() and self._until():
            wakeup.set_result(None)

    async def drain(self) -> None:
        """Commit what is queued now, without waiting for more (the journal is closing)."""
        self._hurry = True
        self.poke()
        if self._flusher is not None:
            await asyncio.gather(self._flusher, return_exceptions=True)

    def _start(self) -> None:
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.get_running_loop().create_task(self._flush())

    async def _flush(self) -> None:
        """Commit in rounds until nothing is queued.

        Cancelled (the loop is going away?), waiting or committing: the outcomes
        still queued go to the worker thread directly.
        """
        try:
            while self._intents or self._worker.outcomes:
                if not self._intents:
                    await self._wait(OUTCOMES_WAIT, lambda: self._hurry or bool(self._intents))
                if self._intents:
                    await self._wait(
                        GATHER_FOR, lambda: self._hurry or len(self._intents) >= self._in_flight()
                    )
                await self._round()
        except asyncio.CancelledError:
            self._worker.commit_soon()
            raise

    async def _round(self) -> None:
        """Commit every intent waiting and every outcome queued before this starts on the worker."""
        # A create cancelled while its intent waited is never sent: no intent to write
        # (written, a rerun would list it as unknown, for a look it does not need).
        batch = [(op, done) for op, done in self._intents if not done.cancelled()]
        self._intents = []
        try:
            executor = self._worker.executor
            if executor is None:
                self._worker.give_up("the journal is closed")
                raise RuntimeError("the journal is closed")
            results = await asyncio.get_running_loop().run_in_executor(
                executor, self._worker.commit, [op for op, _ in batch]
            )
        except BaseException as error:
            failure = error if isinstance(error, Exception) else RuntimeError(str(error))
            for _, done in batch:
                if not done.done():
                    done.set_exception(failure)
            if not isinstance(error, Exception):
                raise
            return
        for (_, done), result in zip(batch, results, strict=True):
            if done.done():
                continue
            if isinstance(result, Exception):
                done.set_exception(result)
            else:
                done.set_result(result)

    async def _wait(self, at_most: float, until: Callable[[], bool]) -> None:
        """Wait ``at_most`` seconds, or less once ``until()`` holds (checked by `poke`)."""
        if until():
            return
        loop = asyncio.get_running_loop()
        self._until = until
        self._wakeup = wakeup = loop.create_future()
        timer = loop.call_later(at_most, _wake, wakeup)
        try:
            await wakeup
        finally:
            timer.cancel()
            self._wakeup = None


def _wake(wakeup: asyncio.Future[None]) -> None:
    if not wakeup.done():
        wakeup.set_result(None)


def _retrieve(future: concurrent.futures.Future[Any]) -> None:
    """Take a worker job's failure (`Worker.commit` logged what it meant)."""
    if not future.cancelled():
        future.exception()


def _log_lost(outcomes: list[Finish], why: str) -> None:
    for outcome in outcomes:
        log.warning(
            "journal: the outcome of partner order id %r (%s%s) could not be recorded: %s; "
            "a rerun reports it as unknown",
            outcome.partner_order_id,
            outcome.state,
            f", order {outcome.order_id}" if outcome.order_id else "",
            why,
        )
