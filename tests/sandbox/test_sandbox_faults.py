"""Fault injection and hostile input, over loopback: 4xx for garbage, never a 500."""

from __future__ import annotations

import io
import time
from typing import Any

import aiohttp
import pytest

from digipix_async.sandbox import SandboxServer

QUOTE = {"zipCode": "01311100", "items": [{"productId": "mug", "quantity": 1}]}


async def test_latency_per_route(api: Any) -> None:
    api.sandbox.faults.add("latency", seconds=0.2, path="/v1/quote")
    started = time.monotonic()
    assert (await api.call("GET", "/v1/products"))[0] == 200
    assert time.monotonic() - started < 0.2
    started = time.monotonic()
    assert (await api.call("POST", "/v1/quote", QUOTE))[0] == 200
    assert time.monotonic() - started >= 0.2


async def test_rate_limit_with_retry_after(api: Any) -> None:
    api.sandbox.faults.add("rate_limit", times=2, retry_after=3, path="/v1/quote")
    url = f"{api.sandbox.base_url}/v1/quote"
    headers = {"Authorization": f"Bearer {api.token}"}
    for _ in range(2):
        async with api.http.post(url, json=QUOTE, headers=headers) as response:
            assert response.status == 429
            assert response.headers["Retry-After"] == "3"
            assert "rate limit" in (await response.json())["message"]
    assert (await api.call("POST", "/v1/quote", QUOTE))[0] == 200
    assert api.sandbox.request_count("POST", "/v1/quote") == 3


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_server_errors_count_attempts(api: Any, status: int) -> None:
    api.sandbox.faults.add("status", status=status, times=2, method="POST", path="/v1/orders")
    assert (await api.call("POST", "/v1/orders", {}))[0] == status
    assert (await api.call("POST", "/v1/orders", {}))[0] == status
    assert (await api.call("POST", "/v1/orders", {}))[0] == 400  # the fault is spent
    assert api.sandbox.request_count("POST", "/v1/orders") == 3


async def test_faults_on_the_token_route(sandbox: SandboxServer, make_api: Any) -> None:
    sandbox.faults.add("status", status=503, times=1, path="/v1/oauth/token")
    with pytest.raises(AssertionError):
        await make_api(sandbox)  # the helper insists on a 200
    await make_api(sandbox)
    assert sandbox.token_requests == 2
    assert sandbox.tokens_issued == 1


async def test_drop_is_a_disconnect_not_a_status(api: Any) -> None:
    api.sandbox.faults.add("drop", times=1, path="/v1/quote")
    with pytest.raises(aiohttp.ClientConnectionError):
        await api.call("POST", "/v1/quote", QUOTE)
    # The server is fine afterwards, and counted the dropped attempt.
    assert (await api.call("POST", "/v1/quote", QUOTE))[0] == 200
    assert api.sandbox.request_count("POST", "/v1/quote") == 2


async def test_drop_after_handles_the_request_then_hangs_up(
    api: Any, recipient: dict[str, Any], items: list[dict[str, Any]]
) -> None:
    # The create-order case the journal exists for: the order is made, the answer lost.
    api.sandbox.faults.add("drop_after", times=1, path="/v1/orders", method="POST")
    body = {
        "partnerOrderID": "INV-DROP-AFTER",
        "recipient": recipient,
        "items": items,
        "status": "APPROVED",
        "shipmentMethodId": 1,
    }
    with pytest.raises(aiohttp.ClientConnectionError):
        await api.call("POST", "/v1/orders", body)
    assert api.sandbox.creates_for("INV-DROP-AFTER") == 1


async def test_expire_tokens(api: Any) -> None:
    assert api.sandbox.expire_tokens() == 1
    status, body = await api.call("GET", "/v1/products")
    assert status == 401
    assert "expired" in body["message"]
    await api.get_token()
    assert (await api.call("GET", "/v1/products"))[0] == 200


async def test_fault_rate_share(sandbox: SandboxServer, http: aiohttp.ClientSession) -> None:
    sandbox.faults.add("status", status=500, rate=0.5)
    statuses = []
    for _ in range(40):
        async with http.get(f"{sandbox.base_url}/v1/products") as response:
            statuses.append(response.status)
    assert 5 < statuses.count(500) < 35
    assert set(statuses) == {401, 500}  # no token: the rest is refused normally
    sandbox.faults.clear()


GARBAGE: list[tuple[str, str, Any, str | None]] = [
    # (method, path, body bytes or JSON value, content type)
    ("POST", "/v1/quote", b"{not json", "application/json"),
    ("POST", "/v1/quote", b"", "application/json"),
    ("POST", "/v1/quote", b"\xff\xfe\x00", "application/json"),
    ("POST", "/v1/quote", b"NaN", "application/json"),
    ("POST", "/v1/quote", b"[" * 100_000, "application/json"),
    ("POST", "/v1/quote", [1, 2, 3], None),
    ("POST", "/v1/quote", "a string", None),
    ("POST", "/v1/quote", None, None),
    ("POST", "/v1/quote", {"zipCode": 123, "items": [{"productId": "mug", "quantity": 1}]}, None),
    ("POST", "/v1/quote", {"zipCode": "01311100", "items": {"productId": "mug"}}, None),
    (
        "POST",
        "/v1/quote",
        {"zipCode": "01311100", "items": [{"productId": 5, "quantity": 1}]},
        None,
    ),
    ("POST", "/v1/quote", {"zipCode": "01311100", "items": [{"quantity": 1}]}, None),
    (
        "POST",
        "/v1/quote",
        {"zipCode": "01311100", "items": [{"productId": "mug", "quantity": 1.5}]},
        None,
    ),
    ("POST", "/v1/quote", b"zipCode=01311100", "application/x-www-form-urlencoded"),
    ("POST", "/v1/quote", b'{"zipCode": "01311100"}', "text/plain"),
    ("POST", "/v1/orders", b"<order/>", "application/xml"),
    ("POST", "/v1/orders", {"recipient": "Maria", "items": [1]}, None),
    ("POST", "/v1/orders", {"recipient": {"name": 1}, "items": []}, None),
    ("POST", "/v1/orders", {"items": [{"productId": "mug", "quantity": 1, "parts": "x"}]}, None),
    ("POST", "/v1/orders", {"partnerOrderID": 42}, None),
    ("PATCH", "/v1/orders/x", {"status": 1}, None),
    ("PATCH", "/v1/orders/x", b"", "application/json"),
    ("POST", "/v1/oauth/token", b"\x00\x01", "application/octet-stream"),
    ("POST", "/v1/oauth/token", [], None),
]


async def test_garbage_gets_4xx_and_the_server_survives(api: Any, recipient: Any) -> None:
    _, order = await api.call(
        "POST",
        "/v1/orders",
        {"recipient": recipient, "items": [{"productId": "mug", "quantity": 1}]},
    )
    headers = {"Authorization": f"Bearer {api.token}"}
    for method, path, body, ctype in GARBAGE:
        path = path.replace("/x", f"/{order['id']}")
        kwargs: dict[str, Any] = {"headers": dict(headers)}
        if isinstance(body, bytes):
            kwargs["data"] = body
            kwargs["headers"]["Content-Type"] = ctype
        else:
            kwargs["json"] = body
        async with api.http.request(method, f"{api.sandbox.base_url}{path}", **kwargs) as r:
            assert 400 <= r.status < 500, (method, path, body, r.status, await r.text())
            answer = await r.json()
            assert answer.get("message") or answer.get("error_description"), answer
    assert (await api.call("GET", "/v1/products"))[0] == 200


@pytest.mark.parametrize("path", ["/v1/quote", "/v1/orders", "/v1/oauth/token"])
async def test_oversized_body_is_413(api: Any, path: str) -> None:
    body = io.BytesIO(b'{"pad": "' + b"x" * (2 * 1024 * 1024) + b'"}')
    headers = {"Authorization": f"Bearer {api.token}", "Content-Type": "application/json"}
    async with api.http.post(f"{api.sandbox.base_url}{path}", data=body, headers=headers) as r:
        assert r.status == 413
        assert await r.json()
    assert (await api.call("GET", "/v1/products"))[0] == 200
