"""What the sandbox counts about the requests it receives: per route, never per raw path.

A sandbox that runs for days must not grow with what clients send: counters are kept
per route template (``GET /v1/orders/{orderId}``), every request that matches no route
shares one bucket, and only the latest requests are kept in order, with their paths cut.
"""

from __future__ import annotations

import re
from collections import Counter, deque
from typing import Final

__all__ = ["ROUTES", "UNKNOWN_ROUTE", "RequestLog", "route_key"]

#: Every route of the reference, as (method, path template).
ROUTES: Final = (
    ("POST", "/v1/oauth/token"),
    ("GET", "/v1/products"),
    ("GET", "/v1/products/{productId}"),
    ("POST", "/v1/quote"),
    ("POST", "/v1/orders"),
    ("GET", "/v1/orders/{orderId}"),
    ("PATCH", "/v1/orders/{orderId}"),
)
#: The one bucket shared by requests that match no route (404, 405, odd methods).
UNKNOWN_ROUTE: Final = "unknown route"

_PATH_KEPT: Final = 200  # characters of a path kept in the ordered log

# aiohttp answers HEAD on every GET route too; HEAD shares the GET templates.
_METHODS_OF: Final = {"GET": ("GET", "HEAD")}
_PATTERNS: Final = tuple(
    (method, template, re.compile("^" + re.sub(r"\\\{\w+\\\}", "[^/]+", re.escape(template)) + "$"))
    for method, template in ROUTES
)


def route_key(method: str, path: str) -> str:
    """Return the counter a request falls in: ``"GET /v1/orders/{orderId}"`` or `UNKNOWN_ROUTE`.

    `path` may be a concrete path (``/v1/orders/abc``) or the template itself.
    """
    method = method.upper()
    for route_method, template, pattern in _PATTERNS:
        if method in _METHODS_OF.get(route_method, (route_method,)) and pattern.match(path):
            return f"{method} {template}"
    return UNKNOWN_ROUTE


class RequestLog:
    """The requests the sandbox received, faulted and refused ones included.

    Counts are kept per route template (a bounded set of keys, whatever the paths);
    the ordered ``(method, path)`` entries only for the latest ``keep`` requests, with
    paths cut to 200 characters, so a standalone sandbox never grows without end.
    """

    def __init__(self, keep: int = 10_000) -> None:
        self.entries: deque[tuple[str, str]] = deque(maxlen=keep)
        #: (event-loop time, route key) of the same latest requests, for "when" questions.
        self.arrivals: deque[tuple[float, str]] = deque(maxlen=keep)
        self._counts: Counter[str] = Counter()

    def add(self, method: str, path: str, key: str, at: float = 0.0) -> None:
        """Record one request that the router filed under `key` (see `route_key`)."""
        self.entries.append((method[:16], path[:_PATH_KEPT]))
        self.arrivals.append((at, key))
        self._counts[key] += 1

    def count(self, method: str, path: str) -> int:
        """Return how many requests arrived on the route that `method path` belongs to."""
        return self._counts[route_key(method, path)]

    def counts(self) -> dict[str, int]:
        """Return every counter, keyed ``"METHOD /template"`` (and `UNKNOWN_ROUTE`)."""
        return dict(self._counts)
