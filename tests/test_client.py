"""The client pipeline against aioresponses: tokens, retries, errors, life cycle, secrets."""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import pickle
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import pytest
from aiohttp.client_reqrep import ConnectionKey
from aioresponses import CallbackResult, aioresponses
from samples import ITEMS, RECIPIENT
from yarl import URL

from digipix_async import (
    APIConnectionError,
    APIResponseValidationError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    DigipixClient,
    InternalServerError,
    NotFoundError,
    OrderOutcomeUnknownError,
    PermissionDeniedError,
    RateLimitError,
    Timeout,
    _retry,
)
from digipix_async._sansio import Response

BASE = "http://digipix.test"
TOKEN_URL = f"{BASE}/v1/oauth/token"
SECRET = "cl13nt-s3cr3t"
OPTIONS = [
    {"id": "ZP2ckind4FwRhfIlt5dI", "shipmentMethodId": 1, "name": "Cheapest", "cost": 2.09,
     "estimatedDeliveryDays": 7},
]  # fmt: skip
PRODUCT = {"id": "photobook", "name": "Photobook", "price": 10.9, "parts": []}
ORDER = {"id": "tFN9mEXgro9feZ7Fjf61", "status": "QUOTE", "subtotal": 41.4, "total": 41.4}


@pytest.fixture(autouse=True)
def zero_retry_waits() -> Iterator[None]:
    _retry.set_testing(True)
    yield
    _retry.set_testing(False)


@pytest.fixture
def api() -> Iterator[aioresponses]:
    with aioresponses() as mocked:
        yield mocked


@pytest.fixture
async def client() -> AsyncIterator[DigipixClient]:
    async with DigipixClient("abc123", SECRET, base_url=BASE) as client:
        yield client


def grant_tokens(api: aioresponses, *tokens: str, expires_in: float = 3600) -> None:
    for token in tokens:
        api.post(
            TOKEN_URL,
            payload={"access_token": token, "token_type": "Bearer", "expires_in": expires_in},
        )


def calls(api: aioresponses, method: str, url: str) -> list[Any]:
    return list(api.requests.get((method, URL(url)), []))


def sent_token(call: Any) -> str:
    return str(call.kwargs["headers"]["Authorization"])


# -- tokens -------------------------------------------------------------------------


async def test_500_concurrent_calls_on_a_cold_client_make_one_token_request(
    api: aioresponses, client: DigipixClient
) -> None:
    grant_tokens(api, "tok-1")
    api.get(f"{BASE}/v1/products/photobook", payload=PRODUCT, repeat=True)

    products = await asyncio.gather(*(client.products.get("photobook") for _ in range(500)))

    assert len(calls(api, "POST", TOKEN_URL)) == 1
    assert {product.id for product in products} == {"photobook"}
    assert all(
        sent_token(call) == "Bearer tok-1"
        for call in calls(api, "GET", f"{BASE}/v1/products/photobook")
    )


async def test_the_token_request_is_the_references_json_body(
    api: aioresponses, client: DigipixClient
) -> None:
    grant_tokens(api, "tok-1")
    api.get(f"{BASE}/v1/products", payload=[PRODUCT])

    await client.products.list()

    (call,) = calls(api, "POST", TOKEN_URL)
    assert call.kwargs["headers"]["Content-Type"] == "application/json"
    assert "Authorization" not in call.kwargs["headers"]
    assert call.kwargs["data"] == (
        b'{"client_id":"abc123","client_secret":"cl13nt-s3cr3t",'
        b'"grant_type":"client_credentials","scope":["orders","quote","products"]}'
    )


async def test_a_burst_after_expiry_makes_exactly_one_refresh(
    api: aioresponses, client: DigipixClient
) -> None:
    grant_tokens(api, "tok-1", "tok-2", expires_in=0.2)
    api.get(f"{BASE}/v1/products/photobook", payload=PRODUCT, repeat=True)
    await client.products.get("photobook")

    await asyncio.sleep(0.25)
    await asyncio.gather(*(client.products.get("photobook") for _ in range(200)))

    assert len(calls(api, "POST", TOKEN_URL)) == 2
    last = calls(api, "GET", f"{BASE}/v1/products/photobook")[-1]
    assert sent_token(last) == "Bearer tok-2"


async def test_a_401_refreshes_the_token_once_and_the_call_succeeds(
    api: aioresponses, client: DigipixClient
) -> None:
    grant_tokens(api, "tok-1", "tok-2")
    url = f"{BASE}/v1/orders/abc"
    api.get(url, status=401, payload={"message": "token revoked"})
    api.get(url, payload=ORDER)

    order = await client.orders.get("abc")

    assert order.id == ORDER["id"]
    assert [sent_token(call) for call in calls(api, "GET", url)] == [
        "Bearer tok-1",
        "Bearer tok-2",
    ]


async def test_a_second_401_is_an_authentication_error(
    api: aioresponses, client: DigipixClient
) -> None:
    grant_tokens(api, "tok-1", "tok-2")
    url = f"{BASE}/v1/orders/abc"
    api.get(url, status=401, payload={"message": "no"}, repeat=True)

    with pytest.raises(AuthenticationError) as caught:
        await client.orders.get("abc")

    assert caught.value.status == 401
    assert len(calls(api, "GET", url)) == 2
    assert len(calls(api, "POST", TOKEN_URL)) == 2


async def test_a_token_refusal_raises_the_oauth_code_and_is_not_retried(
    api: aioresponses, client: DigipixClient
) -> None:
    api.post(
        TOKEN_URL,
        status=401,
        payload={"error": "invalid_client", "error_description": "client authentication failed"},
        repeat=True,
    )

    results = await asyncio.gather(
        *(client.products.list() for _ in range(20)), return_exceptions=True
    )

    assert all(isinstance(result, AuthenticationError) for result in results)
    error = results[0]
    assert isinstance(error, AuthenticationError)
    assert error.error_code == "invalid_client"
    assert "client authentication failed" in str(error)
    assert len(calls(api, "POST", TOKEN_URL)) == 1
    assert not calls(api, "GET", f"{BASE}/v1/products")


async def test_a_cancelled_waiter_does_not_break_the_others(
    api: aioresponses, client: DigipixClient
) -> None:
    async def slow_token(url: URL, **kwargs: Any) -> CallbackResult:
        await asyncio.sleep(0.05)
        return CallbackResult(payload={"access_token": "tok-1", "expires_in": 3600})

    api.post(TOKEN_URL, callback=slow_token)
    api.get(f"{BASE}/v1/products/photobook", payload=PRODUCT, repeat=True)
    first = asyncio.create_task(client.products.get("photobook"))
    others = [asyncio.create_task(client.products.get("photobook")) for _ in range(20)]
    await asyncio.sleep(0.01)

    first.cancel()
    products = await asyncio.gather(*others)

    assert len(products) == 20
    assert len(calls(api, "POST", TOKEN_URL)) == 1
    with pytest.raises(asyncio.CancelledError):
        await first


@pytest.mark.parametrize(
    "body",
    [
        b"<html>oops</html>",
        b'{"token_type": "Bearer"}',
        b'{"access_token": "t", "expires_in": "1h"}',
    ],
)
async def test_a_token_answer_of_the_wrong_shape_is_refused_without_quoting_it(
    api: aioresponses, client: DigipixClient, body: bytes
) -> None:
    api.post(TOKEN_URL, body=body, repeat=True)

    with pytest.raises(APIResponseValidationError) as caught:
        await client.products.list()

    assert caught.value.body is None  # a token body is never kept on an error
    assert len(calls(api, "POST", TOKEN_URL)) == 1


async def test_a_token_that_does_not_come_in_time_is_a_timeout(api: aioresponses) -> None:
    async def never_in_time(url: URL, **kwargs: Any) -> CallbackResult:
        await asyncio.sleep(5)
        return CallbackResult(payload={"access_token": "late", "expires_in": 3600})

    api.post(TOKEN_URL, callback=never_in_time)
    async with DigipixClient("abc123", SECRET, base_url=BASE, timeout=0.2) as client:
        with pytest.raises(APITimeoutError, match="no access token in time"):
            await client.products.list()
    assert not calls(api, "GET", f"{BASE}/v1/products")


async def test_the_deadline_ends_a_call_waiting_for_its_answer(api: aioresponses) -> None:
    async def never_in_time(url: URL, **kwargs: Any) -> CallbackResult:
        await asyncio.sleep(5)
        return CallbackResult(payload=[PRODUCT])

    grant_tokens(api, "t1")
    api.get(f"{BASE}/v1/products", callback=never_in_time)
    async with DigipixClient("abc123", SECRET, base_url=BASE, timeout=0.2) as client:
        started = time.monotonic()
        with pytest.raises(APITimeoutError) as caught:
            await client.products.list()
        assert time.monotonic() - started < 1
        assert client._shared.deadlines.pending() == 0

    assert str(caught.value) == "GET /v1/products: no answer within the call's 0.2 s"
    assert caught.value.request_sent is True
    assert caught.value.attempts == 1
    # The deadline's cancellation was withdrawn: the caller's task is not left cancelling.
    task = asyncio.current_task()
    assert task is not None
    assert task.cancelling() == 0


async def test_closing_the_client_ends_calls_waiting_for_a_token_cleanly(
    api: aioresponses,
) -> None:
    async def slow_token(url: URL, **kwargs: Any) -> CallbackResult:
        await asyncio.sleep(5)
        return CallbackResult(payload={"access_token": "late", "expires_in": 3600})

    api.post(TOKEN_URL, callback=slow_token)
    client = DigipixClient("abc123", SECRET, base_url=BASE)
    call = asyncio.create_task(client.products.list())
    await asyncio.sleep(0.02)

    await client.close()

    with pytest.raises(APIConnectionError, match="closed"):
        await call
    assert not calls(api, "GET", f"{BASE}/v1/products")


# -- retries --------------------------------------------------------------------------


async def test_503_503_200_succeeds_in_three_attempts(
    api: aioresponses, client: DigipixClient
) -> None:
    grant_tokens(api, "tok-1")
    url = f"{BASE}/v1/quote"
    api.post(url, status=503, body="busy")
    api.post(url, status=503, body="busy")
    api.post(url, payload=OPTIONS)

    options = await client.quotes.create(zip_code="01311100", items=[
        {"product_id": "photobook", "quantity": 2, "pages": 24}
    ])  # fmt: skip

    assert [option.id for option in options] == ["ZP2ckind4FwRhfIlt5dI"]
    assert len(calls(api, "POST", url)) == 3


async def test_retry_after_is_waited(
    api: aioresponses, client: DigipixClient, caplog: pytest.LogCaptureFixture
) -> None:
    grant_tokens(api, "tok-1")
    url = f"{BASE}/v1/products"
    api.get(url, status=429, headers={"Retry-After": "1"}, payload={"message": "slow down"})
    api.get(url, payload=[PRODUCT])

    with caplog.at_level(logging.WARNING, logger="digipix_async"):
        await client.products.list()

    (warning,) = [record for record in caplog.records if record.levelno == logging.WARNING]
    assert warning.retry_wait == 1.0  # type: ignore[attr-defined]
    assert len(calls(api, "GET", url)) == 2


@pytest.mark.parametrize(("status", "error_class"), [(503, InternalServerError),
                                                     (429, RateLimitError)])  # fmt: skip
async def test_exhausted_retries_raise_the_subclass_for_the_last_status(
    api: aioresponses, client: DigipixClient, status: int, error_class: type[Exception]
) -> None:
    grant_tokens(api, "tok-1")
    url = f"{BASE}/v1/products"
    api.get(url, status=502, body="bad gateway")
    api.get(url, status=status, payload={"message": "still failing"}, repeat=True)

    with pytest.raises(error_class) as caught:
        await client.products.list()

    assert caught.value.status == status  # type: ignore[attr-defined]
    assert caught.value.attempts == 4  # type: ignore[attr-defined]
    assert len(calls(api, "GET", url)) == 4


async def test_a_dropped_connection_on_a_get_is_retried(
    api: aioresponses, client: DigipixClient
) -> None:
    grant_tokens(api, "tok-1")
    url = f"{BASE}/v1/orders/abc"
    api.get(url, exception=aiohttp.ServerDisconnectedError())
    api.get(url, payload=ORDER)

    assert (await client.orders.get("abc")).id == ORDER["id"]
    assert len(calls(api, "GET", url)) == 2


async def test_a_create_order_answered_500_is_outcome_unknown_after_one_post(
    api: aioresponses, client: DigipixClient
) -> None:
    grant_tokens(api, "tok-1")
    url = f"{BASE}/v1/orders"
    api.post(url, status=500, payload={"message": "internal error"}, repeat=True)

    with pytest.raises(OrderOutcomeUnknownError) as caught:
        await client.orders.create(recipient=RECIPIENT, items=ITEMS, partner_order_id="INV-1")

    assert len(calls(api, "POST", url)) == 1
    assert caught.value.partner_order_id == "INV-1"
    assert isinstance(caught.value.cause, InternalServerError)
    assert caught.value.cause.description == "internal error"


@pytest.mark.parametrize(
    "failure",
    [aiohttp.ServerDisconnectedError(), TimeoutError(), aiohttp.ClientPayloadError("cut")],
)
async def test_a_create_order_that_may_have_arrived_is_never_resent(
    api: aioresponses, client: DigipixClient, failure: Exception
) -> None:
    grant_tokens(api, "tok-1")
    url = f"{BASE}/v1/orders"
    api.post(url, exception=failure)
    api.post(url, status=201, payload=ORDER)

    with pytest.raises(OrderOutcomeUnknownError) as caught:
        await client.orders.create(recipient=RECIPIENT, items=ITEMS, partner_order_id="INV-2")

    assert isinstance(caught.value.cause, APIConnectionError)
    assert len(calls(api, "POST", url)) == 1


async def test_a_create_order_refused_with_429_or_never_connected_is_retried(
    api: aioresponses, client: DigipixClient
) -> None:
    grant_tokens(api, "tok-1")
    url = f"{BASE}/v1/orders"
    refused = aiohttp.ClientConnectorError(
        ConnectionKey("digipix.test", 80, False, True, None, None, None),
        ConnectionRefusedError(111, "Connection refused"),
    )
    api.post(url, exception=refused)
    api.post(url, status=429, headers={"Retry-After": "0"}, payload={"message": "later"})
    api.post(url, status=201, payload=ORDER)

    order = await client.orders.create(recipient=RECIPIENT, items=ITEMS)

    assert order.id == ORDER["id"]
    assert len(calls(api, "POST", url)) == 3


@pytest.mark.parametrize(("status", "error_class"), [(404, NotFoundError),
                                                     (400, BadRequestError)])  # fmt: skip
async def test_404_and_400_carry_the_description_and_are_not_retried(
    api: aioresponses, client: DigipixClient, status: int, error_class: type[Exception]
) -> None:
    grant_tokens(api, "tok-1")
    url = f"{BASE}/v1/orders/nope"
    api.get(url, status=status, payload={"message": "order not found"}, repeat=True)

    with pytest.raises(error_class) as caught:
        await client.orders.get("nope")

    assert caught.value.description == "order not found"  # type: ignore[attr-defined]
    assert str(caught.value) == f"{status} (GET /v1/orders/nope): order not found"
    assert len(calls(api, "GET", url)) == 1


async def test_a_create_order_400_is_a_plain_bad_request(
    api: aioresponses, client: DigipixClient
) -> None:
    grant_tokens(api, "tok-1")
    api.post(f"{BASE}/v1/orders", status=400, body="zipCode must have 8 digits")

    with pytest.raises(BadRequestError, match="zipCode must have 8 digits"):
        await client.orders.create(recipient=RECIPIENT, items=ITEMS)


# -- scopes, life cycle, configuration ------------------------------------------------


async def test_a_scope_not_requested_raises_without_a_request(api: aioresponses) -> None:
    async with DigipixClient("abc123", SECRET, base_url=BASE, scopes=["quote"]) as client:
        with pytest.raises(PermissionDeniedError) as caught:
            await client.orders.get("abc")

    assert caught.value.scope == "orders"
    assert "'orders' scope" in str(caught.value)
    assert api.requests == {}


async def test_close_is_safe_twice_and_use_after_close_is_a_clear_error(
    api: aioresponses,
) -> None:
    client = DigipixClient("abc123", SECRET, base_url=BASE)
    await client.close()
    await client.close()

    assert client.closed
    with pytest.raises(RuntimeError, match="closed"):
        await client.products.list()
    assert api.requests == {}


async def test_a_borrowed_session_is_used_and_never_closed(api: aioresponses) -> None:
    grant_tokens(api, "tok-1")
    api.get(f"{BASE}/v1/products", payload=[PRODUCT])
    async with aiohttp.ClientSession() as session:
        async with DigipixClient("abc123", SECRET, base_url=BASE, session=session) as client:
            await client.products.list()
        assert not session.closed


async def test_the_owned_session_is_created_lazily_and_closed(api: aioresponses) -> None:
    grant_tokens(api, "tok-1")
    api.get(f"{BASE}/v1/products", payload=[PRODUCT])
    client = DigipixClient("abc123", SECRET, base_url=BASE)
    assert client._shared.transport._session is None

    async with client:
        await client.products.list()
        session = client._shared.transport._session
        assert session is not None
        assert not session.closed

    assert session.closed


def test_a_client_can_be_built_outside_an_event_loop() -> None:
    client = DigipixClient("abc123", SECRET, environment="sandbox")
    assert client.base_url == "https://api.digipix.dev"


@pytest.mark.parametrize("base_url", ["ftp://x", "digipix.test", "file:///etc/passwd"])
def test_a_base_url_that_is_not_http_is_rejected(base_url: str) -> None:
    with pytest.raises(ValueError, match="base_url"):
        DigipixClient("abc123", SECRET, base_url=base_url)


def test_unknown_environment_and_missing_credentials_are_rejected() -> None:
    with pytest.raises(ValueError, match="environment"):
        DigipixClient("abc123", SECRET, environment="staging")
    with pytest.raises(ValueError, match="client_secret"):
        DigipixClient("abc123", None)
    with pytest.raises(ValueError, match="unknown scopes"):
        DigipixClient("abc123", SECRET, scopes=["orders", "admin"])


def test_from_env_reads_the_four_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIGIPIX_CLIENT_ID", "from-env")
    monkeypatch.setenv("DIGIPIX_CLIENT_SECRET", SECRET)
    monkeypatch.setenv("DIGIPIX_ENVIRONMENT", "sandbox")
    monkeypatch.setenv("DIGIPIX_BASE_URL", "http://127.0.0.1:8080/")

    client = DigipixClient.from_env()

    assert client.base_url == "http://127.0.0.1:8080"
    assert client._client_id == "from-env"


def test_timeouts_are_always_all_set() -> None:
    assert Timeout.coerce(5) == Timeout(total=5.0, connect=5.0, read=5.0)
    assert Timeout.coerce(60) == Timeout(total=60.0, connect=10.0, read=60.0)
    with pytest.raises(ValueError, match="total"):
        Timeout(total=0)
    with pytest.raises(TypeError):
        Timeout.coerce(None)  # type: ignore[arg-type]


async def test_with_options_shares_the_pool_and_token(api: aioresponses) -> None:
    grant_tokens(api, "tok-1")
    api.get(f"{BASE}/v1/products", payload=[PRODUCT], repeat=True)
    async with DigipixClient("abc123", SECRET, base_url=BASE) as client:
        patient = client.with_options(timeout=120, max_retries=0)
        await client.products.list()
        await patient.products.list()
        await patient.close()  # not the owner: nothing happens
        assert not client.closed
        assert patient._timeout.total == 120.0

    assert len(calls(api, "POST", TOKEN_URL)) == 1
    assert patient.closed


# -- secrets -------------------------------------------------------------------------


async def test_no_secret_or_token_in_repr_errors_or_logs(
    api: aioresponses, caplog: pytest.LogCaptureFixture
) -> None:
    token = "tok-very-secret"
    grant_tokens(api, token, "tok-other-secret")
    url = f"{BASE}/v1/orders/abc"
    api.get(url, status=401, body=f"token {token} revoked")
    api.get(url, status=503, body=f"echo {SECRET}", repeat=True)
    client = DigipixClient("abc123", SECRET, base_url=BASE)

    with caplog.at_level(logging.DEBUG, logger="digipix_async"):
        async with client:
            with pytest.raises(InternalServerError) as caught:
                await client.orders.get("abc")

    texts = [repr(client), str(caught.value), repr(caught.value), repr(caught.value.body)]
    texts += [record.getMessage() for record in caplog.records]
    texts += [repr(record.__dict__) for record in caplog.records]
    assert len(caplog.records) >= 5  # attempts were logged
    for text in texts:
        assert SECRET not in text
        assert token not in text
        assert "tok-other-secret" not in text


async def test_errors_pickle_across_processes(api: aioresponses, client: DigipixClient) -> None:
    grant_tokens(api, "tok-1")
    api.post(f"{BASE}/v1/orders", status=500, payload={"message": "boom"})

    with pytest.raises(OrderOutcomeUnknownError) as caught:
        await client.orders.create(recipient=RECIPIENT, items=ITEMS, partner_order_id="INV-9")

    copy = pickle.loads(pickle.dumps(caught.value))
    assert copy.partner_order_id == "INV-9"
    assert isinstance(copy.cause, InternalServerError)
    assert copy.cause.status == 500
    assert str(copy) == str(caught.value)


# -- garbage --------------------------------------------------------------------------


class InstantTransport:
    """Answers at once by path, so a test sees only the client's own objects."""

    def __init__(self, bodies: dict[str, bytes]) -> None:
        self.bodies = bodies

    async def send(self, method: str, url: str, **_: Any) -> Response:
        return Response(200, {}, self.bodies[URL(url).path])

    async def aclose(self) -> None:
        return None


async def test_successful_calls_leave_no_reference_cycles() -> None:
    # A cycle per call is freed only by the cyclic GC, which cost ~15 µs a call.
    transport = InstantTransport(
        {
            "/v1/oauth/token": b'{"access_token": "tok-1", "expires_in": 3600}',
            "/v1/quote": json.dumps(OPTIONS).encode(),
            "/v1/orders/abc": json.dumps(ORDER).encode(),
        }
    )
    client = DigipixClient("abc123", SECRET, base_url=BASE, transport=transport)
    cart = [{"product_id": "photobook", "quantity": 2}]
    await client.quotes.create(zip_code="01311100", items=cart)  # the token is fetched here

    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        for _ in range(20):
            await client.quotes.create(zip_code="01311100", items=cart)
            await client.orders.get("abc")
        found = gc.collect()
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        await client.close()
    assert found == 0
