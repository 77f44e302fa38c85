"""The answer the journal keeps reads back as the same Order."""

from __future__ import annotations

from samples import ORDER_APPROVED, ORDER_QUOTE

from digipix_async import _converter, _json
from digipix_async.jobs._answer import read_answer, write_answer
from digipix_async.models import Order


def test_an_order_reads_back_the_same() -> None:
    for sample in (ORDER_QUOTE, ORDER_APPROVED):
        order = _converter.structure(_json.loads(sample), Order)
        answer = write_answer(order)

        assert answer is not None
        assert read_answer(answer) == order
