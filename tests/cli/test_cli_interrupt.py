"""`Interrupt`: the first Ctrl-C stops the input, the second abandons the calls in flight."""

from __future__ import annotations

import asyncio
import io
import signal

import pytest

from digipix_async.cli._context import Interrupt, Settings
from digipix_async.cli._output import Summary


def settings(err: io.StringIO | None = None) -> Settings:
    return Settings(out=io.StringIO(), err=err or io.StringIO())


async def test_the_second_press_abandons_the_job_and_the_job_still_sums_up() -> None:
    err = io.StringIO()
    with Interrupt(settings(err)) as interrupt:
        interrupt._pressed()
        assert interrupt.stopping.is_set()
        interrupt._pressed()  # cancels this task: the calls in flight are abandoned
        await asyncio.sleep(10)  # a safety net: the cancellation ends it at once
        pytest.fail("not cancelled")
    assert interrupt.presses == 2  # reached: the cancellation it made was taken back
    assert "finishing the requests in flight" in err.getvalue()


async def test_a_cancellation_that_is_not_the_second_press_ends_the_run() -> None:
    async def job() -> None:
        with Interrupt(settings()) as interrupt:
            interrupt._pressed()  # one press: only the input stops
            await asyncio.sleep(10)

    task = asyncio.create_task(job())
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_sigterm_is_a_first_press_and_says_so_and_exits_143() -> None:
    err = io.StringIO()
    with Interrupt(settings(err)) as interrupt:
        interrupt._pressed(signal.SIGTERM)
        assert interrupt.stopping.is_set()
        interrupt._pressed(signal.SIGINT)  # either signal again abandons the calls
        await asyncio.sleep(10)
        pytest.fail("not cancelled")
    assert interrupt.signal == signal.SIGTERM
    assert "SIGTERM received: finishing the requests in flight" in err.getvalue()
    summary = Summary("order", stopped_by=interrupt.signal)
    assert summary.exit_code == 143
    assert Summary("order", stopped_by=signal.SIGINT).exit_code == 130
