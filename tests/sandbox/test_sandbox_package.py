"""Package-level rules of the sandbox: exports, import boundary, money arithmetic."""

from __future__ import annotations

import ast
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

import digipix_async.sandbox as sandbox_pkg
from digipix_async.sandbox import SandboxClock
from digipix_async.sandbox._catalogue import PRODUCTS
from digipix_async.sandbox._state import SandboxState

PACKAGE = Path(sandbox_pkg.__file__).parent


def test_all_is_sorted_and_complete() -> None:
    assert sandbox_pkg.__all__ == sorted(sandbox_pkg.__all__)
    assert all(hasattr(sandbox_pkg, name) for name in sandbox_pkg.__all__)


def test_the_sandbox_never_imports_the_sdk() -> None:
    # It stands in for the vendor: sharing the SDK's wire rules would hide their bugs.
    allowed_roots = {"aiohttp", "attrs", "backoff", "digipix_async"}
    for module in PACKAGE.glob("*.py"):
        for node in ast.walk(ast.parse(module.read_text())):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            for name in names:
                if name.startswith("digipix_async"):
                    assert name.startswith("digipix_async.sandbox"), (module.name, name)
                root = name.split(".")[0]
                is_stdlib = root in sys.stdlib_module_names
                assert is_stdlib or root in allowed_roots, (module.name, name)


_ITEM = st.fixed_dictionaries(
    {
        "productId": st.sampled_from([p["id"] for p in PRODUCTS]),
        "quantity": st.integers(min_value=1, max_value=500),
    }
)


@settings(max_examples=60, deadline=None)
@given(
    items=st.lists(_ITEM, min_size=1, max_size=6),
    zip_code=st.from_regex(r"\A[0-9]{8}\Z"),
    method=st.sampled_from([1, 2]),
)
def test_totals_are_exact_cents(items: list[dict[str, Any]], zip_code: str, method: int) -> None:
    state = SandboxState(clock=SandboxClock())
    recipient = {
        "name": "N",
        "zipCode": zip_code,
        "street": "S",
        "number": "1",
        "city": "C",
        "state": "SP",
    }
    order = state.create_order(
        {"recipient": recipient, "items": items, "status": "approved", "shipmentMethodId": method}
    )
    subtotal, shipping, total = (
        Decimal(repr(order[k])) for k in ("subtotal", "shippingCost", "total")
    )
    for value in (subtotal, shipping, total):
        assert value == value.quantize(Decimal("0.01"))
    prices = {p["id"]: Decimal(repr(p["price"])) for p in PRODUCTS}
    assert subtotal == sum(prices[i["productId"]] * i["quantity"] for i in items)
    assert total == subtotal + shipping
