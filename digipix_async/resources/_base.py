"""What a resource needs from the client: one way to make a call."""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any, Protocol, TypeVar

from digipix_async._sansio import Request

__all__ = ["Caller"]

T = TypeVar("T")


class Caller(Protocol):
    """The client as resources see it (keeps resources free of an import cycle)."""

    def _call(self, request: Request, result_type: type[T]) -> Coroutine[Any, Any, T]: ...
