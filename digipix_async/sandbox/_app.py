"""The sandbox's aiohttp.web application: routes, auth, faults and error bodies."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Final
from urllib.parse import parse_qsl

from aiohttp import web

from digipix_async.sandbox import _catalogue as catalogue
from digipix_async.sandbox._auth import TokenAuthority
from digipix_async.sandbox._faults import Faults
from digipix_async.sandbox._limits import Limits
from digipix_async.sandbox._requests import RequestLog, route_key
from digipix_async.sandbox._state import SandboxState
from digipix_async.sandbox._wire import ApiError

__all__ = ["OAUTH_ROUTE", "build_app"]

_log = logging.getLogger("digipix_async.sandbox")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

OAUTH_ROUTE: Final = "/v1/oauth/token"
#: JSON nesting the sandbox reads; deeper bodies are refused before anything copies them.
MAX_JSON_DEPTH: Final = 32
_JSON_TYPES: Final = ("application/json",)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _too_deep(value: Any) -> bool:
    """Tell whether a decoded JSON value nests deeper than `MAX_JSON_DEPTH` (no recursion)."""
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        children = node.values() if isinstance(node, dict) else node
        if isinstance(node, dict | list):
            if depth > MAX_JSON_DEPTH:
                return True
            stack.extend((child, depth + 1) for child in children)
    return False


def _is_json(ctype: str) -> bool:
    return ctype in _JSON_TYPES or ctype.endswith("+json")


def require_json_content_type(request: web.Request) -> None:
    """Refuse a request without ``Content-Type: application/json`` (400 absent, 415 other)."""
    # The reference marks Content-Type "required" on every route but GET /v1/orders/{id},
    # even on the product GETs that carry no body: a request without it is refused.
    if "Content-Type" not in request.headers:
        raise ApiError(400, "missing required header Content-Type: application/json")
    if not _is_json(request.content_type):
        raise ApiError(415, f"Content-Type must be application/json, got {request.content_type}")


def _too_many(message: str, retry_after: int) -> web.StreamResponse:
    headers = {"Retry-After": str(retry_after)}
    return web.json_response({"message": message}, status=429, headers=headers)


def _retry_after(seconds: float) -> str:
    # HTTP wants whole seconds; fractions are kept only so tests can wait 0.05 s.
    return str(int(seconds)) if float(seconds).is_integer() else f"{seconds:g}"


async def _body(request: web.Request, *, allow_form: bool = False) -> Any:
    """Decode a JSON (or, for the token route, form) body strictly, refusing with 4xx."""
    is_form = allow_form and request.content_type == "application/x-www-form-urlencoded"
    if not is_form:
        require_json_content_type(request)
    raw = await request.read()  # raises 413 beyond client_max_size
    try:
        text = raw.decode("utf-8")
        if is_form:
            return dict(parse_qsl(text, keep_blank_values=True, strict_parsing=bool(text)))
        if not text.strip():
            raise ApiError(400, "the request body is empty; a JSON object is expected")
        value = json.loads(text, parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ApiError(400, f"the request body is not valid JSON: {str(exc)[:200]}") from None
    if _too_deep(value):
        raise ApiError(400, f"the request body nests deeper than {MAX_JSON_DEPTH} levels")
    return value


class _Routes:
    """The handlers, bound to one sandbox's token authority, state and faults."""

    def __init__(
        self,
        authority: TokenAuthority,
        state: SandboxState,
        faults: Faults,
        log: RequestLog,
        limits: Limits,
    ) -> None:
        self.authority = authority
        self.state = state
        self.faults = faults
        self.log = log
        self.limits = limits

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Count the request, apply limits and faults, turn every refusal into a JSON body."""
        method, path = request.method, request.path
        now = asyncio.get_running_loop().time()
        self.log.add(method, path, route_key(method, path), now)
        if path == OAUTH_ROUTE:  # exempt from the limits: see _limits.py
            return await self._serve(request, handler)
        if not self.limits.enter():
            message = f"too many requests in flight (at most {self.limits.max_concurrent})"
            return _too_many(message, 1)
        try:
            client_id = self.authority.client_of(request.headers.get("Authorization"))
            wait = None if client_id is None else self.limits.retry_after_rate(client_id, now)
            if wait is not None:
                rate = self.limits.rate_limit_rps
                return _too_many(f"rate limit exceeded ({rate:g} requests per second)", wait)
            self.limits.count_accepted(now)
            return await self._serve(request, handler)
        finally:
            self.limits.leave()

    async def _serve(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Apply faults, run the handler, and answer every refusal with a JSON body."""
        method, path = request.method, request.path
        delay = self.faults.delay_for(method, path)
        if delay:
            await asyncio.sleep(delay)
        fault = self.faults.pick(method, path)
        if fault is not None and fault.kind == "drop":
            return self._drop(request)
        if fault is not None and fault.kind == "drop_after":
            with contextlib.suppress(ApiError, web.HTTPException):
                await handler(request)
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
            message = f"{exc.reason}: {method} {path[:200]}"
            return web.json_response({"message": message}, status=exc.status, headers=headers)
        except ConnectionError:
            # The client hung up mid-body: nobody is left to answer, and it is no error of
            # ours. aiohttp writes nothing on a closed transport and logs that at DEBUG.
            _log.debug("client hung up during %s %s", method, path[:200])
            return web.Response(status=400)
        except Exception:
            # A bug in the sandbox, not in the client: say so rather than crash.
            _log.exception("sandbox error on %s %s", method, path[:200])
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
        require_json_content_type(request)
        return web.json_response([catalogue.product(p["id"]) for p in catalogue.PRODUCTS])

    async def product(self, request: web.Request) -> web.StreamResponse:
        """GET /v1/products/{productId}."""
        self._authorize(request, "products")
        require_json_content_type(request)
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
    limits: Limits,
    client_max_size: int = 1024**2,
) -> web.Application:
    """Return the sandbox application with every route of the reference."""
    routes = _Routes(authority, state, faults, log, limits)
    app = web.Application(middlewares=[routes.middleware], client_max_size=client_max_size)
    app.router.add_post(OAUTH_ROUTE, routes.token)
    app.router.add_get("/v1/products", routes.products)
    app.router.add_get("/v1/products/{productId}", routes.product)
    app.router.add_post("/v1/quote", routes.quote)
    app.router.add_post("/v1/orders", routes.create_order)
    app.router.add_get("/v1/orders/{orderId}", routes.get_order)
    app.router.add_patch("/v1/orders/{orderId}", routes.patch_order)
    return app
