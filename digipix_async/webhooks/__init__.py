"""Receive the status notifications Digipix POSTs to an order's ``statusNotificationUrl``.

``parse_notification`` reads a body; `NotificationReceiver` answers a whole
request for any web framework; `aiohttp_handler` serves one with aiohttp.web;
`notification_url` adds a shared secret to the URL given to ``orders.create``.
"""

from digipix_async.webhooks._aiohttp import aiohttp_handler
from digipix_async.webhooks._parse import (
    InvalidNotificationError,
    notification_url,
    parse_notification,
)
from digipix_async.webhooks._receiver import (
    NotificationCallback,
    NotificationEvent,
    NotificationReceiver,
    Outcome,
)

__all__ = [
    "InvalidNotificationError",
    "NotificationCallback",
    "NotificationEvent",
    "NotificationReceiver",
    "Outcome",
    "aiohttp_handler",
    "notification_url",
    "parse_notification",
]
