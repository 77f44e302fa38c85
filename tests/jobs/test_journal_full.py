"""A journal whose file cannot grow (a full disk): nothing unrecorded is sent, nothing
the job learnt is dropped while it runs, and what cannot be kept is named.

"Full" is SQLite's own: ``PRAGMA max_page_count`` at the file's current size makes
every transaction that needs a new page fail with SQLITE_FULL, as a full disk does.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from conftest import SlowCreator
from samples import ITEMS, RECIPIENT

from digipix_async import DigipixClient
from digipix_async.jobs import JournalError, OrderJournal

SAFETY = 10  # seconds: a safety net, never a speed assertion
#: Echoed in each answer, which the journal keeps: ~1.6 KB a row, so rows need pages.
NOTE = {"note": "x" * 1500}


def order(number: int) -> dict[str, Any]:
    return {"recipient": RECIPIENT, "items": ITEMS, "partner_order_id": f"p{number}",
            "custom_data": NOTE}  # fmt: skip


async def set_full(journal: OrderJournal, full: bool, *, spare_pages: int = 0) -> None:
    """Cap the file at its size now (plus ``spare_pages``), or lift the cap."""

    def cap() -> None:
        db = journal._db()._db
        pages = db.execute("PRAGMA page_count").fetchone()[0] + spare_pages
        db.execute(f"PRAGMA max_page_count = {pages if full else 1 << 30}")

    await journal._thread(cap)  # not `_use`: that commits the queued outcomes first


async def create_all(client: DigipixClient, requests: list[dict[str, Any]], **kwargs: Any) -> Any:
    async with client.orders.create_many(requests, **kwargs) as results:
        return sorted([result async for result in results], key=lambda result: result.index)


async def test_an_order_whose_intent_cannot_be_recorded_is_not_sent(
    tmp_path: Path, slow_server: SlowCreator, slow_client: DigipixClient
) -> None:
    slow_server.delay = 0.01
    requests = [order(n) for n in range(80)]
    async with OrderJournal(tmp_path / "j.db") as journal:
        await journal.unknown()  # opened
        await set_full(journal, True, spare_pages=8)

        first = await create_all(slow_client, requests, journal=journal, concurrency=8)

        refused = [r for r in first if not r.ok]
        assert refused, "the cap should have been reached"
        for result in refused:
            error = result.error
            key = requests[result.index]["partner_order_id"]
            assert isinstance(error, JournalError), error
            assert isinstance(error.__cause__, sqlite3.OperationalError)
            assert error.partner_order_id == key
            assert (
                f"partner order id {key!r} (database or disk is full), so the order was NOT sent"
                in str(error)
            )
            assert slow_server.creates[key] == 0  # never sent
        created = {requests[r.index]["partner_order_id"]: r.value.id for r in first if r.ok}
        assert created == {key: slow_server.order_ids[key] for key in slow_server.creates}

        # Room again (the disk freed): what the job learnt while full is recorded.
        await set_full(journal, False)
        assert await journal.unknown() == []
        for key, order_id in created.items():
            row = await journal._row(key)
            assert row is not None
            assert (row.state, row.order_id) == ("created", order_id)

        posts = slow_server.requests
        again = await create_all(slow_client, requests, journal=journal, concurrency=8)

    assert all(result.ok for result in again)
    assert slow_server.requests - posts == len(refused)  # only those never sent
    assert all(slow_server.creates[r["partner_order_id"]] == 1 for r in requests)


async def test_outcomes_that_cannot_be_recorded_are_named_when_the_journal_closes(
    tmp_path: Path, slow_server: SlowCreator, slow_client: DigipixClient
) -> None:
    slow_server.delay = 0.5
    requests = [order(n) for n in range(5)]
    all_sent = asyncio.Event()
    slow_server.on_create = lambda *_: (
        all_sent.set() if slow_server.requests == len(requests) else None
    )
    journal = OrderJournal(tmp_path / "j.db")
    async with slow_client.orders.create_many(requests, journal=journal) as results:
        taking = asyncio.ensure_future(anext(results))  # the run starts its calls
        async with asyncio.timeout(SAFETY):
            await all_sent.wait()  # every intent is on disk
        await set_full(journal, True)  # before any answer comes back
        orders = [(await taking).value] + [result.value async for result in results]

    with pytest.raises(JournalError) as raised:
        await journal.aclose()

    # Created, and reported to the caller; only the journal could not keep them.
    assert {order.partner_order_id: order.id for order in orders} == slow_server.order_ids
    assert raised.value.unrecorded == slow_server.order_ids
    assert str(raised.value).startswith(
        "could not record the outcomes of 5 creates (database or disk is full), so a rerun "
        "reports them as unknown; created: 'p"
    )
    async with OrderJournal(tmp_path / "j.db") as reopened:
        assert sorted(entry.partner_order_id for entry in await reopened.unknown()) == sorted(
            slow_server.order_ids
        )


async def test_an_order_settled_by_hand_is_reported_though_its_answer_cannot_be_kept(
    tmp_path: Path,
    slow_server: SlowCreator,
    slow_client: DigipixClient,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    slow_server.delay = 0.01
    slow_server.drop = {"p0"}
    async with OrderJournal(tmp_path / "j.db") as journal:
        [lost] = await create_all(slow_client, [order(0)], journal=journal)
        assert not lost.ok
        await journal.mark_created("p0", slow_server.order_ids["p0"])  # found in the dashboard

        def full(*args: Any) -> None:
            raise sqlite3.OperationalError("database or disk is full")

        monkeypatch.setattr(journal._db(), "remember_answer", full)
        [rerun] = await create_all(slow_client, [order(0)], journal=journal)

    # Keeping the answer only spares the next rerun a GET: the order was read, and stands.
    assert rerun.ok, rerun.error
    assert rerun.value.id == slow_server.order_ids["p0"]
    assert slow_server.creates["p0"] == 1
    assert any("could not keep the answer of order" in r.getMessage() for r in caplog.records)
