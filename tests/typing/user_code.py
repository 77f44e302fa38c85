"""Code as a user writes it against every public call, for type checkers only.

``mypy --strict tests/typing`` and ``pyright -p tests/typing`` (strict, see the
pyrightconfig.json beside this file) must both pass: a user whose own code is
checked that strictly must not need a cast or an ignore to use the SDK. Nothing
here is ever run (tests/typing/conftest.py keeps pytest from collecting it), so
it may name hosts and credentials freely. ``assert_type`` pins what a checker
must infer where a looser type would still let the surrounding code pass.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Mapping, Sequence
from decimal import Decimal
from typing import Any, assert_type

import aiohttp
from aiohttp import web

import digipix_async
from digipix_async import (
    APIConnectionError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    BulkResult,
    ConflictError,
    DigipixClient,
    DigipixError,
    InternalServerError,
    ItemPart,
    Limits,
    NotFoundError,
    Order,
    OrderItem,
    OrderOutcomeUnknownError,
    OrderStatus,
    PermissionDeniedError,
    Product,
    ProductPart,
    QuoteItem,
    RateLimitError,
    Recipient,
    RetryPolicy,
    ShipmentMethod,
    ShippingOption,
    StatusNotification,
    Timeout,
    TrackingItem,
    UnprocessableEntityError,
    ValidationError,
    testing,
)
from digipix_async.sandbox import SandboxServer
from digipix_async.webhooks import (
    InvalidNotificationError,
    NotificationEvent,
    NotificationReceiver,
    Outcome,
    aiohttp_handler,
    notification_url,
    parse_notification,
)

# -- building a client -------------------------------------------------------------------


def clients(session: aiohttp.ClientSession) -> list[DigipixClient]:
    """Every way of making a client."""
    version: str = digipix_async.__version__
    assert version
    return [
        DigipixClient("id", "secret"),
        DigipixClient("id", "secret", environment="sandbox"),
        DigipixClient(
            "id",
            "secret",
            base_url="http://127.0.0.1:8080",
            scopes=("orders", "quote"),
            timeout=10.0,
            max_retries=5,
            max_connections=20,
        ),
        DigipixClient("id", "secret", timeout=Timeout(connect=2.0, read=10.0, total=30.0)),
        DigipixClient("id", "secret", session=session),
        DigipixClient("id", "secret", retry_policy=RetryPolicy(max_retries=1)),
        # Networks as users have them: proxies from the environment, a private CA.
        DigipixClient(
            "id",
            "secret",
            trust_env=False,
            ssl=ssl.create_default_context(cafile="/etc/ssl/private-ca.pem"),
        ),
        DigipixClient("id", "secret", ssl=False, app_info=("myshop", "2.1")),
        DigipixClient("id", "secret", strict_responses=True, max_response_size=1024 * 1024),
        DigipixClient.from_env(),
        DigipixClient.from_env(environment="sandbox", timeout=5.0),
    ]


async def lifecycle() -> None:
    """Open with ``async with`` or close by hand; derive a client with other limits."""
    async with DigipixClient.from_env() as client:
        assert_type(client, DigipixClient)
        slow = client.with_options(timeout=120, max_retries=0)
        assert_type(slow, DigipixClient)
        base_url: str = client.base_url
        scopes: tuple[str, ...] = client.scopes
        print(base_url, scopes, repr(client))
    client = DigipixClient("id", "secret")
    try:
        await client.products.list()
    finally:
        await client.close()
    closed: bool = client.closed
    assert closed
    limits = Limits(max_connections=10)
    print(limits)


# -- every resource method ----------------------------------------------------------------


async def catalogue(client: DigipixClient) -> Decimal | None:
    products = await client.products.list()
    assert_type(products, list[Product])
    product = await client.products.get(products[0].id)
    assert_type(product, Product)
    parts: tuple[ProductPart, ...] = product.parts
    names = [part.name for part in parts]
    print(product.name, product.internal_code, product.weight, product.production_time, names)
    return product.price


async def quoting(client: DigipixClient) -> str:
    options = await client.quotes.create(
        zip_code="01311100",
        items=[
            QuoteItem(product_id="p-1", quantity=2, pages=24),
            {"product_id": "p-2", "quantity": 1},
        ],
    )
    assert_type(options, list[ShippingOption])
    cheapest = min(options, key=lambda option: option.cost or Decimal("Infinity"))
    print(cheapest.name, cheapest.shipment_method_id, cheapest.estimated_delivery_days)
    return cheapest.id


async def ordering(client: DigipixClient, shipment_id: str) -> None:
    recipient = Recipient(
        name="Ana", email="ana@example.com", zip_code="01311100", city="São Paulo"
    )
    items = [
        OrderItem(
            product_id="p-1",
            quantity=1,
            parts=[ItemPart(id="cover", url="https://example.com/cover.pdf", pages=1)],
        )
    ]

    # Flow 1: a QUOTE order, approved (or canceled) later.
    order = await client.orders.create(recipient=recipient, items=items, partner_order_id="cart-1")
    assert_type(order, Order)
    shipments: tuple[ShippingOption, ...] = order.shipments
    approved = await client.orders.approve(order.id, shipment_id=shipments[0].id)
    assert_type(approved, Order)
    await client.orders.approve(order.id, shipment_method=ShipmentMethod.FASTEST)
    await client.orders.approve(order.id, shipment_method=2)
    canceled = await client.orders.cancel(order.id)
    assert_type(canceled, Order)

    # Flow 2: pre-approved with a shipment from a quote; plain mappings work too.
    await client.orders.create(
        recipient={"name": "Ana", "zip_code": "01311100"},
        items=[{"product_id": "p-1", "quantity": 1}],
        shipment_id=shipment_id,
        custom_data={"cart": 42},
        status_notification_url=notification_url("https://shop.example/digipix", "s3cret"),
    )
    # Flow 3: pre-approved with a shipment method.
    await client.orders.create(
        recipient=recipient, items=items, shipment_method=ShipmentMethod.CHEAPEST
    )

    fetched = await client.orders.get(order.id)
    assert_type(fetched, Order)
    status: OrderStatus = fetched.status
    if status is OrderStatus.SHIPPED and fetched.shipment is not None:
        print(fetched.shipment.name)
    total: Decimal | None = fetched.total
    seen: Mapping[str, Any] = fetched.extra
    print(status.value, total, seen, fetched.created_at, fetched.recipient, fetched.items)


# -- bulk: the README's loops -------------------------------------------------------------


async def bulk_quotes(client: DigipixClient, carts: Sequence[Mapping[str, Any]]) -> None:
    async for result in client.quotes.create_many(carts, concurrency=16):
        assert_type(result, BulkResult[list[ShippingOption]])
        index: int = result.index
        if result.ok:
            print(index, [option.id for option in result.value])
        else:
            print(index, "failed:", result.error)


async def bulk_orders(client: DigipixClient) -> list[str]:
    async def requests() -> AsyncIterator[dict[str, Any]]:
        for number in range(3):
            yield {
                "recipient": {"name": "Ana"},
                "items": [{"product_id": "p-1", "quantity": 1}],
                "partner_order_id": f"cart-{number}",
            }

    created: list[str] = []
    async with client.orders.create_many(requests(), concurrency=4) as results:
        async for result in results:
            if result.ok:
                created.append(result.value.id)
            else:
                error: Exception = result.error
                if isinstance(error, OrderOutcomeUnknownError):
                    print("look it up before resending:", error.partner_order_id)
    return created


# -- errors and their attributes ----------------------------------------------------------


async def handling_errors(client: DigipixClient) -> None:
    try:
        await client.orders.get("o-1")
    except NotFoundError as exc:
        status: int = exc.status
        print(status, exc.description, exc.body, exc.headers.get("X-Request-Id"))
    except RateLimitError as exc:
        wait: float | None = exc.retry_after
        print(wait, exc.attempts)
    except AuthenticationError as exc:
        code: str | None = exc.error_code
        print(code)
    except PermissionDeniedError as exc:
        scope: str | None = exc.scope
        print(scope)
    except (BadRequestError, ConflictError, UnprocessableEntityError, InternalServerError) as exc:
        print(exc.method, exc.path, exc.status)
    except APIStatusError as exc:
        print(exc.status, exc.description)
    except APITimeoutError as exc:
        print("timed out", exc.attempts)
    except APIConnectionError as exc:
        sent: bool = exc.request_sent
        print(sent)
    except APIResponseValidationError as exc:
        print(exc.status, exc.path, exc.body)
    except ValidationError as exc:
        field: str = exc.field
        print(field, exc.problem)
    except OrderOutcomeUnknownError as exc:
        cause: DigipixError = exc.cause
        print(exc.partner_order_id, cause)
    except DigipixError as exc:
        attempts: int = exc.attempts
        print(attempts)


# -- webhooks -----------------------------------------------------------------------------


def parsing(body: bytes, text: str, decoded: Mapping[str, Any]) -> list[StatusNotification]:
    parsed: list[StatusNotification] = []
    for raw in (body, text, decoded):
        try:
            notification = parse_notification(raw)
        except InvalidNotificationError as exc:
            print("bad notification:", exc)
            continue
        tracking: tuple[TrackingItem, ...] = notification.tracking_items
        print(notification.id, notification.status, notification.custom_data, tracking)
        parsed.append(notification)
    return parsed


async def on_status(event: NotificationEvent) -> None:
    order_id: str = event.order_id
    status: OrderStatus = event.status
    late: bool = event.late
    order: Order | None = event.order
    for item in event.notification.tracking_items:
        print(item.code, item.url, item.carrier)
    print(order_id, status, late, order)


async def receiving(client: DigipixClient, body: bytes, query: Mapping[str, str]) -> int:
    receiver = NotificationReceiver(on_status, secret="s3cret", verify_with=client)
    outcome = await receiver.handle(body, query)
    assert_type(outcome, Outcome)
    ok: bool = outcome.ok
    print(outcome.reason, ok)
    return outcome.status


def web_app(client: DigipixClient) -> web.Application:
    app = web.Application()
    app.router.add_post("/digipix", aiohttp_handler(on_status, secret="s3cret", verify_with=client))
    receiver = NotificationReceiver(on_status, secret="s3cret")
    app.router.add_post("/digipix/shared", aiohttp_handler(receiver))
    return app


# -- the sandbox and the pytest plugin ----------------------------------------------------


async def sandbox_session() -> None:
    async with SandboxServer() as sandbox:
        base_url: str = sandbox.base_url
        async with DigipixClient(
            sandbox.client_id, sandbox.client_secret, base_url=base_url
        ) as client:
            sandbox.faults.add("status", status=503, path="/v1/quote", times=2)
            order = await client.orders.create(
                recipient={"name": "Ana"},
                items=[{"product_id": "p-1", "quantity": 1}],
                shipment_method=ShipmentMethod.CHEAPEST,
            )
            await sandbox.advance(order.id, to=OrderStatus.DELIVERED)
            count: int = sandbox.request_count("POST", "/v1/orders")
            print(count, sandbox.token_requests)


async def test_checkout(
    digipix_client: DigipixClient, digipix_sandbox: SandboxServer, digipix_no_retry_waits: None
) -> None:
    """A user's test: the plugin's fixtures, typed as the README shows."""
    digipix_sandbox.faults.add("rate_limit", path="/v1/products", retry_after=1, times=1)
    assert await digipix_client.products.list()


def retry_waits_off_for_a_whole_module() -> None:
    testing.set_testing(True)
    try:
        asyncio.run(sandbox_session())
    finally:
        testing.set_testing(False)


# -- what the second wave added: raw answers, escape hatches, limits, stores, jobs -------


async def second_wave(client: DigipixClient, redis_url: str) -> None:
    from digipix_async import APIResponse, MemoryStore, RedisStore
    from digipix_async.jobs import JOURNAL_KEY, OrderJournal

    raw = await client.with_raw_response.orders.get("o-1")
    assert_type(raw, APIResponse[Order])
    status: int = raw.status
    request_id: str | None = raw.request_id
    attempts: int = raw.attempts
    order = raw.parse()
    assert_type(order, Order)
    products = (await client.with_raw_response.products.list()).parse()
    assert_type(products, list[Product])

    await client.orders.get("o-1", extra_headers={"X-Trace": "1"}, extra_query={"expand": "items"})
    await client.quotes.create(
        zip_code="01311-100",
        items=[QuoteItem(product_id="photobook", quantity=1, extra={"finish": "matte"})],
        extra_body={"coupon": "X1"},
    )
    await client.orders.approve("o-1", shipment_method="cheapest")

    shared = RedisStore(redis_url, timeout=0.5)
    fleet = DigipixClient("id", "secret", rate_limit=20, store=shared)
    alone = DigipixClient("id", "secret", store=MemoryStore(), strict_responses=True)
    await fleet.close()
    await alone.close()
    await shared.aclose()

    async with OrderJournal("orders.journal") as journal:
        requests: list[dict[str, Any]] = [{"partner_order_id": "INV-1", "items": []}]
        async with client.orders.create_many(requests, journal=journal) as results:
            async for result in results:
                if result.ok:
                    assert_type(result.value, Order)
                else:
                    assert_type(result.error, Exception)
        for entry in await journal.unknown():
            await journal.mark_created(entry.partner_order_id, "order-id")
        key: str = JOURNAL_KEY

    def handler(request: testing.MockRequest) -> testing.Response:
        return testing.Response(200, json={"id": "o-1", "status": "APPROVED"})

    mock = testing.MockTransport(handler)
    async with DigipixClient("id", "secret", transport=mock) as mocked:
        await mocked.orders.get("o-1")
    paths: list[str] = [request.path for request in mock.requests]
    del status, request_id, attempts, key, paths
