"""What every command shares: where output goes, which server, and how it runs."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import AsyncIterator, Callable, Coroutine
from types import TracebackType
from typing import Any, TextIO

import attrs
import click
from rich.console import Console

from digipix_async import DigipixClient, DigipixError, ValidationError
from digipix_async.sandbox import SandboxServer

__all__ = ["Interrupt", "Settings", "connect", "has_credentials", "run"]

CREDENTIALS_HELP = (
    "set DIGIPIX_CLIENT_ID and DIGIPIX_CLIENT_SECRET (and DIGIPIX_ENVIRONMENT=sandbox or "
    "DIGIPIX_BASE_URL for a test server), or pass --sandbox"
)


@attrs.frozen
class Settings:
    """The options every command that talks to Digipix accepts, and the streams."""

    out: TextIO
    err: TextIO
    sandbox: bool = False
    as_json: bool = False
    rate_limit: float | None = None

    @property
    def console(self) -> Console:
        """Return a rich console on the command's output."""
        # A pipe or a file gets wide tables: rich's 80-column default would cut the ids.
        width = None if self.out.isatty() else 200
        return Console(file=self.out, highlight=False, width=width)

    @property
    def err_console(self) -> Console:
        """Return a rich console on stderr (progress, messages)."""
        return Console(file=self.err, highlight=False, stderr=self.err is sys.stderr)

    def say(self, text: str) -> None:
        """Tell the user something on stderr (never mixed with --json output)."""
        print(text, file=self.err, flush=True)


def has_credentials() -> bool:
    """Tell whether the environment holds a client id and secret."""
    return bool(os.environ.get("DIGIPIX_CLIENT_ID") and os.environ.get("DIGIPIX_CLIENT_SECRET"))


@contextlib.asynccontextmanager
async def connect(settings: Settings) -> AsyncIterator[DigipixClient]:
    """Yield a client on the embedded sandbox (``--sandbox``) or from the environment."""
    options: dict[str, Any] = {}
    if settings.rate_limit is not None:
        options["rate_limit"] = settings.rate_limit
    if settings.sandbox:
        async with (
            SandboxServer() as sandbox,
            DigipixClient(
                sandbox.client_id, sandbox.client_secret, base_url=sandbox.base_url, **options
            ) as client,
        ):
            yield client
        return
    if not has_credentials():
        raise click.UsageError(f"no Digipix credentials: {CREDENTIALS_HELP}")
    try:
        client = DigipixClient.from_env(**options)
    except ValueError as error:  # a bad DIGIPIX_BASE_URL or DIGIPIX_ENVIRONMENT
        raise click.UsageError(f"the environment's Digipix settings: {error}") from None
    async with client:
        yield client


class Interrupt:
    """Ctrl-C or SIGTERM for a bulk job: the first signal stops reading input and lets the
    calls in flight finish (so their answers are recorded), the second abandons them.

    SIGTERM is what ``docker stop``, systemd, Kubernetes and ``timeout`` send before a
    SIGKILL: taken as a first Ctrl-C, the creates in flight end recorded instead of as
    unknown entries for somebody to look up. The second signal cancels the job's task;
    leaving the ``with`` block, that cancellation (and no other) is taken back, so the
    job still sums up.
    """

    _SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self, settings: Settings) -> None:
        self.stopping = asyncio.Event()
        self._settings = settings
        self._task: asyncio.Task[Any] | None = None
        self.presses = 0
        #: The first signal received (its exit status is 128 + its number).
        self.signal: signal.Signals | None = None

    def _pressed(self, received: signal.Signals = signal.SIGINT) -> None:
        self.presses += 1
        if self.presses == 1:
            self.signal = received
            self.stopping.set()
            what = "interrupted" if received == signal.SIGINT else f"{received.name} received"
            self._settings.say(
                f"{what}: finishing the requests in flight (Ctrl-C or SIGTERM again to "
                "abandon them)"
            )
        elif self._task is not None:
            self._task.cancel()

    def __enter__(self) -> Interrupt:
        self._task = asyncio.current_task()
        loop = asyncio.get_running_loop()
        for number in self._SIGNALS:
            # Not on Windows: there Ctrl-C stays a KeyboardInterrupt that abandons the job.
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(number, self._pressed, number)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        loop = asyncio.get_running_loop()
        for number in self._SIGNALS:
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(number)
        # Ours only after the second press: any other cancellation ends the run.
        return exc_type is asyncio.CancelledError and self.presses >= 2


def run(settings: Settings, work: Callable[[], Coroutine[Any, Any, int]]) -> int:
    """Run a command's coroutine; turn the SDK's errors into a line on stderr and exit 1.

    A `ValidationError` is the user's input, refused before anything was sent: exit 2.
    An output that cannot be written (stdout on a full disk) is one line too: by
    then a bulk job has waited for what it sent, and its journal holds every create.
    A broken pipe (``| head``) is left to click, which exits quietly.
    """
    try:
        return asyncio.run(work())
    except ValidationError as error:
        raise click.UsageError(str(error)) from None
    except DigipixError as error:
        settings.say(f"digipix: {type(error).__name__}: {error}")
        return 1
    except OSError as error:
        if isinstance(error, BrokenPipeError):
            raise
        where = f" ({error.filename})" if error.filename else ""
        settings.say(f"digipix: cannot go on: {error.strerror or error}{where}")
        return 1
    except KeyboardInterrupt:
        settings.say("digipix: interrupted")
        return 130
