"""What a resource needs from the client: one way to make a call, one count of 429s."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any, Protocol, TypeVar

from digipix_async._sansio import Request

__all__ = ["Caller", "throttle_counter"]

T = TypeVar("T")


class Caller(Protocol):
    """The client as resources see it (keeps resources free of an import cycle)."""

    def _call(self, request: Request, result_type: type[T]) -> Coroutine[Any, Any, T]: ...

    def _call_keeping_body(
        self, request: Request, result_type: type[T]
    ) -> Coroutine[Any, Any, tuple[T, bytes]]:
        """`_call`, also answering the body as received (the order journal keeps it)."""
        ...

    def _throttle_count(self) -> int:
        """Return how many 429 answers the client has seen so far (retried ones included).

        ``create_many`` reads it after each call to halve its concurrency when the
        server starts refusing: most 429s are absorbed by the client's own retries
        and never reach the bulk job as errors.
        """
        ...


def throttle_counter(client: Caller) -> Callable[[], int] | None:
    """Return ``client._throttle_count``, or None for a caller that keeps no count.

    A caller built before the count existed (a test double, a subclass) still
    works: the bulk job then halves only on the 429s that end a call.
    """
    counter: Callable[[], int] | None = getattr(client, "_throttle_count", None)
    return counter
