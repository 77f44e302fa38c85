"""Measure the cost of turning an order response (bytes) into an ``Order``.

Run: ``.venv/bin/python benchmarks/bench_decode.py [--repeat N] [--json PATH]``

Rows, in µs per document (best of ``--repeat`` rounds, each round long enough to
last ~0.2 s, so timer noise is small):

- ``json.loads -> dicts``: the floor, what a dict-returning client would pay;
- ``loads (Decimal) -> dicts``: the same with exact money (``parse_float=Decimal``);
- ``loads + structure (prebuilt)``: what ``orders.get`` does, readers generated
  once, on first use;
- ``loads + structure (hooks per call)``: the same rules, but freshly generated
  readers for every document, the cost the kept readers avoid;
- ``loads + cattrs (no readers)``: the plain cattrs path, the detailed converter the
  SDK falls back to for error messages, what reading would cost without the
  generated readers (issue 10 item 7: what the readers are worth).

No assertion on the numbers: they depend on the machine.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import timeit
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path
from typing import Any

from digipix_async import _converter, _json
from digipix_async.models import Order

# The flow 1 answer of spec/samples.md (status QUOTE with two shipping options).
SAMPLE: dict[str, Any] = {
    "id": "tFN9mEXgro9feZ7Fjf61",
    "partnerId": "eHxI1wQ5stcOsmTG5aAr",
    "partnerName": "Partner Name",
    "status": "QUOTE",
    "createdAt": "2020-08-26T21:31:10.7582058Z",
    "partnerOrderID": "INV-2020-0042",
    "customData": {"cart": "c-991"},
    "recipient": {
        "name": "Maria da Silva",
        "zipCode": "01311100",
        "street": "Avenida Paulista",
        "number": "1000",
        "city": "Sao Paulo",
        "state": "SP",
        "country": "BR",
    },
    "items": [
        {
            "productId": "photobook",
            "quantity": 1,
            "parts": [
                {"id": "cover", "url": "https://files.example.com/o42/cover.pdf", "pages": 1}
            ],
        }
    ],
    "shipments": [
        {
            "id": "ZP2ckind4FwRhfIlt5dI",
            "shipmentMethodId": 1,
            "name": "Cheapest",
            "cost": "2.09",
            "estimatedDeliveryDays": 7,
        },
        {
            "id": "Xk29dPq0LmA7rT5vB1cE",
            "shipmentMethodId": 2,
            "name": "Fastest",
            "cost": "15.3",
            "estimatedDeliveryDays": 2,
        },
    ],
    "subtotal": "41.4",
    "total": "41.4",
}


def _document(items: int) -> bytes:
    data = dict(SAMPLE)
    data["items"] = SAMPLE["items"] * items
    # Money as JSON numbers, as the server sends it (strings above keep the dict literal short).
    text = json.dumps(data)
    for money in ("2.09", "15.3", "41.4"):
        text = text.replace(f'"{money}"', money)
    return text.encode()


def _hooks_per_call(body: bytes) -> Order:
    # The converter's rules, with every reader generated again for every document.
    _converter._READERS.clear()
    order: Order = _converter.structure(_json.loads(body), Order)
    return order


def _plain_cattrs() -> Callable[[bytes], Order]:
    from digipix_async._cattrs_rules import detailed

    converter = detailed()

    def read(body: bytes) -> Order:
        order: Order = converter.structure(_json.loads(body), Order)
        return order

    return read


def _cases() -> dict[str, Callable[[bytes], Any]]:
    return {
        "json.loads -> dicts": json.loads,
        "loads (Decimal) -> dicts": _json.loads,
        "loads + structure (prebuilt)": lambda body: _converter.structure(_json.loads(body), Order),
        "loads + structure (hooks per call)": _hooks_per_call,
        "loads + cattrs (no readers)": _plain_cattrs(),
    }


def _measure(function: Callable[[bytes], Any], body: bytes, repeat: int) -> float:
    timer = timeit.Timer(lambda: function(body))
    number, elapsed = timer.autorange()
    # autorange stops at >= 0.2 s; use that count for every round.
    rounds = timer.repeat(repeat=repeat, number=number)
    return min([elapsed, *rounds]) / number * 1e6


def main(argv: list[str] | None = None) -> int:
    """Run every case on a small and a large order and print a markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="rounds per case (best is kept)")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    args = parser.parse_args(argv)

    documents = {"sample order (1 item)": _document(1), "order with 50 items": _document(50)}
    # The decoded values must agree before their speed means anything.
    for body in documents.values():
        order = _converter.structure(_json.loads(body), Order)
        agree = _hooks_per_call(body) == order == _plain_cattrs()(body)
        if not agree or str(order.total) != "41.4":
            raise SystemExit("the decoders disagree; fix that before timing them")

    results: list[dict[str, Any]] = []
    for doc_name, body in documents.items():
        baseline = None
        for case_name, function in _cases().items():
            micros = _measure(function, body, args.repeat)
            baseline = baseline or micros
            results.append(
                {
                    "document": doc_name,
                    "bytes": len(body),
                    "case": case_name,
                    "us_per_doc": round(micros, 2),
                    "x_json_loads": round(micros / baseline, 2),
                }
            )

    print(f"Python {platform.python_version()}, cattrs {version('cattrs')}\n")
    print("| document | case | µs/doc | vs json.loads |")
    print("|---|---|---:|---:|")
    for row in results:
        print(
            f"| {row['document']} ({row['bytes']} B) | {row['case']} "
            f"| {row['us_per_doc']:.1f} | {row['x_json_loads']:.1f}x |"
        )
    if args.json is not None:
        args.json.write_text(
            json.dumps(
                {
                    "python": platform.python_version(),
                    "cattrs": version("cattrs"),
                    "results": results,
                },
                indent=2,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
