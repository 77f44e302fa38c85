"""``digipix orders create-bulk`` with a journal, and ``orders reconcile``."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import io
import json
import pathlib
import signal
import sqlite3
import sys
from typing import Any

import pytest
from cli_helpers import invoke, run, sandbox_env, start
from samples import ITEMS, RECIPIENT

from digipix_async.cli import main
from digipix_async.sandbox import SandboxServer

ORDERS = 12


def write_orders(path: pathlib.Path) -> None:
    lines = [
        json.dumps({"partner_order_id": f"P-{n}", "recipient": RECIPIENT, "items": ITEMS,
                    "shipment_method": 1})
        for n in range(ORDERS)
    ]  # fmt: skip
    lines.append(json.dumps({"recipient": RECIPIENT, "items": ITEMS}))  # no key: refused
    lines.append(json.dumps({"partner_order_id": "P-x", "recipient": RECIPIENT, "items": ITEMS,
                             "shipping": 1}))  # fmt: skip
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def write_numbered_orders(path: pathlib.Path, prefix: str, count: int) -> None:
    """Write ``count`` valid orders, keyed ``{prefix}-0`` on."""
    lines = (
        json.dumps({"partner_order_id": f"{prefix}-{n}", "recipient": RECIPIENT, "items": ITEMS})
        for n in range(count)
    )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def summary(stderr: str) -> dict[str, Any]:
    """The run's summary: with --json, the one JSON document on stderr."""
    [document] = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    assert isinstance(document, dict)
    return document


async def test_create_bulk_journals_orders_and_a_rerun_creates_none_again(
    tmp_path: pathlib.Path,
) -> None:
    source, journal = tmp_path / "orders.jsonl", tmp_path / "orders.journal"
    write_orders(source)
    async with SandboxServer() as sandbox:
        env = sandbox_env(sandbox)
        args = ("orders", "create-bulk", str(source), "--journal", str(journal), "--json")

        status, out, err = await run(*args, env=env)

        assert status == 1, err  # two lines were refused
        results = [json.loads(line) for line in out.splitlines()]
        assert len(results) == ORDERS + 2
        created = {r["partner_order_id"]: r["order"] for r in results if r["ok"]}
        assert set(created) == {f"P-{n}" for n in range(ORDERS)}
        assert all(order["status"] == "APPROVED" for order in created.values())
        refused = sorted((r["line"], r["error"]["message"]) for r in results if not r["ok"])
        assert refused == [
            (13, "line 13, column partner_order_id: required: the journal's key"),
            (14, "line 14, column shipping: not an argument of orders.create()"),
        ]
        assert all(sandbox.creates_for(f"P-{n}") == 1 for n in range(ORDERS))
        assert not any("from_journal" in r for r in results)
        assert (summary(err)["ok"], summary(err)["skipped"]) == (ORDERS, 0)
        posts = sandbox.request_count("POST", "/v1/orders")

        status, out, err = await run(*args, env=env)

        assert status == 1, err
        rerun = [json.loads(line) for line in out.splitlines()]
        again = {r["partner_order_id"]: r["order"]["id"] for r in rerun if r["ok"]}
        assert again == {key: order["id"] for key, order in created.items()}
        assert sandbox.request_count("POST", "/v1/orders") == posts  # nothing sent twice
        # Reported from the journal: skipped, not created again (before: "0 skipped").
        assert all(r["from_journal"] for r in rerun if r["ok"])
        assert (summary(err)["ok"], summary(err)["skipped"], summary(err)["failed"]) == (
            0,
            ORDERS,
            2,
        )

        status, out, err = await run("orders", "reconcile", "--journal", str(journal), "--json")
        assert (status, json.loads(out)) == (0, [])


async def test_an_order_whose_answer_was_lost_is_not_resent_and_is_listed(
    tmp_path: pathlib.Path,
) -> None:
    source, journal = tmp_path / "orders.jsonl", tmp_path / "orders.journal"
    write_orders(source)
    async with SandboxServer() as sandbox:
        env = sandbox_env(sandbox)
        sandbox.faults.add("drop", path="/v1/orders", times=1)
        args = ("orders", "create-bulk", str(source), "--journal", str(journal),
                "--concurrency", "1", "--json")  # fmt: skip

        status, out, err = await run(*args, env=env)

        assert status == 1
        unknown = [r for r in map(json.loads, out.splitlines())
                   if not r["ok"] and r["error"]["type"] == "OrderOutcomeUnknownError"]  # fmt: skip
        assert [r["partner_order_id"] for r in unknown] == ["P-0"]
        assert "digipix orders reconcile --journal" in err
        posts = sandbox.request_count("POST", "/v1/orders")

        status, out, err = await run(*args, env=env)
        assert sandbox.request_count("POST", "/v1/orders") == posts  # not resent

        status, out, err = await run("orders", "reconcile", "--journal", str(journal), "--json")
        assert status == 1, err
        listed = json.loads(out)
        assert [entry["partner_order_id"] for entry in listed] == ["P-0"]
        assert listed[0]["state"] == "unknown"

        status, _, err = await run("orders", "reconcile", "--journal", str(journal))
        assert status == 1
        assert "P-0" in out
        assert "find each partner order id in the Digipix dashboard" in err


async def test_a_journal_that_is_not_one_is_bad_usage(tmp_path: pathlib.Path) -> None:
    journal = tmp_path / "notes.txt"
    journal.write_text("my notes\n", encoding="utf-8")

    status, _, err = await run("orders", "reconcile", "--journal", str(journal))

    assert status == 2
    assert "notes.txt is not an order journal (file is not a database)" in err
    assert journal.read_text(encoding="utf-8") == "my notes\n"


async def test_sigterm_finishes_the_creates_in_flight_and_leaves_nothing_unknown(
    tmp_path: pathlib.Path,
) -> None:
    # SIGTERM is how docker, systemd and `timeout` stop a job: it must end like a first
    # Ctrl-C, with every create already sent answered and journaled, not left unknown.
    source, journal = tmp_path / "orders.jsonl", tmp_path / "orders.journal"
    count = 400
    write_numbered_orders(source, "T", count)
    async with SandboxServer() as sandbox:
        sandbox.faults.add("latency", path="/v1/orders", seconds=0.05)
        env = sandbox_env(sandbox)
        args = ("orders", "create-bulk", str(source), "--journal", str(journal),
                "--concurrency", "8", "--json")  # fmt: skip

        process = await start(*args, env=env)
        async with asyncio.timeout(60):
            # The server is in this process: its count is the thing to wait on.
            while sandbox.request_count("POST", "/v1/orders") < 40:  # noqa: ASYNC110
                await asyncio.sleep(0.01)
        process.send_signal(signal.SIGTERM)
        stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)

        assert process.returncode == 143, stderr.decode()
        assert "SIGTERM received: finishing the requests in flight" in stderr.decode()
        assert summary(stderr.decode())["interrupted"] is True
        results = [json.loads(line) for line in stdout.decode().splitlines()]
        created = {r["partner_order_id"] for r in results if r["ok"]}
        sent = {f"T-{n}" for n in range(count) if sandbox.creates_for(f"T-{n}")}
        assert created == sent  # every create the server saw was answered and reported
        assert 40 <= len(sent) < count
        status, out, _ = await run("orders", "reconcile", "--journal", str(journal), "--json")
        assert (status, json.loads(out)) == (0, [])  # nothing left for a look

        status, _, err = await run(*args, env=env)

        assert status == 0, err
        assert all(sandbox.creates_for(f"T-{n}") == 1 for n in range(count))


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX resource limits")
async def test_a_journal_that_cannot_grow_stops_the_job_and_sends_nothing_unrecorded(
    tmp_path: pathlib.Path,
) -> None:
    source, journal = tmp_path / "orders.jsonl", tmp_path / "orders.journal"
    count = 300
    write_numbered_orders(source, "F", count)
    async with SandboxServer() as sandbox:
        env = sandbox_env(sandbox)
        args = ("orders", "create-bulk", str(source), "--journal", str(journal),
                "--concurrency", "8", "--json")  # fmt: skip

        status, stdout, stderr = await run(*args, env=env, max_file_size=96 * 1024)

        assert status == 1, stderr
        results = [json.loads(line) for line in stdout.splitlines()]
        document = summary(stderr)
        # Every order is accounted for: answered, failed, or left unread and counted.
        assert len(results) + document["not_answered"] == count
        assert document["not_answered"] > 0  # the job stopped instead of failing each
        assert "The journal cannot be written" in stderr
        refused = [r for r in results if not r["ok"]]
        assert refused
        assert {r["error"]["type"] for r in refused} == {"JournalError"}
        assert all(sandbox.creates_for(r["partner_order_id"]) == 0 for r in refused)
        created = {r["partner_order_id"] for r in results if r["ok"]}
        assert created == {f"F-{n}" for n in range(count) if sandbox.creates_for(f"F-{n}")}
        # Created orders whose outcome the journal could not keep, with their order ids.
        unrecorded: dict[str, str] = document["unrecorded"]
        assert set(unrecorded) <= created

        status, _, err = await run(*args, env=env)  # room again: the rerun finishes

        assert status == (1 if unrecorded else 0), err
        assert all(sandbox.creates_for(f"F-{n}") == 1 for n in range(count))
        status, out, _ = await run("orders", "reconcile", "--journal", str(journal), "--json")
        assert {entry["partner_order_id"] for entry in json.loads(out)} == set(unrecorded)


async def test_a_partner_order_id_repeated_in_the_file_is_an_input_error(
    tmp_path: pathlib.Path,
) -> None:
    # A back office's export with a row twice: sent, the copy was reported as a second
    # order created ("2 ok" for one order) or refused as in flight, by timing.
    source, journal = tmp_path / "orders.jsonl", tmp_path / "orders.journal"
    write_numbered_orders(source, "D", 3)
    first_line = source.read_text(encoding="utf-8").splitlines()[0]
    with source.open("a", encoding="utf-8") as stream:
        stream.write(first_line + "\n")
    async with SandboxServer() as sandbox:
        args = ("orders", "create-bulk", str(source), "--journal", str(journal),
                "--concurrency", "1", "--json")  # fmt: skip

        status, out, err = await run(*args, env=sandbox_env(sandbox))

        assert status == 1, err
        results = [json.loads(line) for line in out.splitlines()]
        assert [r["ok"] for r in results] == [True, True, True, False]
        assert results[3]["error"]["message"] == (
            "line 4, column partner_order_id: 'D-0' is also on line 1: a partner order id "
            "names one order"
        )
        assert (summary(err)["ok"], summary(err)["failed"]) == (3, 1)
        assert sandbox.creates_for("D-0") == 1


def test_a_journal_in_a_missing_directory_is_bad_usage(tmp_path: pathlib.Path) -> None:
    source, journal = tmp_path / "orders.jsonl", tmp_path / "missing" / "orders.journal"
    write_numbered_orders(source, "M", 1)

    status, _, err = invoke("orders", "create-bulk", str(source), "--journal", str(journal),
                            "--sandbox")  # fmt: skip

    assert status == 2  # was a traceback (FileNotFoundError) and 1
    assert f"'--journal': cannot open {journal}: No such file or directory" in err


@pytest.mark.parametrize("content", [b"", b"\n  \n\n"])
def test_an_input_with_no_order_is_bad_usage(tmp_path: pathlib.Path, content: bytes) -> None:
    source, journal = tmp_path / "orders.jsonl", tmp_path / "orders.journal"
    source.write_bytes(content)

    status, _, err = invoke("orders", "create-bulk", str(source), "--journal", str(journal),
                            "--sandbox")  # fmt: skip

    assert status == 2  # was 0, "0 orders: 0 ok", as if a job had run
    assert "Invalid value for INPUT.jsonl: the file holds no order" in err
    assert not journal.exists()


class FullStream(io.StringIO):
    """stdout on a full disk: every write fails with ENOSPC."""

    def write(self, text: str) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")


def test_an_output_that_cannot_be_written_is_one_line_and_every_create_is_journaled(
    tmp_path: pathlib.Path,
) -> None:
    source, journal = tmp_path / "orders.jsonl", tmp_path / "orders.journal"
    write_numbered_orders(source, "S", 40)
    err = io.StringIO()

    status = main(["orders", "create-bulk", str(source), "--journal", str(journal),
                   "--sandbox", "--json"], out=FullStream(), err=err)  # fmt: skip

    assert status == 1  # was a traceback of the OSError
    assert err.getvalue().strip().endswith("digipix: cannot go on: No space left on device")
    with contextlib.closing(sqlite3.connect(journal)) as db:
        states = dict(db.execute("SELECT state, count(*) FROM orders GROUP BY state").fetchall())
    assert set(states) == {"created"}  # what was sent was waited for, and recorded
