"""What a callback receives (`NotificationEvent`) and how a notification is answered."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import attrs

from digipix_async.models import Order, OrderStatus, StatusNotification

__all__ = ["NotificationCallback", "NotificationEvent", "Outcome"]


@attrs.frozen
class NotificationEvent:
    """Hand a callback one status change: the notification and, if verified, the order.

    ``notification`` says which step this is: its ``status`` and, for SHIPPED
    and DELIVERED, its ``tracking_items``, as the sender posted them. ``order``
    is the order as ``client.orders.get`` returned it while verifying
    (``verify_with=client``): its status is the notified one or a later one
    (see `late`); None without verification, when ``notification`` is all there is.

    Verification vouches for the step (the order did reach ``status``) and
    for ``order``; the rest of ``notification`` (``custom_data``,
    ``tracking_items``) is what the sender wrote: prefer ``order``'s fields
    where both have one.
    """

    notification: StatusNotification
    order: Order | None = None

    @property
    def order_id(self) -> str:
        """The id of the order that changed."""
        return self.notification.id

    @property
    def status(self) -> OrderStatus:
        """The status this notification reports (a step the order reached)."""
        return self.notification.status

    @property
    def late(self) -> bool:
        """Tell whether the verified order had already moved past `status` (a step arriving late).

        The step still happened: ``status`` and ``notification.tracking_items``
        describe it, ``order.status`` is where the order is now.
        """
        return self.order is not None and self.order.status != self.notification.status


#: ``async def on_status(event: NotificationEvent) -> None``; raising answers 500 (a retry).
NotificationCallback = Callable[[NotificationEvent], Awaitable[None]]


@attrs.frozen
class Outcome:
    """Say how to answer a notification: HTTP ``status``, a short ``reason`` text.

    ``notification`` is set once the body parsed, ``order`` once verification
    fetched it. ``retry_after`` (seconds) goes in a ``Retry-After`` header when set.
    """

    status: int
    reason: str
    notification: StatusNotification | None = None
    order: Order | None = None
    retry_after: int | None = None

    @property
    def ok(self) -> bool:
        """Tell whether the answer is 2xx: the sender stops sending this notification."""
        return 200 <= self.status < 300
