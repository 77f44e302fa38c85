"""The SDK with one speed shortcut taken out: what each kept shortcut is worth, end to end.

Issue 10 item 7: keep a shortcut only if the side-by-side benchmark shows it worth
more than 3% of a call. These peers are the ``sdk`` peer of `peers` with one
shortcut replaced by the plain way, through benchmark seams (private attributes,
set once after the client is built; nothing in the SDK changes):

- ``sdk+asyncio.timeout``: every call's deadline enforced by ``asyncio.timeout_at``
  (a loop timer armed and cancelled per call) instead of the shared per-slot
  timers of ``digipix_async._deadline``;
- ``sdk+cattrs``: answers read by the detailed cattrs converter (the one the SDK
  falls back to for error messages) instead of the generated readers of
  ``digipix_async._readers``.

``benchmarks.bench_before_after`` runs them next to ``sdk`` and ``raw_aiohttp``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from types import TracebackType
from typing import Any

from benchmarks.peers import Peer, SdkPeer


def _at_once(coroutine: Coroutine[Any, Any, Any]) -> Any:
    """Run a coroutine that never suspends (asyncio.Timeout's enter and exit) to its end."""
    try:
        coroutine.send(None)
    except StopIteration as done:
        return done.value
    coroutine.close()
    raise RuntimeError("the coroutine suspended")


class _TimeoutGuard:
    """``with guard:`` enforced by ``asyncio.timeout_at``, as the SDK's Guard is used."""

    __slots__ = ("_timeout",)

    def __init__(self, deadline: float) -> None:
        self._timeout = asyncio.timeout_at(deadline)

    def __enter__(self) -> _TimeoutGuard:
        _at_once(self._timeout.__aenter__())
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        from digipix_async._deadline import DeadlineExceeded

        try:
            result: bool | None = _at_once(self._timeout.__aexit__(exc_type, exc, tb))
        except TimeoutError as expired:
            raise DeadlineExceeded from expired
        return result


class PerCallTimeouts:
    """Stands in for ``digipix_async._deadline.Deadlines``: one loop timer per call."""

    def guard(self, deadline: float) -> _TimeoutGuard:
        """Bound the current task's ``with`` block by ``deadline`` (monotonic clock)."""
        return _TimeoutGuard(deadline)


class SdkAsyncioTimeoutPeer(SdkPeer):
    """The sdk peer, each call's deadline on its own ``asyncio.timeout_at``."""

    def __init__(self, base_url: str, **options: Any) -> None:
        super().__init__(base_url, **options)
        self.client._shared.deadlines = PerCallTimeouts()  # type: ignore[assignment]


class SdkCattrsPeer(SdkPeer):
    """The sdk peer, answers read by the detailed cattrs converter (no generated readers)."""

    def __init__(self, base_url: str, **options: Any) -> None:
        super().__init__(base_url, **options)
        install_cattrs_readers()


def install_cattrs_readers() -> None:
    """Make every model read by the detailed cattrs converter, in this process."""
    from digipix_async import _converter
    from digipix_async._cattrs_rules import detailed

    converter = detailed()
    for model in _converter.MODELS:
        _converter._READERS[model] = _cattrs_reader(converter, model)
        _converter._READERS[list[model]] = _cattrs_reader(converter, list[model])  # type: ignore[valid-type]


def _cattrs_reader(converter: Any, cls: Any) -> Callable[[Any], Any]:
    def read(data: Any) -> Any:
        return converter.structure(data, cls)

    return read


AB_PEERS: dict[str, Callable[[str], Peer]] = {
    "sdk+asyncio.timeout": SdkAsyncioTimeoutPeer,
    "sdk+cattrs": SdkCattrsPeer,
}
