"""`OrderJournal`: the durable record of every create-order a job attempts.

The SQLite work runs on ONE worker thread owned by the journal (stdlib ``sqlite3``:
a connection may not hop threads, so the thread that opens it does every statement).
Stdlib rather than aiosqlite: aiosqlite is that same design (a thread per
connection, a queue of calls) as a dependency, and it commits per call; the journal
needs its own queue anyway, to group the intents of concurrent creates into one
transaction (group commit: one fsync for all of them, and none is sent before it;
outcomes are not waited for and ride along: see `_commits`).
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import time
import weakref
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Self, TypeVar

import attrs

from digipix_async._errors import JournalError, ValidationError
from digipix_async._log import log
from digipix_async.jobs._commits import GroupCommit, Worker
from digipix_async.jobs._store import Begin, Decision, Finish, Row, State, Store

__all__ = ["JOURNAL_KEY", "JournalEntry", "OrderJournal"]

R = TypeVar("R")

#: The key the SDK adds to a journaled order's ``customData``, holding its partner
#: order id: a status notification then names the journal entry it settles.
JOURNAL_KEY = "digipix_journal_key"


@attrs.frozen
class JournalEntry:
    """An order whose outcome needs a look: ``state`` is ``unknown`` or ``pending``.

    ``pending`` means the intent was written and no outcome ever was (the process
    died while the request was out); ``unknown`` means the create failed in a way
    that does not tell (`OrderOutcomeUnknownError`). ``intent_at`` is when the
    request was about to go; ``body_sha256`` the hash of the exact body sent.
    """

    partner_order_id: str
    state: str
    intent_at: datetime
    body_sha256: str
    error: str | None


class OrderJournal:
    """A durable record (SQLite) of the create-orders of a job, keyed by partner order id.

    ``async with OrderJournal("orders.journal") as journal:`` then pass
    ``journal=journal`` to ``client.orders.create`` / ``create_many``. The file is
    opened on first use; `aclose` waits for the creates still recording into it.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self._path = os.fspath(path)
        self._worker = Worker()
        self._opening: asyncio.Task[None] | None = None
        self._finalizer: weakref.finalize[Any, Any] | None = None
        self._in_flight: set[str] = set()
        self._commits = GroupCommit(self._worker, self._in_flight.__len__)
        self._idle: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None  # of the creates in flight
        self._closed = False

    def __repr__(self) -> str:
        return f"<OrderJournal {self._path!r}{' closed' if self._closed else ''}>"

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # -- life ---------------------------------------------------------------------------

    async def open(self) -> None:
        """Open (or create) the file; safe to repeat, and done by first use anyway."""
        if self._closed:
            raise RuntimeError(f"{self!r} is closed; open a new OrderJournal")
        if self._is_open():
            return  # every create asks: no shield when there is nothing to wait for
        if self._opening is not None and self._opening.cancelled():
            # Cancelled with its event loop (asyncio.run ended mid-open): open again
            # from this one; the worker thread and what it opened are kept.
            self._opening = None
        if self._opening is None:
            if self._worker.executor is None:
                self._worker.executor = ThreadPoolExecutor(1, thread_name_prefix="digipix-journal")
                # Dropped without aclose(): the connection is still closed, on its thread.
                self._finalizer = weakref.finalize(self, self._worker.abandon)
            # A task, so that whoever comes first cannot leave the others an opening
            # cut short by its own cancellation.
            self._opening = asyncio.get_running_loop().create_task(self._thread(self._open_store))
        try:
            await asyncio.shield(self._opening)
        except Exception:
            executor, self._worker.executor = self._worker.executor, None
            if self._finalizer is not None:
                self._finalizer.detach()
            if executor is not None:  # a file that cannot be opened: no thread left behind
                executor.shutdown(wait=True)  # idle after the failed open: returns at once
            raise

    def _is_open(self) -> bool:
        opening = self._opening
        return (
            opening is not None
            and opening.done()
            and not opening.cancelled()
            and opening.exception() is None
        )

    def _open_store(self) -> None:
        if self._worker.store is None:  # an opening cut short may have made it already
            self._worker.store = Store(self._path)

    def _follow_loop(self) -> None:
        """Note the running loop; forget the creates of a loop closed without them.

        A loop closed by hand (``loop.close()``, no ``asyncio.run``) never runs its
        pending tasks again: their creates would hold their keys for good, keep
        them out of `unknown` and make `aclose` wait forever. Their entries stay
        pending in the file, which `unknown` then lists.
        """
        loop = asyncio.get_running_loop()
        if loop is self._loop:
            return
        previous, self._loop = self._loop, loop
        if previous is not None and previous.is_closed() and self._in_flight:
            log.warning(
                "journal: %d creates were left in flight by an event loop closed before "
                "they ended; their outcomes are unknown (see unknown())",
                len(self._in_flight),
            )
            self._in_flight.clear()
            self._idle = None

    async def aclose(self) -> None:
        """Wait for the creates recording into this journal, commit, close the file and thread.

        Like a file's ``close()``, it raises when what it holds cannot be written:
        `JournalError`, with ``unrecorded`` naming the creates whose outcomes are not
        in the file (a rerun reports those as unknown).
        """
        if self._closed:
            return
        self._follow_loop()
        if self._in_flight and self._idle is not None:
            await self._idle.wait()  # each create is bounded by its own deadline
        self._closed = True
        await self._commits.drain()
        executor, self._worker.executor = self._worker.executor, None
        if executor is None:
            return
        if self._finalizer is not None:
            self._finalizer.detach()
        try:
            await asyncio.get_running_loop().run_in_executor(executor, self._worker.close_store)
        finally:
            executor.shutdown(wait=True)  # the worker is idle: this returns at once

    async def _thread(self, function: Callable[..., R], *args: Any) -> R:
        executor = self._worker.executor
        if executor is None:
            raise RuntimeError(f"{self!r} is closed")
        try:
            return await asyncio.get_running_loop().run_in_executor(executor, function, *args)
        except sqlite3.Error as error:
            raise JournalError(f"the journal {self._path!r}: {error}") from error

    async def _use(self, function: Callable[[], R]) -> R:
        """Run ``function`` on the worker thread after the outcomes queued so far are committed."""
        await self.open()
        worker = self._worker

        def after_outcomes() -> R:
            worker.commit([])
            return function()

        return await self._thread(after_outcomes)

    def _db(self) -> Store:
        store = self._worker.store
        if store is None:
            raise RuntimeError(f"{self!r} is closed")
        return store

    # -- what the journaled create uses ------------------------------------------------

    async def _begin(self, partner_order_id: str, body_sha256: str, resend: bool) -> Decision:
        """Commit the intent to send (or learn it is known); the key counts as in flight."""
        self._follow_loop()
        if partner_order_id in self._in_flight:
            raise ValidationError(
                "partner_order_id",
                f"{partner_order_id!r} is being created right now by this job "
                "(the same partner order id twice in one run)",
            )
        self._in_flight.add(partner_order_id)
        if self._idle is None:
            self._idle = asyncio.Event()
        self._idle.clear()
        try:
            await self.open()
            if self._closed:
                raise RuntimeError(f"{self!r} is closed")
            decision = await self._commits.intent(
                Begin(partner_order_id, body_sha256, time.time(), resend)
            )
        except sqlite3.Error as error:
            self._release(partner_order_id)
            raise JournalError(
                f"the journal {self._path!r} could not record the intent to create partner "
                f"order id {partner_order_id!r} ({error}), so the order was NOT sent; a "
                "rerun sends it once the journal can be written",
                partner_order_id=partner_order_id,
            ) from error
        except BaseException:
            self._release(partner_order_id)
            raise
        if decision.action != "send":
            self._release(partner_order_id)
        return decision

    def _finish(
        self,
        partner_order_id: str,
        attempt: str,
        state: State,
        *,
        order_id: str | None = None,
        answer: bytes | None = None,
        error: str | None = None,
    ) -> None:
        """Queue the outcome of a create that was sent, and release its key.

        Committed with a coming round (see `_commits`); a failure to commit it is
        logged, naming the partner order id.
        """
        self._commits.outcome(
            Finish(partner_order_id, attempt, state, order_id, answer, error, time.time())
        )
        self._release(partner_order_id)

    def _finish_soon(self, partner_order_id: str, attempt: str, state: State, error: str) -> None:
        """`_finish` for a create being cancelled, perhaps by the loop shutting down: no
        task can be relied on to run, so the worker thread is asked directly (its
        queue is FIFO, after the intent; `aclose` waits for it)."""
        self._worker.outcomes.append(
            Finish(partner_order_id, attempt, state, None, None, error, time.time())
        )
        self._release(partner_order_id)
        self._worker.commit_soon()

    def _release(self, partner_order_id: str) -> None:
        self._in_flight.discard(partner_order_id)
        if not self._in_flight and self._idle is not None:
            self._idle.set()
        self._commits.poke()  # a round gathering intents may now have them all

    async def _remember_answer(self, partner_order_id: str, order_id: str, answer: bytes) -> None:
        await self._use(lambda: self._db().remember_answer(partner_order_id, order_id, answer))

    # -- what a person (or the webhook receiver) uses ------------------------------------

    async def unknown(self) -> list[JournalEntry]:
        """Return the entries needing a look: outcome unknown, or never written (a crash).

        Creates still in flight in this process are left out. Look each partner
        order id up in the Digipix dashboard, then `mark_created` or
        `mark_not_created` it.
        """
        self._follow_loop()
        rows: list[Row] = await self._use(lambda: self._db().open_entries())
        return [_entry(row) for row in rows if row.partner_order_id not in self._in_flight]

    async def mark_created(self, partner_order_id: str, order_id: str) -> None:
        """Settle an entry as created (found in the dashboard): a rerun will not send it.

        The rerun reports the order with one GET (the journal has no answer for it).
        """
        _check_id(order_id, "order_id")
        await self._settle(partner_order_id, "created", order_id, only_open=False)

    async def mark_not_created(self, partner_order_id: str) -> None:
        """Settle an entry as not created: a rerun sends it again."""
        await self._settle(partner_order_id, "not_created", None, only_open=False)

    async def settle_from_notification(
        self, custom_data: Mapping[str, Any] | None, order_id: str
    ) -> bool:
        """Settle an unknown (or pending) entry as created when a notification names it.

        ``custom_data`` is the notified order's ``customData``; the entry is found by
        its `JOURNAL_KEY`. Return True if an entry was settled by this call.
        """
        if not isinstance(custom_data, Mapping):
            return False
        key = custom_data.get(JOURNAL_KEY)
        if not isinstance(key, str) or not key or not isinstance(order_id, str) or not order_id:
            return False
        settled: bool = await self._use(
            lambda: self._db().settle(key, "created", order_id, time.time(), only_open=True)
        )
        if settled:
            log.info("journal: order %s (partner order id %r) settled by a notification",
                     order_id, key)  # fmt: skip
        return settled

    async def _settle(
        self, partner_order_id: str, state: State, order_id: str | None, *, only_open: bool
    ) -> None:
        _check_id(partner_order_id, "partner_order_id")
        now = time.time()
        found: bool = await self._use(
            lambda: self._db().settle(partner_order_id, state, order_id, now, only_open=only_open)
        )
        if not found:
            raise ValidationError(
                "partner_order_id", f"{partner_order_id!r} is not in the journal {self._path!r}"
            )

    async def _created_among(self, partner_order_ids: Iterable[str]) -> set[str]:
        """Return which of ``partner_order_ids`` a rerun reports from the journal (tools)."""
        keys = list(partner_order_ids)
        found: set[str] = await self._use(lambda: self._db().created_among(keys))
        return found

    async def _row(self, partner_order_id: str) -> Row | None:
        """Return the raw entry for ``partner_order_id`` (tests and tools)."""
        row: Row | None = await self._use(lambda: self._db().get(partner_order_id))
        return row


def _check_id(value: object, field: str) -> None:
    if not isinstance(value, str) or not value:
        raise ValidationError(field, f"expected a non-empty string, got {value!r}")


def _entry(row: Row) -> JournalEntry:
    return JournalEntry(
        partner_order_id=row.partner_order_id,
        state=row.state,
        intent_at=datetime.fromtimestamp(row.intent_at, UTC),
        body_sha256=row.body_sha256,
        error=row.error,
    )
