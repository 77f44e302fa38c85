"""How much of the SDK's orders.get CPU is the conversion (JSON bytes -> attrs models).

Two sources: `benchmarks/bench_decode.py` (its own sample order, run as a subprocess)
and a direct timing of the order document the fake server serves.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import timeit
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks import payloads

BENCH_DECODE = Path(__file__).resolve().parent / "bench_decode.py"
_TIMEOUT = 600


def bench_decode(repeat: int = 3) -> dict[str, Any] | None:
    """Run bench_decode.py and return its JSON results, or None if it is missing or fails."""
    if not BENCH_DECODE.exists():
        return None
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "decode.json"
        done = subprocess.run(
            [sys.executable, str(BENCH_DECODE), "--repeat", str(repeat), "--json", str(out)],
            capture_output=True,
            text=True,
            timeout=_TIMEOUT,
            check=False,
        )
        if done.returncode != 0 or not out.exists():
            print(f"bench_decode.py failed: {done.stderr.strip()[-500:]}", file=sys.stderr)
            return None
        result: dict[str, Any] = json.loads(out.read_text())
        result["markdown"] = done.stdout.strip()
        return result


def _sdk_decoder() -> Callable[[bytes], Any]:
    """Return what the client's pipeline does to an order body: JSON parse, then structure."""
    from digipix_async import _converter
    from digipix_async.models import Order

    try:  # the parser moved from _converter to _json while the SDK was being optimised
        from digipix_async._json import loads
    except ImportError:
        loads = _converter.loads  # type: ignore[attr-defined]

    def decode(body: bytes) -> Any:
        return _converter.structure(loads(body), Order)

    return decode


def served_order_decode_us(repeat: int = 5) -> dict[str, float]:
    """Time json.loads and the SDK's parse + structure on the served order document."""
    body = payloads.ROUTES[payloads.ORDER_PATH]
    decode = _sdk_decoder()
    cases = {
        "json.loads -> dicts": lambda: json.loads(body),
        "loads + structure (prebuilt)": lambda: decode(body),
    }
    found = {}
    for name, call in cases.items():
        timer = timeit.Timer(call)
        number, _ = timer.autorange()
        found[name] = min(timer.repeat(repeat=repeat, number=number)) / number * 1e6
    return found


def decode_section(sdk_orders_get_cpu_us: float | None, *, repeat: int = 3) -> dict[str, Any]:
    """Collect both measurements and the conversion's share of the SDK's orders.get CPU."""
    served = served_order_decode_us()
    from_bench = bench_decode(repeat)
    section: dict[str, Any] = {"served_order_us": served, "bench_decode": from_bench}
    structure_us = served["loads + structure (prebuilt)"]
    if sdk_orders_get_cpu_us:
        section["sdk_orders_get_cpu_us"] = sdk_orders_get_cpu_us
        section["served_order_share"] = structure_us / sdk_orders_get_cpu_us
        section["served_order_share_over_json_loads"] = (
            structure_us - served["json.loads -> dicts"]
        ) / sdk_orders_get_cpu_us
        if from_bench is not None:
            rows = [
                r
                for r in from_bench.get("results", [])
                if r.get("case") == "loads + structure (prebuilt)"
                and str(r.get("document", "")).startswith("sample order")
            ]
            if rows:
                section["bench_decode_us"] = rows[0]["us_per_doc"]
                section["bench_decode_share"] = rows[0]["us_per_doc"] / sdk_orders_get_cpu_us
    return section


def decode_markdown(section: dict[str, Any]) -> str:
    """Render the decode section as markdown."""
    served = section["served_order_us"]
    size = len(payloads.ROUTES[payloads.ORDER_PATH])
    lines = [
        f"Served order document ({size} B): json.loads {served['json.loads -> dicts']:.1f} µs, "
        f"SDK loads + structure {served['loads + structure (prebuilt)']:.1f} µs per document.",
    ]
    if "served_order_share" in section:
        lines.append(
            f"Share of the SDK's orders.get CPU ({section['sdk_orders_get_cpu_us']:.1f} µs/op): "
            f"{section['served_order_share']:.0%} for the whole conversion, "
            f"{section['served_order_share_over_json_loads']:.0%} above a plain json.loads."
        )
    if "bench_decode_share" in section:
        lines.append(
            f"bench_decode.py's sample order: {section['bench_decode_us']:.1f} µs = "
            f"{section['bench_decode_share']:.0%} of the SDK's orders.get CPU."
        )
    bench = section.get("bench_decode")
    if bench is not None:
        lines += ["", "`benchmarks/bench_decode.py`:", "", bench["markdown"]]
    else:
        lines.append("(benchmarks/bench_decode.py missing or failed: not included.)")
    return "\n".join(lines)
