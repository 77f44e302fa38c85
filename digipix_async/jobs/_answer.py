"""The created order's answer as the journal keeps it, read back on a rerun."""

from __future__ import annotations

from digipix_async import _json
from digipix_async._lenient import structure_leniently
from digipix_async.models import Order

__all__ = ["read_answer"]


def read_answer(answer: bytes) -> Order:
    """Read an answer the journal kept (the body as the server sent it) into its Order.

    Leniently, as a rerun must report the order even when the client that created
    it read strictly: the order exists, and its answer was already accepted once.
    """
    order: Order = structure_leniently(_json.loads(answer), Order)
    return order
