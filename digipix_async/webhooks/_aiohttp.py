"""`aiohttp_handler`: a `NotificationReceiver` served by aiohttp.web (the only aiohttp part)."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable
from contextlib import suppress
from typing import Final, Unpack

from aiohttp import web

from digipix_async._log import log
from digipix_async.webhooks._events import NotificationCallback, Outcome
from digipix_async.webhooks._receiver import NotificationReceiver, ReceiverOptions

__all__ = ["DEFAULT_BODY_TIMEOUT", "aiohttp_handler"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

#: Seconds allowed to receive a whole body: a notification is a few hundred
#: bytes, so only a sender trickling it (or a slowloris) comes near this.
DEFAULT_BODY_TIMEOUT: Final = 10.0

#: Seconds a refused slow sender's bytes are still read (and dropped) after
#: our answer, so that closing does not reset the connection under it.
_LINGER_AFTER_REFUSAL: Final = 1.0

_TOO_SLOW = Outcome(408, "body too slow")
_HUNG_UP = Outcome(400, "body incomplete")


async def _read_at_most(request: web.Request, limit: int) -> bytes:
    """Read the body, stopping after ``limit`` bytes (the caller then sees it is too large)."""
    chunks: list[bytes] = []
    size = 0
    # request.read() would buffer up to client_max_size (1 MiB by default), not our limit.
    while size < limit:
        chunk = await request.content.read(limit - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


async def _answer_and_hang_up(request: web.Request, response: web.Response) -> None:
    """Send ``response`` now and close the connection instead of reading the rest of the body.

    The rest may never come: aiohttp would otherwise keep reading it for its
    lingering time (10 s) after the handler returned.
    """
    response.force_close()  # says "Connection: close"
    try:
        with suppress(ConnectionError):  # the sender hung up meanwhile: nobody left to tell
            await response.prepare(request)
            await response.write_eof()
            await _half_close_and_discard(request)
    finally:
        request.protocol.force_close()


async def _half_close_and_discard(request: web.Request) -> None:
    """Send our FIN after the answer, then drop the sender's bytes for a short while.

    Closing a socket with unread input makes the kernel send a reset, and a
    reset can destroy the answer before the sender reads it: the sender would
    see "connection reset" instead of our 408. Half-closed, the sender reads
    the answer and the end of it, and hangs up itself; the wait is bounded.
    """
    transport = request.transport
    if transport is None or not transport.can_write_eof():
        return  # TLS cannot half-close: the answer is flushed, then the socket closed
    transport.write_eof()
    with suppress(TimeoutError):
        async with asyncio.timeout(_LINGER_AFTER_REFUSAL):
            while await request.content.readany():
                pass


def aiohttp_handler(
    callback: NotificationCallback | NotificationReceiver,
    *,
    body_timeout: float = DEFAULT_BODY_TIMEOUT,
    **options: Unpack[ReceiverOptions],
) -> Handler:
    """Return an aiohttp.web handler for Digipix status notifications.

    ``app.router.add_post("/digipix", aiohttp_handler(on_status, secret=...))``.
    The options are `NotificationReceiver`'s; or pass a receiver you built
    (and no options) to share it. The body is read only after the secret
    checked out, never beyond ``max_body_size`` (+1 byte to tell it is over),
    and for at most ``body_timeout`` seconds: a slower body is answered 408
    and its connection closed, so a trickling sender holds no socket for long.
    """
    if (
        isinstance(body_timeout, bool)
        or not isinstance(body_timeout, int | float)
        or not math.isfinite(body_timeout)
        or body_timeout <= 0
    ):
        raise ValueError(
            f"body_timeout must be a finite number of seconds > 0, got {body_timeout!r}"
        )
    if isinstance(callback, NotificationReceiver):
        if options:
            raise TypeError("give options either to the NotificationReceiver or here, not both")
        receiver = callback
    else:
        receiver = NotificationReceiver(callback, **options)

    async def handle_notification(request: web.Request) -> web.StreamResponse:
        # Secret and declared size first: a refused request's body is never read.
        outcome = receiver.authorize(request.query) or receiver.check_size(request.content_length)
        if outcome is None:
            try:
                async with asyncio.timeout(body_timeout):
                    body = await _read_at_most(request, receiver.max_body_size + 1)
            except TimeoutError:
                log.warning(
                    "refused a status notification: its body took over %s s to arrive",
                    body_timeout,
                )
                outcome = _TOO_SLOW
            except ConnectionError:
                # The sender hung up mid-body: nobody to answer, and no error of
                # ours (raised, aiohttp would log a traceback for it).
                log.info("a status notification's sender hung up before its body ended")
                outcome = _HUNG_UP
            else:
                outcome = await receiver.handle(body, request.query)
        response = web.Response(status=outcome.status, text=outcome.reason)
        if outcome.retry_after is not None:
            response.headers["Retry-After"] = str(outcome.retry_after)
        if outcome is _TOO_SLOW:
            await _answer_and_hang_up(request, response)
        return response

    return handle_notification
