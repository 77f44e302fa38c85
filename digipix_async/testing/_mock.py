"""`MockTransport`: unit tests of code that uses `DigipixClient`, without sockets.

Every request the client makes, the token request included, goes to a handler
you write, which answers with a `MockResponse` (exported as ``testing.Response``)
or raises `APIConnectionError` to play a network failure::

    from digipix_async import DigipixClient, testing

    def handler(request: testing.MockRequest) -> testing.Response:
        if request.path == "/v1/oauth/token":
            return testing.Response(200, json={"access_token": "t", "expires_in": 3600})
        assert request.headers["Authorization"] == "Bearer t"
        return testing.Response(200, json={"id": "o-1", "status": "APPROVED"})

    mock = testing.MockTransport(handler)
    async with DigipixClient("id", "secret", transport=mock) as client:
        order = await client.orders.get("o-1")
    assert [r.path for r in mock.requests] == ["/v1/oauth/token", "/v1/orders/o-1"]

The handler may be a plain function or a coroutine function (to ``await`` an
event or sleep, say). It sits on the client's transport seam (`_sansio.Transport`),
so retries, token refresh, deadlines and error mapping all run as they do over
the network. No aiohttp here: this module works without it.
"""

from __future__ import annotations

import inspect
import json as stdlib_json
from collections.abc import Awaitable, Callable, Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit

from digipix_async import _json
from digipix_async._errors import APIConnectionError
from digipix_async._sansio import Response as _WireResponse

__all__ = ["Handler", "MockRequest", "MockResponse", "MockTransport"]

_UNSET: Any = object()


class Headers(Mapping[str, str]):
    """Read-only, case-insensitive headers (``headers["content-type"]`` works)."""

    __slots__ = ("_items",)

    def __init__(self, headers: Mapping[str, str] | None = None) -> None:
        self._items = {name.lower(): (name, value) for name, value in (headers or {}).items()}

    def __getitem__(self, name: str) -> str:
        return self._items[name.lower()][1]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._items

    def __iter__(self) -> Iterator[str]:
        return (name for name, _ in self._items.values())

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        # Names only: the Authorization value is a token.
        return f"Headers({sorted(self)!r})"


class MockRequest:
    """One request as the client sent it.

    ``path`` is the URL's percent-encoded path (``/v1/orders/o-1``), ``url`` the
    whole URL, ``body`` the bytes on the wire (None without a body) and ``json``
    those bytes parsed (None without a body; fractions as floats, as ``json.loads``).
    """

    __slots__ = ("body", "headers", "json", "method", "path", "url")

    def __init__(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes | None
    ) -> None:
        self.method = method
        self.url = url
        self.path = urlsplit(url).path
        self.headers: Mapping[str, str] = Headers(headers)
        self.body = body
        self.json: Any = stdlib_json.loads(body) if body else None

    def __repr__(self) -> str:
        # Never the body or the headers: the token request's body holds the secret.
        return f"<MockRequest {self.method} {self.path}>"


class MockResponse:
    """The answer a handler gives: a status and a body, as ``json=`` or as raw ``body=``.

    ``json`` is written as the API would (compact UTF-8; a ``Decimal`` stays exact)
    with ``Content-Type: application/json`` unless ``headers`` names another. ``body``
    (bytes or text) is sent as it is, to test answers that are not JSON.
    """

    __slots__ = ("body", "headers", "status")

    def __init__(
        self,
        status: int = 200,
        *,
        json: Any = _UNSET,
        headers: Mapping[str, str] | None = None,
        body: bytes | str | None = None,
    ) -> None:
        if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
            raise ValueError(f"status must be an HTTP status (100-599), got {status!r}")
        if json is not _UNSET and body is not None:
            raise ValueError("give json= or body=, not both")
        given = Headers(headers)
        if json is not _UNSET:
            payload = _json.dumps(json)
            if "Content-Type" not in given:
                given = Headers({**given, "Content-Type": "application/json"})
        elif isinstance(body, str):
            payload = body.encode()
        else:
            payload = body or b""
        self.status = status
        self.headers: Mapping[str, str] = given
        self.body: bytes = payload

    def __repr__(self) -> str:
        return f"<MockResponse {self.status} ({len(self.body)} bytes)>"


#: What `MockTransport` calls: a function of the request, plain or async.
Handler = Callable[[MockRequest], MockResponse | Awaitable[MockResponse]]


class MockTransport:
    """A transport whose answers come from ``handler``; records every request.

    Pass it as ``DigipixClient(..., transport=MockTransport(handler))``.
    ``requests`` lists what was sent, in order. The handler may raise
    `APIConnectionError` (``request_sent=False`` for "never reached the server")
    or `APITimeoutError`; anything else it raises (an ``AssertionError``, say)
    reaches the test as it is.
    """

    def __init__(self, handler: Handler) -> None:
        if not callable(handler):
            raise TypeError(f"handler must be callable, got {handler!r}")
        self._handler = handler
        self.requests: list[MockRequest] = []
        self.closed = False

    async def send(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        body: bytes | None,
        connect: float,
        read: float | None,
    ) -> _WireResponse:
        """Hand the request to the handler; return its answer as the client reads it."""
        if self.closed:
            raise APIConnectionError("the client is closed", request_sent=False)
        request = MockRequest(method, url, headers, body)
        self.requests.append(request)
        answer = self._handler(request)
        if inspect.isawaitable(answer):
            answer = await answer
        if not isinstance(answer, MockResponse):
            raise TypeError(
                f"the MockTransport handler must return testing.Response, got {answer!r} "
                f"for {request!r}"
            )
        return _WireResponse(answer.status, answer.headers, answer.body)

    async def aclose(self) -> None:
        """Refuse later requests, as a closed client's transport does; safe to repeat."""
        self.closed = True
