"""``digipix quote-bulk INPUT -o OUTPUT``: quote thousands of carts, resumably.

The input is streamed into ``client.quotes.create_many``; each answer is written
to OUTPUT as it arrives (see `_results`). A rerun with the same OUTPUT skips the
carts already there, so a crash or Ctrl-C loses nothing and quotes nothing twice.
Memory holds the carts in flight (``--concurrency``), not the file; on a rerun,
also the ids of the carts already answered.
"""

from __future__ import annotations

import asyncio
import contextlib
import pathlib
from collections.abc import AsyncIterator, Sequence
from typing import Any

import click

from digipix_async import ShippingOption
from digipix_async.cli._app import api_options, cli, settings_from
from digipix_async.cli._carts import BadCart, CartReader, InputFileError, count_carts, read_carts
from digipix_async.cli._context import Interrupt, Settings, connect, run
from digipix_async.cli._output import (
    Reporter,
    RequestCounter,
    Summary,
    error_json,
    print_json,
    to_json,
)
from digipix_async.cli._results import OutputFileError, OutputWriteError, ResultFile

__all__ = ["quote_bulk"]

_FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}


def format_of(path: str, given: str | None, what: str) -> str:
    """Return ``csv`` or ``jsonl``: ``given``, else from the file name's extension."""
    if given:
        return given
    found = _FORMATS.get(pathlib.Path(path).suffix.lower())
    if found is None:
        raise click.BadParameter(
            f"cannot tell the format of {path!r} from its extension (.csv, .jsonl): "
            f"pass --{what}-format",
            param_hint=what.upper(),
        )
    return found


class _Job:
    """One run: feeds carts to the SDK, writes answers, counts for the summary."""

    def __init__(self, settings: Settings, results: ResultFile, reporter: Reporter) -> None:
        self.settings = settings
        self.results = results
        self.reporter = reporter
        self.summary = Summary("cart")
        self.in_flight: dict[int, str] = {}  # create_many's index -> cart id
        #: Why OUTPUT could not be written: the job stopped there.
        self.write_failed: OutputWriteError | None = None

    async def requests(self, carts: Any, stopping: asyncio.Event) -> AsyncIterator[dict[str, Any]]:
        """Yield the quote requests of the carts not answered yet; record the bad ones."""
        index = 0
        for entry in carts:
            if stopping.is_set():
                return
            if entry.cart_id is not None and entry.cart_id in self.results.answered:
                self.summary.skipped += 1
                if not self.results.answered[entry.cart_id]:
                    self.summary.skipped_failed += 1
                self.reporter.advance()
                continue
            if isinstance(entry, BadCart):
                self._bad(entry)
                continue
            self.in_flight[index] = entry.cart_id
            index += 1
            yield {"zip_code": entry.zip_code, "items": list(entry.items)}
            await asyncio.sleep(0)  # let Ctrl-C be seen between carts

    def _bad(self, entry: BadCart) -> None:
        self.summary.failed += 1
        text = entry.describe()
        if entry.cart_id is not None:
            error = {"type": "InputError", "message": text, "line": entry.line}
            if entry.column is not None:
                error["column"] = entry.column
            self.results.write_failed(entry.cart_id, error)
            self.reporter.advance()
            return
        self.summary.problem(text)
        self.settings.say(f"digipix quote-bulk: INPUT {text} (not quoted)")

    def answered(self, index: int, options: Sequence[ShippingOption] | None) -> None:
        """Write a quoted cart."""
        cart_id = self.in_flight.pop(index)
        self.results.write_ok(cart_id, [to_json(option) for option in options or ()])
        self.summary.ok += 1
        self.reporter.advance()

    def failed(self, index: int, error: BaseException | None) -> None:
        """Write a cart the API (or the SDK's checks) refused."""
        cart_id = self.in_flight.pop(index)
        self.results.write_failed(cart_id, error_json(error))
        self.summary.failed += 1
        self.reporter.advance()


async def _quote_bulk(
    settings: Settings,
    source: CartReader,
    results: ResultFile,
    total: int,
    concurrency: int,
    progress_every: float,
) -> int:
    reporter = Reporter(settings.err_console, total, "quote-bulk", progress_every)
    job = _Job(settings, results, reporter)
    with Interrupt(settings) as interrupt, RequestCounter() as requests_sent:
        requests = job.requests(source, interrupt.stopping)
        async with (
            reporter,
            connect(settings) as client,
            client.quotes.create_many(requests, concurrency=concurrency) as answers,
        ):
            try:
                async for result in answers:
                    if result.ok:
                        job.answered(result.index, result.value)
                    else:
                        job.failed(result.index, result.error)
            except OutputWriteError as error:
                # Leaving cancels the quotes in flight: their answers could not be kept
                # (a quote is not saved, so the rerun asks for them again).
                job.write_failed = error
    job.summary.retried = requests_sent.retried()
    job.summary.stopped_by = interrupt.signal
    summary = job.summary
    if job.write_failed is not None:
        summary.stopped_short(total)
    if settings.as_json:
        print_json(
            summary.as_json(output=results.path, output_error=_text(job.write_failed)),
            settings.out,
        )
    else:
        settings.console.print(summary.line() + f" -> {results.path}")
    if job.write_failed is not None:
        settings.say(
            f"digipix: cannot write {results.path} ({job.write_failed.strerror}): the job "
            f"stopped with {summary.not_answered} carts not answered. Run the same command "
            "again once it can be written: the carts already in it are skipped."
        )
    return summary.exit_code


def _text(error: OSError | None) -> str | None:
    return None if error is None else f"{error.strerror}: {error.filename}"


@cli.command("quote-bulk")
@click.argument("input_path", metavar="INPUT", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "-o",
    "--output",
    "output_path",
    required=True,
    type=click.Path(dir_okay=False, writable=True),
    help="Results file (.jsonl or .csv); rerun with the same file to resume.",
)
@click.option("--input-format", type=click.Choice(["csv", "jsonl"]), help="Default: extension.")
@click.option("--output-format", type=click.Choice(["csv", "jsonl"]), help="Default: extension.")
@click.option(
    "--concurrency",
    type=click.IntRange(1, 1000),
    default=16,
    show_default=True,
    help="Quotes in flight at once.",
)
@click.option(
    "--progress-every",
    type=click.FloatRange(min=0),
    default=5.0,
    show_default=True,
    metavar="SECONDS",
    help="Without a terminal, print a progress line this often.",
)
@api_options
@click.pass_context
def quote_bulk(
    ctx: click.Context,
    input_path: str,
    output_path: str,
    input_format: str | None,
    output_format: str | None,
    concurrency: int,
    progress_every: float,
    sandbox: bool,
    as_json: bool,
    rate_limit: float | None,
) -> int:
    """Quote every cart of INPUT, writing one entry per cart to OUTPUT as it finishes.

    INPUT is CSV with the header cart_id,zip_code,product_id,quantity,pages (pages
    optional; the consecutive rows of one cart_id form one cart) or JSONL with
    {"cart_id", "zip_code", "items": [{"product_id", "quantity", "pages"}]} per line.
    A bad row is reported with its line and column (and written as a failed cart
    when it has a cart id); the other carts still run. Ctrl-C once finishes the
    quotes in flight and stops; rerun the same command to continue.
    """
    settings = settings_from(ctx, sandbox=sandbox, as_json=as_json, rate_limit=rate_limit)
    fmt_in = format_of(input_path, input_format, "input")
    fmt_out = format_of(output_path, output_format, "output")
    try:
        total = count_carts(input_path, fmt_in)
        carts = read_carts(input_path, fmt_in)  # checks a CSV header now
    except InputFileError as error:
        raise click.BadParameter(str(error), param_hint="INPUT") from None
    if total == 0:
        carts.close()
        raise click.BadParameter("the file holds no cart", param_hint="INPUT")
    try:
        results = ResultFile(output_path, fmt_out)
    except OutputFileError as error:
        carts.close()
        raise click.BadParameter(str(error), param_hint="OUTPUT") from None
    except OSError as error:  # a missing directory, no permission
        carts.close()
        raise click.BadParameter(
            f"cannot open {output_path}: {error.strerror or error}", param_hint="OUTPUT"
        ) from None
    with carts:
        try:
            status = run(
                settings,
                lambda: _quote_bulk(settings, carts, results, total, concurrency, progress_every),
            )
        except BaseException:
            with contextlib.suppress(OutputWriteError):
                results.close()
            raise
    try:
        results.close()  # syncs: a full disk may only say so now
    except OutputWriteError as error:
        settings.say(f"digipix: cannot write {output_path} ({error.strerror}): rerun to check")
        return max(status, 1)
    return status
