"""Durable bulk jobs: `OrderJournal`, the record that lets an order job crash and rerun.

``async with OrderJournal("orders.journal") as journal:`` and pass ``journal=journal``
to ``client.orders.create_many`` (or ``create``). Every create writes its intent
before it is sent and its outcome after; a rerun reports what the journal knows
instead of creating it twice. Journaled orders carry `JOURNAL_KEY` in ``customData``
so a status notification can settle an entry whose outcome was unknown.
"""

from digipix_async._errors import JournalError
from digipix_async.jobs._journal import JOURNAL_KEY, JournalEntry, OrderJournal

__all__ = ["JOURNAL_KEY", "JournalEntry", "JournalError", "OrderJournal"]
