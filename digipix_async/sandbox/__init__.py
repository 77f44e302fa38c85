"""An embedded, stateful, Digipix-compatible HTTP server for development and tests.

It stands in for the vendor: it imports nothing from the SDK and keeps its own
plain-dict state and wire knowledge. Start it with ``async with SandboxServer()``
or ``python -m digipix_async.sandbox``; its controls for tests are
``sandbox.advance()``, ``sandbox.clock``, ``sandbox.faults``, ``sandbox.expire_tokens()``,
``sandbox.request_count()`` / ``sandbox.request_counts()`` (per route template),
``sandbox.token_requests``, ``sandbox.creates_for()``, ``sandbox.limits`` (the 429s of
``rate_limit_rps=`` and ``max_concurrent=``), ``sandbox.notifications`` and
``await sandbox.wait_notifications()``.
"""

from digipix_async.sandbox._clock import SandboxClock
from digipix_async.sandbox._faults import Fault, Faults
from digipix_async.sandbox._notify import NotificationRecord
from digipix_async.sandbox._server import SandboxServer

__all__ = ["Fault", "Faults", "NotificationRecord", "SandboxClock", "SandboxServer"]
