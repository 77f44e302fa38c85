"""Progress for people: a rich bar with rate and ETA on a terminal, plain lines otherwise."""

from __future__ import annotations

import io

from rich.console import Console

from digipix_async.cli._output import Reporter, Summary


def test_on_a_terminal_a_bar_shows_count_percent_rate_and_eta() -> None:
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=120, color_system=None)

    reporter = Reporter(console, 40, "quote-bulk", every=5.0)
    for _ in range(40):
        reporter.advance()
    reporter.close()

    text = screen.getvalue()
    assert "quote-bulk" in text
    assert "40/40" in text
    assert "100%" in text
    assert "/s" in text  # the rate column


def test_without_a_terminal_plain_lines_say_how_far_and_how_fast() -> None:
    log = io.StringIO()
    console = Console(file=log, force_terminal=False, width=120)

    reporter = Reporter(console, 4, "quote-bulk", every=0.0)
    for _ in range(4):
        reporter.advance()
    reporter.close()

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
    assert Summary("cart", ok=5, interrupted=True).exit_code == 130
