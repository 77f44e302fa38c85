"""Every digipix command's happy path, and its bad usage exiting 2."""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys

import pytest
from cli_helpers import invoke, run, sandbox_env
from samples import ITEMS, RECIPIENT

from digipix_async import DigipixClient
from digipix_async.sandbox import SandboxServer


def test_products_as_json_list_the_catalogue() -> None:
    status, out, err = invoke("products", "--sandbox", "--json")

    assert status == 0, err
    products = json.loads(out)
    assert [product["id"] for product in products] == [
        "photobook", "print-10x15", "canvas-30x40", "calendar-a4", "mug"
    ]  # fmt: skip
    assert products[0]["price"] == "10.9"  # money stays exact: a string, never a float
    assert products[0]["parts"] == [
        {"id": "cover", "name": "Cover"},
        {"id": "pages", "name": "Pages"},
    ]


def test_products_as_a_table_for_people() -> None:
    status, out, _ = invoke("products", "--sandbox")

    assert status == 0
    assert "canvas-30x40" in out
    assert "R$ 89.9" in out


def test_quote_prices_one_cart() -> None:
    status, out, err = invoke(
        "quote", "--sandbox", "--zip", "01311-100", "--item", "photobook:2:24", "--json"
    )

    assert status == 0, err
    options = json.loads(out)
    # 800 g is one started kilogram, region 1 (sandbox price table).
    assert [(o["name"], o["cost"], o["estimated_delivery_days"]) for o in options] == [
        ("Cheapest", "2.09", 7),
        ("Fastest", "15.3", 2),
    ]


def test_quote_as_a_table() -> None:
    status, out, _ = invoke("quote", "--sandbox", "--zip", "01311100", "--item", "mug:1")

    assert status == 0
    assert "shipping to 01311100" in out
    assert "Cheapest" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["quote", "--sandbox", "--item", "mug:1"], "Missing option '--zip'"),
        (["quote", "--sandbox", "--zip", "0131", "--item", "mug:1"], "'0131' is not a zip code"),
        (["quote", "--sandbox", "--zip", "01311100", "--item", "mug"], "not product_id:quantity"),
        (["quote", "--sandbox", "--zip", "01311100", "--item", "mug:0"], "quantity: '0' is not"),
        (["orders", "approve", "o1", "--sandbox"], "exactly one of --shipment-id and"),
        (
            ["orders", "approve", "o1", "--shipment-id", "s", "--shipment-method", "fastest"],
            "exactly one of --shipment-id and --shipment-method",
        ),
        (["orders", "approve", "o1", "--shipment-method", "slowest"], "'slowest' is not one of"),
        (["orders", "get"], "Missing argument 'ORDER_ID'"),
        (["orders", "create-bulk", "missing.jsonl", "--journal", "j.db"], "does not exist"),
        (["products", "--rate-limit", "0"], "Invalid value for '--rate-limit'"),
        (["nope"], "No such command 'nope'"),
        (["demo", "--json"], "No such option '--json'"),
        (["orders", "cancel"], "Missing argument 'ORDER_ID'"),
        (["orders", "reconcile"], "Missing option '--journal'"),
        (["orders", "create-bulk", "--journal", "j.db"], "Missing argument 'INPUT.jsonl'"),
        (["quote-bulk", "--sandbox"], "Missing argument 'INPUT'"),
        (["products"], "no Digipix credentials: set DIGIPIX_CLIENT_ID and DIGIPIX_CLIENT_SECRET"),
    ],
)
def test_bad_usage_exits_2_before_anything_is_sent(args: list[str], message: str) -> None:
    status, out, err = invoke(*args)

    assert status == 2
    assert message in err
    assert out == ""


def test_a_bad_environment_is_bad_usage(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIGIPIX_CLIENT_ID", "id")
    monkeypatch.setenv("DIGIPIX_CLIENT_SECRET", "not-shown")
    monkeypatch.setenv("DIGIPIX_BASE_URL", "ftp://example.invalid")

    status, _, err = invoke("products")

    assert status == 2
    assert "Error: the environment's Digipix settings:" in err
    assert "not-shown" not in err


def test_an_api_error_is_one_line_and_exit_1() -> None:
    status, out, err = invoke("orders", "get", "no-such-order", "--sandbox")

    assert status == 1
    assert out == ""
    assert err == (
        "digipix: NotFoundError: 404 (GET /v1/orders/no-such-order): "
        "order 'no-such-order' not found\n"
    )


def test_help_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    status, _, _ = invoke("--help")

    assert status == 0
    assert "quote-bulk" in capsys.readouterr().out


def test_without_click_and_rich_one_line_names_the_extra(tmp_path: pathlib.Path) -> None:
    code = (
        "import sys; sys.modules['click'] = None; sys.modules['rich'] = None\n"
        "from digipix_async.cli import main\n"
        "raise SystemExit(main(['products']))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )

    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr == (
        "digipix: the command line needs click and rich: pip install 'digipix_async[cli]'\n"
    )


async def test_orders_get_approve_and_cancel_against_a_server() -> None:
    async with SandboxServer() as sandbox:
        env = sandbox_env(sandbox)
        async with DigipixClient(
            sandbox.client_id, sandbox.client_secret, base_url=sandbox.base_url
        ) as client:
            first = await client.orders.create(recipient=RECIPIENT, items=ITEMS)
            second = await client.orders.create(recipient=RECIPIENT, items=ITEMS)

        status, out, err = await run("orders", "get", first.id, "--json", env=env)
        assert status == 0, err
        shown = json.loads(out)
        assert (shown["id"], shown["status"]) == (first.id, "QUOTE")

        shipment = first.shipments[0].id
        status, out, err = await run(
            "orders", "approve", first.id, "--shipment-id", shipment, "--json", env=env
        )
        assert status == 0, err
        assert json.loads(out)["status"] == "APPROVED"
        assert sandbox.order(first.id)["status"] == "APPROVED"

        status, out, err = await run(
            "orders", "approve", second.id, "--shipment-method", "fastest", env=env
        )
        assert status == 0, err
        assert "APPROVED" in out
        assert sandbox.order(second.id)["shipment"]["shipmentMethodId"] == 2

        status, out, err = await run("orders", "cancel", second.id, "--json", env=env)
        assert status == 0, err
        assert json.loads(out)["status"] == "CANCELED"
        assert sandbox.order(second.id)["status"] == "CANCELED"
