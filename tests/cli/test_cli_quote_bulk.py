"""``digipix quote-bulk``: one entry per cart, bad rows named, reruns skip what is answered."""

from __future__ import annotations

import csv
import io
import json
import pathlib

import pytest
from cli_helpers import invoke, run, sandbox_env

from digipix_async.sandbox import SandboxServer

HEADER = "cart_id,zip_code,product_id,quantity,pages\n"


def zip_of(number: int) -> str:
    """Return a zip code of its own for every cart, so the server can tell carts apart."""
    return f"{10_000_000 + number:08d}"


def write_carts(path: pathlib.Path, count: int) -> tuple[set[str], set[str]]:
    """Write ``count`` carts (some of two rows, some bad); return (bad ids, unnamed lines).

    Cart 3 + 100k has a non-numeric quantity, cart 7 + 250k a bad zip code, cart 11
    an unknown product (refused by the server). Three rows have no cart id at all.
    """
    bad: set[str] = set()
    rows = [HEADER]
    for number in range(count):
        cart_id, zip_code, quantity = f"cart-{number}", zip_of(number), "1"
        if number % 100 == 3:
            quantity, _ = "two", bad.add(cart_id)
        if number % 250 == 7:
            zip_code, _ = "1234", bad.add(cart_id)
        product = "no-such-product" if number == 11 else "photobook"
        if number == 11:
            bad.add(cart_id)
        rows.append(f"{cart_id},{zip_code},{product},{quantity},24\n")
        if number % 2:
            rows.append(f"{cart_id},{zip_code},mug,2,\n")
        if number % 700 == 5:
            rows.append(f" ,{zip_of(number)},mug,1,\n")
    path.write_text("".join(rows), encoding="utf-8")
    return bad, {"cart_id"}


def entries(path: pathlib.Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


async def test_2000_carts_with_bad_rows_give_one_entry_per_cart_and_exit_1(
    tmp_path: pathlib.Path,
) -> None:
    source, output = tmp_path / "carts.csv", tmp_path / "quotes.jsonl"
    bad, _ = write_carts(source, 2000)

    status, out, err = await run(
        "quote-bulk", str(source), "-o", str(output), "--sandbox", "--json",
        "--concurrency", "32", "--progress-every", "0",
    )  # fmt: skip

    assert status == 1, err
    found = entries(output)
    assert sorted(entry["cart_id"] for entry in found) == sorted(f"cart-{n}" for n in range(2000))
    failed = {entry["cart_id"]: entry["error"] for entry in found if not entry["ok"]}
    assert set(failed) == bad
    assert failed["cart-3"] == {
        "type": "InputError",
        "message": "line 6, column quantity: 'two' is not a whole number from 1 to 1000000",
        "line": 6,
        "column": "quantity",
    }
    assert failed["cart-11"]["type"] == "BadRequestError"
    assert failed["cart-11"]["status"] == 400
    assert all(len(entry["options"]) == 2 for entry in found if entry["ok"])  # type: ignore[arg-type]
    summary = json.loads(out)
    assert summary["ok"] == 2000 - len(bad)
    # The three rows without a cart id are failures too, reported by line.
    assert summary["failed"] == len(bad) + 3
    assert summary["skipped"] == 0
    assert len(summary["problems"]) == 3
    assert all(", column cart_id: a cart id is required" in p for p in summary["problems"])
    # Without a terminal: plain progress lines on stderr, the last one complete.
    progress = [line for line in err.splitlines() if line.startswith("quote-bulk: ")]
    assert progress[-1].startswith("quote-bulk: 2000/2000 (100%), ETA 0 s, ")


def test_jsonl_in_csv_out_and_a_rerun_skips_every_answered_cart(tmp_path: pathlib.Path) -> None:
    source, output = tmp_path / "carts.jsonl", tmp_path / "quotes.csv"
    lines = [
        json.dumps({"cart_id": f"j{n}", "zip_code": zip_of(n),
                    "items": [{"product_id": "mug", "quantity": n + 1}]})
        for n in range(30)
    ]  # fmt: skip
    lines[4] = '{"cart_id": "j4", "zip_code": "01311100", "items": [{"product_id": "mug"}]}'
    lines[9] = '{"cart_id": "j9", oops}'
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")

    status, out, err = invoke("quote-bulk", str(source), "-o", str(output), "--sandbox", "--json")

    assert status == 1, err
    rows = list(csv.DictReader(io.StringIO(output.read_text(encoding="utf-8"))))
    by_cart: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        by_cart.setdefault(row["cart_id"], []).append(row)
    # j9 has no readable cart id: reported on stderr, not written.
    assert set(by_cart) == {f"j{n}" for n in range(30)} - {"j9"}
    assert by_cart["j4"] == [
        {"cart_id": "j4", "ok": "false", "option_id": "", "shipment_method_id": "",
         "option_name": "", "cost": "", "estimated_delivery_days": "", "error_type": "InputError",
         "error_message": "line 5, column items[0].quantity: a value is required"}
    ]  # fmt: skip
    assert [row["option_name"] for row in by_cart["j0"]] == ["Cheapest", "Fastest"]
    assert "INPUT line 10, column 19: not JSON: Expecting property name" in err
    assert json.loads(out)["ok"] == 28
    before = output.read_bytes()

    status, out, err = invoke("quote-bulk", str(source), "-o", str(output), "--sandbox", "--json")

    summary = json.loads(out)
    assert (summary["ok"], summary["skipped"], summary["skipped_failed"]) == (0, 29, 1)
    assert status == 1  # the output still holds a failed cart
    assert output.read_bytes() == before


async def test_retries_are_counted_and_every_cart_is_answered(tmp_path: pathlib.Path) -> None:
    source, output = tmp_path / "carts.csv", tmp_path / "quotes.jsonl"
    source.write_text(
        HEADER + "".join(f"r{n},{zip_of(n)},mug,1,\n" for n in range(40)), encoding="utf-8"
    )
    async with SandboxServer() as sandbox:
        sandbox.faults.add("rate_limit", path="/v1/quote", retry_after=0, times=5)

        status, out, err = await run(
            "quote-bulk", str(source), "-o", str(output), "--json", env=sandbox_env(sandbox)
        )

        quotes = sandbox.request_count("POST", "/v1/quote")
    assert status == 0, err
    summary = json.loads(out)
    assert (summary["ok"], summary["failed"], summary["retried"]) == (40, 0, 5)
    assert quotes == 45
    assert len(entries(output)) == 40


def test_a_file_with_a_missing_column_is_refused_with_exit_2(tmp_path: pathlib.Path) -> None:
    source, output = tmp_path / "carts.csv", tmp_path / "quotes.jsonl"
    source.write_text("cart_id,zip_code,product\nc1,01311100,mug\n", encoding="utf-8")

    status, _, err = invoke("quote-bulk", str(source), "-o", str(output), "--sandbox")

    assert status == 2
    assert "line 1: the header has no column product_id, quantity" in err
    assert output.exists() is False


def test_an_unknown_extension_or_foreign_output_is_bad_usage(tmp_path: pathlib.Path) -> None:
    source = tmp_path / "carts.txt"
    source.write_text(HEADER + "c1,01311100,mug,1,\n", encoding="utf-8")
    foreign = tmp_path / "notes.jsonl"
    foreign.write_text("my notes\n", encoding="utf-8")

    status, _, err = invoke("quote-bulk", str(source), "-o", str(tmp_path / "o.jsonl"))
    assert status == 2
    assert "pass --input-format" in err

    status, _, err = invoke(
        "quote-bulk", str(source), "--input-format", "csv", "-o", str(foreign), "--sandbox"
    )
    assert status == 2
    assert "notes.jsonl line 1 is not JSON: not a quote-bulk result" in err
    assert foreign.read_text(encoding="utf-8") == "my notes\n"


async def test_rate_limit_reaches_the_client(tmp_path: pathlib.Path) -> None:
    source, output = tmp_path / "carts.csv", tmp_path / "quotes.jsonl"
    source.write_text(
        HEADER + "".join(f"r{n},{zip_of(n)},mug,1,\n" for n in range(30)), encoding="utf-8"
    )
    async with SandboxServer() as sandbox:
        status, _, err = await run(
            "quote-bulk", str(source), "-o", str(output), "--rate-limit", "10",
            "--concurrency", "16", env=sandbox_env(sandbox),
        )  # fmt: skip

        arrivals = sorted(sandbox.arrivals("POST", "/v1/quote"))
    assert status == 0, err
    assert len(arrivals) == 30
    # A bucket of 10 refilled at 10/s lets fewer than 20 requests into any second.
    assert all(arrivals[i + 20] - arrivals[i] >= 0.95 for i in range(len(arrivals) - 20))


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.csv", b"", "line 1: the file is empty; expected the header"),
        ("header-only.csv", HEADER.encode(), "the file holds no cart"),
        ("empty.jsonl", b"\n\n", "the file holds no cart"),
        ("utf16.csv", HEADER.encode("utf-16"), "line 1: the header is not UTF-8 text"),
    ],
)
def test_an_input_without_carts_is_bad_usage(
    tmp_path: pathlib.Path, name: str, content: bytes, message: str
) -> None:
    source = tmp_path / name
    source.write_bytes(content)

    status, out, err = invoke("quote-bulk", str(source), "-o", str(tmp_path / "o.jsonl"))

    assert status == 2
    assert message in err
    assert out == ""


def test_an_output_in_a_missing_directory_is_bad_usage(tmp_path: pathlib.Path) -> None:
    source, output = tmp_path / "carts.csv", tmp_path / "missing" / "quotes.jsonl"
    source.write_text(HEADER + "c1,01311100,mug,1,\n", encoding="utf-8")

    status, _, err = invoke("quote-bulk", str(source), "-o", str(output), "--sandbox")

    assert status == 2  # was a traceback (FileNotFoundError) and 1
    assert f"Invalid value for OUTPUT: cannot open {output}: No such file or directory" in err
