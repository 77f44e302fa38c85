"""A journaled job killed with SIGKILL and rerun creates no order twice and forgets none."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sqlite3
import sys
import textwrap
from pathlib import Path

import pytest
from samples import ITEMS, RECIPIENT

from digipix_async import DigipixClient, OrderOutcomeUnknownError
from digipix_async.jobs import OrderJournal
from digipix_async.sandbox import SandboxServer

ORDERS = 200
TESTS = str(Path(__file__).resolve().parents[1])  # where samples.py lives, for the job

JOB = textwrap.dedent(
    """
    import asyncio, sys
    sys.path.insert(0, {tests!r})
    from samples import ITEMS, RECIPIENT
    from digipix_async import DigipixClient
    from digipix_async.jobs import OrderJournal

    async def main():
        base_url, client_id, secret, path = sys.argv[1:5]
        requests = (
            {{"recipient": RECIPIENT, "items": ITEMS, "partner_order_id": f"job-{{n}}"}}
            for n in range({orders})
        )
        async with OrderJournal(path) as journal:
            async with DigipixClient(client_id, secret, base_url=base_url) as client:
                run = client.orders.create_many(requests, concurrency=8, journal=journal)
                async with run as results:
                    async for result in results:
                        print(result.index, result.ok, flush=True)

    asyncio.run(main())
    """
)


def journal_states(path: Path) -> dict[str, str]:
    with contextlib.closing(sqlite3.connect(path)) as db:
        return dict(db.execute("SELECT partner_order_id, state FROM orders").fetchall())


def created_at_server(sandbox: SandboxServer) -> dict[str, int]:
    counts: dict[str, int] = {}
    for order_id in sandbox.state.order_ids():
        partner_order_id = sandbox.order(order_id)["partnerOrderID"]
        counts[partner_order_id] = counts.get(partner_order_id, 0) + 1
    return counts


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
async def test_a_job_killed_at_40_percent_and_rerun_creates_each_order_once(
    tmp_path: Path,
) -> None:
    path = tmp_path / "orders.journal"
    script = tmp_path / "job.py"
    script.write_text(JOB.format(tests=TESTS, orders=ORDERS), encoding="utf-8")
    async with SandboxServer() as sandbox:
        # Slow enough that the kill lands with creates in flight, at every stage.
        sandbox.faults.add("latency", path="/v1/orders", method="POST", seconds=0.02)
        job = await asyncio.create_subprocess_exec(
            sys.executable,
            str(script),
            sandbox.base_url,
            sandbox.client_id,
            sandbox.client_secret,
            str(path),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            async with asyncio.timeout(60):
                # The sandbox has no event for "n orders exist": poll it.
                while len(sandbox.state.order_ids()) < ORDERS * 0.4:  # noqa: ASYNC110
                    await asyncio.sleep(0.005)
        finally:
            os.kill(job.pid, signal.SIGKILL)
            await job.wait()
        assert job.returncode == -signal.SIGKILL
        await asyncio.sleep(0.1)  # the creates the dead job had sent land at the server

        # Every order the server created is in the journal: created, or still open.
        killed = journal_states(path)
        at_server = created_at_server(sandbox)
        assert ORDERS * 0.4 <= len(at_server) < ORDERS
        assert set(at_server) <= set(killed)
        assert {killed[key] for key in at_server} <= {"created", "pending", "unknown"}
        created_before = {key for key, state in killed.items() if state == "created"}
        open_before = {key for key, state in killed.items() if state in ("pending", "unknown")}
        posts_before = sandbox.request_count("POST", "/v1/orders")

        # The rerun, in this process: same inputs, same journal.
        requests = [
            {"recipient": RECIPIENT, "items": ITEMS, "partner_order_id": f"job-{n}"}
            for n in range(ORDERS)
        ]
        async with (
            OrderJournal(path) as journal,
            DigipixClient(
                sandbox.client_id, sandbox.client_secret, base_url=sandbox.base_url
            ) as client,
            client.orders.create_many(requests, concurrency=8, journal=journal) as results,
        ):
            rerun = [result async for result in results]
            still_open = {entry.partner_order_id for entry in await journal.unknown()}

        assert all(count == 1 for count in created_at_server(sandbox).values())  # none twice
        assert len(rerun) == ORDERS
        by_key = {f"job-{result.index}": result for result in rerun}
        for key in created_before:
            assert by_key[key].ok  # reported from the journal
        for key in open_before:
            assert isinstance(by_key[key].error, OrderOutcomeUnknownError)  # not resent
        assert still_open == open_before
        # Only what the journal did not know as created or open was sent.
        sent_now = sandbox.request_count("POST", "/v1/orders") - posts_before
        assert sent_now == ORDERS - len(created_before) - len(open_before)
        assert set(created_at_server(sandbox)) <= set(journal_states(path))
