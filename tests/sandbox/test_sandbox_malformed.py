"""Every malformed request gets a 4xx with a JSON reason, never a 500, and nothing logs ERROR."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import pytest

from digipix_async.sandbox import SandboxServer

RECIPIENT = {
    "name": "N",
    "zipCode": "01311100",
    "street": "S",
    "number": "1",
    "city": "C",
    "state": "SP",
}
MUG = {"productId": "mug", "quantity": 1}
BOOK = {"productId": "photobook", "quantity": 1}


def _nested(depth: int) -> Any:
    value: Any = {}
    for _ in range(depth):
        value = {"a": value}
    return value


def _order(**change: Any) -> dict[str, Any]:
    return {"recipient": RECIPIENT, "items": [MUG], **change}


def _part(**change: Any) -> dict[str, Any]:
    return {**BOOK, "parts": [{"id": "cover", "url": "https://f.example/c.pdf", **change}]}


# (method, path, body: bytes sent as is or a JSON value, expected status or None for any 4xx)
MALFORMED: list[tuple[str, str, Any, int | None]] = [
    ("POST", "/v1/quote", {"zipCode": "01311100", "items": [{**MUG, "quantity": 10**26}]}, 400),
    ("POST", "/v1/quote", {"zipCode": "01311100", "items": [{**MUG, "quantity": 10**6 + 1}]}, 400),
    ("POST", "/v1/quote", {"zipCode": "01311100", "items": [{**MUG, "pages": 10**30}]}, 400),
    ("POST", "/v1/quote", {"zipCode": "01311100", "items": [{**MUG, "quantity": 0}]}, 400),
    ("POST", "/v1/quote", {"zipCode": "01311100", "items": [{**MUG, "quantity": -1}]}, 400),
    ("POST", "/v1/quote", {"zipCode": "01311100", "items": [{**MUG, "quantity": True}]}, 400),
    (
        "POST",
        "/v1/quote",
        b'{"zipCode": "01311100", "items": [{"productId": "mug", '
        b'"quantity": 1' + b"0" * 5000 + b"}]}",
        400,
    ),
    (
        "POST",
        "/v1/quote",
        b'{"zipCode": "01311100", "items": [{"productId": "mug", "quantity": 1e999}]}',
        400,
    ),
    ("POST", "/v1/quote", b'{"zipCode": "01311100", "items": [], "x": Infinity}', 400),
    ("POST", "/v1/quote", b"\xef\xbb\xbf{}", 400),
    ("POST", "/v1/quote", {"zipCode": "\ud800" * 8, "items": [MUG]}, 400),
    ("POST", "/v1/quote", {"zipCode": "01311100", "items": [{**MUG, "productId": "\x00"}]}, 400),
    ("POST", "/v1/quote", {"zipCode": "01311100", "items": [MUG], "deep": _nested(40)}, 400),
    ("POST", "/v1/quote", {"zipCode": ["01311100"], "items": [MUG]}, 400),
    ("POST", "/v1/quote", {"zipCode": "01311100", "items": [MUG] * 3 + [None]}, 400),
    ("POST", "/v1/orders", _order(items=[{**MUG, "quantity": 10**26}]), 400),
    (
        "POST",
        "/v1/orders",
        _order(items=[{**MUG, "quantity": 10**26}], status="APPROVED", shipmentMethodId=1),
        400,
    ),
    ("POST", "/v1/orders", _order(items=[_part(pages=10**30)]), 400),
    ("POST", "/v1/orders", _order(items=[_part(pages=0)]), 400),
    ("POST", "/v1/orders", _order(customData=_nested(600)), 400),
    ("POST", "/v1/orders", _order(recipient={**RECIPIENT, "x": _nested(600)}), 400),
    ("POST", "/v1/orders", _order(items=[{**MUG, "x": _nested(600)}]), 400),
    ("POST", "/v1/orders", _order(customData=[1, 2]), 400),
    ("POST", "/v1/orders", _order(shipmentMethodId=10**40, status="APPROVED"), 400),
    ("POST", "/v1/orders", _order(shipmentMethodId=1.5, status="APPROVED"), 400),
    ("POST", "/v1/orders", _order(shipmentId="x" * 10_000, status="APPROVED"), 400),
    ("POST", "/v1/orders", _order(shipmentMethod=["Fastest"], status="APPROVED"), 400),
    ("POST", "/v1/orders", _order(statusNotificationUrl="http://[::1"), 400),
    ("POST", "/v1/orders", _order(statusNotificationUrl="http://a\ud800b/"), 400),
    ("POST", "/v1/orders", _order(statusNotificationUrl="http://a/\nb"), 400),
    ("POST", "/v1/orders", _order(partnerOrderID="\ud800" * 65), 400),
    ("POST", "/v1/orders", _order(status=["APPROVED"]), 400),
    ("POST", "/v1/orders", _order(items=[{**BOOK, "parts": [{"id": "cover"}]}]), 400),
    ("POST", "/v1/orders", _order(items=[{**BOOK, "parts": [None]}]), 400),
    ("POST", "/v1/orders", _order(recipient={**RECIPIENT, "email": 5}), 400),
    ("PATCH", "/v1/orders/ORDER", {"status": "approved", "shipmentMethodId": 10**40}, 400),
    ("PATCH", "/v1/orders/ORDER", {"status": "approved", "shipmentId": 7}, 400),
    ("PATCH", "/v1/orders/ORDER", {"status": ["canceled"]}, 400),
    ("PATCH", "/v1/orders/ORDER", {"status": "x" * 100_000}, 400),
    ("PATCH", "/v1/orders/ORDER", _nested(600), 400),
    ("PATCH", "/v1/orders/" + "y" * 5_000, {"status": "canceled"}, 404),
    ("GET", "/v1/orders/" + "y" * 5_000, None, 404),
    ("GET", "/v1/orders/%ff%fe%00", None, 404),
    ("GET", "/v1/products/%00", None, 404),
    ("GET", "/v1/orders/ORDER?x=%zz&&=", None, 200),
    ("POST", "/v1/oauth/token", {"client_id": ["x"]}, 400),
    (
        "POST",
        "/v1/oauth/token",
        {"client_id": "id", "client_secret": "s" * 100_000, "grant_type": "client_credentials"},
        401,
    ),
    ("POST", "/v1/oauth/token", _nested(600), 400),
    ("POST", "/v1/oauth/token", b"a=%zz&&b", None),
    ("DELETE", "/v1/orders/ORDER", None, 405),
    ("GET", "/" + "z" * 7_000, None, 404),
]


@pytest.fixture
def no_errors(caplog: pytest.LogCaptureFixture) -> Any:
    caplog.set_level(logging.DEBUG)
    yield
    # Teardown sees only its own phase in caplog.records: read the test's phases.
    records = caplog.get_records("setup") + caplog.get_records("call")
    bad = [r for r in records if r.levelno >= logging.ERROR]
    assert not bad, [r.getMessage()[:200] for r in bad]


async def test_malformed_requests_get_4xx(api: Any, recipient: Any, no_errors: None) -> None:
    _, order = await api.call("POST", "/v1/orders", {"recipient": recipient, "items": [MUG]})
    base = api.sandbox.base_url
    for method, path, body, expected in MALFORMED:
        headers = {"Authorization": f"Bearer {api.token}", "Content-Type": "application/json"}
        if isinstance(body, bytes):
            data = body
            if path.endswith("token"):
                headers["Content-Type"] = "application/x-www-form-urlencoded"
        else:
            data = None if body is None else json.dumps(body).encode()
        url = base + path.replace("ORDER", order["id"])
        async with api.http.request(method, url, data=data, headers=headers) as response:
            where = (method, path[:60], str(body)[:80], response.status)
            answer = await response.json()
            if expected == 200:
                assert response.status == 200, where
                continue
            assert 400 <= response.status < 500, where
            assert expected is None or response.status == expected, where
            message = answer.get("message") or answer.get("error_description")
            assert message, where
            assert len(json.dumps(answer)) < 1_000, where  # no echo of a huge input
    assert (await api.call("GET", "/v1/products"))[0] == 200


RAW_GARBAGE = [
    b"GARBAGE\r\n\r\n",
    b"GET /v1/products HTTP/1.1\r\nHost x\r\n\r\n",
    b"GET /v1/products HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20_000 + b"\r\n\r\n",
    b"POST /v1/quote HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
    b"POST /v1/quote HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\n",
    b"GET /v1/products HTTP/9.9\r\nHost: x\r\n\r\n",
    b"BREW /v1/products HTTP/1.1\r\nHost: x\r\n\r\n",
]


@pytest.mark.parametrize("raw", RAW_GARBAGE, ids=range(len(RAW_GARBAGE)))
async def test_broken_http_gets_4xx(sandbox: SandboxServer, raw: bytes, no_errors: None) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", sandbox.port)
    try:
        writer.write(raw)
        await writer.drain()
        async with asyncio.timeout(5):
            status_line = await reader.readline()
    finally:
        writer.close()
    assert status_line.startswith(b"HTTP/1."), status_line
    assert status_line.split()[1].startswith(b"4"), status_line


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 400),  # the reference marks Content-Type required on the product GETs
        ({"Content-Type": "text/plain"}, 415),
        ({"Content-Type": "application/json; charset=utf-8"}, 200),
    ],
)
@pytest.mark.parametrize("path", ["/v1/products", "/v1/products/mug"])
async def test_product_gets_require_content_type(
    api: Any, path: str, headers: dict[str, str], status: int
) -> None:
    headers = {"Authorization": f"Bearer {api.token}", **headers}
    async with api.http.get(f"{api.sandbox.base_url}{path}", headers=headers) as response:
        assert response.status == status
        if status != 200:
            assert "Content-Type" in (await response.json())["message"]


async def test_missing_headers_on_every_route(api: Any, recipient: Any) -> None:
    _, order = await api.call("POST", "/v1/orders", {"recipient": recipient, "items": [MUG]})
    base = api.sandbox.base_url
    bearer = {"Authorization": f"Bearer {api.token}"}
    # GET of an order: the reference marks only Authorization required.
    async with api.http.get(f"{base}/v1/orders/{order['id']}", headers=bearer) as response:
        assert response.status == 200
    body = json.dumps({"zipCode": "01311100", "items": [MUG]}).encode()
    for path in ("/v1/quote", "/v1/orders", f"/v1/orders/{order['id']}"):
        method = "PATCH" if order["id"] in path else "POST"
        async with api.http.request(
            method, base + path, data=body, headers=bearer, skip_auto_headers=["Content-Type"]
        ) as response:
            assert response.status == 400, path  # no Content-Type at all
            assert "Content-Type" in (await response.json())["message"]
        headers = {"Content-Type": "application/json"}
        async with api.http.request(method, base + path, data=body, headers=headers) as response:
            assert response.status == 401, path
            assert response.headers["WWW-Authenticate"].startswith("Bearer")


async def test_a_client_hanging_up_logs_no_error(api: Any, no_errors: None) -> None:
    sandbox = api.sandbox
    sandbox.faults.add("latency", seconds=0.3, path="/v1/products")
    partial = [
        ("POST", "/v1/oauth/token", ""),
        ("POST", "/v1/quote", f"Authorization: Bearer {api.token}\r\n"),
        ("POST", "/v1/orders", f"Authorization: Bearer {api.token}\r\n"),
        ("PATCH", "/v1/orders/x", f"Authorization: Bearer {api.token}\r\n"),
    ]
    for method, path, auth in partial:
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"{auth}Content-Length: 1000\r\n\r\n"
        )
        _, writer = await asyncio.open_connection("127.0.0.1", sandbox.port)
        writer.write(head.encode() + b'{"zipCode": "013')  # 1000 bytes promised, 16 sent
        await writer.drain()
        await asyncio.sleep(0.05)
        writer.transport.abort()
    # And one that hangs up while the server is still working on its answer.
    _, writer = await asyncio.open_connection("127.0.0.1", sandbox.port)
    writer.write(
        b"GET /v1/products HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        + f"Authorization: Bearer {api.token}\r\n\r\n".encode()
    )
    await writer.drain()
    await asyncio.sleep(0.05)
    writer.transport.abort()
    await asyncio.sleep(0.5)
    sandbox.faults.clear()
    assert (await api.call("GET", "/v1/products"))[0] == 200
