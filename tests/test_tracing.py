"""OpenTelemetry: one CLIENT span per call, through the global tracer provider.

The global provider can be set once per process, so each scenario runs in a
subprocess with the SDK's in-memory exporter and prints the spans as JSON.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from typing import Any

SECRET = "s3cr3t-value-xyz"

SCRIPT = textwrap.dedent(
    """
    import asyncio, json, sys
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from digipix_async import DigipixClient, NotFoundError, _retry
    from digipix_async._sansio import Response

    SET_PROVIDER = sys.argv[1] == "with-provider"
    exporter = InMemorySpanExporter()
    if SET_PROVIDER:
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        trace.set_tracer_provider(provider)

    ORDER = b'{"id": "abc", "status": "APPROVED", "recipient": {"name": "Maria Silva"}}'
    ANSWERS = [
        Response(200, {}, b'{"access_token": "tok-SECRET-1", "expires_in": 3600}'),
        Response(503, {"Retry-After": "0"}, b""),
        Response(200, {}, ORDER),
        Response(404, {}, b'{"message": "no order zzz for Maria Silva"}'),
    ]

    class Scripted:
        async def send(self, method, url, **_):
            return ANSWERS.pop(0)
        async def aclose(self):
            pass

    async def main():
        _retry.set_testing(True)
        async with DigipixClient(
            "abc123", "THE_SECRET", base_url="https://api.digipix.test:8443", transport=Scripted()
        ) as client:
            await client.orders.get("abc")
            try:
                await client.orders.get("zzz")
            except NotFoundError:
                pass

    asyncio.run(main())
    spans = [
        {
            "name": s.name,
            "kind": s.kind.name,
            "attributes": dict(s.attributes),
            "events": [{"name": e.name, "attributes": dict(e.attributes)} for e in s.events],
            "status": s.status.status_code.name,
        }
        for s in exporter.get_finished_spans()
    ]
    print(json.dumps(spans))
    """
).replace("THE_SECRET", SECRET)


def run(mode: str) -> list[dict[str, Any]]:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, mode], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    spans: list[dict[str, Any]] = json.loads(done.stdout)
    return spans


def test_each_call_is_one_client_span_with_the_http_conventions() -> None:
    spans = run("with-provider")
    assert [span["name"] for span in spans] == [
        "GET /v1/orders/{orderId}",
        "GET /v1/orders/{orderId}",
    ]
    ok, missing = spans
    assert ok["kind"] == "CLIENT"
    assert ok["attributes"] == {
        "http.request.method": "GET",
        "url.template": "/v1/orders/{orderId}",
        "server.address": "api.digipix.test",
        "server.port": 8443,
        "http.response.status_code": 200,
        "digipix.attempts": 2,
    }
    assert [event["name"] for event in ok["events"]] == ["token wait", "retry wait"]
    assert ok["status"] == "UNSET"
    assert missing["attributes"]["error.type"] == "NotFoundError"
    assert missing["attributes"]["http.response.status_code"] == 404
    assert missing["status"] == "ERROR"


def test_no_secret_token_or_personal_data_reaches_a_span() -> None:
    text = json.dumps(run("with-provider"))
    for private in (SECRET, "tok-SECRET-1", "Maria", "abc", "zzz"):
        assert private not in text


def test_without_a_provider_no_span_is_made() -> None:
    assert run("without-provider") == []
