"""`NotificationReceiver`: the framework-neutral answer to one status notification.

An adapter hands it the raw body and the query parameters and sends back the
`Outcome`'s status and reason. Steps, cheapest first::

    secret (401/403) -> size (413) -> parse (400) -> dedupe (200 duplicate)
    -> verify with the API (200 ignored / 503) -> callback (200 / 500)

The reference defines no signature for notifications; the secret in the URL
and the optional re-fetch of the order are this SDK's protection.
"""

from __future__ import annotations

import asyncio
import hmac
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Final

import attrs

from digipix_async._errors import DigipixError, NotFoundError, ValidationError
from digipix_async._log import log
from digipix_async.models import Order, OrderStatus, StatusNotification
from digipix_async.webhooks._parse import InvalidNotificationError, parse_notification

if TYPE_CHECKING:
    from digipix_async._client import DigipixClient

__all__ = ["NotificationCallback", "NotificationEvent", "NotificationReceiver", "Outcome"]

#: Default limit on a notification body: the reference's notification is a few hundred bytes.
DEFAULT_MAX_BODY_SIZE: Final = 64 * 1024


@attrs.frozen
class NotificationEvent:
    """Hand a callback one status change: the notification and, if verified, the order.

    ``order`` is the order as ``client.orders.get`` returned it while verifying
    (``verify_with=client``), so its status is known to match; None without
    verification, when ``notification`` is all there is.
    """

    notification: StatusNotification
    order: Order | None = None

    @property
    def order_id(self) -> str:
        """The id of the order that changed."""
        return self.notification.id

    @property
    def status(self) -> OrderStatus:
        """The status the order reached."""
        return self.notification.status


#: ``async def on_status(event: NotificationEvent) -> None``; raising answers 500 (a retry).
NotificationCallback = Callable[[NotificationEvent], Awaitable[None]]


@attrs.frozen
class Outcome:
    """Say how to answer a notification: HTTP ``status``, a short ``reason`` text.

    ``notification`` is set once the body parsed, ``order`` once verification
    fetched it.
    """

    status: int
    reason: str
    notification: StatusNotification | None = None
    order: Order | None = None

    @property
    def ok(self) -> bool:
        """Tell whether the answer is 2xx: the sender stops sending this notification."""
        return 200 <= self.status < 300


_MISSING_SECRET = Outcome(401, "missing secret")
_WRONG_SECRET = Outcome(403, "wrong secret")
_TOO_LARGE = Outcome(413, "body too large")


class NotificationReceiver:
    """Check, de-duplicate, optionally verify and hand status notifications to ``callback``.

    - ``secret``: required as the ``secret_param`` query parameter (see
      `notification_url`); missing answers 401, wrong 403, before the body is read.
    - ``verify_with``: a `DigipixClient`; each notification's order is re-fetched
      and the callback gets it only when its status is the notified one.
    - ``max_body_size``: longer bodies answer 413.
    - ``dedupe_size``: how many handled ``(order id, status)`` pairs are
      remembered, so a re-sent notification does not run the callback twice.

    One receiver serves one event loop; share it across the requests of an app.
    """

    def __init__(
        self,
        callback: NotificationCallback,
        *,
        secret: str | None = None,
        secret_param: str = "token",  # noqa: S107 - a parameter name, not a secret
        verify_with: DigipixClient | None = None,
        max_body_size: int = DEFAULT_MAX_BODY_SIZE,
        dedupe_size: int = 10_000,
    ) -> None:
        if not callable(callback):
            raise TypeError("callback must be an async function taking a NotificationEvent")
        if secret is not None and (not isinstance(secret, str) or not secret):
            raise ValueError("secret must be a non-empty string (or None for no secret)")
        if not isinstance(secret_param, str) or not secret_param:
            raise ValueError("secret_param must be a non-empty string")
        if isinstance(max_body_size, bool) or not isinstance(max_body_size, int):
            raise TypeError("max_body_size must be an int")
        if max_body_size < 1:
            raise ValueError("max_body_size must be at least 1")
        if isinstance(dedupe_size, bool) or not isinstance(dedupe_size, int) or dedupe_size < 0:
            raise ValueError("dedupe_size must be an int >= 0 (0 remembers nothing)")
        self._callback = callback
        # Bytes: compare_digest refuses str holding non-ASCII characters.
        self._secret = secret.encode() if secret is not None else None
        self.secret_param = secret_param
        self.verify_with = verify_with
        self.max_body_size = max_body_size
        self.dedupe_size = dedupe_size
        # An LRU of handled (id, status): bounded, the oldest forgotten first.
        self._handled: OrderedDict[tuple[str, str], None] = OrderedDict()
        # (id, status) being handled now -> set when that attempt is over.
        self._running: dict[tuple[str, str], asyncio.Event] = {}

    def __repr__(self) -> str:
        # Never the secret: reprs end up in logs.
        return (
            f"<NotificationReceiver secret={'set' if self._secret else 'none'} "
            f"verify={self.verify_with is not None} max_body_size={self.max_body_size}>"
        )

    def authorize(self, query: Mapping[str, str]) -> Outcome | None:
        """Return the refusal (401 missing, 403 wrong secret) for ``query``, or None."""
        if self._secret is None:
            return None
        given = query.get(self.secret_param)
        if not given:
            log.warning("refused a status notification: no secret in its URL")
            return _MISSING_SECRET
        if not isinstance(given, str) or not hmac.compare_digest(given.encode(), self._secret):
            log.warning("refused a status notification: wrong secret in its URL")
            return _WRONG_SECRET
        return None

    def check_size(self, size: int | None) -> Outcome | None:
        """Return the 413 refusal when a body of ``size`` bytes is too large, else None."""
        if size is not None and size > self.max_body_size:
            log.warning(
                "refused a status notification: %d bytes is over the %d bytes limit",
                size,
                self.max_body_size,
            )
            return _TOO_LARGE
        return None

    async def handle(self, body: bytes | str, query: Mapping[str, str]) -> Outcome:
        """Answer one notification POST: ``body`` as received, ``query`` its URL's parameters.

        Returns once the callback (if any) has finished; never raises for bad
        input or a failing callback: the `Outcome` says what to answer.
        """
        refusal = self.authorize(query)
        if refusal is None:
            size = len(body.encode() if isinstance(body, str) else body)
            refusal = self.check_size(size)
        if refusal is not None:
            return refusal
        try:
            notification = parse_notification(body)
        except InvalidNotificationError as exc:
            log.warning("refused a status notification: %s", exc)
            return Outcome(400, f"invalid notification: {exc}")
        return await self._once(notification)

    async def _once(self, notification: StatusNotification) -> Outcome:
        """Run the callback for ``notification`` unless it already ran successfully."""
        # %r everywhere in log lines: ids and statuses are the sender's text (no forged lines).
        key = (notification.id, str(notification.status))
        # A loop, not an if: after waiting, another waiter may have started first.
        while True:
            if key in self._handled:
                self._handled.move_to_end(key)
                log.debug("duplicate status notification: order %r, %r", key[0], key[1])
                return Outcome(200, "duplicate: already handled", notification)
            running = self._running.get(key)
            if running is None:
                break
            # At-least-once delivery: the sender may retry while we are still
            # working on the first try. Wait for it; if it failed, try again here.
            await running.wait()
        done = asyncio.Event()
        self._running[key] = done
        try:
            outcome, handled = await self._verify_and_call(notification)
        finally:
            del self._running[key]
            done.set()
        if handled:
            self._remember(key)
        return outcome

    def _remember(self, key: tuple[str, str]) -> None:
        if self.dedupe_size == 0:
            return
        self._handled[key] = None
        while len(self._handled) > self.dedupe_size:
            self._handled.popitem(last=False)

    async def _verify_and_call(self, notification: StatusNotification) -> tuple[Outcome, bool]:
        """Return the outcome and whether the callback ran to completion."""
        order = None
        if self.verify_with is not None:
            checked = await self._verify(notification, self.verify_with)
            if isinstance(checked, Outcome):
                return checked, False
            order = checked
        try:
            await self._callback(NotificationEvent(notification, order))
        except Exception:
            # 500: the sender retries later, and this (id, status) is not marked handled.
            log.exception(
                "status notification callback failed for order %r, %r",
                notification.id,
                str(notification.status),
            )
            return Outcome(500, "callback failed", notification, order), False
        log.info(
            "handled status notification: order %r is %r", notification.id, str(notification.status)
        )
        return Outcome(200, "ok", notification, order), True

    @staticmethod
    async def _verify(notification: StatusNotification, client: DigipixClient) -> Order | Outcome:
        """Return the authoritative order, or the outcome that stops here."""
        try:
            order = await client.orders.get(notification.id)
        except (NotFoundError, ValidationError):
            log.warning("ignored a status notification for unknown order %r", notification.id)
            return Outcome(200, "ignored: unknown order", notification)
        except DigipixError as exc:
            # Transient or not, the notification may be genuine: 503 makes the sender retry.
            log.warning("could not verify order %r: %s", notification.id, exc)
            return Outcome(503, "verification failed, try again later", notification)
        except Exception:
            log.exception("could not verify order %r", notification.id)
            return Outcome(503, "verification failed, try again later", notification)
        if order.id != notification.id:
            # Defence in depth: an id like ".." could resolve to another resource.
            log.warning(
                "ignored a status notification: order %r came back as another id", notification.id
            )
            return Outcome(200, "ignored: unknown order", notification)
        if order.status != notification.status:
            # Forged, or stale (the order moved on before this arrived). 2xx either
            # way: a stale notification re-sent forever would never start matching.
            log.warning(
                "ignored a status notification: order %r is %r, not %r",
                notification.id,
                str(order.status),
                str(notification.status),
            )
            return Outcome(200, "ignored: status mismatch", notification, order)
        return order
