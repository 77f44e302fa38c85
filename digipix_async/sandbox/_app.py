"""The sandbox's aiohttp.web application: routes, auth, faults and error bodies."""

from __future__ import annotations

import asyncio
import json
import logging
from collections import Counter, deque
from collections.abc import Awaitable, Callable
from typing import Any, Final
from urllib.parse import parse_qsl

from aiohttp import web

from digipix_async.sandbox import _catalogue as catalogue
from digipix_async.sandbox._auth import TokenAuthority
from digipix_async.sandbox._faults import Faults
from digipix_async.sandbox._state import SandboxState
from digipix_async.sandbox._wire import ApiError

__all__ = ["RequestLog", "build_app"]

_log = logging.getLogger("digipix_async.sandbox")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

OAUTH_ROUTE: Final = "/v1/oauth/token"


class RequestLog:
    """The requests the sandbox received, faulted ones included, in arrival order.

    Counts are kept for every request; the ordered entries only for the latest
    ``keep`` ones, so a standalone sandbox running for days does not grow without end.
    """

    def __init__(self, keep: int = 100_000) -> None:
        self.entries: deque[tuple[str, str]] = deque(maxlen=keep)
        self._counts: Counter[tuple[str, str]] = Counter()

    def add(self, method: str, path: str) -> None:
        """Record one request."""
        self.entries.append((method, path))
        self._counts[(method, path)] += 1

    def count(self, method: str, path: str) -> int:
        """Return how many `method path` requests arrived."""
        return self._counts[(method.upper(), path)]


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _retry_after(seconds: float) -> str:
    # HTTP wants whole seconds; fractions are kept only so tests can wait 0.05 s.
    return str(int(seconds)) if float(seconds).is_integer() else f"{seconds:g}"


async def _body(request: web.Request, *, allow_form: bool = False) -> Any:
    """Decode a JSON (or, for the token route, form) body strictly, refusing with 4xx."""
    ctype = request.content_type
    is_form = allow_form and ctype == "application/x-www-form-urlencoded"
    if not is_form and ctype != "application/json" and not ctype.endswith("+json"):
        raise ApiError(415, f"Content-Type must be application/json, got {ctype}")
    raw = await request.read()  # raises 413 beyond client_max_size
    try:
        text = raw.decode("utf-8")
        if is_form:
            return dict(parse_qsl(text, keep_blank_values=True, strict_parsing=bool(text)))
        if not text.strip():
            raise ApiError(400, "the request body is empty; a JSON object is expected")
        return json.loads(text, parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ApiError(400, f"the request body is not valid JSON: {exc}") from None


class _Routes:
    """The handlers, bound to one sandbox's token authority, state and faults."""

    def __init__(
        self, authority: TokenAuthority, state: SandboxState, faults: Faults, log: RequestLog
    ) -> None:
        self.authority = authority
        self.state = state
        self.faults = faults
        self.log = log

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Count the request, apply faults, and turn every refusal into a JSON body."""
        method, path = request.method, request.path
        self.log.add(method, path)
        delay = self.faults.delay_for(method, path)
        if delay:
            await asyncio.sleep(delay)
        fault = self.faults.pick(method, path)
        if fault is not None and fault.kind == "drop":
            return self._drop(request)
        if fault is not None:
            headers = {}
            message = f"sandbox fault: injected HTTP {fault.status}"
            if fault.kind == "rate_limit":
                headers["Retry-After"] = _retry_after(fault.retry_after)
                message = "rate limit exceeded (sandbox fault); retry later"
            return web.json_response({"message": message}, status=fault.status, headers=headers)
        try:
            return await handler(request)
        except ApiError as exc:
            return web.json_response(exc.body, status=exc.status, headers=exc.headers)
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            # 404 unknown route, 405 (keep its Allow header), 413 oversized body...
            headers = {k: v for k, v in exc.headers.items() if k.lower() == "allow"}
            message = f"{exc.reason}: {request.method} {request.path}"
            return web.json_response({"message": message}, status=exc.status, headers=headers)
        except Exception:
            # A bug in the sandbox, not in the client: say so rather than crash.
            _log.exception("sandbox error on %s %s", method, path)
            return web.json_response({"message": "internal sandbox error"}, status=500)

    @staticmethod
    def _drop(request: web.Request) -> web.StreamResponse:
        transport = request.transport
        if transport is not None:
            transport.close()
        # Writing this response then fails; aiohttp treats it as a client that went away.
        return web.Response(status=500)

    async def token(self, request: web.Request) -> web.StreamResponse:
        """POST /v1/oauth/token."""
        try:
            body = await _body(request, allow_form=True)
        except ApiError as exc:
            raise ApiError(
                400, exc.message, {"error": "invalid_request", "error_description": exc.message}
            ) from None
        except web.HTTPRequestEntityTooLarge:
            description = "the request body is too large"
            raise ApiError(
                413, description, {"error": "invalid_request", "error_description": description}
            ) from None
        answer = self.authority.issue(body)
        # RFC 6749 5.1: token responses must not be cached.
        return web.json_response(answer, headers={"Cache-Control": "no-store"})

    def _authorize(self, request: web.Request, scope: str) -> None:
        self.authority.check(request.headers.get("Authorization"), scope)

    async def products(self, request: web.Request) -> web.StreamResponse:
        """GET /v1/products."""
        self._authorize(request, "products")
        return web.json_response([catalogue.product(p["id"]) for p in catalogue.PRODUCTS])

    async def product(self, request: web.Request) -> web.StreamResponse:
        """GET /v1/products/{productId}."""
        self._authorize(request, "products")
        return web.json_response(catalogue.product(request.match_info["productId"]))

    async def quote(self, request: web.Request) -> web.StreamResponse:
        """POST /v1/quote."""
        self._authorize(request, "quote")
        return web.json_response(self.state.quote(await _body(request)))

    async def create_order(self, request: web.Request) -> web.StreamResponse:
        """POST /v1/orders."""
        self._authorize(request, "orders")
        return web.json_response(self.state.create_order(await _body(request)), status=201)

    async def get_order(self, request: web.Request) -> web.StreamResponse:
        """GET /v1/orders/{orderId}."""
        self._authorize(request, "orders")
        return web.json_response(self.state.get_order(request.match_info["orderId"]))

    async def patch_order(self, request: web.Request) -> web.StreamResponse:
        """PATCH /v1/orders/{orderId}."""
        self._authorize(request, "orders")
        order_id = request.match_info["orderId"]
        self.state.get_order(order_id)  # 404 before 400: the order is the resource
        return web.json_response(self.state.patch_order(order_id, await _body(request)))


def build_app(
    *,
    authority: TokenAuthority,
    state: SandboxState,
    faults: Faults,
    log: RequestLog,
    client_max_size: int = 1024**2,
) -> web.Application:
    """Return the sandbox application with every route of the reference."""
    routes = _Routes(authority, state, faults, log)
    app = web.Application(middlewares=[routes.middleware], client_max_size=client_max_size)
    app.router.add_post(OAUTH_ROUTE, routes.token)
    app.router.add_get("/v1/products", routes.products)
    app.router.add_get("/v1/products/{productId}", routes.product)
    app.router.add_post("/v1/quote", routes.quote)
    app.router.add_post("/v1/orders", routes.create_order)
    app.router.add_get("/v1/orders/{orderId}", routes.get_order)
    app.router.add_patch("/v1/orders/{orderId}", routes.patch_order)
    return app
