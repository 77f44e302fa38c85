"""Check a notification against the order the API reports, without amplifying requests.

- One GET per order at a time: concurrent notifications for one order share it
  (single flight), whatever their status.
- A refusal (unknown order, a status the order has not reached) is remembered
  for ``refusal_ttl`` seconds, bounded in entries: forged posts repeated in a
  loop cost one GET per order and status per ``refusal_ttl``, not one each.
- A status the order has already *passed* is accepted (API.md, "Webhooks"):
  steps that arrive late, after the order moved on, are still steps.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, Final

import attrs

from digipix_async._errors import NotFoundError, ValidationError
from digipix_async._log import log
from digipix_async.models import Order, OrderStatus, StatusNotification
from digipix_async.webhooks._store import notification_key

if TYPE_CHECKING:
    from digipix_async._client import DigipixClient

__all__ = [
    "DEFAULT_REFUSAL_TTL",
    "NOT_REACHED",
    "UNKNOWN_ORDER",
    "Refusal",
    "Verifier",
    "has_reached",
]

DEFAULT_REFUSAL_TTL: Final = 30.0
#: Refusals remembered at most; keys are fixed-size hashes, so this bounds bytes too.
MAX_REFUSALS: Final = 10_000

# The life cycle (reference, "Create new order" and PATCH): each status is
# reached only after the ones before it. NEW, CANCELED and statuses this SDK
# does not know have no place in it: which steps came before them is unknown,
# so they count as reached only by an order in exactly that status.
_RANK: Final[dict[str, int]] = {
    status: rank
    for rank, status in enumerate(
        (
            OrderStatus.QUOTE,
            OrderStatus.APPROVED,
            OrderStatus.IN_MANUFACTURING,
            OrderStatus.SHIPPED,
            OrderStatus.DELIVERED,
        )
    )
}


def has_reached(order_status: str, notified: str) -> bool:
    """Tell whether an order now in ``order_status`` has been in ``notified`` at some point."""
    if order_status == notified:
        return True
    now, then = _RANK.get(order_status), _RANK.get(notified)
    return now is not None and then is not None and now > then


@attrs.frozen
class Refusal:
    """Say why a notification is not handed to the callback (answered 200: stop sending).

    ``order`` is the order as fetched, when this refusal came from a GET (not
    from memory).
    """

    reason: str
    order: Order | None = None


UNKNOWN_ORDER: Final = Refusal("ignored: unknown order")
NOT_REACHED: Final = Refusal("ignored: status mismatch")


class _Flight:
    """One GET of an order and how many notifications wait for it."""

    __slots__ = ("task", "waiters")

    def __init__(self, task: asyncio.Task[Order | Refusal]) -> None:
        self.task = task
        self.waiters = 0


class Verifier:
    """Fetch orders for notifications: single flight per order, refusals remembered a while."""

    def __init__(
        self,
        client: DigipixClient,
        *,
        refusal_ttl: float = DEFAULT_REFUSAL_TTL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.refusal_ttl = refusal_ttl
        self._clock = clock
        # notification_key(...) -> (refusal, forget at): least recently added first.
        self._refused: OrderedDict[str, tuple[Refusal, float]] = OrderedDict()
        self._flights: dict[str, _Flight] = {}

    async def verify(self, notification: StatusNotification) -> Order | Refusal:
        """Return the order when it has reached the notified status, else why not.

        Raises what ``client.orders.get`` raised when the API could not answer
        (a `DigipixError`, or a bug): the caller answers 503 so the sender retries.
        """
        order_id, status = notification.id, str(notification.status)
        # An unknown order is unknown whatever the status: one key for all of them.
        for key in (notification_key(order_id, status), notification_key(order_id, "")):
            remembered = self._remembered(key)
            if remembered is not None:
                log.debug(
                    "status notification for order %r, %r: %s (remembered)",
                    order_id,
                    status,
                    remembered.reason,
                )
                return remembered
        fetched = await self._fetch(order_id)
        if isinstance(fetched, Refusal):
            return fetched
        if not has_reached(fetched.status, notification.status):
            # Forged, or the API has not caught up: either way nothing to hand over.
            log.warning(
                "ignored a status notification: order %r is %r, it has not reached %r",
                order_id,
                str(fetched.status),
                status,
            )
            self._remember(notification_key(order_id, status), NOT_REACHED)
            return Refusal(NOT_REACHED.reason, fetched)
        return fetched

    def _remembered(self, key: str) -> Refusal | None:
        entry = self._refused.get(key)
        if entry is None:
            return None
        if entry[1] > self._clock():
            return entry[0]
        del self._refused[key]
        return None

    def _remember(self, key: str, refusal: Refusal) -> None:
        if self.refusal_ttl <= 0:
            return
        self._refused.pop(key, None)
        self._refused[key] = (refusal, self._clock() + self.refusal_ttl)
        while len(self._refused) > MAX_REFUSALS:
            self._refused.popitem(last=False)

    async def _fetch(self, order_id: str) -> Order | Refusal:
        flight = self._flights.get(order_id)
        if flight is None:
            flight = _Flight(asyncio.create_task(self._get(order_id)))
            self._flights[order_id] = flight
        flight.waiters += 1
        try:
            # shield: one waiter cancelled (its sender hung up) must not fail the others.
            return await asyncio.shield(flight.task)
        finally:
            flight.waiters -= 1
            if flight.waiters == 0:
                # The last one out ends the GET nobody waits for any more.
                flight.task.cancel()
                if self._flights.get(order_id) is flight:
                    del self._flights[order_id]

    async def _get(self, order_id: str) -> Order | Refusal:
        try:
            order = await self.client.orders.get(order_id)
        except (NotFoundError, ValidationError):
            log.warning("ignored a status notification for unknown order %r", order_id)
            self._remember(notification_key(order_id, ""), UNKNOWN_ORDER)
            return UNKNOWN_ORDER
        if order.id != order_id:
            # Defence in depth: an id like ".." could resolve to another resource.
            log.warning("ignored a status notification: order %r came back as another id", order_id)
            self._remember(notification_key(order_id, ""), UNKNOWN_ORDER)
            return UNKNOWN_ORDER
        return order
