"""RedisStore on a real redis-server: a fleet of processes, outages, slowness, secrets."""

from __future__ import annotations

import asyncio
import gc
import inspect
import json
import logging
import pathlib
import subprocess
import sys
import threading
import time
import warnings

import pytest
import redis.asyncio
from redis_process import RedisServer

from digipix_async.stores import RedisStore, namespace_for

WORKER = pathlib.Path(__file__).with_name("store_worker.py")
NS = namespace_for("client-1", "https://api.digipix.example/v1", ["orders", "quotes"])


def store_records(caplog: pytest.LogCaptureFixture, level: int) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "digipix_async" and r.levelno == level]


async def test_four_processes_share_one_budget_and_one_lock(redis_url: str) -> None:
    workers = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            str(WORKER),
            redis_url,
            NS,
            "4",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        for _ in range(4)
    ]
    results = []
    for worker in workers:
        async with asyncio.timeout(180):
            out, err = await worker.communicate()
        assert worker.returncode == 0, err.decode()
        results.append(json.loads(out))
    assert sum(r["taken"] for r in results) == 20  # the burst, across 200 takes in 4 processes
    assert sum(r["locks"] for r in results) == 1


async def test_redis_killed_mid_run_answers_from_memory_then_comes_back(
    own_redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="digipix_async")
    store = RedisStore(own_redis_server.url, timeout=0.5, probe_interval=0.2)
    admin = redis.asyncio.Redis.from_url(own_redis_server.url, decode_responses=True)
    try:
        await store.set_token(NS, "tok-1", time.time() + 3600)
        await store.pause_until(NS, time.time() + 60)
        assert await admin.get(f"digipix:{NS}:token") == "tok-1"

        own_redis_server.stop()
        # Nothing raises; what this process knew is still known.
        assert (await store.get_token(NS) or ("",))[0] == "tok-1"
        assert await store.paused_until(NS) > time.time()
        assert await store.take_rate_token(NS, 10, 10) == 0.0
        assert await store.acquire_refresh_lock(NS, "me", 30)
        assert not await store.acquire_refresh_lock(NS, "other", 30)
        assert await store.claim_notification("n1", pending_ttl=30) == "claimed"
        await asyncio.gather(*(store.take_rate_token(NS, 10, 10) for _ in range(50)))
        await store.finish_notification("n1", ttl=60)
        assert await store.claim_notification("n1", pending_ttl=30) == "done"
        warnings = store_records(caplog, logging.WARNING)
        assert len(warnings) == 1
        assert "using this process's memory" in warnings[0].getMessage()

        own_redis_server.start()  # same port, empty (no persistence)
        await admin.aclose()
        admin = redis.asyncio.Redis.from_url(own_redis_server.url, decode_responses=True)
        deadline = time.monotonic() + 10
        while await admin.get(f"digipix:{NS}:token") is None:
            assert time.monotonic() < deadline, "the store never went back to Redis"
            await asyncio.sleep(0.05)
            await store.set_token(NS, "tok-2", time.time() + 3600)
        infos = [r for r in store_records(caplog, logging.INFO) if "back in Redis" in r.msg]
        assert len(infos) == 1
        # Every operation is on Redis again: the lock is the fleet's, not this process's.
        assert await store.acquire_refresh_lock(NS, "other", 30)
        assert await admin.get(f"digipix:{NS}:refresh-lock") == "other"
        assert len(store_records(caplog, logging.WARNING)) == 1
    finally:
        await store.aclose()
        await admin.aclose()


async def test_a_slow_redis_is_bounded_by_the_timeout(
    own_redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    store = RedisStore(own_redis_server.url, timeout=0.2, probe_interval=0.2)
    admin = redis.asyncio.Redis.from_url(own_redis_server.url, socket_timeout=10)
    try:
        await store.set_token(NS, "tok-1", time.time() + 3600)
        sleeper = asyncio.create_task(admin.execute_command("DEBUG", "SLEEP", "2.5"))
        await asyncio.sleep(0.1)  # let the server start sleeping
        token = await store.get_token(NS)
        waits = await asyncio.gather(*(store.take_rate_token(NS, 0.001, 5) for _ in range(10)))
        # Answered from memory while the server still slept.
        assert not sleeper.done()
        assert (token or ("",))[0] == "tok-1"
        assert waits.count(0.0) == 5
        assert len(store_records(caplog, logging.WARNING)) == 1
        await sleeper
        # Awake again: the next probe reads Redis, and reads it right (the calls
        # cut off by the timeout left no stray reply on a pooled connection).
        await admin.set(f"digipix:{NS}:token", "tok-from-redis", px=60_000)
        deadline = time.monotonic() + 10
        while (await store.get_token(NS) or ("",))[0] != "tok-from-redis":
            assert time.monotonic() < deadline, "the store never went back to Redis"
            await asyncio.sleep(0.05)
        assert await store.take_rate_token(NS, 0.001, 5) == 0.0  # Redis' bucket is untouched
        assert await store.claim_notification("n1", pending_ttl=30) == "claimed"
        claim = await admin.get("digipix:notification:n1")
        assert claim.startswith(b"pending:")  # this worker's own claim
    finally:
        await store.aclose()
        await admin.aclose()


async def test_the_secret_is_in_no_key_and_no_value(
    redis_url: str, admin: redis.asyncio.Redis
) -> None:
    secret = "sk_live_5d1c6e0f-not-in-redis"
    # The client derives its namespace from what identifies its tokens; the
    # secret is not a parameter, so it cannot end up in a key.
    assert list(inspect.signature(namespace_for).parameters) == ["client_id", "base_url", "scopes"]
    namespace = namespace_for("client-1", "https://api.digipix.example/v1", ["quotes"])
    store = RedisStore(redis_url)
    try:
        await store.set_token(namespace, "access-token-value", time.time() + 3600)
        await store.acquire_refresh_lock(namespace, "owner-1", 30)
        await store.pause_until(namespace, time.time() + 60)
        await store.take_rate_token(namespace, 10, 10)
        await store.claim_notification("order-1:shipped", pending_ttl=30)
    finally:
        await store.aclose()
    keys = await admin.keys("*")
    assert len(keys) == 5
    dump = []
    for key in keys:
        assert key.startswith("digipix:")
        assert "client-1" not in key  # the identity is hashed too
        if await admin.type(key) == "hash":
            dump.append(json.dumps(await admin.hgetall(key)))
        else:
            dump.append(await admin.get(key))
    assert all(secret not in text for text in [*keys, *dump])


def test_namespace_for_names_one_identity() -> None:
    base = namespace_for("client-1", "https://api.digipix.example/v1", ["orders", "quotes"])
    same = namespace_for("client-1", "HTTPS://API.digipix.example/v1/", ["quotes", "orders"])
    assert base == same
    assert base != namespace_for("client-2", "https://api.digipix.example/v1", ["orders", "quotes"])
    assert base != namespace_for("client-1", "https://sandbox.digipix.example/v1", ["orders"])
    assert base != namespace_for("client-1", "https://api.digipix.example/v1", ["orders"])
    with pytest.raises(TypeError, match="scopes"):
        namespace_for("client-1", "https://api.digipix.example/v1", "orders")


async def test_a_borrowed_client_stays_open(redis_url: str) -> None:
    client = redis.asyncio.Redis.from_url(redis_url)
    store = RedisStore(client)
    await store.set_token(NS, "tok-1", time.time() + 3600)
    await store.aclose()
    assert await client.get(f"digipix:{NS}:token") == b"tok-1"
    await client.aclose()


async def test_an_owned_client_is_closed(redis_url: str, admin: redis.asyncio.Redis) -> None:
    before = len(await admin.client_list())
    store = RedisStore(redis_url)
    await asyncio.gather(*(store.take_rate_token(NS, 100, 100) for _ in range(10)))
    assert len(await admin.client_list()) > before
    await store.aclose()
    deadline = time.monotonic() + 5
    while len(await admin.client_list()) > before:
        assert time.monotonic() < deadline, "the store left connections open"
        await asyncio.sleep(0.02)
    with pytest.raises(RuntimeError, match="closed"):
        await store.get_token(NS)


async def test_a_password_in_the_url_shows_nowhere(caplog: pytest.LogCaptureFixture) -> None:
    # A port nothing listens on: the store falls back and logs why.
    store = RedisStore("redis://app:hunter2-password@127.0.0.1:9/0", timeout=0.2)
    try:
        assert await store.get_token(NS) is None
        assert "hunter2" not in repr(store)
        assert len(store_records(caplog, logging.WARNING)) == 1
        assert "hunter2" not in caplog.text
    finally:
        await store.aclose()


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match=r"^timeout "):
        RedisStore("redis://127.0.0.1:9", timeout=0)
    with pytest.raises(ValueError, match=r"^max_connections "):
        RedisStore("redis://127.0.0.1:9", max_connections=0)
    with pytest.raises(TypeError, match="url_or_client"):
        RedisStore(6379)  # type: ignore[arg-type]


def test_the_package_imports_without_redis() -> None:
    code = (
        "import sys\n"
        "sys.modules['redis'] = None\n"  # what an environment without the extra sees
        "import digipix_async.stores as s\n"
        "try:\n"
        "    s.RedisStore('redis://127.0.0.1:9')\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=180, check=True
    )
    assert "digipix_async[redis]" in out.stdout
    plain = subprocess.run(
        [sys.executable, "-c", "import sys, digipix_async.stores; print('redis' in sys.modules)"],
        capture_output=True,
        text=True,
        timeout=180,
        check=True,
    )
    assert plain.stdout.strip() == "False"


def test_an_owned_client_follows_its_user_from_loop_to_loop(redis_server: RedisServer) -> None:
    # A bot that calls asyncio.run twice with one module-level store.
    store = RedisStore(redis_server.url, timeout=5.0)

    async def use(token: str) -> tuple[str, float] | None:
        await store.set_token(NS, token, time.time() + 3600)
        return await store.get_token(NS)

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an "unclosed" connection would fail the test
        assert (asyncio.run(use("tok-1")) or ("",))[0] == "tok-1"
        assert (asyncio.run(use("tok-2")) or ("",))[0] == "tok-2"
        asyncio.run(store.aclose())
        gc.collect()


async def test_a_store_serves_one_running_loop_at_a_time(redis_url: str) -> None:
    store = RedisStore(redis_url, timeout=5.0)
    try:
        await store.take_rate_token(NS, 10, 10)  # bound to this test's running loop
        errors: list[BaseException] = []

        def in_another_thread() -> None:
            try:
                asyncio.run(store.take_rate_token(NS, 10, 10))
            except RuntimeError as exc:
                errors.append(exc)

        thread = threading.Thread(target=in_another_thread)
        thread.start()
        await asyncio.to_thread(thread.join, 30)
        assert len(errors) == 1
        assert "another event loop" in str(errors[0])
    finally:
        await store.aclose()


def test_a_borrowed_client_is_not_moved_to_a_new_loop(redis_server: RedisServer) -> None:
    async def first() -> tuple[redis.asyncio.Redis, RedisStore]:
        client = redis.asyncio.Redis.from_url(redis_server.url)
        store = RedisStore(client)
        await store.get_token(NS)
        await client.aclose()
        return client, store

    _, store = asyncio.run(first())
    with pytest.raises(RuntimeError, match="borrowed Redis client"):
        asyncio.run(store.get_token(NS))


class SkewedClock:
    """Stands in for the ``time`` module of a machine whose clock is ahead."""

    def __init__(self, ahead: float) -> None:
        self.ahead = ahead

    def time(self) -> float:
        return time.time() + self.ahead


async def test_machines_with_skewed_clocks_agree_on_the_pause_and_expiry(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Moments cross Redis as remaining durations (PX / PTTL), not as epoch
    # values, so a writer 100 s ahead still means "60 s from now" to everyone.
    writer, reader = RedisStore(redis_url, timeout=5.0), RedisStore(redis_url, timeout=5.0)
    try:
        with monkeypatch.context() as patch:
            patch.setattr("digipix_async.stores._redis.time", SkewedClock(ahead=100))
            now_there = time.time() + 100
            await writer.pause_until(NS, now_there + 60)
            await writer.set_token(NS, "tok-1", now_there + 3600)
        assert await reader.paused_until(NS) == pytest.approx(time.time() + 60, abs=2)
        _, expires_at = await reader.get_token(NS) or ("", 0.0)
        assert expires_at == pytest.approx(time.time() + 3600, abs=2)
    finally:
        await writer.aclose()
        await reader.aclose()


#: The least a RedisStore needs (the README's ACL line): its keys, and the
#: commands it sends or its scripts call.
ACL_RULES = (
    "~digipix:*",
    "+get", "+set", "+del", "+pttl", "+hmget", "+hset", "+pexpire", "+time",
    "+evalsha", "+eval", "+script|load",
)  # fmt: skip


async def test_a_least_privilege_acl_user_is_enough(
    redis_server: RedisServer, admin: redis.asyncio.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    await admin.execute_command(
        "ACL", "SETUSER", "digipix-app", "reset", "on", ">app-password", *ACL_RULES
    )
    url = f"redis://digipix-app:app-password@127.0.0.1:{redis_server.port}/0"
    store = RedisStore(url, timeout=5.0)
    try:
        await store.set_token(NS, "tok-1", time.time() + 3600)
        assert (await store.get_token(NS) or ("",))[0] == "tok-1"
        await store.invalidate_token(NS, "tok-1")
        assert await store.acquire_refresh_lock(NS, "me", 30)
        await store.release_refresh_lock(NS, "me")
        await store.pause_until(NS, time.time() + 60)
        assert await store.paused_until(NS) > 0
        assert await store.take_rate_token(NS, 10, 10) == 0.0
        assert await store.claim_notification("n1", pending_ttl=30) == "claimed"
        await store.release_notification("n1")
        await store.finish_notification("n1", ttl=60)
    finally:
        await store.aclose()
        await admin.execute_command("ACL", "DELUSER", "digipix-app")
    # Everything ran on Redis: no fallback to memory, so no warning.
    assert store_records(caplog, logging.WARNING) == []
    assert await admin.get("digipix:notification:n1") == "done"


async def test_a_worker_whose_claim_lapsed_cannot_release_the_claim_another_took(
    redis_url: str,
) -> None:
    # Three workers of a fleet; worker a's callback outlives its claim and then fails.
    a, b, c = (RedisStore(redis_url, timeout=5.0) for _ in range(3))
    key = f"lapsed-{time.monotonic_ns()}"
    try:
        assert await a.claim_notification(key, pending_ttl=0.2) == "claimed"
        await asyncio.sleep(0.3)  # a's callback runs on past its claim's life
        assert await b.claim_notification(key, pending_ttl=30) == "claimed"
        await a.release_notification(key)  # a's callback failed: it releases
        assert await c.claim_notification(key, pending_ttl=30) == "pending"  # b's stands
        await b.release_notification(key)  # b's failed too: now anyone may try again
        assert await c.claim_notification(key, pending_ttl=30) == "claimed"
    finally:
        for store in (a, b, c):
            await store.aclose()


async def test_a_notification_handled_during_an_outage_is_done_for_the_fleet_after_it(
    own_redis_server: RedisServer,
) -> None:
    store = RedisStore(own_redis_server.url, timeout=0.5, probe_interval=0.2)
    other = admin = None
    try:
        assert await store.claim_notification("n1", pending_ttl=30) == "claimed"
        own_redis_server.stop()
        await store.finish_notification("n1", ttl=60)  # handled: Redis is out, memory has it
        own_redis_server.start()  # same port, empty (no persistence)
        admin = redis.asyncio.Redis.from_url(own_redis_server.url, decode_responses=True)
        deadline = time.monotonic() + 10
        while await admin.get("digipix:notification:n1") is None:
            assert time.monotonic() < deadline, "the mark never reached Redis"
            await asyncio.sleep(0.05)
            await store.paused_until(NS)  # any call: the first to reach Redis copies it
        assert 0 < await admin.pttl("digipix:notification:n1") <= 60_000
        # The sender's retry lands on another worker of the fleet.
        other = RedisStore(own_redis_server.url, timeout=5.0)
        assert await other.claim_notification("n1", pending_ttl=30) == "done"
    finally:
        for closable in (store, other, admin):
            if closable is not None:
                await closable.aclose()


async def test_calls_that_find_redis_back_together_copy_the_marks_once(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, other = RedisStore(redis_url, timeout=5.0), RedisStore(redis_url, timeout=5.0)
    copies = 0
    send = store._send_unsent_done

    async def counting() -> None:
        nonlocal copies
        copies += 1
        await send()

    monkeypatch.setattr(store, "_send_unsent_done", counting)
    key = f"outage-{time.monotonic_ns()}"
    store._unsent_done[key] = time.time() + 60  # as finish_notification leaves it in an outage
    try:
        await asyncio.gather(*(store.paused_until(NS) for _ in range(20)))
        assert copies == 1
        assert store._unsent_done == {}
        assert await other.claim_notification(key, pending_ttl=30) == "done"
    finally:
        await store.aclose()
        await other.aclose()
