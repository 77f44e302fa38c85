"""`aiohttp_handler`: a `NotificationReceiver` served by aiohttp.web (the only aiohttp part)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from aiohttp import web

from digipix_async.webhooks._receiver import (
    DEFAULT_MAX_BODY_SIZE,
    NotificationCallback,
    NotificationReceiver,
)

if TYPE_CHECKING:
    from digipix_async._client import DigipixClient

__all__ = ["aiohttp_handler"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


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


def aiohttp_handler(
    callback: NotificationCallback | NotificationReceiver,
    *,
    secret: str | None = None,
    secret_param: str = "token",  # noqa: S107 - a parameter name, not a secret
    verify_with: DigipixClient | None = None,
    max_body_size: int = DEFAULT_MAX_BODY_SIZE,
    dedupe_size: int = 10_000,
) -> Handler:
    """Return an aiohttp.web handler for Digipix status notifications.

    ``app.router.add_post("/digipix", aiohttp_handler(on_status, secret=...))``.
    The options are `NotificationReceiver`'s; or pass a receiver you built
    (and no options) to share it. The body is read only after the secret
    checked out, and never beyond ``max_body_size`` (+1 byte to tell it is over).
    """
    if isinstance(callback, NotificationReceiver):
        if (secret, secret_param, verify_with, max_body_size, dedupe_size) != (
            None,
            "token",
            None,
            DEFAULT_MAX_BODY_SIZE,
            10_000,
        ):
            raise TypeError("give options either to the NotificationReceiver or here, not both")
        receiver = callback
    else:
        receiver = NotificationReceiver(
            callback,
            secret=secret,
            secret_param=secret_param,
            verify_with=verify_with,
            max_body_size=max_body_size,
            dedupe_size=dedupe_size,
        )

    async def handle_notification(request: web.Request) -> web.StreamResponse:
        # Secret and declared size first: a refused request's body is never read.
        outcome = receiver.authorize(request.query) or receiver.check_size(request.content_length)
        if outcome is None:
            body = await _read_at_most(request, receiver.max_body_size + 1)
            outcome = await receiver.handle(body, request.query)
        return web.Response(status=outcome.status, text=outcome.reason)

    return handle_notification
