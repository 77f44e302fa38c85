"""The real client against the embedded sandbox over loopback sockets.

Uses the project's own pytest plugin (`digipix_sandbox`, `digipix_client`), so
these tests also prove that what users get from `digipix_async.testing` works.
Attempts are counted at the server.
"""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal

import pytest
from samples import CART, ITEMS, RECIPIENT

from digipix_async import (
    APIConnectionError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    DigipixClient,
    NotFoundError,
    OrderOutcomeUnknownError,
    OrderStatus,
    RateLimitError,
    ShipmentMethod,
    ValidationError,
)
from digipix_async.sandbox import SandboxServer


async def test_products_list_and_get(digipix_client: DigipixClient) -> None:
    products = await digipix_client.products.list()
    photobook = await digipix_client.products.get("photobook")

    assert "photobook" in [product.id for product in products]
    assert photobook.name == "Photobook"
    assert isinstance(photobook.price, Decimal)
    assert [part.id for part in photobook.parts] == ["cover", "pages"]


async def test_unknown_product_is_not_found(digipix_client: DigipixClient) -> None:
    with pytest.raises(NotFoundError):
        await digipix_client.products.get("no-such-product")


async def test_quote_options_carry_exact_money(digipix_client: DigipixClient) -> None:
    options = await digipix_client.quotes.create(zip_code="01311-100", items=CART)

    assert {option.shipment_method_id for option in options} >= {1, 2}
    for option in options:
        assert isinstance(option.cost, Decimal)
        assert option.cost == option.cost.quantize(Decimal("0.01"))


async def test_flow_1_quote_then_approve_then_track(
    digipix_sandbox: SandboxServer, digipix_client: DigipixClient
) -> None:
    created = await digipix_client.orders.create(
        recipient=RECIPIENT, items=ITEMS, partner_order_id="INV-1", custom_data={"cart": "c-1"}
    )
    assert created.status is OrderStatus.QUOTE
    assert created.shipments
    assert created.partner_order_id == "INV-1"
    assert created.custom_data == {"cart": "c-1"}
    assert created.recipient is not None
    assert created.recipient.zip_code == "01311100"

    approved = await digipix_client.orders.approve(created.id, shipment_id=created.shipments[0].id)
    assert approved.status is OrderStatus.APPROVED
    assert approved.shipment is not None
    assert approved.shipment.id == created.shipments[0].id

    await digipix_sandbox.advance(created.id, to=OrderStatus.DELIVERED)
    delivered = await digipix_client.orders.get(created.id)
    assert delivered.status is OrderStatus.DELIVERED
    assert delivered.created_at is not None
    assert delivered.created_at.tzinfo is not None


async def test_flow_1_approve_by_method_and_cancel(digipix_client: DigipixClient) -> None:
    first = await digipix_client.orders.create(recipient=RECIPIENT, items=ITEMS)
    second = await digipix_client.orders.create(recipient=RECIPIENT, items=ITEMS)

    approved = await digipix_client.orders.approve(first.id, shipment_method=ShipmentMethod.FASTEST)
    cancelled = await digipix_client.orders.cancel(second.id)

    assert approved.status is OrderStatus.APPROVED
    assert approved.shipment is not None
    assert approved.shipment.shipment_method_id == 2
    assert cancelled.status is OrderStatus.CANCELED


async def test_flow_2_pre_approved_with_a_quotes_shipment_id(
    digipix_client: DigipixClient,
) -> None:
    options = await digipix_client.quotes.create(zip_code="01311100", items=CART)

    order = await digipix_client.orders.create(
        recipient=RECIPIENT, items=ITEMS, shipment_id=options[0].id
    )

    assert order.status is OrderStatus.APPROVED
    assert order.shipment is not None
    assert order.shipment.id == options[0].id


async def test_flow_3_pre_approved_with_a_method(digipix_client: DigipixClient) -> None:
    order = await digipix_client.orders.create(
        recipient=RECIPIENT, items=ITEMS, shipment_method=ShipmentMethod.CHEAPEST
    )

    assert order.status is OrderStatus.APPROVED
    assert order.total == order.subtotal + order.shipping_cost  # type: ignore[operator]


async def test_the_servers_rules_surface_as_typed_errors(
    digipix_sandbox: SandboxServer, digipix_client: DigipixClient
) -> None:
    order = await digipix_client.orders.create(
        recipient=RECIPIENT, items=ITEMS, shipment_method=ShipmentMethod.CHEAPEST
    )
    await digipix_sandbox.advance(order.id)  # in production now

    with pytest.raises(ConflictError):
        await digipix_client.orders.cancel(order.id)
    with pytest.raises((ConflictError, BadRequestError)):
        await digipix_client.orders.approve(order.id, shipment_method=1)
    with pytest.raises(NotFoundError):
        await digipix_client.orders.get("no-such-order")
    with pytest.raises(BadRequestError):
        await digipix_client.orders.create(
            recipient=RECIPIENT, items=[{"product_id": "no-such-product", "quantity": 1}]
        )


async def test_bad_input_never_reaches_the_sandbox(
    digipix_sandbox: SandboxServer, digipix_client: DigipixClient
) -> None:
    with pytest.raises(ValidationError, match="zip_code"):
        await digipix_client.quotes.create(zip_code="123", items=CART)

    assert digipix_sandbox.request_count("POST", "/v1/quote") == 0


# -- faults ---------------------------------------------------------------------------


async def test_429_and_503_are_absorbed_by_retries(
    digipix_sandbox: SandboxServer, digipix_client: DigipixClient, digipix_no_retry_waits: None
) -> None:
    digipix_sandbox.faults.add("rate_limit", path="/v1/quote", times=1, retry_after=0)
    digipix_sandbox.faults.add("status", status=503, path="/v1/quote", times=1)

    options = await digipix_client.quotes.create(zip_code="01311100", items=CART)

    assert options
    assert digipix_sandbox.request_count("POST", "/v1/quote") == 3


async def test_retry_after_is_really_waited(
    digipix_sandbox: SandboxServer, digipix_client: DigipixClient
) -> None:
    digipix_sandbox.faults.add("rate_limit", path="/v1/products", times=1, retry_after=1)

    started = time.monotonic()
    await digipix_client.products.list()

    assert time.monotonic() - started >= 1.0
    assert digipix_sandbox.request_count("GET", "/v1/products") == 2


async def test_a_long_retry_after_is_raised_not_slept(
    digipix_sandbox: SandboxServer, digipix_client: DigipixClient
) -> None:
    digipix_sandbox.faults.add("rate_limit", path="/v1/products", retry_after=600)

    with pytest.raises(RateLimitError) as caught:
        await digipix_client.products.list()

    assert caught.value.retry_after == 600
    assert digipix_sandbox.request_count("GET", "/v1/products") == 1


async def test_dropped_connections_on_reads_are_absorbed(
    digipix_sandbox: SandboxServer, digipix_client: DigipixClient, digipix_no_retry_waits: None
) -> None:
    order = await digipix_client.orders.create(recipient=RECIPIENT, items=ITEMS)
    path = f"/v1/orders/{order.id}"
    digipix_sandbox.faults.add("drop", path=path, times=2)

    fetched = await digipix_client.orders.get(order.id)

    assert fetched.id == order.id
    assert digipix_sandbox.request_count("GET", path) == 3


async def test_a_create_answered_500_is_outcome_unknown_and_created_at_most_once(
    digipix_sandbox: SandboxServer, digipix_client: DigipixClient, digipix_no_retry_waits: None
) -> None:
    digipix_sandbox.faults.add("status", status=500, path="/v1/orders", method="POST", times=1)

    with pytest.raises(OrderOutcomeUnknownError) as caught:
        await digipix_client.orders.create(
            recipient=RECIPIENT, items=ITEMS, partner_order_id="INV-500"
        )

    assert caught.value.partner_order_id == "INV-500"
    assert digipix_sandbox.request_count("POST", "/v1/orders") == 1
    assert digipix_sandbox.creates_for("INV-500") <= 1


async def test_a_dropped_create_is_never_sent_twice(
    digipix_sandbox: SandboxServer, digipix_client: DigipixClient, digipix_no_retry_waits: None
) -> None:
    digipix_sandbox.faults.add("drop", path="/v1/orders", method="POST", times=1)

    with pytest.raises(OrderOutcomeUnknownError) as caught:
        await digipix_client.orders.create(
            recipient=RECIPIENT, items=ITEMS, partner_order_id="INV-DROP"
        )

    assert isinstance(caught.value.cause, APIConnectionError)
    assert digipix_sandbox.request_count("POST", "/v1/orders") == 1
    assert digipix_sandbox.creates_for("INV-DROP") == 0


async def test_a_create_refused_with_429_is_retried_and_created_once(
    digipix_sandbox: SandboxServer, digipix_client: DigipixClient, digipix_no_retry_waits: None
) -> None:
    digipix_sandbox.faults.add(
        "rate_limit", path="/v1/orders", method="POST", times=2, retry_after=0
    )

    order = await digipix_client.orders.create(
        recipient=RECIPIENT, items=ITEMS, partner_order_id="INV-429"
    )

    assert order.partner_order_id == "INV-429"
    assert digipix_sandbox.request_count("POST", "/v1/orders") == 3
    assert digipix_sandbox.creates_for("INV-429") == 1


async def test_expired_tokens_are_refreshed_once(
    digipix_sandbox: SandboxServer, digipix_client: DigipixClient
) -> None:
    await digipix_client.products.list()
    digipix_sandbox.expire_tokens()

    await asyncio.gather(*(digipix_client.products.get("photobook") for _ in range(50)))

    assert digipix_sandbox.token_requests == 2


async def test_latency_beyond_the_timeout_is_a_timeout(digipix_sandbox: SandboxServer) -> None:
    from digipix_async import APITimeoutError, Timeout

    digipix_sandbox.faults.add("latency", path="/v1/products", seconds=2)
    async with DigipixClient(
        digipix_sandbox.client_id,
        digipix_sandbox.client_secret,
        base_url=digipix_sandbox.base_url,
        timeout=Timeout(total=0.5, connect=0.5, read=0.5),
    ) as client:
        with pytest.raises(APITimeoutError):
            await client.products.list()


async def test_wrong_credentials_are_an_authentication_error(
    digipix_sandbox: SandboxServer,
) -> None:
    async with DigipixClient(
        digipix_sandbox.client_id, "wrong-secret", base_url=digipix_sandbox.base_url
    ) as client:
        with pytest.raises(AuthenticationError) as caught:
            await client.products.list()

    assert caught.value.error_code == "invalid_client"
    assert "wrong-secret" not in str(caught.value)
    assert digipix_sandbox.token_requests == 1


async def test_500_concurrent_calls_on_a_cold_client_make_one_token_request(
    digipix_sandbox: SandboxServer, digipix_client: DigipixClient
) -> None:
    await asyncio.gather(*(digipix_client.products.get("photobook") for _ in range(500)))

    assert digipix_sandbox.token_requests == 1


async def test_bulk_quotes_yield_one_result_per_input(digipix_client: DigipixClient) -> None:
    carts = [{"zip_code": "01311100", "items": CART} for _ in range(30)]
    carts.insert(7, {"zip_code": "bad", "items": CART})

    results = [result async for result in digipix_client.quotes.create_many(carts, concurrency=8)]

    assert sorted(result.index for result in results) == list(range(31))
    failed = [result for result in results if not result.ok]
    assert [result.index for result in failed] == [7]
    assert isinstance(failed[0].error, ValidationError)
