"""What a resource needs from the client: one way to make a call."""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any, Protocol

from digipix_async._request import Request

__all__ = ["Caller"]


class Caller(Protocol):
    """The client as resources see it (keeps resources free of an import cycle)."""

    def _call(self, request: Request, result_type: Any) -> Coroutine[Any, Any, Any]: ...
