"""The journal's SQLite file: schema, and the statements run on its one worker thread.

Nothing here is async and nothing here may be called from the event loop: every
function runs on the thread of `OrderJournal`'s executor, which also opened the
connection (a sqlite3 connection may not hop threads).

Durability: WAL mode with ``synchronous=FULL``. In WAL mode FULL syncs the WAL on
every commit, so a committed intent survives a power loss as well as a SIGKILL;
NORMAL would sync only at checkpoints, and a power loss could then forget an intent
whose request had already gone, which is the one thing the journal exists to prevent.
The cost is one fsync per transaction, paid once per group of concurrent creates
(the journal commits every intent waiting at that moment in one transaction).
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import os
import sqlite3
import uuid
from typing import Any, Literal, NamedTuple

from digipix_async._errors import JournalError, ValidationError

__all__ = ["Begin", "Decision", "Finish", "Row", "Store"]

State = Literal["pending", "created", "not_created", "unknown"]
_SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS orders (
    partner_order_id TEXT PRIMARY KEY,
    body_sha256 TEXT NOT NULL,
    state TEXT NOT NULL CHECK (
        state = 'pending' OR state = 'created' OR state = 'not_created' OR state = 'unknown'
    ),  -- not "IN (...)": on SQLite 3.40 that list costs ~8 us per row written, these nothing
    attempt TEXT NOT NULL,      -- which send an outcome belongs to
    order_id TEXT,
    answer BLOB,                -- the created order's JSON, to report it again on a rerun
    error TEXT,
    intent_at REAL NOT NULL,    -- unix time the intent was committed
    outcome_at REAL
);  -- a rowid table: rows carry a ~1.5 KB answer, which makes a WITHOUT ROWID tree slow
CREATE INDEX IF NOT EXISTS orders_open ON orders (state) WHERE state IN ('pending', 'unknown');
"""
#: Keys per query of `Store.created_among` (SQLite's oldest limit on ? marks is 999).
_IDS_PER_QUERY = 500
#: How long a writer waits for another process holding the file's write lock.
_BUSY_TIMEOUT = 10.0
_SELECT = (
    "SELECT partner_order_id, body_sha256, state, order_id, answer, error, intent_at FROM orders"
)
_GET = _SELECT + " WHERE partner_order_id = ?"
_OPEN = _SELECT + " WHERE state IN ('pending', 'unknown') ORDER BY intent_at"
_INSERT_NEW = (
    "INSERT INTO orders (partner_order_id, body_sha256, state, attempt, intent_at) "
    "VALUES (?, ?, 'pending', ?, ?) ON CONFLICT (partner_order_id) DO NOTHING"
)
_RESEND = (
    "UPDATE orders SET body_sha256 = ?, state = 'pending', attempt = ?, order_id = NULL, "
    "answer = NULL, error = NULL, intent_at = ?, outcome_at = NULL WHERE partner_order_id = ?"
)
_FINISH = (
    "UPDATE orders SET state = ?, order_id = ?, answer = ?, error = ?, outcome_at = ? "
    "WHERE partner_order_id = ? AND attempt = ?"
)
# Only "created" may overwrite an entry settled meanwhile (by a notification, by hand).
_FINISH_PENDING = _FINISH + " AND state = 'pending'"
_SETTLE = (
    "UPDATE orders SET state = ?, order_id = ?, answer = NULL, error = NULL, outcome_at = ? "
    "WHERE partner_order_id = ?"
)
_SETTLE_OPEN = _SETTLE + " AND state IN ('pending', 'unknown')"


class Row(NamedTuple):
    partner_order_id: str
    body_sha256: str
    state: State
    order_id: str | None
    answer: bytes | None
    error: str | None
    intent_at: float


class Begin(NamedTuple):
    """Write the intent to send ``partner_order_id`` (or say why not to send)."""

    partner_order_id: str
    body_sha256: str
    now: float
    resend_unknown: bool


class Decision(NamedTuple):
    """What to do with a create: ``send`` it (as ``attempt``), or report ``row``."""

    action: Literal["send", "created", "unknown"]
    attempt: str
    row: Row | None


class Finish(NamedTuple):
    """Record the outcome of ``attempt`` (created, not_created or unknown).

    Only ``created`` may overwrite an entry that something else settled meanwhile
    (a notification, ``mark_created``): the other outcomes apply while it is pending.
    """

    partner_order_id: str
    attempt: str
    state: State
    order_id: str | None
    answer: bytes | None
    error: str | None
    now: float


class Store:
    """One connection to the journal file, used only from the thread that made it."""

    def __init__(self, path: str) -> None:
        # Attempt ids: unique across runs and processes by this prefix, cheap by the count.
        self._attempts = map(f"{uuid.uuid4().hex}-{{:x}}".format, itertools.count())
        _create_private(path)
        connection = sqlite3.connect(path, timeout=_BUSY_TIMEOUT, isolation_level=None)
        try:
            _refuse_foreign(connection, path)  # before anything below changes the file
            mode = connection.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise JournalError(f"the journal {path!r} cannot use WAL mode (got {mode!r})")
            connection.execute("PRAGMA synchronous=FULL")
            version = connection.execute("PRAGMA user_version").fetchone()[0]
            if version not in (0, _SCHEMA_VERSION):
                raise JournalError(f"the journal {path!r} has schema {version}, this SDK knows 1")
            connection.executescript(_SCHEMA)
            connection.execute(f"PRAGMA user_version={_SCHEMA_VERSION}")
        except BaseException:
            connection.close()
            raise
        self._db = connection

    def close(self) -> None:
        self._db.close()

    def apply(self, operations: list[Begin | Finish]) -> list[Any]:
        """Run ``operations`` in ONE transaction (one fsync); return each one's result.

        A `ValidationError` of one operation is its result; it does not undo the rest.
        """
        results: list[Any] = []
        self._db.execute("BEGIN IMMEDIATE")
        try:
            for operation in operations:
                try:
                    if isinstance(operation, Begin):
                        results.append(self._begin(operation))
                    else:
                        results.append(self._finish(operation))
                except ValidationError as error:
                    results.append(error)
            self._db.execute("COMMIT")
        except BaseException:
            self._rollback()
            raise
        return results

    def _rollback(self) -> None:
        if self._db.in_transaction:  # a failed COMMIT may have ended it already
            self._db.execute("ROLLBACK")

    def _begin(self, op: Begin) -> Decision:
        attempt = next(self._attempts)
        # A new key (the common case) is one statement; a known one is read first.
        inserted = self._db.execute(
            _INSERT_NEW, (op.partner_order_id, op.body_sha256, attempt, op.now)
        )
        if inserted.rowcount == 1:
            return Decision("send", attempt, None)
        row = self.get(op.partner_order_id)
        if row is not None and row.state != "not_created":
            if row.body_sha256 != op.body_sha256:
                raise ValidationError(
                    "partner_order_id",
                    f"{op.partner_order_id!r} is already in the journal with another "
                    "request body; a partner order id names one order",
                )
            if row.state == "created":
                return Decision("created", attempt, row)
            if not op.resend_unknown:
                return Decision("unknown", attempt, row)
        # Refused before (nothing was created), or resent on purpose.
        self._db.execute(_RESEND, (op.body_sha256, attempt, op.now, op.partner_order_id))
        return Decision("send", attempt, None)

    def _finish(self, op: Finish) -> bool:
        cursor = self._db.execute(
            _FINISH if op.state == "created" else _FINISH_PENDING,
            (op.state, op.order_id, op.answer, op.error, op.now, op.partner_order_id, op.attempt),
        )
        return cursor.rowcount == 1

    def get(self, partner_order_id: str) -> Row | None:
        found = self._db.execute(_GET, (partner_order_id,)).fetchone()
        return Row(*found) if found is not None else None

    def created_among(self, partner_order_ids: list[str]) -> set[str]:
        """Return which of ``partner_order_ids`` the journal has as created."""
        found: set[str] = set()
        for start in range(0, len(partner_order_ids), _IDS_PER_QUERY):
            chunk = partner_order_ids[start : start + _IDS_PER_QUERY]
            marks = ", ".join("?" * len(chunk))  # only "?" marks: the keys are bound
            query = (
                "SELECT partner_order_id FROM orders "  # noqa: S608
                f"WHERE state = 'created' AND partner_order_id IN ({marks})"
            )
            found.update(key for (key,) in self._db.execute(query, chunk))
        return found

    def open_entries(self) -> list[Row]:
        """Return the entries whose outcome is unknown or was never written, oldest first."""
        return [Row(*found) for found in self._db.execute(_OPEN)]

    def settle(
        self,
        partner_order_id: str,
        state: State,
        order_id: str | None,
        now: float,
        *,
        only_open: bool,
    ) -> bool:
        """Set an entry's outcome by hand (or from a notification); False if none matched."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            cursor = self._db.execute(
                _SETTLE_OPEN if only_open else _SETTLE, (state, order_id, now, partner_order_id)
            )
            self._db.execute("COMMIT")
        except BaseException:
            self._rollback()
            raise
        return cursor.rowcount == 1

    def remember_answer(self, partner_order_id: str, order_id: str, answer: bytes) -> None:
        """Keep the answer of a GET for an order settled by hand, so a rerun needs none."""
        self._db.execute(
            "UPDATE orders SET answer = ? WHERE partner_order_id = ? AND state = 'created' "
            "AND order_id = ?",
            (answer, partner_order_id, order_id),
        )


def _refuse_foreign(connection: sqlite3.Connection, path: str) -> None:
    """Raise `JournalError` if ``path`` is a SQLite database of something else.

    Only reads: given a shop's own database by mistake, opening it as a journal
    would otherwise switch it to WAL mode, set its user_version and index its
    tables. An empty database (or a new file) becomes a journal.
    """
    tables = sorted(
        name
        for (name,) in connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
    )
    if not tables:
        return
    columns = {row[1] for row in connection.execute("PRAGMA table_info(orders)")}
    if tables != ["orders"] or columns != _journal_columns():
        raise JournalError(
            f"{path!r} is a SQLite database but not an order journal (its tables: "
            f"{', '.join(tables[:10])}{', ...' if len(tables) > 10 else ''}); it was not "
            "changed: give the journal a file of its own"
        )


@functools.cache
def _journal_columns() -> frozenset[str]:
    """The columns `_SCHEMA` gives the journal's table, read from SQLite itself so that
    the schema stays their one list (once per process, only to open an existing file)."""
    with contextlib.closing(sqlite3.connect(":memory:")) as db:
        db.executescript(_SCHEMA)
        return frozenset(row[1] for row in db.execute("PRAGMA table_info(orders)"))


def _create_private(path: str) -> None:
    """Create the file readable by its owner only, if it does not exist yet.

    It keeps each created order's answer, recipient included (personal data).
    SQLite gives the -wal and -shm files the permissions of the database file.
    """
    if path == ":memory:" or os.path.exists(path):
        return
    with contextlib.suppress(FileExistsError):  # another process made it meanwhile
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
