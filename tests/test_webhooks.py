"""`digipix_async.webhooks`: parsing, the receiver's rules, and the aiohttp handler on loopback."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import pickle
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, suppress
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest
from aiohttp import web
from hypothesis import given, settings
from hypothesis import strategies as st

from digipix_async import (
    APIConnectionError,
    DigipixClient,
    DigipixError,
    OrderStatus,
    ValidationError,
    _retry,
)
from digipix_async.models import StatusNotification, TrackingItem
from digipix_async.testing import MockRequest, MockTransport, Response
from digipix_async.webhooks import (
    InvalidNotificationError,
    NotificationEvent,
    NotificationReceiver,
    Outcome,
    aiohttp_handler,
    notification_url,
    parse_notification,
)

# The two notification samples of spec/samples.md, byte for byte.
SAMPLE_PLAIN = b'{"id": "abc123", "status": "IN_MANUFACTURING"}'
SAMPLE_SHIPPED = b"""{"id": "tFN9mEXgro9feZ7Fjf61", "status": "SHIPPED", "customData": {"cart": "c-991"},
 "tracking_items": [{"code": "BR123456789BR", "url": "https://rastreamento.example.com/BR123456789BR", "carrier": "Correios"}]}"""  # noqa: E501

SECRET = "wh-s3cr3t-Zq9"
BASE = "http://digipix.test"


class Recorder:
    """A callback that records events, optionally failing or blocking."""

    def __init__(self, *, fail_times: int = 0) -> None:
        self.events: list[NotificationEvent] = []
        self.fail_times = fail_times
        self.calls = 0
        self.running = 0
        self.max_running = 0
        self.gate: asyncio.Event | None = None

    async def __call__(self, event: NotificationEvent) -> None:
        self.calls += 1
        self.running += 1
        self.max_running = max(self.max_running, self.running)
        try:
            if self.gate is not None:
                await self.gate.wait()
            if self.calls <= self.fail_times:
                raise RuntimeError(f"boom #{self.calls}")
            self.events.append(event)
        finally:
            self.running -= 1


def body(order_id: str = "o1", status: str = "SHIPPED", **extra: Any) -> bytes:
    return json.dumps({"id": order_id, "status": status, **extra}).encode()


def secret_leaked(caplog: pytest.LogCaptureFixture) -> bool:
    return any(
        SECRET in record.getMessage() or SECRET in str(record.args) for record in caplog.records
    )


# -- parse_notification ---------------------------------------------------------------


def test_the_plain_sample_parses() -> None:
    notification = parse_notification(SAMPLE_PLAIN)

    assert notification == StatusNotification("abc123", OrderStatus.IN_MANUFACTURING)
    assert notification.custom_data is None
    assert notification.tracking_items == ()


def test_the_shipped_sample_parses_with_tracking_and_custom_data() -> None:
    notification = parse_notification(SAMPLE_SHIPPED)

    assert notification.id == "tFN9mEXgro9feZ7Fjf61"
    assert notification.status is OrderStatus.SHIPPED
    assert notification.custom_data == {"cart": "c-991"}
    assert notification.tracking_items == (
        TrackingItem(
            code="BR123456789BR",
            url="https://rastreamento.example.com/BR123456789BR",
            carrier="Correios",
        ),
    )


def test_text_bytes_and_mapping_give_the_same_notification() -> None:
    as_bytes = parse_notification(SAMPLE_SHIPPED)

    assert parse_notification(SAMPLE_SHIPPED.decode()) == as_bytes
    assert parse_notification(json.loads(SAMPLE_SHIPPED)) == as_bytes


def test_unknown_status_and_fields_are_kept() -> None:
    notification = parse_notification(
        body(status="RETURNED_TO_SENDER", hint=1, tracking_items=[{"code": "X", "eta": "soon"}])
    )

    assert notification.status == "RETURNED_TO_SENDER"
    assert not notification.status.is_known
    assert notification.extra == {"hint": 1}
    assert notification.tracking_items[0].extra == {"eta": "soon"}


def test_null_tracking_items_and_custom_data_mean_absent() -> None:
    notification = parse_notification(body(tracking_items=None, customData=None))

    assert notification.tracking_items == ()
    assert notification.custom_data is None


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        (b"", "body is empty"),
        (b"  \n", "body is empty"),
        (b"{not json", "body is not JSON"),
        (b"\xff\xfe\x00", "body is not JSON"),
        (b'{"id": "a", "status": NaN}', "body is not JSON"),
        (b"[" * 100_000, "body is not JSON"),
        (b'["abc123", "SHIPPED"]', "body: expected a JSON object, got list"),
        (b"null", "body: expected a JSON object, got NoneType"),
        (b'{"status": "SHIPPED"}', "id: missing"),
        (b'{"id": null, "status": "SHIPPED"}', "id: missing"),
        (b'{"id": "", "status": "SHIPPED"}', "id: empty"),
        (b'{"id": 7, "status": "SHIPPED"}', "id: expected a string, got int"),
        (b'{"id": "a"}', "status: missing"),
        (b'{"id": "a", "status": " "}', "status: empty"),
        (b'{"id": "a", "status": ["SHIPPED"]}', "status: expected a string, got list"),
        (body(customData=[1]), "customData: expected a JSON object, got list"),
        (body(tracking_items="BR1"), "tracking_items: expected a JSON array, got str"),
        (body(tracking_items={"code": "BR1"}), "tracking_items: expected a JSON array, got dict"),
        (body(tracking_items=[1]), "tracking_items[0]: expected a JSON object, got int"),
        (body(tracking_items=[{"code": 5}]), "tracking_items[0].code: expected a string"),
    ],
)
def test_bad_input_names_the_problem(raw: bytes, problem: str) -> None:
    with pytest.raises(InvalidNotificationError) as caught:
        parse_notification(raw)

    assert str(caught.value).startswith(problem)
    assert caught.value.problem == str(caught.value)


def test_a_value_that_is_no_body_at_all_is_the_same_error() -> None:
    with pytest.raises(InvalidNotificationError, match="body: expected JSON bytes"):
        parse_notification(42)  # type: ignore[arg-type]


def test_the_error_is_a_digipix_error_and_a_value_error_that_pickles() -> None:
    with pytest.raises(InvalidNotificationError) as caught:
        parse_notification(b"{}")
    error = caught.value

    assert isinstance(error, DigipixError)
    assert isinstance(error, ValueError)
    assert str(pickle.loads(pickle.dumps(error))) == str(error)


def test_the_message_of_a_huge_bad_value_is_bounded() -> None:
    with pytest.raises(InvalidNotificationError) as caught:
        parse_notification(body(tracking_items=[{"code": ["x" * 10_000]}]))

    assert len(str(caught.value)) <= 200


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_raise_nothing_else(raw: bytes) -> None:
    with suppress(InvalidNotificationError):
        parse_notification(raw)


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(
    st.fixed_dictionaries(
        {},
        optional={
            "id": _json_values,
            "status": _json_values,
            "customData": _json_values,
            "tracking_items": _json_values | st.lists(st.dictionaries(
                st.sampled_from(["code", "url", "carrier", "x"]), _json_values), max_size=2),
        },
    )
)  # fmt: skip
def test_arbitrary_json_objects_raise_nothing_else(data: dict[str, Any]) -> None:
    for raw in (data, json.dumps(data)):
        try:
            notification = parse_notification(raw)
        except InvalidNotificationError:
            continue
        assert notification.id == data["id"]


# -- notification_url -----------------------------------------------------------------


def test_notification_url_adds_the_secret_and_keeps_other_parameters() -> None:
    url = notification_url("https://shop.example/digipix?shop=7&b=c+d#x", "s3 cr/t&=")

    parts = urlsplit(url)
    assert url.startswith("https://shop.example/digipix?shop=7&b=c+d&token=")
    assert parse_qs(parts.query)["token"] == ["s3 cr/t&="]
    assert parts.fragment == "x"


def test_notification_url_replaces_an_existing_secret_and_takes_another_name() -> None:
    url = notification_url("http://127.0.0.1:8080/hook?key=old&a=1", "new", param="key")

    assert url == "http://127.0.0.1:8080/hook?a=1&key=new"


@pytest.mark.parametrize(
    "url", ["ftp://shop.example/x", "shop.example/x", "http://", "http://[::1"]
)
def test_notification_url_refuses_what_is_not_http(url: str) -> None:
    with pytest.raises(ValidationError, match=r"^url: expected an http"):
        notification_url(url, SECRET)


def test_notification_url_refuses_an_empty_secret() -> None:
    with pytest.raises(ValidationError, match=r"^secret:"):
        notification_url("https://shop.example/x", "")


# -- the receiver, driven directly ----------------------------------------------------


async def test_a_notification_reaches_the_callback_and_answers_200() -> None:
    recorder = Recorder()
    receiver = NotificationReceiver(recorder)

    outcome = await receiver.handle(SAMPLE_SHIPPED, {})

    assert outcome == Outcome(200, "ok", parse_notification(SAMPLE_SHIPPED))
    assert outcome.ok
    [event] = recorder.events
    assert event.notification.custom_data == {"cart": "c-991"}
    assert (event.order_id, event.status, event.order) == (
        "tFN9mEXgro9feZ7Fjf61",
        OrderStatus.SHIPPED,
        None,
    )


async def test_a_malformed_body_answers_400_and_the_callback_never_runs() -> None:
    recorder = Recorder()
    receiver = NotificationReceiver(recorder)

    outcomes = [await receiver.handle(raw, {}) for raw in (b"", b"garbage", b"[]", b'{"id": "a"}')]

    assert [o.status for o in outcomes] == [400] * 4
    assert outcomes[3].reason == "invalid notification: status: missing"
    assert recorder.calls == 0


async def test_an_oversized_body_answers_413() -> None:
    recorder = Recorder()
    receiver = NotificationReceiver(recorder, max_body_size=64)

    outcome = await receiver.handle(body(customData={"pad": "x" * 64}), {})

    assert (outcome.status, outcome.reason) == (413, "body too large")
    assert recorder.calls == 0


@pytest.mark.parametrize(
    ("query", "status", "reason"),
    [
        ({}, 401, "missing secret"),
        ({"token": ""}, 401, "missing secret"),
        ({"token": "guess"}, 403, "wrong secret"),
        ({"token": SECRET + "x"}, 403, "wrong secret"),
        ({"token": "sécret-ü"}, 403, "wrong secret"),  # non-ASCII must not crash compare_digest
        ({"secret": SECRET}, 401, "missing secret"),
        ({"token": SECRET}, 200, "ok"),
    ],
)
async def test_the_secret_is_checked_before_the_body(
    query: dict[str, str], status: int, reason: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="digipix_async")
    recorder = Recorder()
    receiver = NotificationReceiver(recorder, secret=SECRET)

    outcome = await receiver.handle(SAMPLE_PLAIN, query)
    garbage = await receiver.handle(b"\x00garbage" * 10**5, query)

    assert (outcome.status, outcome.reason) == (status, reason)
    # A refused request's garbage body is never parsed: the same refusal, not 400/413.
    assert garbage.status == (status if status != 200 else 413)
    assert recorder.calls == (1 if status == 200 else 0)
    assert not secret_leaked(caplog)
    assert SECRET not in repr(receiver)


async def test_another_parameter_name_carries_the_secret() -> None:
    receiver = NotificationReceiver(Recorder(), secret=SECRET, secret_param="k")

    assert (await receiver.handle(SAMPLE_PLAIN, {"k": SECRET})).status == 200
    assert (await receiver.handle(SAMPLE_PLAIN, {"token": SECRET})).status == 401


async def test_a_failing_callback_answers_500_logs_and_keeps_the_secret_out(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="digipix_async")
    recorder = Recorder(fail_times=1)
    receiver = NotificationReceiver(recorder, secret=SECRET)

    failed = await receiver.handle(SAMPLE_SHIPPED, {"token": SECRET})
    retried = await receiver.handle(SAMPLE_SHIPPED, {"token": SECRET})

    assert (failed.status, failed.reason) == (500, "callback failed")
    assert (retried.status, retried.reason) == (200, "ok")
    assert recorder.calls == 2
    assert len(recorder.events) == 1
    [error] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert error.name == "digipix_async"
    assert error.exc_info is not None
    assert str(error.exc_info[1]) == "boom #1"
    assert "tFN9mEXgro9feZ7Fjf61" in error.getMessage()
    assert not secret_leaked(caplog)


async def test_a_duplicate_is_acknowledged_without_running_the_callback_again() -> None:
    recorder = Recorder()
    receiver = NotificationReceiver(recorder)

    first = await receiver.handle(body("o1", "SHIPPED"), {})
    again = await receiver.handle(body("o1", "shipped"), {})  # the same status, other case
    next_step = await receiver.handle(body("o1", "DELIVERED"), {})

    assert [first.reason, again.reason, next_step.reason] == [
        "ok",
        "duplicate: already handled",
        "ok",
    ]
    assert again.status == 200
    assert [e.status for e in recorder.events] == [OrderStatus.SHIPPED, OrderStatus.DELIVERED]


async def test_the_dedupe_memory_is_a_bounded_lru() -> None:
    recorder = Recorder()
    receiver = NotificationReceiver(recorder, dedupe_size=2)

    for order_id in ("a", "b", "a", "c", "a", "b"):
        await receiver.handle(body(order_id), {})

    # "a" stays (used recently), "b" is evicted by "c" and runs again.
    assert [e.order_id for e in recorder.events] == ["a", "b", "c", "b"]


async def test_dedupe_size_0_remembers_nothing() -> None:
    recorder = Recorder()
    receiver = NotificationReceiver(recorder, dedupe_size=0)

    for _ in range(3):
        await receiver.handle(SAMPLE_PLAIN, {})

    assert recorder.calls == 3


async def test_concurrent_duplicates_run_the_callback_once() -> None:
    recorder = Recorder()
    recorder.gate = asyncio.Event()
    receiver = NotificationReceiver(recorder)

    tasks = [asyncio.create_task(receiver.handle(SAMPLE_SHIPPED, {})) for _ in range(5)]
    await asyncio.sleep(0.01)
    assert not any(task.done() for task in tasks)  # nobody answers before the callback ended
    recorder.gate.set()
    outcomes = await asyncio.gather(*tasks)

    assert recorder.calls == 1
    assert sorted(o.reason for o in outcomes) == ["duplicate: already handled"] * 4 + ["ok"]


async def test_a_concurrent_duplicate_of_a_failed_try_runs_it_again_but_not_in_parallel() -> None:
    recorder = Recorder(fail_times=1)
    recorder.gate = asyncio.Event()
    receiver = NotificationReceiver(recorder)

    first = asyncio.create_task(receiver.handle(SAMPLE_SHIPPED, {}))
    second = asyncio.create_task(receiver.handle(SAMPLE_SHIPPED, {}))
    await asyncio.sleep(0.01)
    recorder.gate.set()

    assert [(await first).status, (await second).status] == [500, 200]
    assert recorder.calls == 2
    assert recorder.max_running == 1
    assert (await receiver.handle(SAMPLE_SHIPPED, {})).reason == "duplicate: already handled"


async def test_a_cancelled_handler_releases_its_waiters() -> None:
    recorder = Recorder()
    recorder.gate = asyncio.Event()
    receiver = NotificationReceiver(recorder)

    first = asyncio.create_task(receiver.handle(SAMPLE_PLAIN, {}))
    second = asyncio.create_task(receiver.handle(SAMPLE_PLAIN, {}))
    await asyncio.sleep(0.01)
    first.cancel()
    await asyncio.sleep(0.01)
    recorder.gate.set()

    assert (await second).reason == "ok"
    with pytest.raises(asyncio.CancelledError):
        await first


def test_bad_receiver_options_are_refused() -> None:
    with pytest.raises(ValueError, match="secret"):
        NotificationReceiver(Recorder(), secret="")
    with pytest.raises(ValueError, match="max_body_size"):
        NotificationReceiver(Recorder(), max_body_size=0)
    with pytest.raises(ValueError, match="dedupe_size"):
        NotificationReceiver(Recorder(), dedupe_size=-1)
    with pytest.raises(TypeError):
        NotificationReceiver("not callable")  # type: ignore[arg-type]


# -- verification against a mocked API ------------------------------------------------


class Api:
    """The API a receiver verifies against: a token, then order answers queued per path,
    each used once, in order.

    The receiver turns any failure to verify into a 503, so a request the test did
    not expect is also written down in ``unexpected``, which the fixture checks is
    empty, as it checks that every queued answer was used.
    """

    def __init__(self) -> None:
        self.queues: dict[str, list[Response | Exception]] = {}
        self.unexpected: list[str] = []
        self.mock = MockTransport(self.answer)

    def answer(self, request: MockRequest) -> Response:
        if (request.method, request.path) == ("POST", "/v1/oauth/token"):
            return Response(200, json={"access_token": "tok", "token_type": "Bearer",
                                       "expires_in": 3600})  # fmt: skip
        queue = self.queues.get(request.path)
        if request.method != "GET" or request.headers.get("Authorization") != "Bearer tok":
            self.unexpected.append(f"{request!r} without the token")
        elif not queue:
            self.unexpected.append(f"{request!r}: no answer queued")
        if self.unexpected:
            raise AssertionError(self.unexpected[-1])
        assert queue is not None
        answer = queue.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    def get(self, path: str, *answers: Response | Exception) -> None:
        self.queues.setdefault(path, []).extend(answers)


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> Iterator[Api]:
    # No sockets here: any connection attempt (aiohttp's goes through the loop) fails.
    async def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a MockTransport test tried to connect")

    monkeypatch.setattr(asyncio.BaseEventLoop, "create_connection", refuse)
    monkeypatch.setattr(asyncio.BaseEventLoop, "getaddrinfo", refuse)
    _retry.set_testing(True)
    api = Api()
    yield api
    _retry.set_testing(False)
    assert api.unexpected == []
    assert {path: queue for path, queue in api.queues.items() if queue} == {}, "answers unused"


@pytest.fixture
async def client(api: Api) -> AsyncIterator[DigipixClient]:
    async with DigipixClient(
        "abc123", "cl13nt", base_url=BASE, max_retries=0, transport=api.mock
    ) as client:
        yield client


def order_json(order_id: str, status: str) -> dict[str, Any]:
    return {"id": order_id, "status": status, "customData": {"cart": "c-991"}, "total": 43.49}


async def test_a_verified_notification_hands_the_callback_the_real_order(
    api: Api, client: DigipixClient
) -> None:
    api.get(
        "/v1/orders/tFN9mEXgro9feZ7Fjf61",
        Response(200, json=order_json("tFN9mEXgro9feZ7Fjf61", "SHIPPED")),
    )
    recorder = Recorder()
    receiver = NotificationReceiver(recorder, verify_with=client)

    outcome = await receiver.handle(SAMPLE_SHIPPED, {})

    assert (outcome.status, outcome.reason) == (200, "ok")
    [event] = recorder.events
    assert event.order is not None
    assert event.order is outcome.order
    assert event.order.status is OrderStatus.SHIPPED
    assert str(event.order.total) == "43.49"


async def test_a_status_not_reached_is_acknowledged_but_never_reaches_the_callback(
    api: Api, client: DigipixClient
) -> None:
    api.get(
        "/v1/orders/tFN9mEXgro9feZ7Fjf61",
        Response(200, json=order_json("tFN9mEXgro9feZ7Fjf61", "IN_MANUFACTURING")),
        Response(200, json=order_json("tFN9mEXgro9feZ7Fjf61", "SHIPPED")),
    )
    recorder = Recorder()
    # refusal_ttl=0: every post is verified again (the memory of refusals has its own tests).
    receiver = NotificationReceiver(recorder, verify_with=client, refusal_ttl=0)

    forged = await receiver.handle(SAMPLE_SHIPPED, {})
    genuine = await receiver.handle(SAMPLE_SHIPPED, {})  # later, when it is really shipped

    assert (forged.status, forged.reason) == (200, "ignored: status mismatch")
    assert forged.order is not None
    assert forged.order.status is OrderStatus.IN_MANUFACTURING
    # Ignoring does not mark (id, status) handled: the genuine one still gets through.
    assert genuine.reason == "ok"
    assert len(recorder.events) == 1


@pytest.mark.parametrize(
    ("order_status", "late"),
    [("IN_MANUFACTURING", False), ("SHIPPED", True), ("DELIVERED", True)],
)
async def test_a_step_the_order_has_passed_is_delivered_with_the_order_as_it_is_now(
    api: Api, client: DigipixClient, order_status: str, late: bool
) -> None:
    api.get("/v1/orders/abc123", Response(200, json=order_json("abc123", order_status)))
    recorder = Recorder()
    receiver = NotificationReceiver(recorder, verify_with=client)

    outcome = await receiver.handle(SAMPLE_PLAIN, {})  # IN_MANUFACTURING

    assert (outcome.status, outcome.reason) == (200, "ok")
    [event] = recorder.events
    # The step notified, as the sender posted it, and the order as the API has it now.
    assert event.status is OrderStatus.IN_MANUFACTURING
    assert event.notification == parse_notification(SAMPLE_PLAIN)
    assert event.order is not None
    assert event.order.status == order_status
    assert event.late is late
    assert (await receiver.handle(SAMPLE_PLAIN, {})).reason == "duplicate: already handled"


async def test_a_late_shipped_step_keeps_its_own_tracking_codes(
    api: Api, client: DigipixClient
) -> None:
    api.get(
        "/v1/orders/tFN9mEXgro9feZ7Fjf61",
        Response(200, json=order_json("tFN9mEXgro9feZ7Fjf61", "DELIVERED")),
    )
    recorder = Recorder()
    receiver = NotificationReceiver(recorder, verify_with=client)

    outcome = await receiver.handle(SAMPLE_SHIPPED, {})

    assert outcome.reason == "ok"
    [event] = recorder.events
    assert (event.status, event.late) == (OrderStatus.SHIPPED, True)
    assert event.order is not None
    assert event.order.status is OrderStatus.DELIVERED
    assert [t.code for t in event.notification.tracking_items] == ["BR123456789BR"]


@pytest.mark.parametrize(
    ("order_status", "notified"),
    [
        ("APPROVED", "IN_MANUFACTURING"),
        ("IN_MANUFACTURING", "DELIVERED"),
        ("SHIPPED", "DELIVERED"),
        ("QUOTE", "APPROVED"),
        ("DELIVERED", "CANCELED"),  # CANCELED is no step on the way to DELIVERED
        ("CANCELED", "APPROVED"),  # canceled from QUOTE or APPROVED: which one is unknown
        ("CANCELED", "SHIPPED"),
        ("SHIPPED", "NEW"),  # where NEW sits in the life cycle is not documented
        ("DELIVERED", "RETURNED"),  # a status this SDK does not know
    ],
)
async def test_only_a_status_the_order_has_not_reached_is_refused(
    api: Api, client: DigipixClient, order_status: str, notified: str
) -> None:
    api.get("/v1/orders/abc123", Response(200, json=order_json("abc123", order_status)))
    recorder = Recorder()
    receiver = NotificationReceiver(recorder, verify_with=client)

    outcome = await receiver.handle(body("abc123", notified), {})

    assert (outcome.status, outcome.reason) == (200, "ignored: status mismatch")
    assert recorder.calls == 0


async def test_an_unknown_order_is_ignored(api: Api, client: DigipixClient) -> None:
    api.get("/v1/orders/abc123", Response(404, json={"message": "order not found"}))
    recorder = Recorder()
    receiver = NotificationReceiver(recorder, verify_with=client)

    outcome = await receiver.handle(SAMPLE_PLAIN, {})

    assert (outcome.status, outcome.reason) == (200, "ignored: unknown order")
    assert recorder.calls == 0


async def test_an_order_coming_back_under_another_id_is_ignored(
    api: Api, client: DigipixClient
) -> None:
    api.get("/v1/orders/abc123", Response(200, json=order_json("zzz", "IN_MANUFACTURING")))
    recorder = Recorder()

    outcome = await NotificationReceiver(recorder, verify_with=client).handle(SAMPLE_PLAIN, {})

    assert outcome.reason == "ignored: unknown order"
    assert recorder.calls == 0


@pytest.mark.parametrize(
    "failure",
    [Response(500, body=""), Response(503, body=""), Response(200, body="not json")],
    ids=["500", "503", "not-json"],
)
async def test_an_api_failure_while_verifying_answers_503_so_the_sender_retries(
    api: Api, client: DigipixClient, failure: Response
) -> None:
    api.get(
        "/v1/orders/abc123",
        failure,
        Response(200, json=order_json("abc123", "IN_MANUFACTURING")),
    )
    recorder = Recorder()
    receiver = NotificationReceiver(recorder, verify_with=client)

    failed = await receiver.handle(SAMPLE_PLAIN, {})
    retried = await receiver.handle(SAMPLE_PLAIN, {})

    assert (failed.status, failed.reason) == (503, "verification failed, try again later")
    assert retried.reason == "ok"
    assert recorder.calls == 1


async def test_a_connection_failure_while_verifying_answers_503(
    api: Api, client: DigipixClient
) -> None:
    # What AiohttpTransport makes of aiohttp.ClientConnectionError("refused").
    api.get("/v1/orders/abc123", APIConnectionError("ClientConnectionError: refused"))
    recorder = Recorder()

    outcome = await NotificationReceiver(recorder, verify_with=client).handle(SAMPLE_PLAIN, {})

    assert outcome.status == 503
    assert recorder.calls == 0


# -- the aiohttp handler on a loopback socket -----------------------------------------


@asynccontextmanager
async def serve(handler: Any) -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_post("/digipix", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        yield f"http://127.0.0.1:{runner.addresses[0][1]}/digipix"
    finally:
        await runner.cleanup()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        yield session


async def post(http: aiohttp.ClientSession, url: str, data: Any, **kwargs: Any) -> tuple[int, str]:
    async with http.post(url, data=data, **kwargs) as response:
        return response.status, await response.text()


async def test_the_aiohttp_handler_answers_every_case_and_keeps_serving(
    http: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    recorder = Recorder(fail_times=1)
    handler = aiohttp_handler(recorder, secret=SECRET, max_body_size=1024)
    async with serve(handler) as base:
        good = notification_url(base, SECRET)
        answers = [
            await post(http, base, SAMPLE_PLAIN),
            await post(http, notification_url(base, "nope"), SAMPLE_PLAIN),
            await post(http, good, b"{garbage"),
            await post(http, good, b"x" * 2048),
            await post(http, good, SAMPLE_SHIPPED),  # the callback raises
            await post(http, good, SAMPLE_SHIPPED, headers={"Content-Type": "text/plain"}),
            await post(http, good, SAMPLE_SHIPPED),
        ]

    assert answers == [
        (401, "missing secret"),
        (403, "wrong secret"),
        (400, "invalid notification: body is not JSON: Expecting property name enclosed "
              "in double quotes: line 1 column 2 (char 1)"),
        (413, "body too large"),
        (500, "callback failed"),
        (200, "ok"),
        (200, "duplicate: already handled"),
    ]  # fmt: skip
    assert [e.status for e in recorder.events] == [OrderStatus.SHIPPED]
    assert not secret_leaked(caplog)


async def test_a_chunked_body_over_the_limit_is_cut_off_with_413(
    http: aiohttp.ClientSession,
) -> None:
    recorder = Recorder()

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"id": "o1", "status": "SHIPPED", "pad": "'
        for _ in range(64):
            yield b"x" * 1024
        yield b'"}'

    async with serve(aiohttp_handler(recorder, max_body_size=1024)) as base:
        answer = await post(http, base, chunks())
        after = await post(http, base, SAMPLE_PLAIN)

    assert answer == (413, "body too large")
    assert after == (200, "ok")
    assert recorder.calls == 1


async def test_a_huge_declared_body_is_refused_without_reading_it(
    http: aiohttp.ClientSession,
) -> None:
    recorder = Recorder()
    async with serve(aiohttp_handler(recorder)) as base:
        # BytesIO: aiohttp warns that a large bytes body blocks the loop.
        answer = await post(http, base, io.BytesIO(b"[" * (3 * 1024 * 1024)))
        after = await post(http, base, SAMPLE_PLAIN)

    assert answer == (413, "body too large")
    assert after == (200, "ok")


async def test_a_body_exactly_at_the_limit_is_accepted(http: aiohttp.ClientSession) -> None:
    recorder = Recorder()
    async with serve(aiohttp_handler(recorder, max_body_size=len(SAMPLE_SHIPPED))) as base:
        answer = await post(http, base, SAMPLE_SHIPPED)

    assert answer == (200, "ok")


async def test_the_aiohttp_handler_can_share_a_receiver(http: aiohttp.ClientSession) -> None:
    recorder = Recorder()
    receiver = NotificationReceiver(recorder)
    async with serve(aiohttp_handler(receiver)) as base:
        await post(http, base, SAMPLE_PLAIN)

    assert (await receiver.handle(SAMPLE_PLAIN, {})).reason == "duplicate: already handled"
    with pytest.raises(TypeError, match="not both"):
        aiohttp_handler(receiver, secret=SECRET)


# -- the module's shape ----------------------------------------------------------------


def test_all_is_sorted_and_complete() -> None:
    import digipix_async.webhooks as webhooks

    public = {name for name in vars(webhooks) if name.isidentifier() and name[0] != "_"}
    assert webhooks.__all__ == sorted(webhooks.__all__)
    assert public - set(webhooks.__all__) == set()


@pytest.mark.parametrize("module", ["_events", "_parse", "_receiver", "_store", "_verify"])
def test_only_the_adapter_imports_aiohttp(module: str) -> None:
    import ast
    import importlib

    source = importlib.import_module(f"digipix_async.webhooks.{module}").__file__
    assert source is not None
    with open(source, encoding="utf-8") as file:
        tree = ast.parse(file.read())
    imported = {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    imported |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert not {name for name in imported if name.split(".")[0] == "aiohttp"}
