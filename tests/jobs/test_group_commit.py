"""Group commit: which intents and outcomes share a transaction, and what waits for what.

A store that records each transaction stands in for SQLite; the worker thread is
real. The waits are patched long (60 s) where a test shows that something does
NOT wait for them: the safety timeout would fail it otherwise.
"""

from __future__ import annotations

import asyncio
import contextlib
import pickle
import sqlite3
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from conftest import SlowCreator, end_like_asyncio_run
from samples import ITEMS, RECIPIENT

from digipix_async import DigipixClient
from digipix_async.jobs import JournalError, OrderJournal, _commits
from digipix_async.jobs._commits import GroupCommit, Worker
from digipix_async.jobs._store import Begin, Decision, Finish, Store
from digipix_async.sandbox import SandboxServer

SAFETY = 10  # seconds: a safety net, never a speed assertion


class RecordingStore:
    """Each `apply` call is one transaction: remember what it held."""

    def __init__(self) -> None:
        self.transactions: list[list[str]] = []
        self.committed = threading.Event()

    def apply(self, operations: list[Begin | Finish]) -> list[Any]:
        self.committed.set()
        self.transactions.append(
            [
                f"{'intent' if isinstance(op, Begin) else 'outcome'} {op.partner_order_id}"
                for op in operations
            ]
        )
        return [
            Decision("send", "a1", None) if isinstance(op, Begin) else True for op in operations
        ]

    def close(self) -> None:
        pass


def intent(key: str) -> Begin:
    return Begin(key, "0" * 64, time.time(), False)


def outcome(key: str) -> Finish:
    return Finish(key, "a1", "created", "o-" + key, b"{}", None, time.time())


class InFlight:
    """How many creates hold a key (the journal's count), set by the test."""

    def __init__(self, count: int) -> None:
        self.count = count

    def __call__(self) -> int:
        return self.count


@pytest.fixture
def patient(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make every wait 60 s: a test passing in time shows that nothing waited."""
    monkeypatch.setattr(_commits, "GATHER_FOR", 60.0)
    monkeypatch.setattr(_commits, "OUTCOMES_WAIT", 60.0)


@pytest.fixture
def store() -> RecordingStore:
    return RecordingStore()


@pytest.fixture
async def worker(store: RecordingStore) -> AsyncIterator[Worker]:
    from concurrent.futures import ThreadPoolExecutor

    worker = Worker()
    worker.executor = ThreadPoolExecutor(1)
    worker.store = store  # type: ignore[assignment]
    yield worker
    worker.executor.shutdown(wait=True)


async def test_a_lone_intent_is_committed_at_once(
    patient: None, worker: Worker, store: RecordingStore
) -> None:
    commits = GroupCommit(worker, InFlight(1))
    async with asyncio.timeout(SAFETY):
        decision = await commits.intent(intent("p1"))
    assert decision.action == "send"
    assert store.transactions == [["intent p1"]]


async def test_intents_of_creates_on_the_wire_are_gathered_into_one_commit(
    patient: None, worker: Worker, store: RecordingStore
) -> None:
    commits = GroupCommit(worker, InFlight(3))
    async with asyncio.timeout(SAFETY):
        first = asyncio.create_task(commits.intent(intent("p1")))
        await asyncio.sleep(0.02)  # the round is waiting for the other two
        second = asyncio.create_task(commits.intent(intent("p2")))
        await asyncio.sleep(0.02)
        third = asyncio.create_task(commits.intent(intent("p3")))
        await asyncio.gather(first, second, third)
    assert store.transactions == [["intent p1", "intent p2", "intent p3"]]


async def test_a_gathering_round_goes_when_a_create_on_the_wire_ends(
    patient: None, worker: Worker, store: RecordingStore
) -> None:
    in_flight = InFlight(2)
    commits = GroupCommit(worker, in_flight)
    async with asyncio.timeout(SAFETY):
        waiting = asyncio.create_task(commits.intent(intent("p1")))
        await asyncio.sleep(0.02)
        assert store.transactions == []  # p2 is on the wire: its successor may come
        in_flight.count = 1  # p2 ended without a successor
        commits.poke()
        await waiting
    assert store.transactions == [["intent p1"]]


async def test_gathering_is_bounded(
    monkeypatch: pytest.MonkeyPatch, worker: Worker, store: RecordingStore
) -> None:
    monkeypatch.setattr(_commits, "GATHER_FOR", 0.05)
    commits = GroupCommit(worker, InFlight(5))  # four others on the wire, none coming
    async with asyncio.timeout(SAFETY):
        await commits.intent(intent("p1"))
    assert store.transactions == [["intent p1"]]


async def test_an_outcome_is_not_waited_for_and_rides_with_the_next_intent(
    patient: None, worker: Worker, store: RecordingStore
) -> None:
    commits = GroupCommit(worker, InFlight(1))
    commits.outcome(outcome("p1"))  # returns at once: nobody waits for an outcome
    await asyncio.sleep(0.02)
    assert store.transactions == []
    async with asyncio.timeout(SAFETY):
        await commits.intent(intent("p2"))
    assert store.transactions == [["outcome p1", "intent p2"]]  # outcome first


async def test_outcomes_alone_are_committed_after_a_while(
    monkeypatch: pytest.MonkeyPatch, worker: Worker, store: RecordingStore
) -> None:
    monkeypatch.setattr(_commits, "OUTCOMES_WAIT", 0.05)
    commits = GroupCommit(worker, InFlight(0))
    commits.outcome(outcome("p1"))
    commits.outcome(outcome("p2"))
    assert await asyncio.to_thread(store.committed.wait, SAFETY)
    assert store.transactions == [["outcome p1", "outcome p2"]]


async def test_outcomes_alone_wait_by_the_loops_clock_not_the_wall_clock(
    monkeypatch: pytest.MonkeyPatch, worker: Worker, store: RecordingStore
) -> None:
    monkeypatch.setattr(_commits, "OUTCOMES_WAIT", 0.05)
    commits = GroupCommit(worker, InFlight(0))
    # Made just before the wall clock was set back an hour: its time reads as future.
    commits.outcome(outcome("p1")._replace(now=time.time() + 3600))
    assert await asyncio.to_thread(store.committed.wait, SAFETY)
    assert store.transactions == [["outcome p1"]]


def test_outcomes_an_executor_shut_down_refuses_are_logged_not_spun_on(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    monkeypatch.setattr(_commits, "OUTCOMES_WAIT", 0.05)
    worker = Worker()
    worker.executor = ThreadPoolExecutor(1)
    worker.executor.shutdown()  # as at interpreter exit: submit raises at once
    worker.store = RecordingStore()  # type: ignore[assignment]

    async def main() -> None:
        GroupCommit(worker, InFlight(0)).outcome(outcome("p1"))
        await asyncio.sleep(0.3)  # the keeper's looks come and go meanwhile

    # On a thread: a keeper spinning without a suspension would never give it back.
    loop_thread = threading.Thread(target=asyncio.run, args=(main(),), daemon=True)
    loop_thread.start()
    loop_thread.join(SAFETY)
    assert not loop_thread.is_alive()
    assert list(worker.outcomes) == []
    [record] = [r for r in caplog.records if "could not be recorded" in r.getMessage()]
    assert "'p1'" in record.getMessage()


async def test_drain_commits_what_is_queued_without_waiting(
    patient: None, worker: Worker, store: RecordingStore
) -> None:
    commits = GroupCommit(worker, InFlight(0))
    commits.outcome(outcome("p1"))
    async with asyncio.timeout(SAFETY):
        await commits.drain()
    assert store.transactions == [["outcome p1"]]


class Failing(RecordingStore):
    """A store whose transactions fail while ``full`` is set, as on a full disk."""

    def __init__(self) -> None:
        super().__init__()
        self.full = True
        self.attempts = 0

    def apply(self, operations: list[Begin | Finish]) -> list[Any]:
        self.attempts += 1
        if self.full:
            raise sqlite3.OperationalError("database or disk is full")
        return super().apply(operations)


async def test_a_failed_commit_fails_its_intents_and_keeps_its_outcomes_for_the_next(
    patient: None, worker: Worker, caplog: pytest.LogCaptureFixture
) -> None:
    store = Failing()
    worker.store = store  # type: ignore[assignment]
    commits = GroupCommit(worker, InFlight(1))
    commits.outcome(outcome("p1"))
    async with asyncio.timeout(SAFETY):
        with pytest.raises(sqlite3.OperationalError, match="disk is full"):
            await commits.intent(intent("p2"))
        with pytest.raises(sqlite3.OperationalError, match="disk is full"):
            await commits.intent(intent("p3"))
        # Before, the outcome was logged and dropped: a rerun then listed an order
        # the job had created as unknown, for a person to look up.
        assert [o.partner_order_id for o in worker.outcomes] == ["p1"]
        store.full = False
        await commits.intent(intent("p4"))
    assert store.transactions == [["outcome p1", "intent p4"]]
    warnings = [r.getMessage() for r in caplog.records if r.name == "digipix_async"]
    assert warnings == [  # once, not per failed commit
        "journal: 1 outcomes could not be recorded yet (database or disk is full); kept in "
        "memory and retried with every commit",
        "journal: recording again (it had failed: database or disk is full)",
    ]


async def test_an_outcome_sqlite_refuses_is_dropped_not_kept_to_fail_every_commit(
    patient: None, worker: Worker, caplog: pytest.LogCaptureFixture
) -> None:
    class Refusing(RecordingStore):
        def apply(self, operations: list[Begin | Finish]) -> list[Any]:
            if any(isinstance(op, Finish) and op.partner_order_id == "p1" for op in operations):
                raise sqlite3.InterfaceError("Error binding parameter 3")
            return super().apply(operations)

    store = Refusing()
    worker.store = store  # type: ignore[assignment]
    commits = GroupCommit(worker, InFlight(1))
    commits.outcome(outcome("p1"))
    async with asyncio.timeout(SAFETY):
        with pytest.raises(sqlite3.InterfaceError):
            await commits.intent(intent("p2"))
        await commits.intent(intent("p3"))  # not wedged behind p1

    assert store.transactions == [["intent p3"]]
    [lost] = [r.getMessage() for r in caplog.records if "could not be recorded:" in r.getMessage()]
    assert "'p1' (created, order o-p1)" in lost


async def test_the_keeper_retries_outcomes_after_a_wait_not_in_a_spin(
    monkeypatch: pytest.MonkeyPatch, worker: Worker
) -> None:
    monkeypatch.setattr(_commits, "OUTCOMES_WAIT", 0.05)
    store = Failing()
    worker.store = store  # type: ignore[assignment]
    commits = GroupCommit(worker, InFlight(0))
    commits.outcome(outcome("p1"))
    await asyncio.sleep(0.5)
    # One try per look at most: ~5 in 0.5 s (a spin would make thousands).
    assert 1 <= store.attempts <= 12
    store.full = False
    assert await asyncio.to_thread(store.committed.wait, SAFETY)
    assert store.transactions == [["outcome p1"]]
    assert list(worker.outcomes) == []


async def test_closing_names_the_outcomes_it_could_not_record(
    worker: Worker, caplog: pytest.LogCaptureFixture
) -> None:
    worker.store = Failing()  # type: ignore[assignment]
    worker.outcomes.extend([outcome("p1"), Finish("p2", "a1", "unknown", None, None, "x", 0.0)])

    with pytest.raises(JournalError) as raised:
        await asyncio.to_thread(worker.close_store)

    assert raised.value.unrecorded == {"p1": "o-p1", "p2": None}
    assert str(raised.value) == (
        "could not record the outcomes of 2 creates (database or disk is full), so a rerun "
        "reports them as unknown; created: 'p1' as order o-p1 (once the journal can be "
        "written, settle each with journal.mark_created(partner_order_id, order_id); the "
        "error's .unrecorded has them all)"
    )
    assert isinstance(raised.value.__cause__, sqlite3.OperationalError)
    assert pickle.loads(pickle.dumps(raised.value)).unrecorded == {"p1": "o-p1", "p2": None}
    assert worker.store is None
    assert list(worker.outcomes) == []
    lost = [r.getMessage() for r in caplog.records if "could not be recorded:" in r.getMessage()]
    assert len(lost) == 2
    assert "'p1' (created, order o-p1)" in lost[0]


async def test_sequential_creates_start_no_task_per_round(
    patient: None, worker: Worker, store: RecordingStore
) -> None:
    # Each task costs a loop iteration or two per create; rounds are callbacks, and
    # the outcomes of a whole job share one keeper task.
    started: list[str] = []
    loop = asyncio.get_running_loop()

    def counting(loop: asyncio.AbstractEventLoop, coro: Any, **kwargs: Any) -> asyncio.Task[Any]:
        started.append(coro.__qualname__)
        return asyncio.Task(coro, loop=loop, **kwargs)

    loop.set_task_factory(counting)
    try:
        commits = GroupCommit(worker, InFlight(1))
        async with asyncio.timeout(SAFETY):
            for number in range(20):
                await commits.intent(intent(f"p{number}"))
                commits.outcome(outcome(f"p{number}"))
            await commits.drain()
    finally:
        loop.set_task_factory(None)
    assert [name for name in started if name.startswith("GroupCommit")] == ["GroupCommit._keep"]
    assert len(store.transactions) == 21  # one per intent (with the last outcome), and drain's


# -- with the real journal ---------------------------------------------------------------


@pytest.fixture
def transactions(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """Record each transaction the journal's store commits."""
    seen: list[list[str]] = []
    apply = Store.apply

    def recording(self: Store, operations: list[Begin | Finish]) -> list[Any]:
        seen.append([type(op).__name__ for op in operations])
        return apply(self, operations)

    monkeypatch.setattr(Store, "apply", recording)
    return seen


async def test_one_commit_per_create_when_creates_come_one_at_a_time(
    patient: None, tmp_path: Path, transactions: list[list[str]]
) -> None:
    # Before, each create waited for two commits: its intent's and its outcome's.
    async with SandboxServer() as sandbox, OrderJournal(tmp_path / "j.db") as journal:
        client = DigipixClient(sandbox.client_id, sandbox.client_secret, base_url=sandbox.base_url)
        async with client, asyncio.timeout(SAFETY):
            for number in range(5):
                await client.orders.create(
                    recipient=RECIPIENT, items=ITEMS, partner_order_id=f"p{number}", journal=journal
                )
            assert [state for state in await _states(journal, 5)] == ["created"] * 5
    assert transactions == [
        ["Begin"],
        ["Finish", "Begin"],
        ["Finish", "Begin"],
        ["Finish", "Begin"],
        ["Finish", "Begin"],
        ["Finish"],  # committed by the read above, before it read
    ]


async def _states(journal: OrderJournal, count: int) -> list[str]:
    rows = [await journal._row(f"p{number}") for number in range(count)]
    return [row.state if row is not None else "missing" for row in rows]


def test_an_outcome_queued_when_the_loop_ends_is_still_committed(
    patient: None, tmp_path: Path
) -> None:
    # The create returned; its outcome waits to ride with a next intent that never
    # comes, and the journal is never closed: asyncio.run's end cancels the wait.
    server = SlowCreator(delay=0.01)
    kept: list[Any] = []

    async def main() -> None:
        await server.start()
        journal = OrderJournal(tmp_path / "j.db")
        client = DigipixClient("id", "secret", base_url=server.base_url)
        kept.extend([journal, client])
        await client.orders.create(
            recipient=RECIPIENT, items=ITEMS, partner_order_id="p0", journal=journal
        )

    async def clean_up() -> None:
        journal, client = kept
        await client.close()
        await server.close()
        await journal.aclose()

    with asyncio.Runner() as runner:
        runner.run(main())
        end_like_asyncio_run(runner)
        worker = kept[0]._worker.executor
        worker.submit(lambda: None).result(timeout=SAFETY)  # its queue is FIFO
        with contextlib.closing(sqlite3.connect(tmp_path / "j.db")) as db:
            state = db.execute("SELECT state FROM orders WHERE partner_order_id = 'p0'").fetchone()
        runner.run(clean_up())

    assert server.created == 1
    assert state == ("created",)


async def test_an_intent_whose_create_was_cancelled_before_its_round_is_not_written(
    patient: None, worker: Worker, store: RecordingStore
) -> None:
    in_flight = InFlight(3)
    commits = GroupCommit(worker, in_flight)
    async with asyncio.timeout(SAFETY):
        cancelled = asyncio.create_task(commits.intent(intent("p1")))
        await asyncio.sleep(0.02)  # waiting for the round, which gathers
        cancelled.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await cancelled
        in_flight.count = 1
        await commits.intent(intent("p2"))
    assert store.transactions == [["intent p2"]]  # p1 was never sent: nothing to look at


async def test_a_round_after_the_journal_closed_logs_the_outcomes_it_drops(
    patient: None, worker: Worker, caplog: pytest.LogCaptureFixture
) -> None:
    commits = GroupCommit(worker, InFlight(0))
    commits.outcome(outcome("p1"))
    executor, worker.executor = worker.executor, None  # dropped meanwhile (the finalizer)
    try:
        async with asyncio.timeout(SAFETY):
            await commits.drain()
    finally:
        worker.executor = executor  # for the fixture to shut it down
    assert list(worker.outcomes) == []
    [record] = [r for r in caplog.records if "could not be recorded" in r.getMessage()]
    assert "'p1'" in record.getMessage()


def test_a_second_live_loop_is_refused_before_its_intent_is_queued() -> None:
    from concurrent.futures import ThreadPoolExecutor

    worker, store = Worker(), RecordingStore()
    worker.executor = ThreadPoolExecutor(1)
    worker.store = store  # type: ignore[assignment]
    commits = GroupCommit(worker, InFlight(1))
    holding, release = threading.Event(), threading.Event()

    async def first() -> None:
        await commits.intent(intent("p1"))
        holding.set()
        await asyncio.get_running_loop().run_in_executor(None, release.wait, SAFETY)

    thread = threading.Thread(target=asyncio.run, args=(first(),))
    thread.start()
    try:
        assert holding.wait(SAFETY)

        async def second() -> None:
            with pytest.raises(RuntimeError, match="another event loop that is still running"):
                await commits.intent(intent("p2"))

        asyncio.run(second())
    finally:
        release.set()
        thread.join(SAFETY)
        worker.executor.shutdown(wait=True)
    assert store.transactions == [["intent p1"]]
