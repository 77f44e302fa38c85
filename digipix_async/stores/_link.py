"""`RedisLink`: RedisStore's connection to Redis, and the fallback to memory.

Every call is bounded by ``timeout``. A call that fails or times out is
answered from memory instead, with one WARNING per outage; while Redis is out,
at most one call per ``probe_interval`` tries it again, and the first that
succeeds logs one INFO and brings every call back. A failing Redis never
raises into the caller.

Event loops: redis-py connections belong to the loop that opened them. A store
that owns its client follows its user from one loop to the next (a bot that
calls ``asyncio.run`` twice): once the first loop is closed, the next call
drops the old connections and opens new ones. A borrowed client cannot be
reopened, and no store serves two running loops at once: both are refused
with a RuntimeError before anything is sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Final, TypeVar

from digipix_async._log import log
from digipix_async.stores import _scripts

if TYPE_CHECKING:
    from redis.asyncio import Redis
    from redis.commands.core import AsyncScript

__all__ = ["RedisLink"]

_T = TypeVar("_T")

_INSTALL_HINT: Final = (
    "RedisStore needs the redis package: install the extra with "
    "`pip install 'digipix_async[redis]'`"
)


def import_redis() -> Any:
    """Import ``redis.asyncio`` on first use: the extra is optional."""
    try:
        import redis.asyncio
        import redis.asyncio.retry
        import redis.backoff
    except ImportError as exc:
        raise ImportError(_INSTALL_HINT) from exc
    return redis


def _drop_connections_of_a_closed_loop(client: Redis) -> None:
    """Close the sockets of ``client``'s pool without their loop, which is closed.

    A closed loop cannot finish ``transport.close()`` (it schedules the rest on
    the loop), and connections left alone warn "unclosed" when collected. This
    reaches into redis-py and asyncio internals, defensively: if they change,
    the worst outcome is those ResourceWarnings again.
    """
    pool = getattr(client, "connection_pool", None)
    connections = [
        *getattr(pool, "_available_connections", ()),
        *getattr(pool, "_in_use_connections", ()),
    ]
    for connection in connections:
        writer = getattr(connection, "_writer", None)
        transport = getattr(writer, "transport", None)
        if transport is not None:
            with contextlib.suppress(RuntimeError):
                transport.close()  # marks it closing, then fails to reach the loop
            sock = getattr(transport, "_sock", None)
            if sock is not None:
                sock.close()
                transport._sock = None
        if writer is not None:
            connection._writer = None
            connection._reader = None


class RedisLink:
    """Run each Redis call within the timeout, or answer it from memory."""

    def __init__(
        self,
        url_or_client: str | Redis,
        *,
        timeout: float,
        probe_interval: float,
        max_connections: int,
    ) -> None:
        redis = import_redis()
        self._timeout = timeout
        self._probe_interval = probe_interval
        self._max_connections = max_connections
        self._url: str | None
        if isinstance(url_or_client, str):
            self._url = url_or_client
            self._client = self._open(url_or_client)
        elif isinstance(url_or_client, redis.asyncio.Redis):
            self._url = None
            self._client = url_or_client
        else:
            raise TypeError(
                "url_or_client must be a Redis URL or a redis.asyncio.Redis, "
                f"not {type(url_or_client).__name__}"
            )
        self._failures: tuple[type[BaseException], ...] = (
            redis.exceptions.RedisError,
            OSError,
            TimeoutError,
        )
        self._scripts = self._register(self._client)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._slots = asyncio.Semaphore(max_connections)
        self.degraded = False
        self._next_probe = 0.0
        self.closed = False

    @property
    def owns_client(self) -> bool:
        """Whether the link created its client (and so closes it)."""
        return self._url is not None

    @property
    def client(self) -> Redis:
        """The client of the current loop."""
        return self._client

    def _open(self, url: str) -> Redis:
        redis = import_redis()
        client: Redis = redis.asyncio.Redis.from_url(
            url,
            socket_timeout=self._timeout,
            socket_connect_timeout=self._timeout,
            # No retries inside redis-py: the fallback to memory is our retry,
            # and a retry would only stretch the time a call waits.
            retry=redis.asyncio.retry.Retry(redis.backoff.NoBackoff(), 0),
            max_connections=self._max_connections,
        )
        return client

    @staticmethod
    def _register(client: Redis) -> dict[str, AsyncScript]:
        # EVALSHA, loading the script again after a NOSCRIPT (a restarted Redis).
        return {name: client.register_script(getattr(_scripts, name)) for name in _scripts.__all__}

    async def script(self, name: str, keys: list[str], args: list[str | int | float]) -> Any:
        """Run one of `_scripts` on the current client."""
        return await self._scripts[name](keys=keys, args=args)

    def _follow_loop(self) -> None:
        """Bind to the running loop; move an owned client to it once the old loop is closed."""
        loop = asyncio.get_running_loop()
        if loop is self._loop:
            return
        if self._loop is not None:
            if not self._loop.is_closed():
                raise RuntimeError(
                    "this RedisStore is in use by another event loop that is not closed; "
                    "use one store per event loop"
                )
            if self._url is None:
                raise RuntimeError(
                    "this RedisStore's borrowed Redis client belongs to an event loop that "
                    "is closed; pass a URL to let the store reconnect on each loop"
                )
            _drop_connections_of_a_closed_loop(self._client)
            self._client = self._open(self._url)
            self._scripts = self._register(self._client)
            self._slots = asyncio.Semaphore(self._max_connections)
        self._loop = loop

    def _memory_now(self) -> bool:
        """Say whether a call goes straight to memory; let one through per probe interval."""
        if not self.degraded:
            return False
        now = time.monotonic()
        if now < self._next_probe:
            return True
        self._next_probe = now + self._probe_interval
        return False

    async def run(
        self, on_redis: Callable[[], Awaitable[_T]], on_memory: Callable[[], Awaitable[_T]]
    ) -> _T:
        """Answer from Redis within the timeout, else from memory (never raising for Redis)."""
        if self.closed:
            raise RuntimeError("this RedisStore is closed")
        self._follow_loop()
        if self._memory_now():
            return await on_memory()
        probing = self.degraded
        async with self._slots:
            # Redis may have failed while this call queued for a slot.
            if self.degraded and not probing:
                return await on_memory()
            try:
                async with asyncio.timeout(self._timeout):
                    result = await on_redis()
            except self._failures as exc:
                self._went_down(exc)
                return await on_memory()
        if self.degraded:
            self.degraded = False
            log.info("Redis store answers again: shared state is back in Redis")
        return result

    def _went_down(self, exc: BaseException) -> None:
        self._next_probe = time.monotonic() + self._probe_interval
        if self.degraded:
            return
        self.degraded = True
        # Never the URL (it may hold a password); redis-py's texts name host and port.
        reason = str(exc)[:200] or "no answer within the timeout"
        log.warning(
            "Redis store unavailable (%s: %s): using this process's memory, "
            "trying Redis again every %g s",
            type(exc).__name__,
            reason,
            self._probe_interval,
        )

    async def aclose(self) -> None:
        """Close the client if the link created it; a borrowed client stays open."""
        if self.closed:
            return
        self.closed = True
        if self._url is None:
            return
        if self._loop is not None and self._loop.is_closed():
            _drop_connections_of_a_closed_loop(self._client)
            return
        try:
            # redis-py bounds each disconnect by the connect timeout; the socket
            # is released even when the goodbye fails, so a failure is no news.
            await self._client.aclose()
        except self._failures as exc:
            log.debug("closing the Redis store's connections: %s", type(exc).__name__)
