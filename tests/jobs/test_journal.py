"""`OrderJournal`: intents before sending, outcomes after, and reruns that create nothing twice."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest
from conftest import SlowCreator, end_like_asyncio_run
from samples import ITEMS, RECIPIENT

from digipix_async import (
    APIResponseValidationError,
    DigipixClient,
    DigipixError,
    NotFoundError,
    Order,
    OrderOutcomeUnknownError,
    RateLimitError,
    ValidationError,
)
from digipix_async.jobs import JOURNAL_KEY, OrderJournal, _store
from digipix_async.sandbox import SandboxServer


def order(number: int, **more: Any) -> dict[str, Any]:
    return {"recipient": RECIPIENT, "items": ITEMS, "partner_order_id": f"p{number}", **more}


def journal_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("digipix-journal")]


def row(path: Path, partner_order_id: str) -> tuple[Any, ...] | None:
    """Read an entry as another process would: a connection of its own."""
    with contextlib.closing(sqlite3.connect(path)) as db:
        found: tuple[Any, ...] | None = db.execute(
            "SELECT state, order_id, body_sha256 FROM orders WHERE partner_order_id = ?",
            (partner_order_id,),
        ).fetchone()
    return found


async def create_all(client: DigipixClient, requests: list[dict[str, Any]], **kwargs: Any) -> Any:
    async with client.orders.create_many(requests, **kwargs) as results:
        return sorted([result async for result in results], key=lambda result: result.index)


async def test_a_rerun_reports_known_orders_without_a_request(tmp_path: Path) -> None:
    requests = [order(n, custom_data={"shop": "s1", "n": n}) for n in range(30)]
    async with SandboxServer() as sandbox, OrderJournal(tmp_path / "j.db") as journal:
        client = DigipixClient(sandbox.client_id, sandbox.client_secret, base_url=sandbox.base_url)
        async with client:
            first = await create_all(client, requests, journal=journal, concurrency=8)
            sent = sandbox.request_count("POST", "/v1/orders")
            again = await create_all(client, requests, journal=journal, concurrency=8)
            one = await client.orders.create(**requests[3], journal=journal)

        assert sandbox.request_count("POST", "/v1/orders") == sent == 30
        assert all(result.ok for result in first + again)
        assert [r.value for r in again] == [r.value for r in first]  # the same Orders
        assert one == first[3].value
        for number in range(30):
            assert sandbox.creates_for(f"p{number}") == 1
        # The reserved key rides in customData; the user's keys are kept.
        document = sandbox.order(first[5].value.id)
        assert document["customData"] == {"shop": "s1", "n": 5, JOURNAL_KEY: "p5"}


async def test_the_intent_is_committed_before_the_request_leaves(
    tmp_path: Path, slow_server: SlowCreator, slow_client: DigipixClient
) -> None:
    path = tmp_path / "j.db"
    seen_at_server: dict[str, Any] = {}

    def check(partner_order_id: str, body: bytes) -> None:
        seen_at_server[partner_order_id] = (row(path, partner_order_id), body)

    slow_server.on_create = check
    slow_server.delay = 0.01

    async with OrderJournal(path) as journal:
        results = await create_all(
            slow_client, [order(n) for n in range(20)], journal=journal, concurrency=10
        )

    assert all(result.ok for result in results)
    assert len(seen_at_server) == 20
    for partner_order_id, (entry, body) in seen_at_server.items():
        # Durable (read by another connection) and hashed over the exact bytes sent.
        assert entry is not None, partner_order_id
        assert entry[0] == "pending"
        assert entry[2] == hashlib.sha256(body).hexdigest()
        assert row(path, partner_order_id)[:2] == (
            "created",
            slow_server.order_ids[partner_order_id],
        )


async def test_concurrent_intents_share_one_commit(
    tmp_path: Path,
    slow_server: SlowCreator,
    slow_client: DigipixClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    batches: list[int] = []
    apply = _store.Store.apply

    def counting(self: _store.Store, operations: list[Any]) -> list[Any]:
        batches.append(len(operations))
        return apply(self, operations)

    monkeypatch.setattr(_store.Store, "apply", counting)
    slow_server.delay = 0.05
    async with OrderJournal(tmp_path / "j.db") as journal:
        results = await create_all(
            slow_client, [order(n) for n in range(64)], journal=journal, concurrency=16
        )

    assert all(result.ok for result in results)
    assert sum(batches) == 128  # an intent and an outcome per order
    assert len(batches) < 64  # far fewer transactions (fsyncs) than orders
    assert max(batches) >= 8


async def test_an_unknown_outcome_is_not_resent_until_asked(
    tmp_path: Path, slow_server: SlowCreator, slow_client: DigipixClient
) -> None:
    slow_server.delay = 0.01
    slow_server.drop = {"p1"}  # the server creates p1, and its answer is lost
    requests = [order(n) for n in range(3)]
    async with OrderJournal(tmp_path / "j.db") as journal:
        first = await create_all(slow_client, requests, journal=journal)
        [entry] = await journal.unknown()
        again = await create_all(slow_client, requests, journal=journal)
        with pytest.raises(OrderOutcomeUnknownError, match="not sent again") as caught:
            await slow_client.orders.create(**requests[1], journal=journal)
        assert slow_server.requests == 3  # nothing was sent by either rerun

        slow_server.drop = set()
        resent = await slow_client.orders.create(
            **requests[1], journal=journal, resend_unknown=True
        )
        assert slow_server.creates["p1"] == 2  # asked for, on the user's word
        assert await journal.unknown() == []

    assert isinstance(first[1].error, OrderOutcomeUnknownError)
    assert isinstance(again[1].error, OrderOutcomeUnknownError)
    assert caught.value.partner_order_id == "p1"
    assert [r.ok for r in again] == [True, False, True]
    assert entry.partner_order_id == "p1"
    assert entry.state == "unknown"
    assert entry.error is not None
    assert "OrderOutcomeUnknownError" in entry.error
    assert len(entry.body_sha256) == 64
    assert resent.partner_order_id == "p1"


async def test_a_create_in_flight_in_another_process_is_reported_as_such(
    tmp_path: Path, slow_server: SlowCreator, slow_client: DigipixClient
) -> None:
    # Two journal objects on one file stand for two processes sharing a journal: the
    # second finds the first's intent with no outcome yet. That is not a job that
    # stopped: the message must not send the user looking for a crash.
    slow_server.delay = 0.5
    async with (
        OrderJournal(tmp_path / "j.db") as first,
        OrderJournal(tmp_path / "j.db") as second,
    ):
        arrived = asyncio.Event()
        slow_server.on_create = lambda _key, _body: arrived.set()
        in_flight = asyncio.create_task(slow_client.orders.create(**order(1), journal=first))
        await arrived.wait()
        with pytest.raises(OrderOutcomeUnknownError) as caught:
            await slow_client.orders.create(**order(1), journal=second)
        created = await in_flight

    assert slow_server.creates["p1"] == 1
    assert created.partner_order_id == "p1"
    assert caught.value.partner_order_id == "p1"
    text = str(caught.value)
    assert "in flight now in another process using this journal" in text
    assert "or was when its job stopped" in text
    assert "not sent again (resend_unknown=False)" in text


async def test_settling_by_hand(
    tmp_path: Path, slow_server: SlowCreator, slow_client: DigipixClient
) -> None:
    slow_server.delay = 0.01
    slow_server.drop = {"p0", "p1"}
    requests = [order(0), order(1)]
    async with OrderJournal(tmp_path / "j.db") as journal:
        await create_all(slow_client, requests, journal=journal)
        slow_server.drop = set()
        await journal.mark_created("p0", slow_server.order_ids["p0"])  # found in the dashboard
        await journal.mark_not_created("p1")  # not found: send it again
        with pytest.raises(ValidationError, match="not in the journal") as missing:
            await journal.mark_created("nope", "x")
        results = await create_all(slow_client, requests, journal=journal)
        results_again = await create_all(slow_client, requests, journal=journal)

    assert missing.value.field == "partner_order_id"
    assert [r.value.partner_order_id for r in results] == ["p0", "p1"]
    assert results[0].value.id == slow_server.order_ids["p0"]  # read with one GET
    assert slow_server.creates == {"p0": 1, "p1": 2}  # p1 sent again, as settled
    assert [r.value for r in results_again] == [r.value for r in results]


async def test_a_rerun_that_cannot_read_an_order_settled_by_hand_says_it_exists(
    tmp_path: Path, slow_server: SlowCreator, slow_client: DigipixClient
) -> None:
    slow_server.delay = 0.01
    slow_server.drop = {"p0"}
    async with OrderJournal(tmp_path / "j.db") as journal:
        await create_all(slow_client, [order(0)], journal=journal)
        await journal.mark_created("p0", "ord-typo")  # the server has no such order
        [result] = await create_all(slow_client, [order(0)], journal=journal)

    assert isinstance(result.error, NotFoundError)  # the GET's own error
    assert result.error.__notes__ == [
        "the journal has partner order id 'p0' as created, as order ord-typo (settled by hand "
        "or by a notification), so it was not created again; only reading that order failed "
        "(a rerun reads it again; a wrong order id is fixed with journal.mark_created)"
    ]
    assert slow_server.creates == {"p0": 1}


@pytest.mark.usefixtures("digipix_no_retry_waits")
async def test_a_refusal_is_recorded_as_not_created_and_tried_again(
    tmp_path: Path, slow_server: SlowCreator, slow_client: DigipixClient
) -> None:
    slow_server.delay = 0.01
    slow_server.refuse_first = 40  # more 429s than the client's own retries absorb
    async with OrderJournal(tmp_path / "j.db") as journal:
        results = await create_all(
            slow_client, [order(n) for n in range(10)], journal=journal, concurrency=4
        )
        assert await journal.unknown() == []

    assert [r.ok for r in results] == [True] * 10  # every input put back until served
    assert slow_server.refused == 40
    assert all(count == 1 for count in slow_server.creates.values())
    assert len(slow_server.creates) == 10


async def test_bad_journal_input_is_refused_before_sending(
    tmp_path: Path, slow_server: SlowCreator, slow_client: DigipixClient
) -> None:
    async with OrderJournal(tmp_path / "j.db") as journal:
        with pytest.raises(ValidationError) as no_key:
            await slow_client.orders.create(recipient=RECIPIENT, items=ITEMS, journal=journal)
        with pytest.raises(ValidationError) as reserved:
            await slow_client.orders.create(
                **order(1, custom_data={JOURNAL_KEY: "mine"}), journal=journal
            )
        slow_server.delay = 0.01
        await slow_client.orders.create(**order(2), journal=journal)
        with pytest.raises(ValidationError) as other_body:
            await slow_client.orders.create(
                **order(2, custom_data={"changed": True}), journal=journal
            )
        results = await create_all(slow_client, [order(3), order(3)], journal=journal)

    assert no_key.value.field == "partner_order_id"
    assert reserved.value.field == "custom_data"
    assert JOURNAL_KEY in str(reserved.value)
    assert other_body.value.field == "partner_order_id"
    assert "another request body" in str(other_body.value)
    # The same key twice in one run: one is created, the other refused, not guessed.
    assert sorted(r.ok for r in results) == [False, True]
    assert [r.error.field for r in results if not r.ok] == ["partner_order_id"]
    assert slow_server.creates == {"p2": 1, "p3": 1}


async def test_a_notification_settles_an_unknown_entry(
    tmp_path: Path, slow_server: SlowCreator, slow_client: DigipixClient
) -> None:
    slow_server.delay = 0.01
    slow_server.drop = {"p0"}
    async with OrderJournal(tmp_path / "j.db") as journal:
        with pytest.raises(OrderOutcomeUnknownError):
            await slow_client.orders.create(**order(0), journal=journal)
        order_id = slow_server.order_ids["p0"]

        assert not await journal.settle_from_notification(None, order_id)
        assert not await journal.settle_from_notification({"other": 1}, order_id)
        assert not await journal.settle_from_notification({JOURNAL_KEY: "p9"}, order_id)
        assert await journal.settle_from_notification({JOURNAL_KEY: "p0", "x": 1}, order_id)
        assert not await journal.settle_from_notification({JOURNAL_KEY: "p0"}, order_id)
        assert await journal.unknown() == []
        slow_server.drop = set()
        settled = await slow_client.orders.create(**order(0), journal=journal)

    assert settled.id == order_id
    assert slow_server.creates["p0"] == 1


async def test_an_interrupted_create_is_recorded_as_unknown(
    tmp_path: Path,
    slow_server: SlowCreator,
    slow_client: DigipixClient,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="digipix_async")
    slow_server.delay = 5
    async with OrderJournal(tmp_path / "j.db") as journal:
        task = asyncio.create_task(slow_client.orders.create(**order(0), journal=journal))
        await asyncio.sleep(0.2)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    async with OrderJournal(tmp_path / "j.db") as journal:
        [entry] = await journal.unknown()

    assert slow_server.creates["p0"] == 1
    assert entry.state == "unknown"
    assert entry.error == "interrupted while sent"


async def test_a_rate_limit_error_of_a_plain_create_is_not_created(tmp_path: Path) -> None:
    async with SandboxServer() as sandbox, OrderJournal(tmp_path / "j.db") as journal:
        sandbox.faults.add("rate_limit", path="/v1/orders", method="POST", retry_after=0)
        client = DigipixClient(
            sandbox.client_id, sandbox.client_secret, base_url=sandbox.base_url, max_retries=0
        )
        async with client:
            with pytest.raises(RateLimitError):
                await client.orders.create(**order(0), journal=journal)
            assert await journal.unknown() == []
            assert (await journal._row("p0")).state == "not_created"  # type: ignore[union-attr]
            sandbox.faults.clear()
            created: Order = await client.orders.create(**order(0), journal=journal)
        assert sandbox.creates_for("p0") == 1
        assert created.partner_order_id == "p0"


def test_at_loop_shutdown_the_creates_in_flight_are_journaled_as_unknown(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    server = SlowCreator(delay=30)
    kept: list[Any] = []

    async def main() -> None:
        await server.start()
        journal = OrderJournal(tmp_path / "j.db")
        client = DigipixClient("id", "secret", base_url=server.base_url, timeout=60)
        results = client.orders.create_many(
            [order(n) for n in range(10)], concurrency=3, journal=journal
        )
        kept.extend([journal, client, results])  # held: nobody consumes the rest
        task = asyncio.create_task(anext(results))
        await asyncio.sleep(0.3)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    async def clean_up() -> list[Any]:
        journal, client, _ = kept
        await journal.aclose()
        await client.close()
        await server.close()
        async with OrderJournal(tmp_path / "j.db") as again:
            return await again.unknown()

    with asyncio.Runner() as runner:
        runner.run(main())
        end_like_asyncio_run(runner)
        entries = runner.run(clean_up())

    assert server.created == 3
    assert sorted(entry.partner_order_id for entry in entries) == ["p0", "p1", "p2"]
    assert {entry.error for entry in entries} == {"interrupted while sent"}
    assert not [r for r in caplog.records if "destroyed but it is pending" in r.getMessage()]


async def test_an_unreadable_2xx_is_journaled_as_created(
    tmp_path: Path, slow_server: SlowCreator, slow_client: DigipixClient
) -> None:
    slow_server.delay = 0.01
    slow_server.unreadable = {"p0"}  # created, and answered without a status
    async with OrderJournal(tmp_path / "j.db") as journal:
        with pytest.raises(APIResponseValidationError) as caught:
            await slow_client.orders.create(**order(0), journal=journal)
        slow_server.unreadable = set()
        again = await slow_client.orders.create(**order(0), journal=journal)
        assert await journal.unknown() == []

    assert caught.value.order_created
    assert again.id == slow_server.order_ids["p0"]  # fetched by its id, not created again
    assert slow_server.creates["p0"] == 1


@pytest.mark.usefixtures("digipix_no_retry_waits")
@pytest.mark.parametrize("fault", ["drop", "status"])
async def test_a_create_whose_token_request_failed_is_not_created(
    tmp_path: Path, fault: Any
) -> None:
    # The create never left: a rerun sends it, nobody has to look at it by hand.
    async with SandboxServer() as sandbox, OrderJournal(tmp_path / "j.db") as journal:
        broken = sandbox.faults.add(fault, path="/v1/oauth/token")
        client = DigipixClient(sandbox.client_id, sandbox.client_secret, base_url=sandbox.base_url)
        async with client:
            with pytest.raises(DigipixError) as caught:
                await client.orders.create(**order(0), journal=journal)
            assert await journal.unknown() == []
            sandbox.faults.remove(broken)
            created = await client.orders.create(**order(0), journal=journal)

    assert not isinstance(caught.value, OrderOutcomeUnknownError)
    assert created.partner_order_id == "p0"
    assert sandbox.creates_for("p0") == 1
