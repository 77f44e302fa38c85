"""`NotificationReceiver`: the framework-neutral answer to one status notification.

An adapter hands it the raw body and the query parameters and sends back the
`Outcome`'s status and reason. Steps, cheapest first::

    secret (401/403) -> size (413) -> parse (400) -> claim in the store
    (200 duplicate / 503 another worker has it) -> verify with the API
    (200 ignored / 503) -> callback (200 / 500) -> finish or release the claim

The reference defines no signature for notifications; the secret in the URL
and the optional re-fetch of the order are this SDK's protection.
"""

from __future__ import annotations

import asyncio
import hmac
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final, Protocol, TypedDict, runtime_checkable

from digipix_async._errors import DigipixError
from digipix_async._log import log
from digipix_async.models import Order, StatusNotification
from digipix_async.webhooks._events import NotificationCallback, NotificationEvent, Outcome
from digipix_async.webhooks._parse import InvalidNotificationError, parse_notification
from digipix_async.webhooks._store import (
    DEFAULT_DONE_TTL,
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_ENTRIES,
    DEFAULT_PENDING_TTL,
    MemoryNotificationStore,
    NotificationStore,
    notification_key,
)
from digipix_async.webhooks._verify import DEFAULT_REFUSAL_TTL, Refusal, Verifier

if TYPE_CHECKING:
    from digipix_async._client import DigipixClient

__all__ = [
    "DEFAULT_MAX_BODY_SIZE",
    "NotificationJournal",
    "NotificationReceiver",
    "ReceiverOptions",
]

#: Default limit on a notification body: the reference's notification is a few hundred bytes.
DEFAULT_MAX_BODY_SIZE: Final = 64 * 1024
#: Seconds a sender is asked to wait while another worker handles its notification.
RETRY_PENDING_AFTER: Final = 2
# A store call that takes longer than this is treated as a failed one (503).
_STORE_TIMEOUT: Final = 5.0


_MISSING_SECRET = Outcome(401, "missing secret")
_WRONG_SECRET = Outcome(403, "wrong secret")
_TOO_LARGE = Outcome(413, "body too large")


class ReceiverOptions(TypedDict, total=False):
    """The keyword options of `NotificationReceiver` (also taken by `aiohttp_handler`)."""

    secret: str | None
    secret_param: str
    verify_with: DigipixClient | None
    max_body_size: int
    dedupe_size: int
    dedupe_max_bytes: int
    dedupe_ttl: float
    pending_ttl: float
    refusal_ttl: float
    store: NotificationStore | None
    journal: NotificationJournal | None


@runtime_checkable
class NotificationJournal(Protocol):
    """What the receiver asks of an order journal (``digipix_async.jobs.OrderJournal``)."""

    async def settle_from_notification(
        self, custom_data: Mapping[str, Any] | None, order_id: str
    ) -> bool:
        """Settle the unknown entry the notified order's customData names, if any."""
        ...


def _seconds(name: str, value: float, *, zero_ok: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number of seconds, got {value!r}")
    if value < 0 or (value == 0 and not zero_ok):
        raise ValueError(f"{name} must be {'>= 0' if zero_ok else '> 0'} seconds, got {value!r}")
    return float(value)


class NotificationReceiver:
    """Check, de-duplicate, optionally verify and hand status notifications to ``callback``.

    - ``secret``: required as the ``secret_param`` query parameter (see
      `notification_url`); missing answers 401, wrong 403, before the body is read.
    - ``verify_with``: a `DigipixClient`; each notification's order is re-fetched
      and the callback gets it when it has reached the notified status (now or
      earlier: a late step is still delivered, see `NotificationEvent.late`).
      Concurrent notifications for one order share one GET, and a refusal
      (unknown order, status not reached) is remembered ``refusal_ttl`` seconds
      (30): repeated forgeries cost one GET per order and status per period.
      The price: a forgery by someone holding the secret hides the genuine
      step if that arrives within the period; ``refusal_ttl=0`` verifies each post.
    - ``max_body_size``: longer bodies answer 413.
    - ``store``: where handled ``(order id, status)`` pairs are remembered for
      ``dedupe_ttl`` seconds, so a re-sent notification does not run the
      callback twice; a `NotificationStore` shared by worker processes
      (``RedisStore``) makes that hold across them. ``pending_ttl``: how long
      a worker's claim lasts (make it longer than your callback runs). By
      default a `MemoryNotificationStore` of at most ``dedupe_size`` entries
      and ``dedupe_max_bytes`` bytes (0 remembers nothing).
    - ``journal``: an ``OrderJournal``; an authentic (and, with ``verify_with``,
      verified) notification for an order the journal holds as unknown settles
      it as created (the journal's key rides in the order's ``customData``).

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
        dedupe_size: int = DEFAULT_MAX_ENTRIES,
        dedupe_max_bytes: int = DEFAULT_MAX_BYTES,
        dedupe_ttl: float = DEFAULT_DONE_TTL,
        pending_ttl: float = DEFAULT_PENDING_TTL,
        refusal_ttl: float = DEFAULT_REFUSAL_TTL,
        store: NotificationStore | None = None,
        journal: NotificationJournal | None = None,
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
        for name, value in (("dedupe_size", dedupe_size), ("dedupe_max_bytes", dedupe_max_bytes)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be an int >= 0 (0 remembers nothing)")
        if store is None:
            store = MemoryNotificationStore(max_entries=dedupe_size, max_bytes=dedupe_max_bytes)
        elif not isinstance(store, NotificationStore):
            raise TypeError("store must implement NotificationStore (claim/finish/release)")
        elif (dedupe_size, dedupe_max_bytes) != (DEFAULT_MAX_ENTRIES, DEFAULT_MAX_BYTES):
            raise ValueError(
                "dedupe_size and dedupe_max_bytes bound the default store: "
                "give a store or those, not both"
            )
        if journal is not None and not isinstance(journal, NotificationJournal):
            raise TypeError("journal must be a digipix_async.jobs.OrderJournal")
        self._journal = journal
        self._callback = callback
        # Bytes: compare_digest refuses str holding non-ASCII characters.
        self._secret = secret.encode() if secret is not None else None
        self.secret_param = secret_param
        self.verify_with = verify_with
        self.max_body_size = max_body_size
        self.dedupe_size = dedupe_size
        self.dedupe_ttl = _seconds("dedupe_ttl", dedupe_ttl)
        self.pending_ttl = _seconds("pending_ttl", pending_ttl)
        self.store = store
        refusal_ttl = _seconds("refusal_ttl", refusal_ttl, zero_ok=True)
        self._verifier = (
            Verifier(verify_with, refusal_ttl=refusal_ttl) if verify_with is not None else None
        )
        # Store key being handled in this process -> set when that attempt is over.
        self._running: dict[str, asyncio.Event] = {}

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
        if not isinstance(given, str) or not hmac.compare_digest(
            given.encode(errors="surrogatepass"), self._secret
        ):
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
        input, a failing callback or store: the `Outcome` says what to answer.
        """
        refusal = self.authorize(query)
        if refusal is None:
            size = len(body.encode(errors="surrogatepass") if isinstance(body, str) else body)
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
        key = notification_key(notification.id, str(notification.status))
        # At-least-once delivery: the sender may retry while this process is
        # still working on the first try. Wait for it (a loop: after waiting,
        # another waiter may have started first); the store then says "done",
        # or, if that try failed, this one runs it again.
        while (running := self._running.get(key)) is not None:
            await running.wait()
        finished = asyncio.Event()
        self._running[key] = finished
        try:
            return await self._claimed(notification, key)
        finally:
            del self._running[key]
            finished.set()

    async def _claimed(self, notification: StatusNotification, key: str) -> Outcome:
        """Claim ``key`` in the store, run verification and callback, then finish or release."""
        # %r everywhere in log lines: ids and statuses are the sender's text (no forged lines).
        order_id, status = notification.id, str(notification.status)
        try:
            async with asyncio.timeout(_STORE_TIMEOUT):
                state = await self.store.claim_notification(key, pending_ttl=self.pending_ttl)
        except Exception:
            log.exception(
                "could not claim order %r, %r in the notification store", order_id, status
            )
            state = None
        if state == "done":
            log.debug("duplicate status notification: order %r, %r", order_id, status)
            return Outcome(200, "duplicate: already handled", notification)
        if state == "pending":
            log.info("order %r, %r: another worker is handling it", order_id, status)
            reason = "being handled by another worker, try again later"
            return Outcome(503, reason, notification, retry_after=RETRY_PENDING_AFTER)
        if state != "claimed":
            if state is not None:
                log.error("the notification store answered %r to a claim", state)
            return Outcome(503, "deduplication store unavailable, try again later", notification)
        handled = False
        try:
            outcome, handled = await self._verify_and_call(notification)
        finally:
            # Also when cancelled (the sender hung up): a claim left behind
            # would hold the notification "pending" until it lapses.
            await self._settle(key, handled=handled)
        return outcome

    async def _settle(self, key: str, *, handled: bool) -> None:
        try:
            async with asyncio.timeout(_STORE_TIMEOUT):
                if handled:
                    await self.store.finish_notification(key, ttl=self.dedupe_ttl)
                else:
                    await self.store.release_notification(key)
        except Exception:
            # The callback's result stands; at worst a re-sent notification runs it again.
            action = "finish" if handled else "release"
            log.exception("could not %s a status notification in the store", action)

    async def _settle_journal(self, notification: StatusNotification) -> None:
        """Settle the journal's unknown entry for this order: a notification proves it exists.

        Only an authenticated (and, with ``verify_with``, verified) notification gets
        here. A journal that fails is logged, never a reason to refuse the notification.
        """
        assert self._journal is not None
        try:
            async with asyncio.timeout(_STORE_TIMEOUT):
                await self._journal.settle_from_notification(
                    notification.custom_data, notification.id
                )
        except Exception:
            log.exception("could not settle order %r in the order journal", notification.id)

    async def _verify_and_call(self, notification: StatusNotification) -> tuple[Outcome, bool]:
        """Return the outcome and whether the callback ran to completion."""
        order = None
        if self._verifier is not None:
            checked = await self._verify(notification, self._verifier)
            if isinstance(checked, Outcome):
                return checked, False
            order = checked
        if self._journal is not None:
            await self._settle_journal(notification)
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
        now = (
            f" (now {str(order.status)!r})"
            if order is not None and order.status != notification.status
            else ""
        )
        log.info(
            "handled status notification: order %r is %r%s",
            notification.id,
            str(notification.status),
            now,
        )
        return Outcome(200, "ok", notification, order), True

    @staticmethod
    async def _verify(notification: StatusNotification, verifier: Verifier) -> Order | Outcome:
        """Return the authoritative order, or the outcome that stops here."""
        try:
            checked = await verifier.verify(notification)
        except DigipixError as exc:
            # Transient or not, the notification may be genuine: 503 makes the sender retry.
            log.warning("could not verify order %r: %s", notification.id, exc)
            return Outcome(503, "verification failed, try again later", notification)
        except Exception:
            log.exception("could not verify order %r", notification.id)
            return Outcome(503, "verification failed, try again later", notification)
        if isinstance(checked, Refusal):
            # 2xx: an unknown order or a status it never reached will not start
            # matching because the sender repeats it.
            return Outcome(200, checked.reason, notification, checked.order)
        return checked
