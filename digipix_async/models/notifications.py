"""Models of the status notification Digipix POSTs to ``statusNotificationUrl``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from digipix_async.models._extra import extra_field, to_tuple
from digipix_async.models.orders import OrderStatus

__all__ = ["StatusNotification", "TrackingItem"]


@attrs.frozen
class TrackingItem:
    """Tell where to follow a parcel (sent with SHIPPED and DELIVERED)."""

    code: str | None = None
    url: str | None = None
    carrier: str | None = None
    extra: Mapping[str, Any] = extra_field()


@attrs.frozen
class StatusNotification:
    """Report that order ``id`` reached ``status``, with tracking once shipped."""

    id: str
    status: OrderStatus
    custom_data: Mapping[str, Any] | None = None
    tracking_items: tuple[TrackingItem, ...] = attrs.field(default=(), converter=to_tuple)
    extra: Mapping[str, Any] = extra_field()
