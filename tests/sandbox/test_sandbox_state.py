"""The sandbox's rules without sockets: state, auth, faults, pricing."""

from __future__ import annotations

import enum
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from digipix_async.sandbox import Faults, SandboxClock
from digipix_async.sandbox._auth import TokenAuthority
from digipix_async.sandbox._catalogue import PRODUCTS, shipping_options
from digipix_async.sandbox._state import SandboxState, notification_payload
from digipix_async.sandbox._wire import ApiError, money, timestamp


class Status(enum.StrEnum):
    """A stand-in for the SDK's OrderStatus: a str Enum the sandbox never imports."""

    DELIVERED = "DELIVERED"


@pytest.fixture
def changes() -> list[dict[str, Any]]:
    return []


@pytest.fixture
def state(changes: list[dict[str, Any]]) -> SandboxState:
    return SandboxState(clock=SandboxClock(), on_status=changes.append)


def _order(state: SandboxState, recipient: dict[str, Any], items: Any, **extra: Any) -> Any:
    return state.create_order({"recipient": recipient, "items": items, **extra})


def test_products_have_the_samples_shape() -> None:
    keys = {"id", "name", "internalCode", "price", "weight", "productionTime", "parts"}
    assert all(set(p) == keys for p in PRODUCTS)
    photobook = next(p for p in PRODUCTS if p["id"] == "photobook")
    assert [part["id"] for part in photobook["parts"]] == ["cover", "pages"]


@pytest.mark.parametrize(
    ("zip_code", "grams", "cheapest", "fastest"),
    [
        ("01311100", 800, "2.09", "15.30"),  # the samples' figures
        ("01311100", 1001, "2.98", "18.10"),  # started kilograms: 2
        ("20040002", 5, "5.70", "22.40"),
        ("40010000", 2400, "15.20", "47.60"),
        ("90010000", 450, "8.00", "26.70"),
    ],
)
def test_shipping_prices_by_region_and_weight(
    zip_code: str, grams: int, cheapest: str, fastest: str
) -> None:
    options = shipping_options(zip_code, grams, collect=False)
    assert [(m, c) for m, c, _ in options] == [(1, Decimal(cheapest)), (2, Decimal(fastest))]


def test_money_is_exact_on_the_wire() -> None:
    assert repr(money(Decimal("0.1") * 3 + Decimal("1.79"))) == "2.09"
    assert money(Decimal("41.40")) == 41.4


def test_timestamp_has_seven_fraction_digits() -> None:
    text = timestamp(datetime(2020, 8, 26, 21, 31, 10, 758205, tzinfo=UTC))
    assert text.startswith("2020-08-26T21:31:10.758205")
    assert len(text.split(".")[1]) == 8
    assert text.endswith("Z")


def test_quote_normalises_zip_and_remembers_ids(state: SandboxState) -> None:
    options = state.quote({"zipCode": "01311-100", "items": [{"productId": "mug", "quantity": 2}]})
    assert [o["name"] for o in options] == ["Cheapest", "Fastest"]
    assert all(len(o["id"]) == 20 for o in options)
    assert len({o["id"] for o in options}) == 2


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"zipCode": "1234", "items": [{"productId": "mug", "quantity": 1}]}, "8 digits"),
        ({"zipCode": 1311100, "items": [{"productId": "mug", "quantity": 1}]}, "zipCode"),
        ({"zipCode": "01311100", "items": []}, "must not be empty"),
        ({"zipCode": "01311100"}, "items is required"),
        ({"zipCode": "01311100", "items": [{"productId": "mug", "quantity": "2"}]}, "integer"),
        ({"zipCode": "01311100", "items": [{"productId": "mug", "quantity": True}]}, "integer"),
        ({"zipCode": "01311100", "items": [{"productId": "mug", "quantity": 0}]}, "at least 1"),
        ({"zipCode": "01311100", "items": [{"productId": "nope", "quantity": 1}]}, "nope"),
        ({"zipCode": "01311100", "items": ["mug"]}, "items[0] must be an object"),
    ],
)
def test_quote_refusals(state: SandboxState, body: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ApiError) as caught:
        state.quote(body)
    assert caught.value.status == 400
    assert fragment in caught.value.message


def test_flow_one_then_approve_by_method(state: SandboxState, recipient: Any, items: Any) -> None:
    order = _order(state, recipient, items, partnerOrderID="INV-1")
    assert order["status"] == "QUOTE"
    assert order["recipient"]["zipCode"] == "01311100"
    assert order["subtotal"] == order["total"] == 10.9
    approved = state.patch_order(order["id"], {"status": "APPROVED", "shipmentMethodId": 2})
    assert approved["status"] == "APPROVED"
    assert "shipments" not in approved
    assert approved["shipment"] == order["shipments"][1]
    assert approved["total"] == money(Decimal("10.9") + Decimal(repr(approved["shippingCost"])))
    assert state.creates_for("INV-1") == 1


def test_seven_day_rule(state: SandboxState, recipient: Any, items: Any) -> None:
    order = _order(state, recipient, items)
    state.clock.advance(days=7, seconds=1)
    with pytest.raises(ApiError) as caught:
        state.patch_order(order["id"], {"status": "approved", "shipmentMethodId": 1})
    assert caught.value.status == 409
    assert "seven days" in caught.value.message
    # The window holds for any PATCH of a QUOTE order (reference, flow 1): cancel too.
    with pytest.raises(ApiError) as caught:
        state.patch_order(order["id"], {"status": "canceled"})
    assert caught.value.status == 409
    assert "expired" in caught.value.message
    assert state.get_order(order["id"])["status"] == "QUOTE"  # nothing changed


@pytest.mark.parametrize(
    "change", [{"status": "canceled"}, {"status": "approved", "shipmentMethodId": 1}]
)
def test_a_quote_order_is_patchable_until_the_seventh_day(
    state: SandboxState, recipient: Any, items: Any, change: dict[str, Any]
) -> None:
    order = _order(state, recipient, items)
    state.clock.advance(days=6, hours=23, minutes=59)
    assert state.patch_order(order["id"], change)["status"] in ("CANCELED", "APPROVED")


def test_approved_orders_cancel_after_seven_days_while_not_in_production(
    state: SandboxState, recipient: Any, items: Any
) -> None:
    order = _order(state, recipient, items, status="APPROVED", shipmentMethodId=1)
    state.clock.advance(days=30)
    assert state.patch_order(order["id"], {"status": "canceled"})["status"] == "CANCELED"


def test_shipment_choice_refusals(state: SandboxState, recipient: Any, items: Any) -> None:
    quoted = state.quote({"zipCode": "90010000", "items": [{"productId": "mug", "quantity": 1}]})
    cases = [
        ({"status": "APPROVED", "shipmentId": "x" * 20}, "unknown shipmentId"),
        ({"status": "APPROVED", "shipmentMethodId": 4}, "1, 2 or 3"),
        ({"status": "APPROVED", "shipmentMethodId": 3}, "Collect"),
        ({"status": "APPROVED", "shipmentId": quoted[0]["id"]}, "another zipCode"),
        ({"status": "APPROVED", "shipmentId": "a", "shipmentMethodId": 1}, "only one"),
        ({"status": "APPROVED"}, "needs a shipmentId"),
        ({"status": "NEW"}, "status must be"),
        ({"partnerOrderID": "x" * 65}, "64"),
    ]
    for extra, fragment in cases:
        with pytest.raises(ApiError) as caught:
            _order(state, recipient, items, **extra)
        assert caught.value.status == 400, extra
        assert fragment in caught.value.message, (extra, caught.value.message)
    assert state.order_ids() == []


def test_collect_only_with_the_contract(recipient: Any, items: Any) -> None:
    state = SandboxState(clock=SandboxClock(), collect=True)
    order = _order(state, recipient, items, status="approved", shipmentMethodId=3)
    assert order["shipment"]["name"] == "Collect"
    assert order["shippingCost"] == 0.0


def test_life_cycle_and_notifications(
    state: SandboxState, changes: list[dict[str, Any]], recipient: Any, items: Any
) -> None:
    order = _order(state, recipient, items, status="APPROVED", shipmentMethodId=1)
    assert changes == []  # creation is not a status change
    assert state.advance(order["id"])["status"] == "IN_MANUFACTURING"
    with pytest.raises(ApiError) as caught:
        state.patch_order(order["id"], {"status": "canceled"})
    assert caught.value.status == 409
    done = state.advance(order["id"], to=Status.DELIVERED)
    assert [c["status"] for c in changes] == ["IN_MANUFACTURING", "SHIPPED", "DELIVERED"]
    assert done["trackingItems"][0]["carrier"] == "Correios"
    payload = notification_payload(changes[1])
    assert set(payload) == {"id", "status", "tracking_items"}
    assert payload["tracking_items"] == done["trackingItems"]
    for bad in (None, "delivered"):
        with pytest.raises(ValueError, match="DELIVERED"):
            state.advance(order["id"], to=bad)


def test_advance_refuses_quote_and_backwards(
    state: SandboxState, recipient: Any, items: Any
) -> None:
    quote = _order(state, recipient, items)
    with pytest.raises(ValueError, match="QUOTE"):
        state.advance(quote["id"])
    with pytest.raises(ValueError, match="unknown order"):
        state.advance("missing")
    approved = state.patch_order(quote["id"], {"status": "approved", "shipmentMethodId": 1})
    state.advance(approved["id"], to="shipped")
    with pytest.raises(ValueError, match="cannot advance"):
        state.advance(approved["id"], to="IN_MANUFACTURING")


def test_token_authority_rules() -> None:
    clock = SandboxClock()
    auth = TokenAuthority(client_id="id", client_secret="secret", clock=clock, lifetime=60)
    body = {"client_id": "id", "client_secret": "secret", "grant_type": "client_credentials"}
    token = auth.issue({**body, "scope": ["quote"]})["access_token"]
    auth.check(f"Bearer {token}", "quote")
    with pytest.raises(ApiError) as caught:
        auth.check(f"Bearer {token}", "orders")
    assert caught.value.status == 403
    clock.advance(seconds=61)
    with pytest.raises(ApiError, match="expired"):
        auth.check(f"Bearer {token}", "quote")
    refusals = [
        ({**body, "client_secret": "wrong"}, 401, "invalid_client"),
        ({**body, "grant_type": "password"}, 400, "unsupported_grant_type"),
        ({**body, "scope": ["print"]}, 400, "invalid_scope"),
        ({"client_id": "id"}, 400, "invalid_request"),
    ]
    for bad, status, error in refusals:
        with pytest.raises(ApiError) as caught:
            auth.issue(bad)
        assert (caught.value.status, caught.value.body["error"]) == (status, error)


def test_faults_times_rate_and_paths() -> None:
    faults = Faults(seed=1)
    once = faults.add("status", status=502, times=1, path="/v1/quote")
    assert faults.pick("GET", "/v1/products") is None
    assert faults.pick("POST", "/v1/quote") is once
    assert faults.pick("POST", "/v1/quote") is None
    faults.add("latency", seconds=0.1, path="/v1/orders/*")
    faults.add("latency", seconds=0.2)
    assert faults.delay_for("GET", "/v1/orders/abc") == pytest.approx(0.3)
    half = faults.add("drop", rate=0.5)
    hits = sum(faults.pick("GET", "/v1/products") is half for _ in range(1000))
    assert 400 < hits < 600
    faults.clear()
    assert faults.active == []
    with pytest.raises(ValueError, match="kind"):
        faults.add("explode")  # type: ignore[arg-type]


def test_clock_moves_forward_only() -> None:
    clock = SandboxClock()
    before = clock.now()
    assert clock.advance(days=8) - before >= timedelta(days=8)
    with pytest.raises(ValueError, match="forward"):
        clock.advance(seconds=-1)
    clock.set(datetime(2020, 8, 26, tzinfo=UTC))
    assert clock.now().year == 2020


def test_notification_url_must_be_absolute_http(
    state: SandboxState, recipient: Any, items: Any
) -> None:
    for url in ("ftp://x", "http://", "https:///path", "notify", "http://exa\nmple.com/"):
        with pytest.raises(ApiError, match="statusNotificationUrl"):
            _order(state, recipient, items, statusNotificationUrl=url)
