"""``digipix orders create-bulk`` and ``digipix orders reconcile``: journaled order jobs.

Every order goes through ``client.orders.create_many(..., journal=journal,
resend_unknown=False)``: the journal (``digipix_async.jobs.OrderJournal``) records
each intent before it is sent and each outcome after, so rerunning the same job
creates nothing twice, and an order whose outcome is unknown is not resent but
listed by ``reconcile`` for a look in the Digipix dashboard.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator, Iterator
from typing import Any, Final

import click

from digipix_async import OrderOutcomeUnknownError
from digipix_async.cli._app import api_options, settings_from
from digipix_async.cli._context import Interrupt, Settings, connect, run
from digipix_async.cli._orders import orders
from digipix_async.cli._output import (
    Reporter,
    RequestCounter,
    Summary,
    error_json,
    mapping_rows,
    print_json,
    to_json,
)
from digipix_async.cli._rows import RowError, decode_line, lines
from digipix_async.jobs import JournalError, OrderJournal

__all__ = ["create_bulk", "reconcile"]

_KEYS: Final = frozenset(
    {
        "recipient",
        "items",
        "shipment_id",
        "shipment_method",
        "partner_order_id",
        "custom_data",
        "status_notification_url",
    }
)
_REQUIRED: Final = ("partner_order_id", "recipient", "items")


def _order_lines(path: str) -> Iterator[tuple[int, str | None, dict[str, Any] | RowError]]:
    """Yield (line, partner order id, create() keyword arguments or the line's problem).

    A partner order id names one order: a line repeating one is a problem of its own
    (sent, it would be reported as a second order created, or refused as in flight,
    depending on timing).
    """
    first_line: dict[str, int] = {}
    with open(path, "rb") as stream:
        for line, raw in lines(stream):
            if raw is not None and not raw.strip():
                continue
            partner_order_id: str | None = None
            try:
                document = decode_line(raw, line == 1)
                if not isinstance(document, dict):
                    raise RowError(None, "each line must be a JSON object of orders.create()")
                value = document.get("partner_order_id")
                if not isinstance(value, str) or not value.strip():
                    raise RowError("partner_order_id", "required: the journal's key")
                partner_order_id = value
                earlier = first_line.setdefault(value, line)
                if earlier != line:
                    raise RowError(
                        "partner_order_id",
                        f"{value!r} is also on line {earlier}: a partner order id names one order",
                    )
                unknown = sorted(set(document) - _KEYS)
                if unknown:
                    raise RowError(unknown[0], "not an argument of orders.create()")
                missing = [key for key in _REQUIRED if key not in document]
                if missing:
                    raise RowError(missing[0], "required")
                yield line, partner_order_id, document
            except RowError as error:
                yield line, partner_order_id, error


def _problem(line: int, error: RowError) -> str:
    column = f", column {error.column}" if error.column else ""
    return f"line {line}{column}: {error.message}"


@contextlib.asynccontextmanager
async def _journal(path: str, job: _Job | None = None) -> AsyncIterator[OrderJournal]:
    """Open the job's journal; a file that is not one is bad usage (exit 2).

    Outcomes it cannot record at the end go to ``job.unrecorded``, to be said
    after the summary (with no job, the error is raised).
    """
    journal = OrderJournal(path)
    try:
        await journal.open()
    except JournalError as error:  # open() has released what it took
        cause = error.__cause__ or error
        # "file is not a database" (SQLITE_NOTADB) is the one that says what the file is.
        what = "is not" if type(cause) is sqlite3.DatabaseError else "cannot be used as"
        raise click.BadParameter(
            f"{path} {what} an order journal ({cause})", param_hint="'--journal'"
        ) from None
    except OSError as error:  # a missing directory, no permission
        raise click.BadParameter(
            f"cannot open {path}: {error.strerror or error}", param_hint="'--journal'"
        ) from None
    try:
        yield journal
    finally:
        try:
            await journal.aclose()
        except JournalError as error:
            if job is None:
                raise
            job.unrecorded = error


class _Job:
    def __init__(self, settings: Settings, reporter: Reporter) -> None:
        self.settings = settings
        self.reporter = reporter
        self.summary = Summary("order")
        self.unknown = 0
        self.in_flight: dict[int, tuple[int, str]] = {}
        #: Partner order ids the journal had as created when the job began: their
        #: results come from the journal, without a request (counted as skipped).
        self.known: set[str] = set()
        #: Why the journal cannot be written: the job reads no more orders (each
        #: would fail the same way, unsent), and says so at the end.
        self.journal_failed: JournalError | None = None
        #: What `OrderJournal.aclose` could not record, said after the summary.
        self.unrecorded: JournalError | None = None

    async def requests(self, path: str, stopping: asyncio.Event) -> AsyncIterator[dict[str, Any]]:
        index = 0
        for line, partner_order_id, found in _order_lines(path):
            if stopping.is_set() or self.journal_failed is not None:
                return
            if isinstance(found, RowError):
                self.report(
                    line,
                    partner_order_id,
                    None,
                    {"type": "InputError", "message": _problem(line, found), "line": line},
                )
                continue
            self.in_flight[index] = (line, partner_order_id or "")
            index += 1
            yield found
            await asyncio.sleep(0)  # let Ctrl-C be seen between orders

    def report(
        self,
        line: int,
        partner_order_id: str | None,
        order: dict[str, Any] | None,
        error: dict[str, Any] | None,
        *,
        from_journal: bool = False,
    ) -> None:
        """Count one outcome and show it: every one with --json, the failures otherwise."""
        self.reporter.advance()
        if error is None and from_journal:
            self.summary.skipped += 1
        elif error is None:
            self.summary.ok += 1
        else:
            self.summary.failed += 1
            self.summary.problem(f"line {line} ({partner_order_id}): {error['message']}")
        if self.settings.as_json:
            entry: dict[str, Any] = {"line": line, "partner_order_id": partner_order_id}
            entry.update(
                {"ok": True, "order": order} if error is None else {"ok": False, "error": error}
            )
            if from_journal:
                entry["from_journal"] = True
            print_json(entry, self.settings.out)
        elif error is not None:
            self.settings.say(
                f"line {line} ({partner_order_id}): {error['type']}: {error['message']}"
            )

    def result(self, index: int, order: Any, error: BaseException | None) -> None:
        line, partner_order_id = self.in_flight.pop(index)
        if error is None:
            from_journal = partner_order_id in self.known
            self.report(line, partner_order_id, to_json(order), None, from_journal=from_journal)
            return
        if isinstance(error, OrderOutcomeUnknownError):
            self.unknown += 1
        elif isinstance(error, JournalError) and self.journal_failed is None:
            self.journal_failed = error
        self.report(line, partner_order_id, None, error_json(error))


async def _create_bulk(
    settings: Settings, path: str, journal_path: str, concurrency: int, progress_every: float
) -> int:
    total = 0
    keys: list[str] = []
    for _, partner_order_id, found in _order_lines(path):
        total += 1
        if partner_order_id is not None and not isinstance(found, RowError):
            keys.append(partner_order_id)
    if total == 0:  # before the journal file is made
        raise click.BadParameter("the file holds no order", param_hint="INPUT.jsonl")
    reporter = Reporter(settings.err_console, total, "create-bulk", progress_every)
    job = _Job(settings, reporter)
    with Interrupt(settings) as interrupt, RequestCounter() as requests_sent:
        async with (
            reporter,
            _journal(journal_path, job) as journal,
            connect(settings) as client,
            _known_created(journal, keys, job),
            # Leaving this block waits for the creates in flight (a second
            # Ctrl-C included): each outcome reaches the journal.
            client.orders.create_many(
                job.requests(path, interrupt.stopping),
                concurrency=concurrency,
                journal=journal,
                resend_unknown=False,
            ) as results,
        ):
            async for result in results:
                if result.ok:
                    job.result(result.index, result.value, None)
                else:
                    job.result(result.index, None, result.error)
    job.summary.retried = requests_sent.retried()
    job.summary.stopped_by = interrupt.signal
    summary = job.summary
    if job.journal_failed is not None:
        summary.stopped_short(total)
    if settings.as_json:
        # stdout holds one JSON line per order: the summary goes to stderr, as JSON.
        print_json(
            summary.as_json(
                unknown=job.unknown,
                journal=journal_path,
                journal_error=_text(job.journal_failed or job.unrecorded),
                # What the journal could not record: partner order id -> order id
                # (None: not created); a rerun reports these as unknown.
                unrecorded={} if job.unrecorded is None else job.unrecorded.unrecorded,
            ),
            settings.err,
        )
    else:
        settings.console.print(summary.line())
    if job.journal_failed is not None:
        settings.say(
            f"The journal cannot be written ({job.journal_failed.__cause__}): the job "
            f"stopped, and {summary.not_answered} orders were not read. Orders that failed this "
            "way were not sent; run the same command again once the journal can be "
            "written."
        )
    if job.unrecorded is not None:
        settings.say(f"digipix: JournalError: {job.unrecorded}")
    if job.unknown:
        settings.say(
            f"{job.unknown} orders have an unknown outcome: they were not resent. "
            f"See: digipix orders reconcile --journal {journal_path}"
        )
    if job.unrecorded is not None:
        return max(summary.exit_code, 1)
    return summary.exit_code


def _text(error: JournalError | None) -> str | None:
    return None if error is None else str(error)


@contextlib.asynccontextmanager
async def _known_created(journal: OrderJournal, keys: list[str], job: _Job) -> AsyncIterator[None]:
    """Learn, before the first create, which inputs a rerun reports from the journal."""
    job.known = await journal._created_among(keys)
    yield


@orders.command("create-bulk")
@click.argument("input_path", metavar="INPUT.jsonl", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--journal",
    "journal_path",
    required=True,
    type=click.Path(dir_okay=False),
    help="The job's journal (SQLite); rerun with the same journal to resume.",
)
@click.option("--concurrency", type=click.IntRange(1, 1000), default=16, show_default=True)
@click.option("--progress-every", type=click.FloatRange(min=0), default=5.0, metavar="SECONDS")
@api_options
@click.pass_context
def create_bulk(
    ctx: click.Context,
    input_path: str,
    journal_path: str,
    concurrency: int,
    progress_every: float,
    sandbox: bool,
    as_json: bool,
    rate_limit: float | None,
) -> int:
    """Create the orders of INPUT.jsonl (one orders.create() argument object per line,
    partner_order_id required), journaled so that a rerun creates nothing twice.

    With --json, one JSON line per order on stdout. Orders whose outcome is unknown
    (the answer was lost) are NOT resent: settle them with `orders reconcile`.
    """
    settings = settings_from(ctx, sandbox=sandbox, as_json=as_json, rate_limit=rate_limit)
    return run(
        settings,
        lambda: _create_bulk(settings, input_path, journal_path, concurrency, progress_every),
    )


async def _reconcile(settings: Settings, journal_path: str) -> int:
    async with _journal(journal_path) as journal:
        rows = [to_json(entry) for entry in await journal.unknown()]
    if settings.as_json:
        print_json(rows, settings.out)
    elif rows:
        columns = list(rows[0])
        settings.console.print(mapping_rows(rows, columns))
        settings.say(
            f"{len(rows)} orders need a look: find each partner order id in the Digipix "
            "dashboard, then settle it with journal.mark_created() or mark_not_created()."
        )
    else:
        settings.console.print("no order with an unknown outcome in this journal")
    return 1 if rows else 0


@orders.command()
@click.option(
    "--journal",
    "journal_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False),
    help="The journal of an orders create-bulk job.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.pass_context
def reconcile(ctx: click.Context, journal_path: str, as_json: bool) -> int:
    """List the journaled orders whose outcome is unknown (exit 1 if there are any)."""
    settings = settings_from(ctx, sandbox=False, as_json=as_json, rate_limit=None)
    return run(settings, lambda: _reconcile(settings, journal_path))
