"""The sandbox stays small however long it runs: every map it keeps is bounded."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import aiohttp
import pytest

from digipix_async.sandbox import SandboxClock, SandboxServer
from digipix_async.sandbox import _auth as auth
from digipix_async.sandbox._auth import TokenAuthority
from digipix_async.sandbox._quotes import QuoteBook
from digipix_async.sandbox._requests import ROUTES, UNKNOWN_ROUTE, RequestLog, route_key
from digipix_async.sandbox._state import SandboxState

TOKEN_BODY = {"client_id": "id", "client_secret": "s", "grant_type": "client_credentials"}


@pytest.mark.parametrize(
    ("method", "path", "key"),
    [
        ("GET", "/v1/orders/abc", "GET /v1/orders/{orderId}"),
        ("get", "/v1/orders/{orderId}", "GET /v1/orders/{orderId}"),
        ("PATCH", "/v1/orders/x", "PATCH /v1/orders/{orderId}"),
        ("HEAD", "/v1/products/mug", "HEAD /v1/products/{productId}"),
        ("POST", "/v1/oauth/token", "POST /v1/oauth/token"),
        ("GET", "/v1/orders/a/b", UNKNOWN_ROUTE),
        ("DELETE", "/v1/orders/x", UNKNOWN_ROUTE),
        ("BREW", "/v1/products", UNKNOWN_ROUTE),
        ("GET", "/v1/nothing", UNKNOWN_ROUTE),
    ],
)
def test_route_keys(method: str, path: str, key: str) -> None:
    assert route_key(method, path) == key


def test_the_route_table_is_the_router(sandbox: SandboxServer) -> None:
    runner = sandbox._runner
    assert runner is not None
    served = {
        (route.method, route.resource.canonical)
        for route in runner.app.router.routes()
        if route.resource is not None and route.method != "HEAD"
    }
    assert served == set(ROUTES)


def test_request_log_keys_are_bounded_whatever_the_paths() -> None:
    log = RequestLog(keep=100)
    for n in range(5_000):
        path = f"/nowhere/{n}/" + "x" * 1_000
        log.add("GET", path, route_key("GET", path))
        log.add("GET", f"/v1/orders/{n}", route_key("GET", f"/v1/orders/{n}"))
    assert log.counts() == {UNKNOWN_ROUTE: 5_000, "GET /v1/orders/{orderId}": 5_000}
    assert len(log.entries) == 100
    assert max(len(path) for _, path in log.entries) == 200
    assert log.count("GET", "/v1/orders/anything") == 5_000


async def test_counters_over_http_are_per_route(api: Any, http: aiohttp.ClientSession) -> None:
    for n in range(30):
        async with http.get(f"{api.sandbox.base_url}/unknown/{n}") as response:
            assert response.status == 404
    await api.call("GET", "/v1/orders/a")
    await api.call("GET", "/v1/orders/b")
    counts = api.sandbox.request_counts()
    assert counts[UNKNOWN_ROUTE] == 30
    assert counts["GET /v1/orders/{orderId}"] == 2
    assert api.sandbox.request_count("GET", "/v1/orders/{orderId}") == 2
    assert len(counts) == 3  # and the token request


def test_expired_tokens_are_purged() -> None:
    clock = SandboxClock()
    authority = TokenAuthority(client_id="id", client_secret="s", clock=clock, lifetime=60)
    for _ in range(50):
        authority.issue(dict(TOKEN_BODY))
    assert authority.tokens_kept == 50
    clock.advance(seconds=61)
    answer = authority.issue(dict(TOKEN_BODY))
    assert authority.tokens_kept == 1
    authority.check(f"Bearer {answer['access_token']}", "orders")  # the new one works


def test_tokens_are_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(auth, "MAX_TOKENS", 20)
    authority = TokenAuthority(client_id="id", client_secret="s", clock=SandboxClock(), lifetime=60)
    first = authority.issue(dict(TOKEN_BODY))["access_token"]
    for _ in range(100):
        last = authority.issue(dict(TOKEN_BODY))["access_token"]
    assert authority.tokens_kept == 20
    assert authority.tokens_issued == 101
    authority.check(f"Bearer {last}", "orders")
    assert authority.client_of(f"Bearer {first}") is None  # forgotten: its holder gets 401


def test_quoted_ids_expire_after_seven_days_and_are_capped() -> None:
    state = SandboxState(clock=SandboxClock(), quotes=QuoteBook(limit=50))
    quote = {"zipCode": "01311100", "items": [{"productId": "mug", "quantity": 1}]}
    first = state.quote(quote)
    for _ in range(40):
        state.quote(quote)
    assert len(state.quotes) == 50  # 2 options a quote, the oldest forgotten
    assert state.quotes.find(first[0]["id"], state.clock.now()) is None
    latest = state.quote(quote)
    now = state.clock.now()
    option, zip_code = state.quotes.find(latest[1]["id"], now) or ({}, "")
    assert (option, zip_code) == (latest[1], "01311100")
    state.clock.advance(days=7, seconds=1)
    assert state.quotes.find(latest[1]["id"], state.clock.now()) is None
    state.quote(quote)
    assert len(state.quotes) == 2  # the expired ones were purged, not just hidden
    assert QuoteBook().lifetime == timedelta(days=7)


def test_orders_are_capped_oldest_first(recipient: dict[str, Any]) -> None:
    state = SandboxState(clock=SandboxClock(), max_orders=5)
    body = {"recipient": recipient, "items": [{"productId": "mug", "quantity": 1}]}
    ids = [state.create_order({**body, "partnerOrderID": f"P-{n % 3}"})["id"] for n in range(9)]
    assert state.order_ids() == ids[4:]
    assert [state.creates_for(f"P-{n}") for n in range(3)] == [1, 2, 2]  # of the kept ones
    assert len(state._creates) == 3


def test_orders_are_capped_in_bytes(recipient: dict[str, Any]) -> None:
    state = SandboxState(clock=SandboxClock(), max_order_bytes=300_000)
    body = {"recipient": recipient, "items": [{"productId": "mug", "quantity": 1}]}
    ids = [
        state.create_order({**body, "customData": {"pad": "x" * 100_000}})["id"] for _ in range(5)
    ]
    assert state.order_ids() == ids[3:]  # two of ~100 kB each fit in 300 kB, plus the new one
    assert 200_000 < state._order_bytes <= 300_000
    alone = SandboxState(clock=SandboxClock(), max_order_bytes=10)
    only = alone.create_order(body)["id"]
    assert alone.order_ids() == [only]  # the order just created is always kept


async def test_notification_records_are_bounded(sandbox: SandboxServer) -> None:
    assert sandbox._notifier.records.maxlen == 10_000
