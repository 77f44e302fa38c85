"""The value every resource builds and the client sends: no I/O, no aiohttp."""

from __future__ import annotations

import enum
from typing import Any, NamedTuple

__all__ = ["Request", "RetrySafety"]


class RetrySafety(enum.Enum):
    """How freely a request may be sent again after a transient failure."""

    #: Sending it twice changes nothing: GETs, the token request, quotes (not saved).
    IDEMPOTENT = "idempotent"
    #: Sending it twice could act twice: retried only when it provably never
    #: reached the server (connect failure) or the server refused it (429).
    UNSENT_ONLY = "unsent_only"


class Request(NamedTuple):
    """One API call: what goes on the wire and how it may be retried.

    ``path`` is already percent-encoded and starts with ``/v1/``; ``json`` is the
    body as plain JSON-ready values (None for no body); ``scope`` is the OAuth2
    scope the call needs (None for the token request itself).
    ``creates_order`` marks ``POST /v1/orders``, whose ambiguous failures become
    ``OrderOutcomeUnknownError`` carrying ``partner_order_id``.

    A NamedTuple rather than an attrs class: one is built for every call, and a
    tuple is built in half the time of a frozen attrs instance.
    """

    method: str
    path: str
    scope: str | None
    json: Any = None
    retry: RetrySafety = RetrySafety.IDEMPOTENT
    creates_order: bool = False
    partner_order_id: str | None = None

    def __repr__(self) -> str:
        # Never the body: the token request's holds the client secret.
        return (
            f"Request(method={self.method!r}, path={self.path!r}, scope={self.scope!r}, "
            f"retry={self.retry}, creates_order={self.creates_order!r}, "
            f"partner_order_id={self.partner_order_id!r})"
        )
