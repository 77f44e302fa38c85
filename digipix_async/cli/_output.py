"""What the command line shows: JSON documents, rich tables, progress and the summary."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import enum
import json
import logging
import time
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any, TextIO

import attrs
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskProgressColumn,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from digipix_async import APIStatusError, Order, Product, ShippingOption

__all__ = [
    "Reporter",
    "RequestCounter",
    "Summary",
    "error_json",
    "option_table",
    "order_table",
    "print_json",
    "product_table",
    "to_json",
]


def _plain(instance: Any, field: Any, value: Any) -> Any:
    """Turn model values into JSON values: money as exact strings, dates in ISO 8601."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Mapping) and not isinstance(value, dict):
        return dict(value)  # read-only mappings (extra, custom_data) are JSON objects too
    return value


def to_json(model: Any) -> dict[str, Any]:
    """Return a model as a JSON-ready dict of its Python names (``extra`` only if any)."""
    data: dict[str, Any] = _drop_empty_extra(attrs.asdict(model, value_serializer=_plain))
    return data


def _drop_empty_extra(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            key: _drop_empty_extra(item)
            for key, item in value.items()
            if not (key == "extra" and not item)
        }
    if isinstance(value, (list, tuple)):
        return [_drop_empty_extra(item) for item in value]
    return value


def error_json(error: BaseException | None) -> dict[str, Any]:
    """Describe an exception for a result entry: ``{"type", "message"}`` (and ``status``)."""
    if error is None:  # never, for a failed BulkResult; kept total for type checkers
        return {"type": "UnknownError", "message": "no error was reported"}
    # A note (PEP 678) says what the error means here, e.g. "the order exists".
    message = "; ".join([str(error), *getattr(error, "__notes__", ())])
    described: dict[str, Any] = {"type": type(error).__name__, "message": message}
    if isinstance(error, APIStatusError):
        described["status"] = error.status
    return described


def print_json(document: Any, out: TextIO) -> None:
    """Write one JSON document (or one JSONL line) and flush it."""
    out.write(json.dumps(document, ensure_ascii=False) + "\n")
    out.flush()


def _money(value: Decimal | None) -> str:
    return "" if value is None else f"R$ {value}"


def product_table(products: Iterable[Product]) -> Table:
    """Return the catalogue as a table."""
    table = Table("id", "name", "price", "weight (g)", "production (days)", "parts")
    for product in products:
        table.add_row(
            product.id,
            product.name or "",
            _money(product.price),
            "" if product.weight is None else f"{product.weight:g}",
            "" if product.production_time is None else str(product.production_time),
            ", ".join(part.id or "?" for part in product.parts),
        )
    return table


def option_table(options: Iterable[ShippingOption], title: str | None = None) -> Table:
    """Return shipping options as a table."""
    table = Table("shipment id", "method", "name", "cost", "days", title=title)
    for option in options:
        table.add_row(
            option.id,
            "" if option.shipment_method_id is None else str(int(option.shipment_method_id)),
            option.name or "",
            _money(option.cost),
            "" if option.estimated_delivery_days is None else str(option.estimated_delivery_days),
        )
    return table


def order_table(order: Order) -> Table:
    """Return an order's main fields as a two-column table."""
    table = Table("field", "value", title=f"order {order.id}")
    shipment = order.shipment
    rows = {
        "status": str(order.status.value),
        "partner order id": order.partner_order_id or "",
        "created at": order.created_at.isoformat() if order.created_at else "",
        "recipient": order.recipient.name or "" if order.recipient else "",
        "items": ", ".join(f"{item.quantity} x {item.product_id}" for item in order.items),
        "shipment": f"{shipment.name} ({shipment.id})" if shipment else "",
        "subtotal": _money(order.subtotal),
        "shipping": _money(order.shipping_cost),
        "total": _money(order.total),
    }
    for name, value in rows.items():
        table.add_row(name, value)
    if order.shipments:
        table.add_row("shipments", ", ".join(f"{o.name} {o.id}" for o in order.shipments))
    return table


class RequestCounter(logging.Handler):
    """Count the requests the SDK sent again, from its WARNING records of retries.

    Each retry the client decides (and each input a bulk run puts back after a
    429) is one WARNING record carrying ``retry_wait``: a bulk job's "retried" is
    their number. Attached to the ``digipix_async`` logger for one command; the
    logger's level is left alone (WARNING records pass unless a user silenced the
    SDK with DIGIPIX_LOG, and then "retried" reads 0), and this handler prints
    nothing.
    """

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.sent_again = 0
        self._logger = logging.getLogger("digipix_async")

    def emit(self, record: logging.LogRecord) -> None:
        # The token request's own retries are no input's: count the API calls only.
        if hasattr(record, "retry_wait"):
            self.sent_again += not str(getattr(record, "path", "")).endswith("/token")

    def retried(self) -> int:
        """Return how many requests were sent again (retries and put-back inputs)."""
        return self.sent_again

    def __enter__(self) -> RequestCounter:
        self._logger.addHandler(self)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._logger.removeHandler(self)


@attrs.define
class Summary:
    """The counts a bulk command ends with."""

    noun: str
    ok: int = 0
    failed: int = 0
    retried: int = 0
    skipped: int = 0
    skipped_failed: int = 0
    #: The signal that stopped the job early (SIGINT: Ctrl-C, or SIGTERM), None if none
    #: did; the exit status is then 128 + its number.
    stopped_by: int | None = None
    problems: list[str] = attrs.Factory(list)  # the first ones, for --json
    unreported: int = 0
    #: Inputs the job stopped before answering: it could not go on (its journal or
    #: its output file could not be written).
    not_answered: int = 0

    def problem(self, text: str) -> None:
        """Keep a reported problem (at most 100 of them)."""
        if len(self.problems) < 100:
            self.problems.append(text)
        else:
            self.unreported += 1

    def stopped_short(self, total: int) -> None:
        """Count as not answered what the job left of its ``total`` inputs when it
        could not go on."""
        self.not_answered = max(0, total - self.ok - self.failed - self.skipped)

    @property
    def interrupted(self) -> bool:
        """Whether a signal stopped the job before every input was read."""
        return self.stopped_by is not None

    @property
    def exit_code(self) -> int:
        """0 when every input was answered well, 1 when some failed; 130 if interrupted
        (Ctrl-C), 143 if terminated (SIGTERM)."""
        if self.stopped_by is not None:
            return 128 + self.stopped_by
        return 1 if self.failed or self.skipped_failed or self.not_answered else 0

    def as_json(self, **more: Any) -> dict[str, Any]:
        """Return the summary as one JSON document."""
        document = {
            "ok": self.ok,
            "failed": self.failed,
            "retried": self.retried,
            "skipped": self.skipped,
            "skipped_failed": self.skipped_failed,
            "interrupted": self.interrupted,
            "not_answered": self.not_answered,
            "problems": self.problems,
            "problems_not_listed": self.unreported,
        }
        return {**document, **more}

    def line(self) -> str:
        """Return the summary as one sentence for people."""
        text = (
            f"{self.ok + self.failed + self.skipped} {self.noun}s: {self.ok} ok, "
            f"{self.failed} failed, {self.retried} retried, {self.skipped} skipped"
        )
        if self.skipped_failed:
            text += f" ({self.skipped_failed} of them had failed before)"
        if self.not_answered:
            text += f"; {self.not_answered} not answered"
        if self.interrupted:
            text += "; interrupted: run the same command again to finish"
        return text


class _RateColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text("" if speed is None else f"{speed:,.1f}/s")


class Reporter:
    """Show progress: a rich bar with rate and ETA on a terminal, else a line every
    ``every`` seconds (a log file or CI console has no use for a redrawn bar).

    Use it as ``async with``: without a terminal a heartbeat prints the line even
    while nothing finishes (a job paused by the server's Retry-After still says so).
    """

    def __init__(self, err: Console, total: int, label: str, every: float) -> None:
        self._err = err
        self._total = total
        self._label = label
        self._every = every
        self._done = 0
        self._started = self._last = time.monotonic()
        self._bar: Progress | None = None
        self._heartbeat: asyncio.Task[None] | None = None
        if err.is_terminal:
            self._bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TaskProgressColumn(),
                _RateColumn(),
                TimeRemainingColumn(),
                console=err,
            )
            self._task = self._bar.add_task(label, total=total or None)
            self._bar.start()

    def advance(self, count: int = 1) -> None:
        """Count ``count`` more inputs as done."""
        self._done += count
        if self._bar is not None:
            self._bar.advance(self._task, count)
            return
        self._maybe_print()

    def _maybe_print(self) -> None:
        now = time.monotonic()
        if now - self._last >= self._every:
            self._last = now
            self._err.print(self._status(now), highlight=False, soft_wrap=True)

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(max(self._every, 0.5))
            self._maybe_print()

    async def __aenter__(self) -> Reporter:
        if self._bar is None and self._every > 0:
            self._heartbeat = asyncio.create_task(self._beat())
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.close()
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._heartbeat
            self._heartbeat = None

    def _status(self, now: float) -> str:
        elapsed = max(now - self._started, 1e-9)
        rate = self._done / elapsed
        text = f"{self._label}: {self._done}"
        if self._total:
            left = max(self._total - self._done, 0)
            eta = f"{left / rate:.0f} s" if rate > 0 else "?"
            text += f"/{self._total} ({100 * self._done / self._total:.0f}%), ETA {eta}"
        return text + f", {rate:,.1f}/s"

    def close(self) -> None:
        """Stop the bar (leaving it on screen)."""
        if self._bar is not None:
            self._bar.stop()
            self._bar = None


def mapping_rows(entries: Iterable[Mapping[str, Any]], columns: Iterable[str]) -> Table:
    """Return plain mappings as a table of the given columns."""
    names = list(columns)
    table = Table(*names)
    for entry in entries:
        table.add_row(*("" if entry.get(name) is None else str(entry.get(name)) for name in names))
    return table
