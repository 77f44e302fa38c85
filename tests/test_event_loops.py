"""Event loops as bots and scripts use them (issue 11.6), in child processes with ``-W error``.

A module-level client used from one ``asyncio.run`` after another, a client never
closed, loops closed by hand, two threads' loops at once: each child runs against a
sandbox served by this test's loop, and its stderr must stay empty (an "Unclosed
client session", an unclosed transport or socket, a task destroyed while pending:
each prints there, as an error under ``-W error``).
"""

from __future__ import annotations

import asyncio
import os
import ssl
import sys
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trustme
from aiohttp import web
from samples import ITEMS, RECIPIENT

import digipix_async
from digipix_async.sandbox import SandboxServer

PRELUDE = """
import asyncio, gc, sys, threading
from digipix_async import DigipixClient
base_url, client_id, client_secret = sys.argv[1:4]
client = DigipixClient(client_id, client_secret, base_url=base_url)

async def call():
    return len(await client.products.list())
"""


@pytest.fixture
async def sandbox() -> AsyncIterator[SandboxServer]:
    async with SandboxServer() as sandbox:
        yield sandbox


async def run_child(
    sandbox: SandboxServer | str, script: str, *credentials: str
) -> tuple[str, str]:
    """Run ``script`` after PRELUDE in a child with ``-W error``; return stdout and stderr.

    ``sandbox`` is a sandbox, or a base URL followed by the credentials and more arguments.
    """
    if isinstance(sandbox, SandboxServer):
        arguments = [sandbox.base_url, sandbox.client_id, sandbox.client_secret]
    else:
        arguments = [sandbox, *credentials]
    source = str(Path(digipix_async.__file__).parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([source, os.environ.get("PYTHONPATH", "")])}
    env.pop("DIGIPIX_LOG", None)
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-W",
        "error",
        "-c",
        PRELUDE + textwrap.dedent(script),
        *arguments,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    stdout, stderr = await asyncio.wait_for(child.communicate(), 60)
    assert child.returncode == 0, stderr.decode()
    return stdout.decode(), stderr.decode()


async def test_a_module_level_client_serves_one_asyncio_run_after_another(
    sandbox: SandboxServer,
) -> None:
    out, err = await run_child(
        sandbox,
        """
        print(asyncio.run(call()), asyncio.run(call()), asyncio.run(call()))
        """,
    )

    assert err == ""
    counts = out.split()
    assert len(counts) == 3
    assert len(set(counts)) == 1
    assert sandbox.request_count("GET", "/v1/products") == 3


async def test_the_token_is_kept_from_one_loop_to_the_next(sandbox: SandboxServer) -> None:
    await run_child(sandbox, "asyncio.run(call()); asyncio.run(call())")

    assert sandbox.token_requests == 1


async def test_a_client_never_closed_leaves_nothing_to_warn_at_exit(
    sandbox: SandboxServer,
) -> None:
    out, err = await run_child(
        sandbox,
        """
        print(asyncio.run(call()))
        gc.collect()
        """,
    )
    assert err == ""
    assert out.strip().isdigit()


async def test_loops_closed_by_hand_hand_over_without_warnings(sandbox: SandboxServer) -> None:
    # No asyncio.run here: loop.close() without shutdown_asyncgens(), as older
    # scripts and some frameworks do; the client is never closed either.
    out, err = await run_child(
        sandbox,
        """
        for _ in range(2):
            loop = asyncio.new_event_loop()
            print(loop.run_until_complete(call()))
            loop.close()
        gc.collect()
        """,
    )
    assert err == ""
    assert len(out.split()) == 2
    assert sandbox.request_count("GET", "/v1/products") == 2


async def test_closing_from_the_next_loop_is_quiet(sandbox: SandboxServer) -> None:
    out, err = await run_child(
        sandbox,
        """
        asyncio.run(call())
        asyncio.run(client.close())
        try:
            asyncio.run(call())
        except RuntimeError as exc:
            print("refused:", exc)
        """,
    )
    assert err == ""
    assert "closed" in out


JOURNAL_PRELUDE = """
from digipix_async.jobs import OrderJournal
from digipix_async.jobs._commits import Worker
journal = OrderJournal({path!r})
RECIPIENT, ITEMS = {recipient!r}, {items!r}

def order(key):
    return dict(recipient=RECIPIENT, items=ITEMS, partner_order_id=key)

async def job(run, count=20):
    requests = [order(f"J{{run}}-{{n}}") for n in range(count)]
    async with client.orders.create_many(requests, journal=journal, concurrency=8) as results:
        return sum([result.ok async for result in results])
"""


JOURNAL_EPILOGUE = """
asyncio.run(journal.aclose())
asyncio.run(client.close())
gc.collect()
print([t.name for t in threading.enumerate() if t.name.startswith("digipix")])
"""


async def run_journal_child(sandbox: SandboxServer, path: Path, script: str) -> list[str]:
    """Run ``script`` with a module-level ``journal`` at ``path``, then close it and the
    client from one more loop; return the lines printed, the journal threads left last."""
    prelude = JOURNAL_PRELUDE.format(path=str(path), recipient=RECIPIENT, items=ITEMS)
    out, err = await run_child(
        sandbox, textwrap.dedent(prelude) + textwrap.dedent(script) + JOURNAL_EPILOGUE
    )
    assert err == ""
    return out.splitlines()


async def test_a_module_level_journal_serves_one_asyncio_run_after_another(
    sandbox: SandboxServer, tmp_path: Path
) -> None:
    # A bot's journal outlives each command's asyncio.run; closing it from yet another
    # loop raised "Event loop is closed" (the keeper task of the loop before).
    lines = await run_journal_child(
        sandbox, tmp_path / "j.db", "print(asyncio.run(job(1)), asyncio.run(job(2)))"
    )

    assert lines == ["20 20", "[]"]
    assert sandbox.request_count("POST", "/v1/orders") == 40


async def test_a_loop_ended_during_a_commit_leaves_the_next_loop_a_working_journal(
    sandbox: SandboxServer, tmp_path: Path
) -> None:
    # The round's end is delivered to the loop that submitted it; closed, that loop
    # never heard it, and the journal waited for it forever: every later create hung.
    lines = await run_journal_child(
        sandbox,
        tmp_path / "j.db",
        """
            import time
            real = Worker.commit
            def slow(self, intents):
                time.sleep(0.3)
                return real(self, intents)

            async def cut():
                creating = client.orders.create(**order("cut"), journal=journal)
                try:
                    await asyncio.wait_for(creating, 0.05)
                except TimeoutError:
                    print("cut")

            Worker.commit = slow
            asyncio.run(cut())  # ends while the intent's round sleeps on the worker
            Worker.commit = real
            time.sleep(0.5)
            print(asyncio.run(asyncio.wait_for(job(2), 10)))
            """,
    )

    assert lines == ["cut", "20", "[]"]


async def test_a_journal_whose_loop_ended_mid_open_opens_from_the_next(
    sandbox: SandboxServer, tmp_path: Path
) -> None:
    # The opening task was cancelled with its loop, and every later call re-raised
    # that CancelledError: the journal was dead for the rest of the process.
    lines = await run_journal_child(
        sandbox,
        tmp_path / "j.db",
        """
            async def start_opening():
                asyncio.ensure_future(journal.open())
                await asyncio.sleep(0)

            asyncio.run(start_opening())  # ends while the file is being opened
            print(asyncio.run(job(1, count=5)))
            """,
    )

    assert lines == ["5", "[]"]


async def test_a_create_left_in_a_loop_closed_by_hand_is_unknown_not_in_flight_forever(
    sandbox: SandboxServer, tmp_path: Path
) -> None:
    # loop.close() never runs its pending tasks again: the create held its key for
    # good, unknown() hid it as "in flight" and aclose() waited for it forever.
    sandbox.faults.add("latency", path="/v1/orders", seconds=0.5)
    lines = await run_journal_child(
        sandbox,
        tmp_path / "j.db",
        """
            left = []

            async def start():
                creating = client.orders.create(**order("H1"), journal=journal)
                left.append(asyncio.ensure_future(creating))
                await asyncio.sleep(0.2)  # on the wire

            loop = asyncio.new_event_loop()
            loop.run_until_complete(start())
            loop.close()
            left[0]._log_destroy_pending = False  # this script's doing: not for stderr

            async def later():
                print([entry.partner_order_id for entry in await journal.unknown()])
                try:
                    await client.orders.create(**order("H1"), journal=journal)
                except Exception as error:
                    print(type(error).__name__)

            asyncio.run(asyncio.wait_for(later(), 10))
            """,
    )

    # Its outcome is unknown: listed, and not sent again (nor "being created right now").
    assert lines == ["['H1']", "OrderOutcomeUnknownError", "[]"]


async def test_two_live_loops_at_once_get_a_clear_runtime_error_before_sending(
    sandbox: SandboxServer,
) -> None:
    out, err = await run_child(
        sandbox,
        """
        holding, release = threading.Event(), threading.Event()

        def first():
            async def main():
                await call()
                holding.set()
                await asyncio.get_running_loop().run_in_executor(None, release.wait, 10)
                await client.close()
            asyncio.run(main())

        thread = threading.Thread(target=first)
        thread.start()
        holding.wait(10)

        async def second():
            try:
                await call()
            except RuntimeError as exc:
                print("RuntimeError:", exc)

        asyncio.run(second())
        release.set()
        thread.join(10)
        gc.collect()
        """,
    )

    assert err == ""
    assert out.startswith("RuntimeError:")
    # Said by the client (its token refresh is bound to a loop) or by the transport.
    assert "another" in out
    assert "event loop" in out
    assert sandbox.request_count("GET", "/v1/products") == 1  # the second loop sent nothing


async def test_a_client_closed_from_another_threads_loop_closes_its_pool_there(
    sandbox: SandboxServer,
) -> None:
    out, err = await run_child(
        sandbox,
        """
        holding, release = threading.Event(), threading.Event()

        def first():
            async def main():
                print(await asyncio.gather(*[call() for _ in range(20)]) != [])
                holding.set()
                await asyncio.get_running_loop().run_in_executor(None, release.wait, 10)
            asyncio.run(main())

        thread = threading.Thread(target=first)
        thread.start()
        holding.wait(10)
        asyncio.run(client.close())
        release.set()
        thread.join(10)
        gc.collect()
        print(client.closed)
        """,
    )
    assert err == ""
    assert out.split() == ["True", "True"]


TRANSPORT_ON_TWO_LOOPS = """
import aiohttp
from digipix_async._transport import AiohttpTransport

async def send(transport):
    answer = await transport.send(
        "GET", base_url + "/v1/products", headers={}, body=None, connect=5, read=5
    )
    return answer.status

async def borrowed_session():
    return aiohttp.ClientSession()

first, second = asyncio.new_event_loop(), asyncio.new_event_loop()
session = first.run_until_complete(borrowed_session()) if BORROWED else None
transport = AiohttpTransport(session=session)
print(first.run_until_complete(send(transport)))
try:
    second.run_until_complete(send(transport))
except RuntimeError as exc:
    print("RuntimeError:", exc)
second.close()
first.run_until_complete(transport.aclose())
if session is not None:
    first.run_until_complete(session.close())
first.run_until_complete(first.shutdown_asyncgens())
first.close()
"""


@pytest.mark.parametrize(
    ("borrowed", "says"),
    [
        (False, "belongs to another event loop that is still open"),
        (True, "lent to this DigipixClient (session=...) was first used from another event loop"),
    ],
)
async def test_the_transport_refuses_a_second_live_loop_before_sending(
    sandbox: SandboxServer, borrowed: bool, says: str
) -> None:
    out, err = await run_child(sandbox, f"BORROWED = {borrowed}\n" + TRANSPORT_ON_TWO_LOOPS)

    assert err == ""
    status, refusal = out.splitlines()
    assert status == "401"  # no token: the first loop's request went out
    assert refusal.startswith("RuntimeError:")
    assert says in refusal
    assert sandbox.request_count("GET", "/v1/products") == 1  # the second loop sent nothing


async def test_tls_pools_of_loops_closed_by_hand_are_dropped_without_warnings(
    tmp_path: Path,
) -> None:
    # The dead pool's sockets sit under TLS transports: they too are closed quietly.
    ca = trustme.CA()
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_tls)
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))

    async def token(request: web.Request) -> web.Response:
        return web.json_response({"access_token": "tok", "expires_in": 3600})

    async def products(request: web.Request) -> web.Response:
        return web.json_response([{"id": "photobook", "price": 10.9}])

    app = web.Application()
    app.router.add_post("/v1/oauth/token", token)
    app.router.add_get("/v1/products", products)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0, ssl_context=server_tls).start()
    script = """
        import ssl
        context = ssl.create_default_context(cafile=sys.argv[4])
        client = DigipixClient(client_id, client_secret, base_url=base_url, ssl=context)
        for _ in range(2):
            loop = asyncio.new_event_loop()
            print(loop.run_until_complete(call()))
            loop.close()
        gc.collect()
    """
    try:
        out, err = await run_child(
            f"https://127.0.0.1:{runner.addresses[0][1]}",
            script,
            "id",
            "secret",
            str(tmp_path / "ca.pem"),
        )
    finally:
        await runner.cleanup()

    assert err == ""
    assert out.split() == ["1", "1"]
