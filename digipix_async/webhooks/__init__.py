"""Receive the status notifications Digipix POSTs to an order's ``statusNotificationUrl``.

``parse_notification`` reads a body; `NotificationReceiver` answers a whole
request for any web framework; `aiohttp_handler` serves one with aiohttp.web;
`notification_url` adds a shared secret to the URL given to ``orders.create``.
`NotificationStore` is what a ``store=`` shared by worker processes implements
(`MemoryNotificationStore` is the one-process default).
"""

from digipix_async.webhooks._aiohttp import aiohttp_handler
from digipix_async.webhooks._events import NotificationCallback, NotificationEvent, Outcome
from digipix_async.webhooks._parse import (
    InvalidNotificationError,
    notification_url,
    parse_notification,
)
from digipix_async.webhooks._receiver import (
    NotificationJournal,
    NotificationReceiver,
    ReceiverOptions,
)
from digipix_async.webhooks._store import (
    ClaimState,
    MemoryNotificationStore,
    NotificationStore,
    notification_key,
)

__all__ = [
    "ClaimState",
    "InvalidNotificationError",
    "MemoryNotificationStore",
    "NotificationCallback",
    "NotificationEvent",
    "NotificationJournal",
    "NotificationReceiver",
    "NotificationStore",
    "Outcome",
    "ReceiverOptions",
    "aiohttp_handler",
    "notification_key",
    "notification_url",
    "parse_notification",
]
