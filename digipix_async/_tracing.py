"""OpenTelemetry: one CLIENT span per call, when the application has set a tracer provider.

Optional (the ``digipix_async[otel]`` extra brings ``opentelemetry-api``). Until
the application installs a tracer provider, the global one is a proxy that makes
no spans: the client then skips tracing entirely, so a call costs nothing more.

What a span holds: the HTTP client semantic conventions (``http.request.method``,
``url.template`` — the route, never the ids in the path —, ``server.address``,
``server.port``, ``http.response.status_code``), ``digipix.attempts``, the token
wait and each retry wait as events, ``error.type`` on failure. Never a secret,
a token, a body, an id of a person or an exception's text (a server's error
description may quote what it was sent).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from digipix_async._sansio import Request

__all__ = ["answered", "call_span", "enabled", "route_of", "waited"]

try:
    from opentelemetry import trace
except ImportError:  # the otel extra is not installed
    trace = None  # type: ignore[assignment]

_INSTRUMENTATION = "digipix_async"
#: The resources whose paths hold an id, and the template's name for it.
_ID_SEGMENTS = {"orders": "{orderId}", "products": "{productId}"}


def enabled() -> bool:
    """Tell whether spans would be recorded: opentelemetry is there and a provider is set."""
    if trace is None:
        return False
    provider = trace.get_tracer_provider()
    return not isinstance(provider, trace.ProxyTracerProvider | trace.NoOpTracerProvider)


def route_of(path: str) -> str:
    """Return the route template of a request path (``/v1/orders/{orderId}``)."""
    path = path.split("?", 1)[0]
    parts = path.split("/")
    if len(parts) == 4 and parts[2] in _ID_SEGMENTS:  # "", "v1", "orders", "<id>"
        parts[3] = _ID_SEGMENTS[parts[2]]
    return "/".join(parts)


@contextlib.contextmanager
def call_span(request: Request, base_url: str) -> Iterator[Any]:
    """Run one call inside a CLIENT span named ``METHOD /route`` (semantic conventions)."""
    assert trace is not None  # callers check enabled() first
    route = route_of(request.path)
    server = urlsplit(base_url)
    tracer = trace.get_tracer(_INSTRUMENTATION)
    attributes: dict[str, Any] = {
        "http.request.method": request.method,
        "url.template": route,
        "server.address": server.hostname or "",
    }
    if server.port is not None:
        attributes["server.port"] = server.port
    with tracer.start_as_current_span(
        f"{request.method} {route}",
        kind=trace.SpanKind.CLIENT,
        attributes=attributes,
        # The exception's text may quote a server's description of what it was
        # sent: only its type goes into the span (error.type, below).
        record_exception=False,
        set_status_on_exception=False,
    ) as span:
        try:
            yield span
        except BaseException as error:
            span.set_attribute("error.type", type(error).__qualname__)
            span.set_status(trace.Status(trace.StatusCode.ERROR))
            raise


def waited(span: Any, name: str, since: float) -> None:
    """Record a wait that began at ``since`` (monotonic) as an event with its seconds."""
    span.add_event(name, {"seconds": round(time.monotonic() - since, 6)})


def answered(span: Any, status: int, attempts: int) -> None:
    """Record the status of the latest answer and how many attempts were made."""
    span.set_attribute("http.response.status_code", status)
    span.set_attribute("digipix.attempts", attempts)
