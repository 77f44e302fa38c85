"""Raw answers: ``client.with_raw_response.<resource>.<method>(...)`` returns an `APIResponse`.

The same call, the same retries and errors; only the success is handed over as
it came (status, headers, body, the server's request id, how long it took, how
many attempts), with `APIResponse.parse` to get the model when wanted.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Mapping
from typing import TYPE_CHECKING, Any, Concatenate, Generic, ParamSpec, TypeVar

import attrs

from digipix_async._sansio import Response
from digipix_async.resources import Orders, Products, Quotes

if TYPE_CHECKING:
    from digipix_async._client import DigipixClient

__all__ = ["APIResponse", "RawResponses"]

T = TypeVar("T")
P = ParamSpec("P")


@attrs.frozen
class APIResponse(Generic[T]):
    """A successful answer as it came, before it is read into a model.

    ``request_id`` is the server's ``X-Request-Id`` (None when it sent none),
    ``elapsed`` the seconds the whole call took (token wait and retries included)
    and ``attempts`` how many requests it sent.
    """

    status: int
    headers: Mapping[str, str]
    body: bytes = attrs.field(repr=False)
    request_id: str | None
    elapsed: float
    attempts: int
    _reader: Callable[[Response], T] = attrs.field(repr=False, alias="reader")

    def parse(self) -> T:
        """Read the body into the model the call returns (as the plain call would)."""
        return self._reader(Response(self.status, self.headers, self.body))


class _Raw(Generic[P, T]):
    """A resource method, called through a client that hands back `APIResponse`s."""

    def __init__(self, method: Callable[Concatenate[Any, P], Coroutine[Any, Any, T]]) -> None:
        self._method = method

    def __get__(
        self, view: _RawResource | None, owner: type[Any]
    ) -> Callable[P, Coroutine[Any, Any, APIResponse[T]]]:
        if view is None:
            raise AttributeError("a raw method is used on a client's with_raw_response")
        method, resource = self._method, view._resource

        def call(*args: P.args, **kwargs: P.kwargs) -> Coroutine[Any, Any, APIResponse[T]]:
            if kwargs.get("journal") is not None:
                # A journal records the Order a create returns; a raw answer is none.
                raise TypeError("with_raw_response does not take journal=; journal the plain call")
            # The resource runs as ever; its client's _call hands back the raw answer.
            return method(resource, *args, **kwargs)  # type: ignore[return-value]

        return call


class _RawResource:
    def __init__(self, resource: Any) -> None:
        self._resource = resource


class RawProducts(_RawResource):
    """``products`` methods returning `APIResponse`s."""

    list = _Raw(Products.list)
    get = _Raw(Products.get)


class RawQuotes(_RawResource):
    """``quotes`` methods returning `APIResponse`s."""

    create = _Raw(Quotes.create)


class RawOrders(_RawResource):
    """``orders`` methods returning `APIResponse`s."""

    create = _Raw(Orders.create)
    approve = _Raw(Orders.approve)
    cancel = _Raw(Orders.cancel)
    get = _Raw(Orders.get)


class RawResponses:
    """The resources of a client, answering with `APIResponse` instead of models."""

    def __init__(self, raw_client: DigipixClient) -> None:
        self.products = RawProducts(raw_client.products)
        self.quotes = RawQuotes(raw_client.quotes)
        self.orders = RawOrders(raw_client.orders)
