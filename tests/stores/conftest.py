"""A real redis-server for the store tests: on a free loopback port, no persistence."""

from __future__ import annotations

import pathlib
from collections.abc import AsyncIterator, Iterator

import pytest
import redis
import redis.asyncio
from redis_process import RedisServer

from digipix_async.stores import MemoryStore, RedisStore, Store


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """One server for the whole session; `redis_url` empties it before each test."""
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def own_redis_server(tmp_path: pathlib.Path) -> Iterator[RedisServer]:
    """A server of this test's own, which the test may kill and restart."""
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    with redis.Redis(port=redis_server.port, socket_timeout=5) as client:
        client.flushall()
    return redis_server.url


@pytest.fixture
async def admin(redis_url: str) -> AsyncIterator[redis.asyncio.Redis]:
    """A plain client to look at what the store wrote."""
    client = redis.asyncio.Redis.from_url(redis_url, decode_responses=True, socket_timeout=5)
    yield client
    await client.aclose()


@pytest.fixture(params=["memory", "redis", "redis-borrowed-decoding"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[Store]:
    """Each store in turn: the tests of the protocol hold for both.

    The third is a RedisStore on the caller's own client, which decodes replies
    to str where the store's own client hands back bytes.
    """
    result: Store
    borrowed = None
    if request.param == "memory":
        result = MemoryStore()
    elif request.param == "redis":
        # A generous timeout: a loaded CI machine must not look like a Redis outage here.
        result = RedisStore(request.getfixturevalue("redis_url"), timeout=5.0)
    else:
        url = request.getfixturevalue("redis_url")
        borrowed = redis.asyncio.Redis.from_url(url, decode_responses=True, socket_timeout=5)
        result = RedisStore(borrowed, timeout=5.0)
    yield result
    await result.aclose()
    if borrowed is not None:
        await borrowed.aclose()
