"""NotificationReceiver(journal=...): an authentic notification settles an unknown order."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pytest

from digipix_async.jobs import JOURNAL_KEY
from digipix_async.webhooks import NotificationEvent, NotificationReceiver

SECRET = "wh-journal-s3cr3t"
NOTE = {"id": "ord-1", "status": "IN_MANUFACTURING", "customData": {JOURNAL_KEY: "INV-1"}}


class FakeJournal:
    def __init__(self, *, fail: bool = False) -> None:
        self.settled: list[tuple[Any, str]] = []
        self.fail = fail

    async def settle_from_notification(
        self, custom_data: Mapping[str, Any] | None, order_id: str
    ) -> bool:
        if self.fail:
            raise OSError("disk full")
        self.settled.append((dict(custom_data or {}), order_id))
        return True


async def nothing(event: NotificationEvent) -> None:
    return None


async def test_an_authentic_notification_settles_the_journal() -> None:
    journal = FakeJournal()
    receiver = NotificationReceiver(nothing, secret=SECRET, journal=journal)
    outcome = await receiver.handle(json.dumps(NOTE), {"token": SECRET})
    assert outcome.status == 200
    assert journal.settled == [({JOURNAL_KEY: "INV-1"}, "ord-1")]


async def test_a_forged_notification_settles_nothing() -> None:
    journal = FakeJournal()
    receiver = NotificationReceiver(nothing, secret=SECRET, journal=journal)
    outcome = await receiver.handle(json.dumps(NOTE), {"token": "wrong"})
    assert outcome.status == 403
    assert journal.settled == []


async def test_a_failing_journal_never_refuses_the_notification(
    caplog: pytest.LogCaptureFixture,
) -> None:
    events: list[NotificationEvent] = []

    async def record(event: NotificationEvent) -> None:
        events.append(event)

    receiver = NotificationReceiver(record, secret=SECRET, journal=FakeJournal(fail=True))
    outcome = await receiver.handle(json.dumps(NOTE), {"token": SECRET})
    assert outcome.status == 200
    assert len(events) == 1
    assert "could not settle order 'ord-1' in the order journal" in caplog.text


def test_a_journal_must_be_one() -> None:
    with pytest.raises(TypeError, match="journal"):
        NotificationReceiver(nothing, journal=object())  # type: ignore[arg-type]
