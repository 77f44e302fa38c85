"""Delivery of status notifications to `statusNotificationUrl`, in order, with retries."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp

__all__ = ["NotificationRecord", "Notifier"]

_log = logging.getLogger("digipix_async.sandbox")


@dataclass
class NotificationRecord:
    """One notification: where it goes, what it says, and how its delivery went."""

    order_id: str
    # Out of repr: a receiver's URL often carries its shared secret (?token=...).
    url: str = field(repr=False)
    payload: dict[str, Any] = field(default_factory=dict)
    attempts: int = 0
    delivered: bool = False
    #: True once delivery stopped: delivered, gave up, or cancelled by `close()`.
    finished: bool = False
    #: The receiver's last HTTP status (None if it never answered).
    last_status: int | None = None
    #: The last failure, as text ("HTTP 500", "ClientConnectorError: ...").
    last_error: str | None = None


class Notifier:
    """POST notifications one at a time per order, retrying with exponential backoff.

    A failed try (connection error, timeout, non-2xx answer) is retried after
    `base_delay * 2**n` seconds (capped at `max_delay`), `max_tries` tries in all.
    """

    def __init__(
        self,
        *,
        max_tries: int = 5,
        base_delay: float = 0.05,
        max_delay: float = 2.0,
        timeout: float = 5.0,
    ) -> None:
        if max_tries < 1:
            raise ValueError("max_tries must be at least 1")
        self.max_tries = max_tries
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.timeout = timeout
        # The latest ones only: a sandbox notifying for days must not grow without end.
        self.records: deque[NotificationRecord] = deque(maxlen=10_000)
        self._session: aiohttp.ClientSession | None = None
        self._tails: dict[str, asyncio.Task[None]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False

    def send(self, order_id: str, url: str, payload: dict[str, Any]) -> NotificationRecord:
        """Queue a notification behind the order's earlier ones; return its record."""
        if self._closed:
            raise RuntimeError("the notifier is closed")
        record = NotificationRecord(order_id, url, payload)
        self.records.append(record)
        # Chaining each delivery on the order's previous one keeps one order's
        # notifications in order while different orders proceed concurrently.
        task = asyncio.create_task(self._deliver_after(self._tails.get(order_id), record))
        self._tails[order_id] = task
        self._tasks.add(task)
        task.add_done_callback(self._forget)
        return record

    def _forget(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        for order_id, tail in list(self._tails.items()):
            if tail is task:
                del self._tails[order_id]

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            # Every outbound request is bounded: connect, socket read and total.
            timeout = aiohttp.ClientTimeout(
                total=self.timeout, connect=self.timeout, sock_read=self.timeout
            )
            self._session = aiohttp.ClientSession(timeout=timeout)
        return self._session

    async def _deliver_after(
        self, previous: asyncio.Task[None] | None, record: NotificationRecord
    ) -> None:
        try:
            if previous is not None:
                # wait() neither raises the previous delivery's outcome nor cancels it.
                await asyncio.wait([previous])
            await self._deliver(record)
        finally:
            record.finished = True

    async def _deliver(self, record: NotificationRecord) -> None:
        for attempt in range(self.max_tries):
            if attempt:
                await asyncio.sleep(min(self.max_delay, self.base_delay * 2 ** (attempt - 1)))
            record.attempts += 1
            try:
                async with self._client().post(record.url, json=record.payload) as response:
                    record.last_status = response.status
                    await response.read()
                    if 200 <= response.status < 300:
                        record.delivered = True
                        return
                    record.last_error = f"HTTP {response.status}"
            except (aiohttp.ClientError, TimeoutError) as exc:
                record.last_error = f"{type(exc).__name__}: {exc}"
            except Exception as exc:
                # Not transient (a URL aiohttp cannot even send to): retrying cannot help,
                # and the task must not end with an exception nobody retrieves.
                record.last_error = f"{type(exc).__name__}: {exc}"
                break
        where = _without_query(record.url)
        _log.warning(
            "gave up notifying %s of order %s after %d tries: %s",
            where,
            record.order_id,
            record.attempts,
            (record.last_error or "").replace(record.url, where),
        )

    async def wait(self, timeout: float = 5.0) -> None:  # noqa: ASYNC109 - a deadline reads best in tests
        """Wait until every queued notification is delivered or given up on."""
        async with asyncio.timeout(timeout):
            # Loop: a delivery finishing may coincide with new ones being queued.
            while self._tasks:
                await asyncio.wait(list(self._tasks))

    async def close(self) -> None:
        """Cancel outstanding deliveries and close the HTTP session."""
        self._closed = True
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._session is not None:
            await self._session.close()
            self._session = None


def _without_query(url: str) -> str:
    """Return ``url`` without its query and fragment, where receivers keep secrets."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable URL>"
    return urlunsplit(parts._replace(query="", fragment=""))
