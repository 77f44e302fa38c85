"""Progress for people: a rich bar with rate and ETA on a terminal, plain lines otherwise."""

from __future__ import annotations

import asyncio
import io
import signal

from rich.console import Console

from digipix_async import NotFoundError
from digipix_async.cli._output import Reporter, Summary, error_json


async def test_on_a_terminal_a_bar_shows_count_percent_rate_and_eta() -> None:
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=120, color_system=None)

    async with Reporter(console, 40, "quote-bulk", every=5.0) as reporter:
        for _ in range(40):
            reporter.advance()

    text = screen.getvalue()
    assert "quote-bulk" in text
    assert "40/40" in text
    assert "100%" in text
    assert "/s" in text  # the rate column


async def test_without_a_terminal_plain_lines_say_how_far_and_how_fast() -> None:
    log = io.StringIO()
    console = Console(file=log, force_terminal=False, width=120)

    async with Reporter(console, 4, "quote-bulk", every=0.0) as reporter:
        for _ in range(4):
            reporter.advance()

    lines = log.getvalue().splitlines()
    assert len(lines) == 4
    assert lines[1].startswith("quote-bulk: 2/4 (50%), ETA ")
    assert lines[-1].startswith("quote-bulk: 4/4 (100%), ETA 0 s, ")
    assert lines[-1].endswith("/s")


def test_the_summary_and_its_exit_code() -> None:
    summary = Summary("cart", ok=5, failed=1, retried=2, skipped=3, skipped_failed=1)

    assert summary.line() == (
        "9 carts: 5 ok, 1 failed, 2 retried, 3 skipped (1 of them had failed before)"
    )
    assert summary.exit_code == 1
    assert Summary("cart", ok=5, skipped=2).exit_code == 0
    assert Summary("cart", ok=5, stopped_by=signal.SIGINT).exit_code == 130


async def test_without_a_terminal_a_stalled_job_still_says_where_it_is() -> None:
    log = io.StringIO()
    console = Console(file=log, force_terminal=False, width=120)

    async with Reporter(console, 10, "quote-bulk", every=0.5) as reporter:
        reporter.advance(3)
        # Nothing finishes for a while (a server's Retry-After, say): the beat speaks.
        async with asyncio.timeout(30):
            while "quote-bulk: 3/10 (30%)" not in log.getvalue():  # noqa: ASYNC110 - a plain buffer
                await asyncio.sleep(0.05)


def test_an_error_is_described_with_its_notes_and_status() -> None:
    error = NotFoundError("no such order", status=404, body=None)
    error.add_note("the journal has partner order id 'p0' as created")
    assert error_json(error) == {
        "type": "NotFoundError",
        "message": "404: no such order; the journal has partner order id 'p0' as created",
        "status": 404,
    }
    assert error_json(ValueError("plain"))["message"] == "plain"
