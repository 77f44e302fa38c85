"""The journal's file and thread: WAL with full sync, private, closed even when forgotten."""

from __future__ import annotations

import contextlib
import gc
import os
import sqlite3
import stat
import threading
from pathlib import Path

import pytest

from digipix_async.jobs import JournalError, OrderJournal, _store


def journal_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("digipix-journal")]


async def test_the_file_is_wal_with_full_sync_and_one_thread_closed_after(tmp_path: Path) -> None:
    async with OrderJournal(tmp_path / "j.db") as journal:
        assert len(journal_threads()) == 1
        modes = await journal._use(
            lambda: (
                journal._db()._db.execute("PRAGMA journal_mode").fetchone()[0],
                journal._db()._db.execute("PRAGMA synchronous").fetchone()[0],
            )
        )
    assert modes == ("wal", 2)  # 2 is FULL
    assert journal_threads() == []
    with pytest.raises(RuntimeError, match="closed"):
        await journal.unknown()


def file_modes(directory: Path) -> dict[str, int]:
    return {path.name: stat.S_IMODE(path.stat().st_mode) for path in directory.iterdir()}


async def test_a_journal_that_cannot_be_opened_says_so_and_leaves_no_thread(
    tmp_path: Path,
) -> None:
    journal = OrderJournal(tmp_path / "missing-directory" / "j.db")

    with pytest.raises(FileNotFoundError, match="missing-directory"):
        await journal.open()
    with pytest.raises(FileNotFoundError):
        await journal.unknown()  # the same reason, again
    await journal.aclose()

    assert journal_threads() == []


async def test_a_journal_dropped_unclosed_still_closes_its_file_and_thread(
    tmp_path: Path,
) -> None:
    journal = OrderJournal(tmp_path / "j.db")
    await journal.unknown()
    worker = journal._worker
    del journal
    gc.collect()
    for thread in journal_threads():
        thread.join(timeout=10)

    assert worker.store is None  # closed on its own thread (no ResourceWarning on 3.13)
    assert journal_threads() == []


@pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")
async def test_the_journal_file_is_private(tmp_path: Path) -> None:
    # It keeps each created order's answer: the recipient's personal data.
    async with OrderJournal(tmp_path / "j.db") as journal:
        await journal.unknown()
        modes = file_modes(tmp_path)  # while open: the -wal and -shm files exist

    assert set(modes) == {"j.db", "j.db-wal", "j.db-shm"}
    assert set(modes.values()) == {0o600}


async def test_created_among_reads_across_query_chunks(tmp_path: Path) -> None:
    # The keys go to SQLite in chunks of 500 "?" marks: 1,201 keys span three.
    keys = [f"p{number}" for number in range(1201)]
    created = set(keys[::50]) | {keys[499], keys[500], keys[1200]}
    intents = [_store.Begin(key, "0" * 64, 0.0, False) for key in keys]
    async with OrderJournal(tmp_path / "j.db") as journal:
        await journal._use(lambda: journal._db().apply(intents))
        for key in created:
            await journal.mark_created(key, "o-" + key)
        found = await journal._created_among([*keys, "never-seen"])
    assert found == created


@pytest.mark.parametrize("state", ["pending", "created", "not_created", "unknown"])
def test_the_file_holds_the_four_states_and_refuses_any_other(tmp_path: Path, state: str) -> None:
    store = _store.Store(str(tmp_path / "j.db"))
    insert = (
        "INSERT INTO orders (partner_order_id, body_sha256, state, attempt, intent_at) "
        "VALUES (?, '', ?, 'a', 0)"
    )
    try:
        store._db.execute(insert, ("p1", state))
        with pytest.raises(sqlite3.IntegrityError, match="CHECK"):
            store._db.execute(insert, ("p2", "Created"))
        with pytest.raises(sqlite3.IntegrityError, match="CHECK"):
            store._db.execute("UPDATE orders SET state = 'lost' WHERE partner_order_id = 'p1'")
    finally:
        store.close()


async def test_a_database_of_something_else_is_refused_and_left_unchanged(
    tmp_path: Path,
) -> None:
    # `--journal shop.db` by mistake: it was switched to WAL mode, given user_version 1
    # and an index on its own `orders` table before the first statement failed.
    shop = tmp_path / "shop.db"
    with contextlib.closing(sqlite3.connect(shop)) as db:
        db.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
        db.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, state TEXT, total REAL)")
        db.commit()
    before = shop.read_bytes()
    journal = OrderJournal(shop)

    with pytest.raises(JournalError, match=r"is a SQLite database but not an order journal "
                       r"\(its tables: customers, orders\); it was not changed"):  # fmt: skip
        await journal.open()
    await journal.aclose()

    assert shop.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["shop.db"]  # no -wal or -shm file either
    assert journal_threads() == []


async def test_an_empty_database_becomes_a_journal(tmp_path: Path) -> None:
    path = tmp_path / "empty.db"
    sqlite3.connect(path).close()  # a SQLite file with no table yet

    async with OrderJournal(path) as journal:
        assert await journal.unknown() == []
