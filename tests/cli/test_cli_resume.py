"""A quote-bulk job killed midway (Ctrl-C, then SIGKILL) and rerun: every cart once, and
no cart already answered is quoted again (the server counts quotes per cart)."""

from __future__ import annotations

import asyncio
import collections
import json
import pathlib
import signal
from typing import Any

import pytest
from cli_helpers import run, sandbox_env, start

from digipix_async.sandbox import SandboxServer

CARTS = 1500


def zip_of(number: int) -> str:
    return f"{10_000_000 + number:08d}"


def count_quotes_per_zip(sandbox: SandboxServer) -> collections.Counter[str]:
    """Count, at the server, the quotes of each zip code (each cart has its own)."""
    seen: collections.Counter[str] = collections.Counter()
    answer = sandbox.state.quote

    def counting(body: Any) -> Any:
        seen[body["zipCode"]] += 1
        return answer(body)

    sandbox.state.quote = counting  # type: ignore[method-assign]
    return seen


def complete_entries(path: pathlib.Path) -> list[dict[str, Any]]:
    text = path.read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines(keepends=True) if line.endswith("\n")]


def has_entries(path: pathlib.Path, at_least: int) -> bool:
    return path.exists() and len(complete_entries(path)) >= at_least


async def wait_for_entries(path: pathlib.Path, at_least: int) -> None:
    async with asyncio.timeout(60):
        # Another process writes the file: there is no event to wait on, only polling.
        while not has_entries(path, at_least):  # noqa: ASYNC110
            await asyncio.sleep(0.02)


@pytest.fixture
def carts(tmp_path: pathlib.Path) -> pathlib.Path:
    path = tmp_path / "carts.csv"
    rows = "".join(f"c{n},{zip_of(n)},photobook,1,24\n" for n in range(CARTS))
    path.write_text("cart_id,zip_code,product_id,quantity,pages\n" + rows, encoding="utf-8")
    return path


def assert_every_cart_once(output: pathlib.Path) -> None:
    ids = [entry["cart_id"] for entry in complete_entries(output)]
    assert sorted(ids) == sorted(f"c{n}" for n in range(CARTS))
    assert output.read_bytes().endswith(b"\n")


async def test_ctrl_c_finishes_the_quotes_in_flight_and_a_rerun_quotes_the_rest_once(
    carts: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    output = tmp_path / "quotes.jsonl"
    async with SandboxServer() as sandbox:
        seen = count_quotes_per_zip(sandbox)
        sandbox.faults.add("latency", path="/v1/quote", seconds=0.01)
        env = sandbox_env(sandbox)
        args = ("quote-bulk", str(carts), "-o", str(output), "--concurrency", "8", "--json")

        process = await start(*args, env=env)
        await wait_for_entries(output, 200)
        process.send_signal(signal.SIGINT)
        stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)

        assert process.returncode == 130, stderr.decode()
        assert "interrupted: finishing the requests in flight" in stderr.decode()
        first = json.loads(stdout)
        assert first["interrupted"] is True
        answered = len(complete_entries(output))
        assert first["ok"] == answered < CARTS
        # Whatever was sent got its answer written: nothing quoted is lost.
        assert sum(seen.values()) == answered

        status, stdout_2, stderr_2 = await run(*args, env=env)

        assert status == 0, stderr_2
        assert json.loads(stdout_2)["skipped"] == answered
        assert_every_cart_once(output)
        assert set(seen.values()) == {1}  # every cart quoted exactly once over both runs
        assert len(seen) == CARTS


async def test_sigkill_then_rerun_never_requotes_an_answered_cart(
    carts: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    output = tmp_path / "quotes.jsonl"
    async with SandboxServer() as sandbox:
        seen = count_quotes_per_zip(sandbox)
        sandbox.faults.add("latency", path="/v1/quote", seconds=0.01)
        env = sandbox_env(sandbox)
        args = ("quote-bulk", str(carts), "-o", str(output), "--concurrency", "8", "--json")

        process = await start(*args, env=env)
        await wait_for_entries(output, 200)
        process.kill()
        await asyncio.wait_for(process.communicate(), timeout=60)
        assert process.returncode == -signal.SIGKILL
        before = {entry["cart_id"] for entry in complete_entries(output)}
        quoted_before = dict(seen)
        # A write torn by the kill (here made by hand): the rerun must cut it off.
        with output.open("ab") as raw:
            raw.write(b'{"cart_id":"c9999","ok":tr')

        status, stdout, stderr = await run(*args, env=env)

        assert status == 0, stderr
        assert json.loads(stdout)["skipped"] == len(before)
        assert_every_cart_once(output)
        for cart_id in before:
            zip_code = zip_of(int(cart_id[1:]))
            assert seen[zip_code] == quoted_before[zip_code] == 1, cart_id
        # Only the quotes in flight at the kill were lost, and quoted again: at most
        # --concurrency of them (plus the one read ahead).
        assert sum(seen.values()) - CARTS <= 9


async def test_an_output_the_disk_refuses_stops_the_job_and_a_rerun_finishes_it(
    carts: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    output = tmp_path / "quotes.jsonl"
    async with SandboxServer() as sandbox:
        seen = count_quotes_per_zip(sandbox)
        env = sandbox_env(sandbox)
        args = ("quote-bulk", str(carts), "-o", str(output), "--concurrency", "8", "--json")

        # The output may not grow past 64 KB (a full disk): ~200 carts fit.
        status, stdout, stderr = await run(*args, env=env, max_file_size=64 * 1024)

        assert status == 1, stderr
        assert "Traceback" not in stderr
        assert f"digipix: cannot write {output} (File too large): the job stopped" in stderr
        first = json.loads(stdout)
        written = complete_entries(output)
        assert output.read_bytes().endswith(b"\n")  # whole entries only, none torn
        assert 0 < first["ok"] == len(written) < CARTS
        assert first["not_answered"] == CARTS - len(written)
        assert first["output_error"] == f"File too large: {output}"

        status, stdout_2, stderr_2 = await run(*args, env=env)

        assert status == 0, stderr_2
        assert json.loads(stdout_2)["skipped"] == len(written)
        assert_every_cart_once(output)
        for entry in written:  # an answered cart is never quoted again
            assert seen[zip_of(int(entry["cart_id"][1:]))] == 1
        # Quoted twice: only those in flight when the write failed (their answers
        # could not be kept), at most --concurrency plus the one read ahead.
        assert sum(seen.values()) - CARTS <= 9
