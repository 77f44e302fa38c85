"""Quote many carts at once with ``quotes.create_many`` and print a summary.

    python examples/bulk_quotes.py examples/carts.csv        # credentials from the environment
    python examples/bulk_quotes.py --sandbox --generate 1000 # an embedded sandbox, no credentials

The CSV has the header ``cart_id,zip_code,product_id,quantity,pages`` (``pages`` may be
empty); rows sharing a ``cart_id`` form one cart and must be consecutive, so the file is
streamed and memory stays flat however many carts it holds. For resumable runs with an
output file, use the command line instead: ``digipix quote-bulk carts.csv -o quotes.jsonl``.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import itertools
import random
import sys
import time
from collections.abc import AsyncGenerator, Iterator
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

from digipix_async import DigipixClient
from digipix_async.sandbox import SandboxServer

Cart = dict[str, Any]
PRODUCTS = ("photobook", "print-10x15", "canvas-30x40", "calendar-a4", "mug")


def read_carts(path: str) -> Iterator[Cart]:
    """Yield one ``quotes.create`` argument mapping per cart of the CSV file."""
    with open(path, newline="", encoding="utf-8") as file:
        rows = csv.DictReader(file)
        for cart_id, lines in itertools.groupby(rows, key=lambda row: row["cart_id"]):
            items: list[dict[str, Any]] = []
            zip_code = ""
            for row in lines:
                zip_code = row["zip_code"]
                item: dict[str, Any] = {
                    "product_id": row["product_id"],
                    "quantity": int(row["quantity"]),
                }
                if row.get("pages"):
                    item["pages"] = int(row["pages"])
                items.append(item)
            yield {"cart_id": cart_id, "zip_code": zip_code, "items": items}


def generate_carts(count: int, seed: int = 7) -> Iterator[Cart]:
    """Yield ``count`` random carts (made as they are read, never all in memory)."""
    rng = random.Random(seed)
    for number in range(count):
        items = [
            {"product_id": product, "quantity": rng.randint(1, 3)}
            for product in rng.sample(PRODUCTS, rng.randint(1, 3))
        ]
        yield {
            "cart_id": f"cart-{number}",
            "zip_code": f"{rng.randint(1_000_000, 99_999_999):08d}",
            "items": items,
        }


@asynccontextmanager
async def open_client(sandbox: bool) -> AsyncGenerator[DigipixClient, None]:
    """Yield a client from the environment, or one for an embedded sandbox."""
    if not sandbox:
        async with DigipixClient.from_env() as client:
            yield client
        return
    async with (
        SandboxServer() as server,
        DigipixClient(server.client_id, server.client_secret, base_url=server.base_url) as client,
    ):
        yield client


async def quote_all(carts: Iterator[Cart], *, sandbox: bool, concurrency: int) -> int:
    """Quote every cart, report failures on stderr, print a summary; return failures."""
    cart_ids: dict[int, str] = {}

    def requests() -> Iterator[dict[str, Any]]:
        for index, cart in enumerate(carts):
            cart_ids[index] = cart["cart_id"]  # only carts in flight stay in this map
            yield {"zip_code": cart["zip_code"], "items": cart["items"]}

    started = time.perf_counter()
    quoted = failed = 0
    cheapest_total = Decimal(0)
    async with open_client(sandbox) as client:
        async for result in client.quotes.create_many(requests(), concurrency=concurrency):
            cart_id = cart_ids.pop(result.index)
            if result.ok:
                quoted += 1
                costs = [option.cost for option in result.value if option.cost is not None]
                cheapest_total += min(costs, default=Decimal(0))
            else:
                failed += 1
                print(f"{cart_id}: {type(result.error).__name__}: {result.error}", file=sys.stderr)
    elapsed = time.perf_counter() - started
    print(
        f"{quoted + failed} carts: {quoted} quoted, {failed} failed in {elapsed:.1f} s; "
        f"cheapest shipping for all: {cheapest_total}"
    )
    return failed


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run; exit 1 if any cart failed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("csv", nargs="?", help="carts as CSV (see the module docstring)")
    source.add_argument("--generate", type=int, metavar="N", help="quote N random carts")
    parser.add_argument("--sandbox", action="store_true", help="run an embedded sandbox")
    parser.add_argument("--concurrency", type=int, default=32, help="quotes in flight (32)")
    args = parser.parse_args(argv)
    carts = generate_carts(args.generate) if args.generate is not None else read_carts(args.csv)
    failed = asyncio.run(quote_all(carts, sandbox=args.sandbox, concurrency=args.concurrency))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
