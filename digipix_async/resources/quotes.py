"""`client.quotes`: shipping quotes for a cart (scope "quote")."""

from __future__ import annotations

from collections.abc import AsyncIterable, Iterable, Mapping, Sequence
from typing import Any, Unpack

from digipix_async import _endpoints
from digipix_async._options import BodyOptions, with_options
from digipix_async.models import QuoteItem, ShippingOption
from digipix_async.resources._base import Caller, throttle_counter
from digipix_async.resources._bulk import DEFAULT_CONCURRENCY, BulkRun, run_bulk

__all__ = ["Quotes"]


class Quotes:
    """Price the shipping options of a cart; quotes are not saved by the server."""

    def __init__(self, client: Caller) -> None:
        self._client = client

    async def create(
        self,
        *,
        zip_code: str,
        items: Sequence[QuoteItem | Mapping[str, Any]],
        **options: Unpack[BodyOptions],
    ) -> list[ShippingOption]:
        """Return the shipping options for ``items`` sent to ``zip_code`` (``POST /v1/quote``).

        Each option's ``id`` can be passed to ``orders.create(shipment_id=...)``.
        """
        request = with_options(_endpoints.create_quote(zip_code=zip_code, items=items), options)
        return await self._client._call(request, list[ShippingOption])

    def create_many(
        self,
        requests: Iterable[Mapping[str, Any]] | AsyncIterable[Mapping[str, Any]],
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
    ) -> BulkRun[list[ShippingOption]]:
        """Quote many carts concurrently: ``{"zip_code": ..., "items": [...]}`` each.

        Yields one `BulkResult` per input, in completion order (see its ``index``).
        At most ``concurrency`` quotes are in flight, halved on each wave of 429s and
        grown back on success; a cart refused with 429 is tried again later. An early
        exit cancels the quotes in flight: a quote is not saved, so nothing is lost.
        """
        return run_bulk(
            self.create,
            requests,
            concurrency=concurrency,
            on_exit="cancel",
            throttle_count=throttle_counter(self._client),
        )
