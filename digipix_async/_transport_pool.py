"""One aiohttp session per event loop, one loop at a time: open, hand over, close, drop.

A client is often built at import time (a bot's module-level client) and used from
one ``asyncio.run`` after another; an aiohttp session belongs to the loop it was
made on and dies with it. So an owned session is made lazily on the running loop
(API.md, "Client"), and:

- when that loop shuts down (``asyncio.run`` and ``asyncio.Runner`` end by calling
  ``loop.shutdown_asyncgens()``), a parked async generator registered with the loop
  (the *keeper*) is finalised inside it and closes the session there, while the loop
  can still run the closing handshakes: nothing is left to warn at exit;
- when the next call comes from another loop and the old one is closed, the dead pool
  is dropped quietly and a new one is made (the token, held above, is kept);
- when the old loop is still open, the call fails with a `RuntimeError` that says so,
  before anything is sent: one session cannot serve two loops;
- a client never closed whose loop was closed by hand is tidied at interpreter exit
  (``weakref.finalize``), so no "Unclosed client session" is printed.

A borrowed session is the caller's: it is never closed here, only checked to be
used from one loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncGenerator, Callable
from typing import Any

import aiohttp

from digipix_async._errors import APIConnectionError
from digipix_async._loop_end import park

__all__ = ["LoopPool"]

_TWO_LOOPS = (
    "this DigipixClient's connection pool belongs to another event loop that is still "
    "open; a client serves one event loop at a time (a new loop may take over once the "
    "old one is closed): create one client per thread or loop"
)
_BORROWED_ELSEWHERE = (
    "the aiohttp session lent to this DigipixClient (session=...) was first used from "
    "another event loop; an aiohttp session serves only the loop it was made on"
)


class LoopPool:
    """Hold the session of the loop the client is used from (see the module docstring).

    ``session`` and ``loop`` are read without a lock on the hot path: they change
    only in `bind` and `aclose`, under ``_lock`` (threads may race to the first call).
    """

    def __init__(
        self,
        open_session: Callable[[], aiohttp.ClientSession],
        *,
        borrowed: aiohttp.ClientSession | None = None,
    ) -> None:
        self.session: aiohttp.ClientSession | None = borrowed
        self.loop: asyncio.AbstractEventLoop | None = None
        self.closed = False
        self._open_session = open_session
        self._owned = borrowed is None
        self._keeper: AsyncGenerator[None, None] | None = None
        self._lock = threading.Lock()

    def bind(self) -> aiohttp.ClientSession:
        """Return the session for the running loop, opening one if this loop has none."""
        loop = asyncio.get_running_loop()
        with self._lock:
            if self.closed:
                # A call still retrying when its client closed must not open a new pool.
                raise APIConnectionError("the client is closed", request_sent=False)
            if not self._owned:
                if self.loop is not None and self.loop is not loop:
                    raise RuntimeError(_BORROWED_ELSEWHERE)
                self.loop = loop
                assert self.session is not None  # borrowed sessions are given at once
                return self.session
            if self.loop is loop and self.session is not None and not self.session.closed:
                return self.session
            if self.loop is not None and self.loop is not loop and not self.loop.is_closed():
                raise RuntimeError(_TWO_LOOPS)
            self.tidy()  # the pool of a loop that is gone (or was shut down)
            session = self._open_session()
            keeper = _keep(session)
            park(keeper)
            self.session, self.loop, self._keeper = session, loop, keeper
            return session

    async def aclose(self) -> None:
        """Close the owned session on its own loop; later calls are refused."""
        with self._lock:
            self.closed = True
            session, loop, keeper = self.session, self.loop, self._keeper
            self.session = self._keeper = None
        if not self._owned or session is None or loop is None or keeper is None:
            return
        if loop is asyncio.get_running_loop():
            await keeper.aclose()  # its finally closes the session, on this loop
        elif loop.is_running():
            # Closed from another thread's loop: the session's loop does the closing.
            done = asyncio.run_coroutine_threadsafe(_close_keeper(keeper), loop)
            await asyncio.wait_for(asyncio.wrap_future(done), 30)
        else:
            _close_without_running(session, loop)

    def tidy(self) -> None:
        """Drop a pool whose loop is closed or idle, without warnings; idempotent.

        Run before a new loop takes over, and at interpreter exit (``weakref.finalize``)
        for a client nobody closed.
        """
        session, loop = self.session, self.loop
        self.session = self._keeper = None
        if self._owned and session is not None and loop is not None and not session.closed:
            if loop.is_running():
                return  # another thread's loop at exit: its own shutdown will close it
            _close_without_running(session, loop)


async def _keep(session: aiohttp.ClientSession) -> AsyncGenerator[None, None]:
    """Park until the loop shuts down or the client closes, then close ``session``."""
    try:
        yield
    finally:
        if not session.closed:
            await session.close()


async def _close_keeper(keeper: AsyncGenerator[None, None]) -> None:
    await keeper.aclose()


def _close_without_running(session: aiohttp.ClientSession, loop: asyncio.AbstractEventLoop) -> None:
    """Close ``session`` whose ``loop`` is not running here: closed, or idle."""
    if not loop.is_closed() and asyncio._get_running_loop() is None:
        # An idle loop (a script that never closed its loop, at exit): let it close
        # the session properly.
        loop.run_until_complete(session.close())
        return
    connector = session.connector
    if connector is None or connector.closed:
        return
    # The loop is gone: nothing can run the transports' close callbacks, so close
    # each socket now (else each warns "unclosed transport" when collected), then
    # mark the connector closed (aiohttp's own close needs the loop).
    conns: dict[Any, Any] = getattr(connector, "_conns", {})
    idle = [proto for protos in conns.values() for proto, _ in protos]
    for proto in [*idle, *getattr(connector, "_acquired", ())]:
        _close_socket(getattr(proto, "transport", None))
    close_now: Callable[[], object] = getattr(connector, "_close", connector.close)
    with contextlib.suppress(Exception):
        close_now()


def _close_socket(transport: Any) -> None:
    # A TLS transport wraps the socket's transport: close both, mark both done.
    ssl_protocol = getattr(transport, "_ssl_protocol", None)
    if ssl_protocol is not None:
        transport._closed = True
        transport = getattr(ssl_protocol, "_transport", None)
    sock = getattr(transport, "_sock", None)
    if sock is not None:
        sock.close()
        transport._sock = None
