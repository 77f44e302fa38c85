"""One table of wire names, read by both directions: a renamed entry is sent and read."""

from __future__ import annotations

import ast
import json
import pathlib
import subprocess
import sys

import digipix_async
from digipix_async import _wire_names

PACKAGE = pathlib.Path(digipix_async.__file__).parent

# Renames every entry the request builders use, in a fresh interpreter, before the
# rest of the SDK is imported; then builds each request and reads an answer.
_RENAMED = r"""
import json, sys
from digipix_async import _wire_names
for name in list(_wire_names.WIRE_NAMES):
    _wire_names.WIRE_NAMES[name] = "X_" + name
_wire_names.WIRE_NAMES.update(status="X_status", items="X_items", recipient="X_recipient")
_wire_names.APPROVED_ON_CREATE = "X_APPROVED"
_wire_names.PATCH_STATUSES.update(APPROVED="X_approved", CANCELED="X_canceled")

from digipix_async import _endpoints
from digipix_async._converter import structure, unstructure
from digipix_async.models import Order

recipient = {"name": "Ana", "zip_code": "01311100", "street": "R", "number": "1",
             "city": "C", "state": "SP"}
items = [{"product_id": "p", "quantity": 1}]
sent = {
    "quote": _endpoints.create_quote(zip_code="01311100", items=items).json,
    "quote_full": _endpoints.create_quote(
        zip_code="01311100", items=[{**items[0], "extra": {}}]).json,
    "order": _endpoints.create_order(recipient=recipient, items=items, partner_order_id="P",
        custom_data={"a": 1}, status_notification_url="https://x.example/n", shipment_id="S").json,
    "by_method": _endpoints.create_order(recipient=recipient, items=items, shipment_method=1).json,
    "by_label": _endpoints.approve_order("o", shipment_method="cheapest").json,
    "cancel": _endpoints.cancel_order("o").json,
}
answer = {"id": "o", "X_status": "NEW", "X_partner_order_id": "P", "X_shipping_cost": 2,
          "X_recipient": {"X_zip_code": "01311100"},
          "X_items": [{"X_product_id": "p", "quantity": 1}]}
order = structure(answer, Order)
read = {"partner_order_id": order.partner_order_id, "status": str(order.status),
        "zip": order.recipient.zip_code, "product": order.items[0].product_id,
        "extra": dict(order.extra), "written": sorted(unstructure(order))}
print(json.dumps({"sent": sent, "read": read}, default=str))
"""


def test_a_renamed_entry_is_followed_by_requests_and_answers() -> None:
    out = subprocess.run(
        [sys.executable, "-c", _RENAMED], capture_output=True, text=True, check=True
    )
    found = json.loads(out.stdout)
    sent = found["sent"]
    assert sent["quote"] == {
        "X_zip_code": "01311100",
        "X_items": [{"X_product_id": "p", "quantity": 1}],
    }
    assert sent["quote_full"] == sent["quote"]
    assert sent["order"] == {
        "X_partner_order_id": "P",
        "X_custom_data": {"a": 1},
        "X_status_notification_url": "https://x.example/n",
        "X_recipient": {
            "name": "Ana",
            "X_zip_code": "01311100",
            "street": "R",
            "number": "1",
            "city": "C",
            "state": "SP",
        },
        "X_items": [{"X_product_id": "p", "quantity": 1, "parts": []}],
        "X_status": "X_APPROVED",
        "X_shipment_id": "S",
    }
    assert sent["by_method"]["X_shipment_method_id"] == 1
    assert sent["by_label"] == {"X_status": "X_approved", "X_shipment_method": "cheapest"}
    assert sent["cancel"] == {"X_status": "X_canceled"}
    assert found["read"] == {
        "partner_order_id": "P",
        "status": "NEW",
        "zip": "01311100",
        "product": "p",
        "extra": {},
        "written": sorted(
            ["id", "X_status", "X_partner_order_id", "X_shipping_cost", "X_recipient", "X_items"]
        ),
    }


def test_no_wire_name_is_spelled_outside_the_table() -> None:
    # Every camelCase name and status value of a request lives in _wire_names.
    table = set(_wire_names.WIRE_NAMES.values()) | {
        _wire_names.APPROVED_ON_CREATE,
        *_wire_names.PATCH_STATUSES.values(),
    }
    for module in ("_endpoints.py", "_input.py", "_converter.py", "_readers.py", "_lenient.py"):
        tree = ast.parse((PACKAGE / module).read_text(encoding="utf-8"))
        strings = {
            node.value
            for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str)
        }
        assert not strings & table, f"{module} spells {strings & table}"


def test_the_table_spells_the_references_odd_names() -> None:
    assert _wire_names.wire_name("partner_order_id") == "partnerOrderID"
    assert _wire_names.wire_name("tracking_items") == "tracking_items"
    assert _wire_names.wire_name("shipment_method") == "shipmentMethod"
    assert _wire_names.PATCH_STATUSES == {"APPROVED": "approved", "CANCELED": "canceled"}
