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
- outcomes alone wait about `OUTCOMES_WAIT` (at most twice that) for intents to
  ride with.

`OrderJournal.aclose` ends the waits, and every read of the journal commits the
outcomes still queued first (`Worker.commit` with no intents).
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import contextlib
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Final, TypeVar

from digipix_async._errors import JournalError
from digipix_async._log import log
from digipix_async.jobs._store import Begin, Decision, Finish, Store

__all__ = ["GATHER_FOR", "OUTCOMES_WAIT", "GroupCommit", "Worker"]

R = TypeVar("R")

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
        #: Why the last commit failed, while commits fail (logged once, not per retry).
        self.failing: str | None = None

    def take_outcomes(self) -> list[Finish]:
        """Take every outcome queued so far, oldest first."""
        outcomes = []
        with contextlib.suppress(IndexError):
            while True:
                outcomes.append(self.outcomes.popleft())
        return outcomes

    def oldest_outcome(self) -> Finish | None:
        """Return the oldest outcome still queued, or None."""
        try:
            return self.outcomes[0]
        except IndexError:  # none, or the worker took the last one meanwhile
            return None

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
            if not isinstance(error, sqlite3.OperationalError):
                # Not the file's state (a bug, an entry SQLite refuses): kept, it would
                # fail every commit after it, so it is logged and dropped.
                _log_lost(outcomes, str(error))
                raise
            # The file's state (full, an I/O error, locked): kept, oldest first, for the
            # next commit, since the disk may have room again by then; an outcome dropped
            # here would send a person to the dashboard for an order id the job knew.
            self.outcomes.extendleft(reversed(outcomes))
            if outcomes and self.failing is None:
                log.warning(
                    "journal: %d outcomes could not be recorded yet (%s); kept in memory "
                    "and retried with every commit",
                    len(outcomes),
                    error,
                )
            self.failing = str(error)
            raise
        if self.failing is not None:
            log.warning("journal: recording again (it had failed: %s)", self.failing)
            self.failing = None
        return results[len(outcomes) :]

    def close_store(self) -> None:
        """Commit the outcomes still queued, then close the connection (worker thread).

        Raise `JournalError` naming the outcomes that could not be recorded at all.
        """
        if self.store is None:
            return
        try:
            self.commit([])
        except Exception as error:
            lost = self.take_outcomes()
            _log_lost(lost, str(error))
            raise _unrecorded(lost, error) from error
        finally:
            self.store.close()
            self.store = None

    def submit(self, function: Callable[..., R], *args: Any) -> concurrent.futures.Future[R]:
        """Run ``function(*args)`` on the worker thread.

        Raise RuntimeError if the journal is closed, or the executor shut down
        (interpreter exit).
        """
        if self.executor is None:
            raise RuntimeError("the journal is closed")
        return self.executor.submit(function, *args)

    def commit_soon(self) -> None:
        """Have the worker thread commit the queued outcomes, whatever the event loop does.

        For when no task can be relied on to run (a cancellation, perhaps the loop
        shutting down): the executor runs what was submitted even at interpreter exit.
        """
        with contextlib.suppress(RuntimeError):  # closed: what is left reads as unknown
            self.submit(self.commit, []).add_done_callback(_retrieve)

    def abandon(self) -> None:
        """Commit, close the connection on its thread and let the thread end (journal dropped)."""
        executor, self.executor = self.executor, None
        if executor is not None:
            with contextlib.suppress(RuntimeError):  # interpreter exit: already shut down
                executor.submit(self.close_store).add_done_callback(_retrieve)
            executor.shutdown(wait=False)


class GroupCommit:
    """The event loop's side: queue intents (awaited) and outcomes (not), commit in rounds.

    Rounds are driven by callbacks, not by a task: an intent that can go submits its
    round to the worker itself, a round's end (delivered on the loop) submits the
    next, and a gathering round is a timer. Per create that is one hand-off to the
    worker and back and no extra task. Only outcomes left alone have a task, the
    keeper, which wakes at most once per `OUTCOMES_WAIT`; being a task, it is also
    what hears the loop end (cancelled: the outcomes still queued go to the worker).

    ``in_flight`` tells how many creates hold a key right now, waiting intents included.

    It follows the event loop it is used from: a journal may serve one ``asyncio.run``
    after another (a bot's commands), but not two live loops at once.
    """

    def __init__(self, worker: Worker, in_flight: Callable[[], int]) -> None:
        self._worker = worker
        self._in_flight = in_flight
        self._loop: asyncio.AbstractEventLoop | None = None
        self._intents: list[tuple[Begin, asyncio.Future[Decision]]] = []
        self._committing = False  # a round is on the worker; its end submits the next
        self._gathering: asyncio.TimerHandle | None = None
        self._keeper: asyncio.Task[None] | None = None
        self._outcome_came = False  # since the keeper last looked
        self._hurry = False

    async def intent(self, intent: Begin) -> Decision:
        """Queue ``intent`` and wait until it is committed; return what it decided."""
        done: asyncio.Future[Decision] = self._follow_loop().create_future()
        self._intents.append((intent, done))
        self._consider()
        return await done

    def outcome(self, outcome: Finish) -> None:
        """Queue ``outcome`` for a coming round (or the keeper, if none comes in time)."""
        loop = self._follow_loop()
        self._worker.outcomes.append(outcome)
        self._outcome_came = True
        if self._keeper is None or self._keeper.done():
            self._keeper = loop.create_task(self._keep())

    def poke(self) -> None:
        """Let a gathering round go if it has what it waits for (a create ended)."""
        if self._intents:
            self._follow_loop()
            self._consider()

    async def drain(self) -> None:
        """Commit what is queued now, without waiting for more (the journal is closing)."""
        self._follow_loop()
        self._hurry = True
        self._consider()
        keeper, self._keeper = self._keeper, None
        if keeper is not None:
            keeper.cancel()
            await asyncio.gather(keeper, return_exceptions=True)
        await self._commit_outcomes()

    def _follow_loop(self) -> asyncio.AbstractEventLoop:
        """Return the running loop; on a new one, drop what belonged to the one before.

        A round's end, the gathering timer, the keeper and the waiting intents all
        belong to the loop that made them. Once that loop has stopped (``asyncio.run``
        returned), none of them can ever run there: a round still marked as on the
        worker would hold every later intent back, and the keeper cannot be awaited.
        The outcomes queued stay queued: the new loop's rounds take them along.
        """
        loop = asyncio.get_running_loop()
        if loop is self._loop:
            return loop
        if self._loop is not None and self._loop.is_running():
            raise RuntimeError(
                "this OrderJournal is in use by another event loop that is still running; "
                "give each thread's loop a journal of its own"
            )
        if self._gathering is not None:
            self._gathering.cancel()
        self._loop = loop
        self._intents = []  # their creates were cancelled with their loop: never sent
        self._committing = False
        self._gathering = None
        self._keeper = None
        return loop

    def _consider(self) -> None:
        """Submit the waiting intents' round now, or gather for at most `GATHER_FOR`."""
        if self._committing or not self._intents:
            return
        if self._hurry or len(self._intents) >= self._in_flight():
            self._submit()
        elif self._gathering is None:
            self._gathering = asyncio.get_running_loop().call_later(GATHER_FOR, self._submit)

    def _submit(self) -> None:
        """Hand every waiting intent, and every outcome queued by then, to the worker."""
        if self._gathering is not None:
            self._gathering.cancel()
            self._gathering = None
        # A create cancelled while its intent waited is never sent: no intent to write
        # (written, a rerun would list it as unknown, for a look it does not need).
        batch = [(op, done) for op, done in self._intents if not done.cancelled()]
        self._intents = []
        if not batch:
            return
        loop = asyncio.get_running_loop()
        try:
            round_ = self._worker.submit(self._worker.commit, [op for op, _ in batch])
        except RuntimeError as error:  # closed, or shut down at interpreter exit
            self._worker.give_up(str(error))
            _fail(batch, error)
            return
        self._committing = True
        round_.add_done_callback(lambda ended: _on_loop(loop, self._deliver, batch, ended))

    def _deliver(
        self,
        batch: list[tuple[Begin, asyncio.Future[Decision]]],
        ended: concurrent.futures.Future[list[Any]],
    ) -> None:
        """Give each intent of a round its result (on the loop), then let the next go."""
        self._committing = False
        error = RuntimeError("the journal is closed") if ended.cancelled() else ended.exception()
        if error is not None:
            _fail(batch, error if isinstance(error, Exception) else RuntimeError(str(error)))
        else:
            for (_, done), result in zip(batch, ended.result(), strict=True):
                if done.done():
                    continue
                if isinstance(result, Exception):
                    done.set_exception(result)
                else:
                    done.set_result(result)
        self._consider()

    async def _keep(self) -> None:
        """Commit the outcomes no round took along within about `OUTCOMES_WAIT`.

        It looks every `OUTCOMES_WAIT` (the loop's clock, not the wall's): an outcome
        still the oldest queued at two looks in a row is committed, so none waits
        more than twice that. It ends when it finds none queued and none came since
        it last looked: a job's creates share one keeper (a task per create would
        cost more than the rest of the round). Cancelled (the loop is going away, or
        `drain`), it hands what is queued to the worker thread directly.
        """
        try:
            seen: Finish | None = None
            while True:
                oldest = self._worker.oldest_outcome()
                if oldest is None and not self._outcome_came:
                    return
                if oldest is not None and oldest is seen and await self._commit_outcomes():
                    continue
                # (A commit that failed kept them queued: tried again after a wait.)
                seen, self._outcome_came = oldest, False
                await asyncio.sleep(OUTCOMES_WAIT)
        except asyncio.CancelledError:
            self._worker.commit_soon()
            raise

    async def _commit_outcomes(self) -> bool:
        """Commit the queued outcomes now; return whether that worked.

        On failure they stay queued (`Worker.commit` logged why); with the journal
        closed they are logged as lost.
        """
        try:
            committing = asyncio.wrap_future(self._worker.submit(self._worker.commit, []))
        except RuntimeError as error:  # closed, or shut down at interpreter exit
            self._worker.give_up(str(error))
            return False
        try:
            await committing
        except Exception:
            return False
        return True


def _fail(batch: list[tuple[Begin, asyncio.Future[Decision]]], error: Exception) -> None:
    for _, done in batch:
        if not done.done():
            done.set_exception(error)


def _on_loop(loop: asyncio.AbstractEventLoop, callback: Callable[..., None], *args: Any) -> None:
    """Run ``callback(*args)`` on ``loop`` (from the worker thread), unless the loop is closed."""
    with contextlib.suppress(RuntimeError):  # closed: its tasks were cancelled already
        loop.call_soon_threadsafe(callback, *args)


def _retrieve(future: concurrent.futures.Future[Any]) -> None:
    """Take a worker job's failure (`Worker.commit` logged what it meant)."""
    if not future.cancelled():
        future.exception()


def _unrecorded(outcomes: list[Finish], error: Exception) -> JournalError:
    """The error `OrderJournal.aclose` raises for outcomes it could not record."""
    created = [o for o in outcomes if o.order_id]
    listed = ", ".join(f"{o.partner_order_id!r} as order {o.order_id}" for o in created[:20])
    if len(created) > 20:
        listed += f" and {len(created) - 20} more"
    count = f"{len(outcomes)} create" + ("s" if len(outcomes) != 1 else "")
    return JournalError(
        f"could not record the outcomes of {count} ({error}), so a rerun reports them as "
        "unknown"
        + (
            f"; created: {listed} (once the journal can be written, settle each with "
            "journal.mark_created(partner_order_id, order_id); the error's .unrecorded "
            "has them all)"
            if created
            else ""
        ),
        unrecorded={o.partner_order_id: o.order_id for o in outcomes},
    )


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
