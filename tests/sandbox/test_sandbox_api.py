"""The sandbox's routes over real loopback sockets, driven by a plain aiohttp session."""

from __future__ import annotations

import re
from typing import Any

import aiohttp
import pytest

from digipix_async.sandbox import SandboxServer

ALL_SCOPES = ["orders", "quote", "products"]


async def _token(
    http: aiohttp.ClientSession, sandbox: SandboxServer, **override: Any
) -> tuple[int, Any]:
    body = {
        "client_id": sandbox.client_id,
        "client_secret": sandbox.client_secret,
        "grant_type": "client_credentials",
        "scope": ALL_SCOPES,
        **override,
    }
    async with http.post(f"{sandbox.base_url}/v1/oauth/token", json=body) as response:
        return response.status, await response.json()


async def test_base_url_and_credentials() -> None:
    async with SandboxServer(client_id="abc123", client_secret="s3cr3t") as sandbox:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", sandbox.base_url)
        assert (sandbox.client_id, sandbox.client_secret) == ("abc123", "s3cr3t")
        assert "s3cr3t" not in repr(sandbox)
    with pytest.raises(RuntimeError):
        await sandbox.start()


async def test_token_flow(sandbox: SandboxServer, http: aiohttp.ClientSession) -> None:
    status, body = await _token(http, sandbox)
    assert status == 200
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    assert sandbox.token_requests == 1
    assert sandbox.tokens_issued == 1


async def test_token_lifetime_is_configurable(http: aiohttp.ClientSession) -> None:
    async with SandboxServer(token_lifetime=5) as sandbox:
        status, body = await _token(http, sandbox)
        assert (status, body["expires_in"]) == (200, 5)
        sandbox.clock.advance(seconds=6)
        headers = {"Authorization": f"Bearer {body['access_token']}"}
        async with http.get(f"{sandbox.base_url}/v1/products", headers=headers) as response:
            assert response.status == 401
            assert "expired" in (await response.json())["message"]


@pytest.mark.parametrize(
    ("override", "status", "error"),
    [
        ({"client_secret": "nope"}, 401, "invalid_client"),
        ({"client_id": "nobody"}, 401, "invalid_client"),
        ({"grant_type": "password"}, 400, "unsupported_grant_type"),
        ({"scope": ["orders", "printing"]}, 400, "invalid_scope"),
        ({"scope": "orders,quote"}, 400, "invalid_scope"),
        ({"grant_type": None}, 400, "invalid_request"),
        ({"scope": [1]}, 400, "invalid_request"),
    ],
)
async def test_token_refusals(
    sandbox: SandboxServer,
    http: aiohttp.ClientSession,
    override: dict[str, Any],
    status: int,
    error: str,
) -> None:
    got_status, body = await _token(http, sandbox, **override)
    assert (got_status, body["error"]) == (status, error)
    assert body["error_description"]
    assert sandbox.tokens_issued == 0


async def test_token_refuses_malformed_json_in_rfc_shape(
    sandbox: SandboxServer, http: aiohttp.ClientSession
) -> None:
    url = f"{sandbox.base_url}/v1/oauth/token"
    headers = {"Content-Type": "application/json"}
    async with http.post(url, data=b"{not json", headers=headers) as response:
        assert response.status == 400
        assert (await response.json())["error"] == "invalid_request"


async def test_token_accepts_a_form_body(
    sandbox: SandboxServer, http: aiohttp.ClientSession
) -> None:
    form = {
        "client_id": sandbox.client_id,
        "client_secret": sandbox.client_secret,
        "grant_type": "client_credentials",
        "scope": "orders quote",
    }
    async with http.post(f"{sandbox.base_url}/v1/oauth/token", data=form) as response:
        assert response.status == 200


@pytest.mark.parametrize(
    ("method", "path", "scope"),
    [
        ("GET", "/v1/products", "products"),
        ("GET", "/v1/products/photobook", "products"),
        ("POST", "/v1/quote", "quote"),
        ("POST", "/v1/orders", "orders"),
        ("GET", "/v1/orders/abc", "orders"),
        ("PATCH", "/v1/orders/abc", "orders"),
    ],
)
async def test_every_route_needs_a_token_with_its_scope(
    api: Any, method: str, path: str, scope: str
) -> None:
    saved = api.token
    api.token = None
    status, body = await api.call(method, path, json={})
    assert status == 401
    assert body["message"]
    api.token = "made-up"
    assert (await api.call(method, path, json={}))[0] == 401
    await api.get_token([s for s in ALL_SCOPES if s != scope])
    status, body = await api.call(method, path, json={})
    assert status == 403
    assert scope in body["message"]
    api.token = saved


async def test_products(api: Any) -> None:
    status, products = await api.call("GET", "/v1/products")
    assert status == 200
    assert {p["id"] for p in products} >= {"photobook", "print-10x15", "canvas-30x40", "mug"}
    status, photobook = await api.call("GET", "/v1/products/photobook")
    assert status == 200
    assert photobook == {
        "id": "photobook",
        "name": "Photobook",
        "internalCode": 123,
        "price": 10.9,
        "weight": 400,
        "productionTime": 5,
        "parts": [{"id": "cover", "name": "Cover"}, {"id": "pages", "name": "Pages"}],
    }
    status, body = await api.call("GET", "/v1/products/teapot")
    assert status == 404
    assert "teapot" in body["message"]


async def test_quote_pricing(api: Any) -> None:
    items = [{"productId": "photobook", "quantity": 2, "pages": 24}]
    status, options = await api.call("POST", "/v1/quote", {"zipCode": "01311-100", "items": items})
    assert status == 200
    assert [(o["shipmentMethodId"], o["name"], o["cost"]) for o in options] == [
        (1, "Cheapest", 2.09),
        (2, "Fastest", 15.3),
    ]
    status, body = await api.call("POST", "/v1/quote", {"zipCode": "0131110", "items": items})
    assert status == 400
    assert "8 digits" in body["message"]


async def test_create_flow_one_and_approve(api: Any, recipient: Any, items: Any) -> None:
    body = {
        "partnerOrderID": "INV-2020-0042",
        "customData": {"cart": "c-991"},
        "statusNotificationUrl": "https://partner.example.com/notify",
        "recipient": recipient,
        "items": items,
    }
    status, order = await api.call("POST", "/v1/orders", body)
    assert status == 201
    assert order["status"] == "QUOTE"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z", order["createdAt"])
    assert order["partnerOrderID"] == "INV-2020-0042"
    assert order["customData"] == {"cart": "c-991"}
    assert order["statusNotificationUrl"] == "https://partner.example.com/notify"
    assert len(order["shipments"]) == 2
    assert "shipment" not in order
    assert order["subtotal"] == order["total"] == 10.9
    chosen = order["shipments"][0]
    path = f"/v1/orders/{order['id']}"
    status, approved = await api.call(
        "PATCH", path, {"status": "approved", "shipmentId": chosen["id"]}
    )
    assert status == 200
    assert approved["status"] == "APPROVED"
    assert approved["shipment"] == chosen
    assert approved["total"] == 12.99
    status, _ = await api.call("PATCH", path, {"status": "approved", "shipmentMethodId": 1})
    assert status == 409
    assert (await api.call("GET", path)) == (200, approved)
    assert api.sandbox.creates_for("INV-2020-0042") == 1


async def test_create_flow_two_with_a_quoted_shipment(api: Any, recipient: Any, items: Any) -> None:
    _, options = await api.call("POST", "/v1/quote", {"zipCode": "01311100", "items": items})
    fastest = options[1]
    body = {
        "recipient": recipient,
        "items": items,
        "status": "APPROVED",
        "shipmentId": fastest["id"],
    }
    status, order = await api.call("POST", "/v1/orders", body)
    assert status == 201
    assert order["status"] == "APPROVED"
    assert order["shipment"] == fastest
    assert (order["subtotal"], order["shippingCost"], order["total"]) == (10.9, 15.3, 26.2)


async def test_create_flow_three_with_a_method(api: Any, recipient: Any, items: Any) -> None:
    body = {"recipient": recipient, "items": items, "status": "APPROVED", "shipmentMethodId": 1}
    status, order = await api.call("POST", "/v1/orders", body)
    assert status == 201
    assert order["status"] == "APPROVED"
    assert order["shipment"]["shipmentMethodId"] == 1
    assert "shipments" not in order


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"recipient": None}, "recipient must be an object"),
        ({"recipient": {"name": "x"}}, "recipient.zipCode is required"),
        ({"items": []}, "items must not be empty"),
        ({"items": [{"productId": "photobook", "quantity": 0}]}, "at least 1"),
        ({"items": [{"productId": "photobook", "quantity": "2"}]}, "integer"),
        ({"items": [{"productId": "ghost", "quantity": 1}]}, "ghost"),
        ({"partnerOrderID": "x" * 65}, "64"),
        ({"status": "APPROVED", "shipmentId": "unknownunknownunknow"}, "unknown shipmentId"),
        ({"status": "APPROVED", "shipmentMethodId": 9}, "1, 2 or 3"),
        ({"status": "APPROVED", "shipmentMethodId": 1, "shipmentId": "a"}, "only one"),
        ({"customData": [1, 2]}, "customData must be an object"),
        ({"statusNotificationUrl": "ftp://x"}, "http"),
    ],
)
async def test_create_refusals(
    api: Any, recipient: Any, items: Any, change: dict[str, Any], fragment: str
) -> None:
    body = {"recipient": recipient, "items": items, "partnerOrderID": "P-1", **change}
    status, answer = await api.call("POST", "/v1/orders", body)
    assert status == 400
    assert fragment in answer["message"]
    assert api.sandbox.creates_for("P-1") == 0


async def test_bad_recipient_zip(api: Any, recipient: Any, items: Any) -> None:
    recipient["zipCode"] = "123"
    status, body = await api.call("POST", "/v1/orders", {"recipient": recipient, "items": items})
    assert status == 400
    assert "zipCode" in body["message"]


async def test_patch_rules(api: Any, recipient: Any, items: Any) -> None:
    _, order = await api.call("POST", "/v1/orders", {"recipient": recipient, "items": items})
    path = f"/v1/orders/{order['id']}"
    assert (await api.call("PATCH", path, {"status": "shipped"}))[0] == 400
    assert (await api.call("PATCH", path, {"status": "approved"}))[0] == 400
    assert (await api.call("PATCH", "/v1/orders/nope", {"status": "canceled"}))[0] == 404
    assert (await api.call("GET", "/v1/orders/nope"))[0] == 404
    api.sandbox.clock.advance(days=8)
    await api.get_token()  # the same clock expires tokens: a week later the old one is dead
    status, body = await api.call("PATCH", path, {"status": "APPROVED", "shipmentMethodId": 1})
    assert status == 409
    assert "seven days" in body["message"]
    # Stricter than before, as the reference: a QUOTE order past seven days cannot be
    # canceled either; it stays QUOTE, expired.
    status, body = await api.call("PATCH", path, {"status": "Canceled"})
    assert (status, "expired" in body["message"]) == (409, True)
    assert (await api.call("GET", path))[1]["status"] == "QUOTE"


async def test_no_cancel_in_production(api: Any, recipient: Any, items: Any) -> None:
    body = {"recipient": recipient, "items": items, "status": "APPROVED", "shipmentMethodId": 2}
    _, order = await api.call("POST", "/v1/orders", body)
    await api.sandbox.advance(order["id"])
    status, answer = await api.call("PATCH", f"/v1/orders/{order['id']}", {"status": "canceled"})
    assert status == 409
    assert "IN_MANUFACTURING" in answer["message"]


async def test_unknown_routes_and_methods(api: Any) -> None:
    status, body = await api.call("GET", "/v1/nothing")
    assert status == 404
    assert body["message"]
    status, body = await api.call("DELETE", "/v1/orders/abc")
    assert status == 405
    assert body["message"]
