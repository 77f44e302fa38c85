"""`SandboxServer(rate_limit_rps=N, max_concurrent=M)`: 429s with Retry-After, as a real API."""

from __future__ import annotations

import asyncio
import math
from typing import Any

import aiohttp
import pytest

from digipix_async.sandbox import SandboxServer
from digipix_async.sandbox._limits import Limits

QUOTE = {"zipCode": "01311100", "items": [{"productId": "mug", "quantity": 1}]}


async def _quote(api: Any) -> tuple[int, dict[str, str], Any]:
    headers = {"Authorization": f"Bearer {api.token}", "Content-Type": "application/json"}
    url = f"{api.sandbox.base_url}/v1/quote"
    async with api.http.post(url, json=QUOTE, headers=headers) as response:
        return response.status, dict(response.headers), await response.json()


async def test_a_burst_of_2n_gets_n_accepted_and_429s_with_retry_after(make_api: Any) -> None:
    rate = 10
    async with SandboxServer(rate_limit_rps=rate) as sandbox:
        api = await make_api(sandbox)
        loop = asyncio.get_running_loop()
        started = loop.time()
        answers = await asyncio.gather(*(_quote(api) for _ in range(2 * rate)))
        elapsed = loop.time() - started

        statuses = [status for status, _, _ in answers]
        accepted = statuses.count(200)
        # The bucket holds N; while the burst lasts it refills at N per second.
        assert rate <= accepted <= rate + math.ceil(elapsed * rate)
        assert statuses.count(429) == 2 * rate - accepted > 0
        for status, headers, body in answers:
            if status == 429:
                # Whole seconds, at least 1: an empty bucket of 10/s refills one in 0.1 s.
                assert headers["Retry-After"] == "1"
                assert "rate limit" in body["message"]
        assert sandbox.limits.refused_rate == sandbox.limits.refused == 2 * rate - accepted
        assert sandbox.request_count("POST", "/v1/quote") == 2 * rate  # refused ones count

        await asyncio.sleep(1.0)  # the Retry-After the server named
        assert (await _quote(api))[0] == 200


async def test_retry_after_is_the_time_until_a_token_rounded_up(make_api: Any) -> None:
    async with SandboxServer(rate_limit_rps=0.25) as sandbox:  # one request per 4 s
        api = await make_api(sandbox)
        assert (await _quote(api))[0] == 200
        status, headers, _ = await _quote(api)
        assert status == 429
        assert headers["Retry-After"] in ("4", "3")  # 4 s minus what the first call took


async def test_the_token_endpoint_is_exempt(make_api: Any, http: aiohttp.ClientSession) -> None:
    async with SandboxServer(rate_limit_rps=1, max_concurrent=1) as sandbox:
        api = await make_api(sandbox)
        assert (await _quote(api))[0] == 200
        assert (await _quote(api))[0] == 429
        tokens = await asyncio.gather(*(api.get_token() for _ in range(5)))
        assert len(set(tokens)) == 5
        assert sandbox.token_requests == 6
        assert sandbox.limits.refused == 1


async def test_requests_without_a_valid_token_are_refused_401_not_counted(
    http: aiohttp.ClientSession,
) -> None:
    async with SandboxServer(rate_limit_rps=1) as sandbox:
        for _ in range(3):
            async with http.get(f"{sandbox.base_url}/v1/orders/x") as response:
                assert response.status == 401
        assert sandbox.limits.refused == 0


async def test_max_concurrent_serves_m_at_a_time(make_api: Any) -> None:
    async with SandboxServer(max_concurrent=3) as sandbox:
        api = await make_api(sandbox)
        # Each request stays in flight 0.3 s, so 8 sent at once meet a full server.
        sandbox.faults.add("latency", seconds=0.3, path="/v1/quote")
        answers = await asyncio.gather(*(_quote(api) for _ in range(8)))

        statuses = sorted(status for status, _, _ in answers)
        assert statuses == [200] * 3 + [429] * 5
        for status, headers, body in answers:
            if status == 429:
                assert headers["Retry-After"] == "1"
                assert "at most 3" in body["message"]
        assert sandbox.limits.refused_concurrent == 5
        assert sandbox.limits.peak_in_flight == 3
        assert sandbox.limits.in_flight == 0
        assert sandbox.limits.accepted == 3
        assert (await _quote(api))[0] == 200  # room again once they are answered


async def test_a_client_hanging_up_frees_its_slot(make_api: Any) -> None:
    async with SandboxServer(max_concurrent=1) as sandbox:
        api = await make_api(sandbox)
        sandbox.faults.add("latency", seconds=0.5, path="/v1/quote", times=1)
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.1):
                await _quote(api)
        for _ in range(50):  # the handler finishes its sleep, then leaves
            if sandbox.limits.in_flight == 0:
                break
            await asyncio.sleep(0.05)
        assert sandbox.limits.in_flight == 0
        assert (await _quote(api))[0] == 200


def test_bucket_arithmetic_with_a_fake_clock() -> None:
    limits = Limits(rate_limit_rps=4)
    assert [limits.retry_after_rate("c", 100.0) for _ in range(4)] == [None] * 4
    assert limits.retry_after_rate("c", 100.0) == 1  # 0.25 s to the next token: 1
    assert limits.retry_after_rate("other", 100.0) is None  # one bucket per client id
    assert limits.retry_after_rate("c", 100.25) is None  # refilled one
    assert limits.retry_after_rate("c", 200.0) is None  # bursts are capped at N...
    assert [limits.retry_after_rate("c", 200.0) for _ in range(4)] == [None, None, None, 1]
    slow = Limits(rate_limit_rps=0.1)
    assert slow.retry_after_rate("c", 0.0) is None
    assert slow.retry_after_rate("c", 1.0) == 9  # 10 s per token, 1 s gone: 9 s left
    assert (limits.refused_rate, slow.refused_rate) == (2, 1)


def test_observed_rate_counts_per_whole_second() -> None:
    limits = Limits()
    for now in (10.1, 10.5, 10.9, 11.0, 12.5, 12.6):
        limits.count_accepted(now)
    assert (limits.accepted, limits.peak_rps) == (6, 3)


@pytest.mark.parametrize(
    "kwargs", [{"rate_limit_rps": 0}, {"rate_limit_rps": float("nan")}, {"max_concurrent": 0}]
)
def test_limits_refuse_nonsense(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        SandboxServer(**kwargs)


async def test_arrivals_tell_when_requests_came(api: Any) -> None:
    loop = asyncio.get_running_loop()
    before = loop.time()
    await api.call("GET", "/v1/orders/a")
    await asyncio.sleep(0.2)
    middle = loop.time()
    await api.call("GET", "/v1/orders/b")
    await api.call("GET", "/v1/products")
    (first, second) = api.sandbox.arrivals("GET", "/v1/orders/{orderId}")
    assert before <= first < middle <= second <= loop.time()
    assert len(api.sandbox.arrivals("GET", "/v1/products")) == 1
    assert len(api.sandbox.arrivals()) == 4  # the token request too
    assert api.sandbox.arrivals() == sorted(api.sandbox.arrivals())
