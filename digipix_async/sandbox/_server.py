"""`SandboxServer`: the sandbox application on a loopback socket, plus its test controls."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from types import TracebackType
from typing import Any, Self

from aiohttp import http_exceptions, web

from digipix_async.sandbox._app import OAUTH_ROUTE, build_app
from digipix_async.sandbox._auth import TokenAuthority
from digipix_async.sandbox._clock import SandboxClock
from digipix_async.sandbox._faults import Faults
from digipix_async.sandbox._limits import Limits
from digipix_async.sandbox._notify import NotificationRecord, Notifier
from digipix_async.sandbox._requests import RequestLog, route_key
from digipix_async.sandbox._state import LIFE_CYCLE, MAX_ORDERS, SandboxState, notification_payload
from digipix_async.sandbox._wire import Body

__all__ = ["SandboxServer"]

_log = logging.getLogger("digipix_async.sandbox")


class _ClientFaultLog(logging.LoggerAdapter):  # type: ignore[type-arg]
    """aiohttp's server logger, with a client's malformed HTTP told in one INFO line.

    aiohttp logs "Error handling request" with a traceback at ERROR for any request it
    cannot parse; for a test server that is the client's fault, not the sandbox's: the
    client already got its 400. Anything else stays at ERROR with its traceback.
    """

    def exception(self, msg: object, *args: object, exc_info: Any = True, **kwargs: Any) -> None:
        exc = exc_info if isinstance(exc_info, BaseException) else None
        if isinstance(exc, http_exceptions.HttpProcessingError | ConnectionError):
            self.logger.info("malformed request refused: %s", str(exc).splitlines()[0][:200])
            return
        self.logger.exception(msg, *args, exc_info=exc_info, **kwargs)


class SandboxServer:
    """Run a stateful, Digipix-compatible HTTP server for development and tests.

    ``async with SandboxServer() as sandbox:`` binds 127.0.0.1 on a free port; point a
    client at ``sandbox.base_url`` with ``sandbox.client_id`` / ``sandbox.client_secret``.

    Limits like a real API's (both answer 429 with ``Retry-After`` in whole seconds, and
    spare the token endpoint; ``sandbox.limits`` counts what they refused):

    - ``rate_limit_rps=N``: a token bucket per client id, N requests per second with
      bursts up to N; ``Retry-After`` is the time until a token is back, rounded up.
    - ``max_concurrent=M``: at most M requests served at once, for tests such as "a
      server that serves 8 at a time"; ``Retry-After: 1``. The sandbox answers in well
      under a millisecond, so pair it with a latency fault to model a slow server:
      ``sandbox.faults.add("latency", seconds=0.05, path="/v1/quote")``.

    Memory stays bounded however long it runs: request counters per route template, at
    most 10,000 tokens, 100,000 quoted shipment ids (kept seven days) and ``max_orders``
    orders within 64 MiB of JSON (the oldest forgotten first), and the latest 10,000
    requests and notifications.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        client_id: str | None = None,
        client_secret: str | None = None,
        token_lifetime: float = 3600,
        auto_advance: float | None = None,
        collect: bool = False,
        partner_name: str = "Sandbox Partner",
        notify_max_tries: int = 5,
        notify_base_delay: float = 0.05,
        notify_max_delay: float = 2.0,
        notify_timeout: float = 5.0,
        seed: int | None = None,
        client_max_size: int = 1024**2,
        access_log: bool = False,
        rate_limit_rps: float | None = None,
        max_concurrent: int | None = None,
        max_orders: int = MAX_ORDERS,
    ) -> None:
        if auto_advance is not None and auto_advance <= 0:
            raise ValueError("auto_advance must be a positive number of seconds")
        if max_orders < 1:
            raise ValueError(f"max_orders must be at least 1, got {max_orders}")
        #: The request-rate and concurrency limits, and their counters (see _limits.py).
        self.limits = Limits(rate_limit_rps=rate_limit_rps, max_concurrent=max_concurrent)
        self.host = host
        self.port = port
        self.client_id = client_id or f"sandbox-{secrets.token_hex(6)}"
        self.client_secret = client_secret or secrets.token_urlsafe(24)
        self.auto_advance = auto_advance
        self.clock = SandboxClock()
        self.faults = Faults(seed)
        self.state = SandboxState(
            clock=self.clock,
            collect=collect,
            partner_name=partner_name,
            on_status=self._changed,
            max_orders=max_orders,
        )
        self._authority = TokenAuthority(
            client_id=self.client_id,
            client_secret=self.client_secret,
            clock=self.clock,
            lifetime=token_lifetime,
        )
        self._notifier = Notifier(
            max_tries=notify_max_tries,
            base_delay=notify_base_delay,
            max_delay=notify_max_delay,
            timeout=notify_timeout,
        )
        self._log = RequestLog()
        self._client_max_size = client_max_size
        self._access_log = access_log
        self._runner: web.AppRunner | None = None
        self._base_url: str | None = None
        self._auto_task: asyncio.Task[None] | None = None
        self._changed_at: dict[str, float] = {}
        self._closed = False

    def __repr__(self) -> str:
        # Never the secret: reprs end up in logs and test reports.
        return f"<SandboxServer {self._base_url or 'not started'} client_id={self.client_id!r}>"

    # -- life --------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """Return the server root, e.g. ``http://127.0.0.1:54321`` (no trailing slash)."""
        if self._base_url is None:
            raise RuntimeError("the sandbox is not started; use `async with` or start()")
        return self._base_url

    async def start(self) -> None:
        """Bind the socket and start serving (and auto-advancing, if asked)."""
        if self._runner is not None or self._closed:
            raise RuntimeError("a SandboxServer starts once")
        app = build_app(
            authority=self._authority,
            state=self.state,
            faults=self.faults,
            log=self._log,
            limits=self.limits,
            client_max_size=self._client_max_size,
        )
        kwargs: dict[str, Any] = {} if self._access_log else {"access_log": None}
        kwargs["logger"] = _ClientFaultLog(logging.getLogger("aiohttp.server"))
        # A short shutdown: close() must not wait out a latency fault still sleeping.
        runner = web.AppRunner(app, shutdown_timeout=0.5, **kwargs)
        await runner.setup()
        self._runner = runner
        try:
            site = web.TCPSite(runner, self.host, self.port)
            await site.start()
        except BaseException:
            await self.close()
            raise
        self.port = int(runner.addresses[0][1])
        host = f"[{self.host}]" if ":" in self.host else self.host
        self._base_url = f"http://{host}:{self.port}"
        if self.auto_advance is not None:
            self._auto_task = asyncio.create_task(self._auto_advance(self.auto_advance))

    async def close(self) -> None:
        """Stop serving, cancel outstanding notifications, release every socket."""
        self._closed = True
        if self._auto_task is not None:
            self._auto_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._auto_task
            self._auto_task = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        await self._notifier.close()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # -- orders ------------------------------------------------------------------------------

    def _changed(self, order: Body) -> None:
        """React to a status change: remember when (for auto-advance), notify the partner."""
        if order["status"] in LIFE_CYCLE[:-1] and self.auto_advance is not None:
            self._changed_at[order["id"]] = asyncio.get_running_loop().time()
        else:  # a final status: nothing left to time, keep the map small
            self._changed_at.pop(order["id"], None)
        url = order.get("statusNotificationUrl")
        if url and not self._closed:
            self._notifier.send(order["id"], url, notification_payload(order))

    async def advance(self, order_id: str, to: Any = None) -> Body:
        """Move an approved order one step (or up to `to`), notifying each step.

        Raises ValueError for an unknown order or one that cannot advance (QUOTE,
        CANCELED, DELIVERED, or `to` not ahead of its status).
        """
        return self.state.advance(order_id, to)

    def order(self, order_id: str) -> Body:
        """Return a copy of an order document (KeyError if unknown)."""
        if order_id not in self.state.order_ids():
            raise KeyError(order_id)
        return self.state.get_order(order_id)

    def creates_for(self, partner_order_id: str | None) -> int:
        """Count orders created with this partnerOrderID."""
        return self.state.creates_for(partner_order_id)

    async def _auto_advance(self, every: float) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(min(every / 4, 0.5))
            now = loop.time()
            in_progress = self.state.in_progress()
            # Orders forgotten (max_orders) while in progress leave no timer behind.
            for order_id in self._changed_at.keys() - set(in_progress):
                del self._changed_at[order_id]
            for order_id in in_progress:
                # Orders created APPROVED were never "changed": start their timer now.
                if now - self._changed_at.setdefault(order_id, now) >= every:
                    try:
                        self.state.advance(order_id)
                    except Exception:  # never let the ticker die with an unretrieved error
                        _log.exception("auto-advance of order %s failed", order_id)

    # -- tokens, requests, notifications -----------------------------------------------------

    def expire_tokens(self) -> int:
        """Make every token issued so far invalid (next calls get 401); return how many."""
        return self._authority.expire_all()

    @property
    def tokens_issued(self) -> int:
        """Return how many tokens the sandbox granted."""
        return self._authority.tokens_issued

    @property
    def token_requests(self) -> int:
        """Return how many `POST /v1/oauth/token` requests arrived (faulted or refused too)."""
        return self._log.count("POST", OAUTH_ROUTE)

    def request_count(self, method: str, path: str) -> int:
        """Return how many requests arrived on the route of `method path`, refused ones included.

        Counters are kept per route template, not per raw path (memory stays bounded):
        ``request_count("GET", "/v1/orders/abc")`` and ``request_count("GET",
        "/v1/orders/{orderId}")`` both count every GET of any order, and any path that
        matches no route counts in the one "unknown route" bucket.
        """
        return self._log.count(method, path)

    def request_counts(self) -> dict[str, int]:
        """Return every request counter, keyed ``"GET /v1/orders/{orderId}"`` or "unknown route"."""
        return self._log.counts()

    def arrivals(self, method: str | None = None, path: str | None = None) -> list[float]:
        """Return when the latest requests (of the route of `method path`) arrived.

        Times are the event loop's (``asyncio.get_running_loop().time()``), so a test can
        check that nothing arrived inside a ``Retry-After`` window; at most the latest
        10,000 requests are kept. Without arguments: every request's time.
        """
        if method is None or path is None:
            return [at for at, _ in self._log.arrivals]
        key = route_key(method, path)
        return [at for at, route in self._log.arrivals if route == key]

    @property
    def requests(self) -> list[tuple[str, str]]:
        """Return (method, path) of the latest 10,000 requests, in order (paths cut at 200)."""
        return list(self._log.entries)

    @property
    def notifications(self) -> list[NotificationRecord]:
        """Return the latest 10,000 notifications queued, delivered or not, in queueing order."""
        return list(self._notifier.records)

    async def wait_notifications(self, timeout: float = 5.0) -> list[NotificationRecord]:  # noqa: ASYNC109 - a deadline reads best in tests
        """Wait until every queued notification is delivered or given up on; return them."""
        await self._notifier.wait(timeout)
        return self.notifications
