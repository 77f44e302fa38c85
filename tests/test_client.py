"""The client pipeline on a MockTransport: tokens, retries, errors, life cycle, secrets.

No sockets: every request (the token request included) goes to `Api`, which answers
from queues per method and path, as the tests script them. What aiohttp itself does
with sessions and broken connections is tested over loopback in `test_client_session.py`
and `test_transport.py`.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import pickle
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import pytest
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
from digipix_async._sansio import Response as WireResponse
from digipix_async.testing import MockRequest, MockTransport, Response

BASE = "http://digipix.test"
TOKEN_PATH = "/v1/oauth/token"
SECRET = "cl13nt-s3cr3t"
OPTIONS = [
    {"id": "ZP2ckind4FwRhfIlt5dI", "shipmentMethodId": 1, "name": "Cheapest", "cost": 2.09,
     "estimatedDeliveryDays": 7},
]  # fmt: skip
PRODUCT = {"id": "photobook", "name": "Photobook", "price": 10.9, "parts": []}
ORDER = {"id": "tFN9mEXgro9feZ7Fjf61", "status": "QUOTE", "subtotal": 41.4, "total": 41.4}

#: What a queue holds: an answer, an error to raise, or an (async) function of the request.
Answer = Response | Exception | Callable[[MockRequest], Awaitable[Response]]


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # Any connection attempt (aiohttp's goes through the loop) fails the test.
    async def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a MockTransport test tried to connect")

    monkeypatch.setattr(asyncio.BaseEventLoop, "create_connection", refuse)
    monkeypatch.setattr(asyncio.BaseEventLoop, "getaddrinfo", refuse)
    _retry.set_testing(True)  # no retry pauses
    yield
    _retry.set_testing(False)


class Api:
    """Answers queued per method and path, each used once in order; with ``repeat=True``
    the last one stays. A request nobody queued an answer for fails the test."""

    def __init__(self) -> None:
        self.queues: dict[tuple[str, str], list[Answer]] = {}
        self.repeat: set[tuple[str, str]] = set()
        self.mock = MockTransport(self.answer)

    async def answer(self, request: MockRequest) -> Response:
        key = (request.method, request.path)
        queue = self.queues.get(key)
        if not queue:
            raise AssertionError(f"no answer queued for {request!r}")
        answer = queue[0] if key in self.repeat and len(queue) == 1 else queue.pop(0)
        if isinstance(answer, Exception):
            raise answer
        if isinstance(answer, Response):
            return answer
        return await answer(request)

    def on(self, method: str, path: str, *answers: Answer, repeat: bool = False) -> None:
        key = (method, path)
        self.queues.setdefault(key, []).extend(answers)
        if repeat:
            self.repeat.add(key)

    def get(self, path: str, *answers: Answer, repeat: bool = False) -> None:
        self.on("GET", path, *answers, repeat=repeat)

    def post(self, path: str, *answers: Answer, repeat: bool = False) -> None:
        self.on("POST", path, *answers, repeat=repeat)

    def calls(self, method: str, path: str) -> list[MockRequest]:
        return [r for r in self.mock.requests if (r.method, r.path) == (method, path)]


@pytest.fixture
def api() -> Api:
    return Api()


def client_for(api: Api, **options: Any) -> DigipixClient:
    return DigipixClient("abc123", SECRET, base_url=BASE, transport=api.mock, **options)


@pytest.fixture
async def client(api: Api) -> AsyncIterator[DigipixClient]:
    async with client_for(api) as client:
        yield client


def grant_tokens(api: Api, *tokens: str, expires_in: float = 3600) -> None:
    api.post(
        TOKEN_PATH,
        *(
            Response(
                200, json={"access_token": t, "token_type": "Bearer", "expires_in": expires_in}
            )
            for t in tokens
        ),
    )


def sent_token(call: MockRequest) -> str:
    return call.headers["Authorization"]


# -- tokens -------------------------------------------------------------------------


async def test_500_concurrent_calls_on_a_cold_client_make_one_token_request(
    api: Api, client: DigipixClient
) -> None:
    grant_tokens(api, "tok-1")
    api.get("/v1/products/photobook", Response(200, json=PRODUCT), repeat=True)

    products = await asyncio.gather(*(client.products.get("photobook") for _ in range(500)))

    assert len(api.calls("POST", TOKEN_PATH)) == 1
    assert {product.id for product in products} == {"photobook"}
    gets = api.calls("GET", "/v1/products/photobook")
    assert len(gets) == 500
    assert all(sent_token(call) == "Bearer tok-1" for call in gets)


async def test_the_token_request_is_the_references_json_body(
    api: Api, client: DigipixClient
) -> None:
    grant_tokens(api, "tok-1")
    api.get("/v1/products", Response(200, json=[PRODUCT]))

    await client.products.list()

    (call,) = api.calls("POST", TOKEN_PATH)
    assert call.url == f"{BASE}{TOKEN_PATH}"
    assert call.headers["Content-Type"] == "application/json"
    assert "Authorization" not in call.headers
    assert call.body == (
        b'{"client_id":"abc123","client_secret":"cl13nt-s3cr3t",'
        b'"grant_type":"client_credentials","scope":["orders","quote","products"]}'
    )


async def test_a_burst_after_expiry_makes_exactly_one_refresh(
    api: Api, client: DigipixClient
) -> None:
    grant_tokens(api, "tok-1", "tok-2", expires_in=0.2)
    api.get("/v1/products/photobook", Response(200, json=PRODUCT), repeat=True)
    await client.products.get("photobook")

    await asyncio.sleep(0.25)
    await asyncio.gather(*(client.products.get("photobook") for _ in range(200)))

    assert len(api.calls("POST", TOKEN_PATH)) == 2
    last = api.calls("GET", "/v1/products/photobook")[-1]
    assert sent_token(last) == "Bearer tok-2"


async def test_a_401_refreshes_the_token_once_and_the_call_succeeds(
    api: Api, client: DigipixClient
) -> None:
    grant_tokens(api, "tok-1", "tok-2")
    api.get(
        "/v1/orders/abc",
        Response(401, json={"message": "token revoked"}),
        Response(200, json=ORDER),
    )

    order = await client.orders.get("abc")

    assert order.id == ORDER["id"]
    assert [sent_token(call) for call in api.calls("GET", "/v1/orders/abc")] == [
        "Bearer tok-1",
        "Bearer tok-2",
    ]


async def test_a_second_401_is_an_authentication_error(api: Api, client: DigipixClient) -> None:
    grant_tokens(api, "tok-1", "tok-2")
    api.get("/v1/orders/abc", Response(401, json={"message": "no"}), repeat=True)

    with pytest.raises(AuthenticationError) as caught:
        await client.orders.get("abc")

    assert caught.value.status == 401
    assert len(api.calls("GET", "/v1/orders/abc")) == 2
    assert len(api.calls("POST", TOKEN_PATH)) == 2


async def test_a_token_refusal_raises_the_oauth_code_and_is_not_retried(
    api: Api, client: DigipixClient
) -> None:
    api.post(
        TOKEN_PATH,
        Response(
            401,
            json={
                "error": "invalid_client",
                "error_description": "client authentication failed",
            },
        ),
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
    assert len(api.calls("POST", TOKEN_PATH)) == 1
    assert not api.calls("GET", "/v1/products")


async def test_a_cancelled_waiter_does_not_break_the_others(
    api: Api, client: DigipixClient
) -> None:
    async def slow_token(request: MockRequest) -> Response:
        await asyncio.sleep(0.05)
        return Response(200, json={"access_token": "tok-1", "expires_in": 3600})

    api.post(TOKEN_PATH, slow_token)
    api.get("/v1/products/photobook", Response(200, json=PRODUCT), repeat=True)
    first = asyncio.create_task(client.products.get("photobook"))
    others = [asyncio.create_task(client.products.get("photobook")) for _ in range(20)]
    await asyncio.sleep(0.01)

    first.cancel()
    products = await asyncio.gather(*others)

    assert len(products) == 20
    assert len(api.calls("POST", TOKEN_PATH)) == 1
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
    api: Api, client: DigipixClient, body: bytes
) -> None:
    api.post(TOKEN_PATH, Response(200, body=body), repeat=True)

    with pytest.raises(APIResponseValidationError) as caught:
        await client.products.list()

    assert caught.value.body is None  # a token body is never kept on an error
    assert len(api.calls("POST", TOKEN_PATH)) == 1


async def never_in_time(request: MockRequest) -> Response:
    await asyncio.sleep(5)
    raise AssertionError(f"{request!r} was not cut off by the deadline")


async def test_a_token_that_does_not_come_in_time_is_a_timeout(api: Api) -> None:
    api.post(TOKEN_PATH, never_in_time)
    async with client_for(api, timeout=0.2) as client:
        with pytest.raises(APITimeoutError, match="no access token in time"):
            await client.products.list()
    assert not api.calls("GET", "/v1/products")


async def test_the_deadline_ends_a_call_waiting_for_its_answer(api: Api) -> None:
    grant_tokens(api, "t1")
    api.get("/v1/products", never_in_time)
    async with client_for(api, timeout=0.2) as client:
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


async def test_closing_the_client_ends_calls_waiting_for_a_token_cleanly(api: Api) -> None:
    api.post(TOKEN_PATH, never_in_time)
    client = client_for(api)
    call = asyncio.create_task(client.products.list())
    await asyncio.sleep(0.02)

    await client.close()

    with pytest.raises(APIConnectionError, match="closed"):
        await call
    assert not api.calls("GET", "/v1/products")


# -- retries --------------------------------------------------------------------------


async def test_503_503_200_succeeds_in_three_attempts(api: Api, client: DigipixClient) -> None:
    grant_tokens(api, "tok-1")
    api.post(
        "/v1/quote",
        Response(503, body="busy"),
        Response(503, body="busy"),
        Response(200, json=OPTIONS),
    )

    options = await client.quotes.create(zip_code="01311100", items=[
        {"product_id": "photobook", "quantity": 2, "pages": 24}
    ])  # fmt: skip

    assert [option.id for option in options] == ["ZP2ckind4FwRhfIlt5dI"]
    posts = api.calls("POST", "/v1/quote")
    assert len(posts) == 3
    assert {call.body for call in posts} == {
        b'{"zipCode":"01311100","items":[{"productId":"photobook","quantity":2,"pages":24}]}'
    }


async def test_retry_after_is_waited(
    api: Api, client: DigipixClient, caplog: pytest.LogCaptureFixture
) -> None:
    grant_tokens(api, "tok-1")
    api.get(
        "/v1/products",
        Response(429, headers={"Retry-After": "1"}, json={"message": "slow down"}),
        Response(200, json=[PRODUCT]),
    )

    with caplog.at_level(logging.WARNING, logger="digipix_async"):
        await client.products.list()

    (warning,) = [record for record in caplog.records if record.levelno == logging.WARNING]
    assert warning.retry_wait == 1.0  # type: ignore[attr-defined]
    assert len(api.calls("GET", "/v1/products")) == 2


@pytest.mark.parametrize(("status", "error_class"), [(503, InternalServerError),
                                                     (429, RateLimitError)])  # fmt: skip
async def test_exhausted_retries_raise_the_subclass_for_the_last_status(
    api: Api, client: DigipixClient, status: int, error_class: type[Exception]
) -> None:
    grant_tokens(api, "tok-1")
    api.get(
        "/v1/products",
        Response(502, body="bad gateway"),
        Response(status, json={"message": "still failing"}),
        repeat=True,
    )

    with pytest.raises(error_class) as caught:
        await client.products.list()

    assert caught.value.status == status  # type: ignore[attr-defined]
    assert caught.value.attempts == 4  # type: ignore[attr-defined]
    assert len(api.calls("GET", "/v1/products")) == 4


# What AiohttpTransport makes of a connection dropped after sending, a read timeout
# and a body cut short (the mapping: test_transport.py and test_client_session.py,
# over loopback), and of a connection refused: the request provably never left.
# Functions, not instances: the client writes on the error it raises (attempts).
def disconnected() -> APIConnectionError:
    return APIConnectionError("ServerDisconnectedError: Server disconnected")


def read_timed_out() -> APIConnectionError:
    return APITimeoutError("POST /v1/orders: no data for 60.0 s")


def payload_cut() -> APIConnectionError:
    return APIConnectionError("ClientPayloadError: cut")


def refused() -> APIConnectionError:
    return APIConnectionError(
        "Cannot connect to host digipix.test:80 ssl:default [Connection refused]",
        request_sent=False,
    )


async def test_a_dropped_connection_on_a_get_is_retried(api: Api, client: DigipixClient) -> None:
    grant_tokens(api, "tok-1")
    api.get("/v1/orders/abc", disconnected(), Response(200, json=ORDER))

    assert (await client.orders.get("abc")).id == ORDER["id"]
    assert len(api.calls("GET", "/v1/orders/abc")) == 2


async def test_a_create_order_answered_500_is_outcome_unknown_after_one_post(
    api: Api, client: DigipixClient
) -> None:
    grant_tokens(api, "tok-1")
    api.post("/v1/orders", Response(500, json={"message": "internal error"}), repeat=True)

    with pytest.raises(OrderOutcomeUnknownError) as caught:
        await client.orders.create(recipient=RECIPIENT, items=ITEMS, partner_order_id="INV-1")

    assert len(api.calls("POST", "/v1/orders")) == 1
    assert caught.value.partner_order_id == "INV-1"
    assert isinstance(caught.value.cause, InternalServerError)
    assert caught.value.cause.description == "internal error"


@pytest.mark.parametrize(
    "failure", [disconnected, read_timed_out, payload_cut], ids=["disconnected", "timeout", "cut"]
)
async def test_a_create_order_that_may_have_arrived_is_never_resent(
    api: Api, client: DigipixClient, failure: Callable[[], APIConnectionError]
) -> None:
    grant_tokens(api, "tok-1")
    api.post("/v1/orders", failure(), Response(201, json=ORDER))

    with pytest.raises(OrderOutcomeUnknownError) as caught:
        await client.orders.create(recipient=RECIPIENT, items=ITEMS, partner_order_id="INV-2")

    assert isinstance(caught.value.cause, APIConnectionError)
    assert len(api.calls("POST", "/v1/orders")) == 1


async def test_a_create_order_refused_with_429_or_never_connected_is_retried(
    api: Api, client: DigipixClient
) -> None:
    grant_tokens(api, "tok-1")
    api.post(
        "/v1/orders",
        refused(),
        Response(429, headers={"Retry-After": "0"}, json={"message": "later"}),
        Response(201, json=ORDER),
    )

    order = await client.orders.create(recipient=RECIPIENT, items=ITEMS)

    assert order.id == ORDER["id"]
    posts = api.calls("POST", "/v1/orders")
    assert len(posts) == 3
    assert posts[0].body == posts[1].body == posts[2].body  # the same order each time


@pytest.mark.parametrize(("status", "error_class"), [(404, NotFoundError),
                                                     (400, BadRequestError)])  # fmt: skip
async def test_404_and_400_carry_the_description_and_are_not_retried(
    api: Api, client: DigipixClient, status: int, error_class: type[Exception]
) -> None:
    grant_tokens(api, "tok-1")
    api.get("/v1/orders/nope", Response(status, json={"message": "order not found"}), repeat=True)

    with pytest.raises(error_class) as caught:
        await client.orders.get("nope")

    assert caught.value.description == "order not found"  # type: ignore[attr-defined]
    assert str(caught.value) == f"{status} (GET /v1/orders/nope): order not found"
    assert len(api.calls("GET", "/v1/orders/nope")) == 1


async def test_a_create_order_400_is_a_plain_bad_request(api: Api, client: DigipixClient) -> None:
    grant_tokens(api, "tok-1")
    api.post("/v1/orders", Response(400, body="zipCode must have 8 digits"))

    with pytest.raises(BadRequestError, match="zipCode must have 8 digits"):
        await client.orders.create(recipient=RECIPIENT, items=ITEMS)


# -- scopes, life cycle, configuration ------------------------------------------------


async def test_a_scope_not_requested_raises_without_a_request(api: Api) -> None:
    async with client_for(api, scopes=["quote"]) as client:
        with pytest.raises(PermissionDeniedError) as caught:
            await client.orders.get("abc")

    assert caught.value.scope == "orders"
    assert "'orders' scope" in str(caught.value)
    assert api.mock.requests == []


async def test_close_is_safe_twice_and_use_after_close_is_a_clear_error(api: Api) -> None:
    client = client_for(api)
    await client.close()
    await client.close()

    assert client.closed
    with pytest.raises(RuntimeError, match="closed"):
        await client.products.list()
    assert api.mock.requests == []


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


async def test_with_options_shares_the_pool_and_token(api: Api) -> None:
    grant_tokens(api, "tok-1")
    api.get("/v1/products", Response(200, json=[PRODUCT]), repeat=True)
    async with client_for(api) as client:
        patient = client.with_options(timeout=120, max_retries=0)
        await client.products.list()
        await patient.products.list()
        await patient.close()  # not the owner: nothing happens
        assert not client.closed
        assert patient._timeout.total == 120.0

    assert len(api.calls("POST", TOKEN_PATH)) == 1
    assert [sent_token(call) for call in api.calls("GET", "/v1/products")] == ["Bearer tok-1"] * 2
    assert patient.closed


# -- secrets -------------------------------------------------------------------------


async def test_no_secret_or_token_in_repr_errors_or_logs(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    token = "tok-very-secret"
    grant_tokens(api, token, "tok-other-secret")
    api.get(
        "/v1/orders/abc",
        Response(401, body=f"token {token} revoked"),
        Response(503, body=f"echo {SECRET}"),
        repeat=True,
    )
    client = client_for(api)

    with caplog.at_level(logging.DEBUG, logger="digipix_async"):
        async with client:
            with pytest.raises(InternalServerError) as caught:
                await client.orders.get("abc")

    texts = [repr(client), str(caught.value), repr(caught.value), repr(caught.value.body)]
    texts += [record.getMessage() for record in caplog.records]
    texts += [repr(record.__dict__) for record in caplog.records]
    texts += [repr(request) for request in api.mock.requests]
    assert len(caplog.records) >= 5  # attempts were logged
    for text in texts:
        assert SECRET not in text
        assert token not in text
        assert "tok-other-secret" not in text


async def test_errors_pickle_across_processes(api: Api, client: DigipixClient) -> None:
    grant_tokens(api, "tok-1")
    api.post("/v1/orders", Response(500, json={"message": "boom"}))

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

    async def send(self, method: str, url: str, **_: Any) -> WireResponse:
        return WireResponse(200, {}, self.bodies[URL(url).path])

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
