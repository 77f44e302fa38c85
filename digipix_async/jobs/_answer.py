"""The created order's answer as the journal keeps it, and read back on a rerun."""

from __future__ import annotations

from digipix_async import _converter, _json
from digipix_async._lenient import structure_leniently
from digipix_async.models import Order

__all__ = ["read_answer", "write_answer"]


def write_answer(order: Order) -> bytes | None:
    """Return ``order`` as wire JSON, money exact; None if it cannot be written.

    The exact encoder directly: an order holds Decimal money, which ``_json.dumps``
    would first try (and fail) to write with the C encoder. Without an answer a
    rerun reads the order with one GET, so an odd one never fails the create.
    """
    try:
        return _json.dumps_exact(_converter.unstructure(order))
    except (TypeError, ValueError):
        return None


def read_answer(answer: bytes) -> Order:
    """Read an answer written by `write_answer` back into the same Order.

    Leniently, as the answer was first read: an order whose drifted fields were
    kept raw in ``extra`` is written back with them and must read back the same.
    """
    order: Order = structure_leniently(_json.loads(answer), Order)
    return order
