"""`client.orders`: create, approve, cancel and track orders (scope "orders")."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterable, Iterable, Mapping, Sequence
from typing import Any, Unpack

from digipix_async import _endpoints
from digipix_async._errors import APIConnectionError, OrderOutcomeUnknownError
from digipix_async._log import log
from digipix_async._options import BodyOptions, RequestOptions, with_options
from digipix_async.jobs import OrderJournal
from digipix_async.jobs._journaled import create_journaled
from digipix_async.models import Order, OrderItem, Recipient, ShipmentMethod
from digipix_async.resources._base import Caller, throttle_counter
from digipix_async.resources._bulk import DEFAULT_CONCURRENCY, BulkResult, BulkRun, run_bulk

__all__ = ["Orders"]


class Orders:
    """Place orders and follow them through their life cycle."""

    def __init__(self, client: Caller) -> None:
        self._client = client

    async def create(
        self,
        *,
        recipient: Recipient | Mapping[str, Any],
        items: Sequence[OrderItem | Mapping[str, Any]],
        shipment_id: str | None = None,
        shipment_method: ShipmentMethod | int | str | None = None,
        partner_order_id: str | None = None,
        custom_data: Mapping[str, Any] | None = None,
        status_notification_url: str | None = None,
        journal: OrderJournal | None = None,
        resend_unknown: bool = False,
        **options: Unpack[BodyOptions],
    ) -> Order:
        """Create an order (``POST /v1/orders``) in one of the reference's three flows.

        Without a shipment the order is a QUOTE carrying ``shipments`` to approve
        or cancel within seven days; with ``shipment_id`` (from a quote) or
        ``shipment_method`` it is created already APPROVED. A failure that leaves
        the outcome unknown raises `OrderOutcomeUnknownError` and is never retried.

        With ``journal`` (an `OrderJournal`; ``partner_order_id`` is then required,
        as its key) the intent is recorded before sending and the outcome after: an
        order the journal knows as created is returned without a request, one whose
        outcome is unknown raises `OrderOutcomeUnknownError` unless ``resend_unknown``.

        Every call also takes ``extra_headers=``, ``extra_query=`` and ``extra_body=``
        (merged last into the request as sent; ``extra_body`` is journaled with it).
        """
        if journal is not None:
            arguments = {
                "recipient": recipient,
                "items": items,
                "shipment_id": shipment_id,
                "shipment_method": shipment_method,
                "partner_order_id": partner_order_id,
                "custom_data": custom_data,
                "status_notification_url": status_notification_url,
            }
            return await create_journaled(
                self._client, journal, arguments, resend_unknown=resend_unknown, options=options
            )
        request = _endpoints.create_order(
            recipient=recipient,
            items=items,
            shipment_id=shipment_id,
            shipment_method=shipment_method,
            partner_order_id=partner_order_id,
            custom_data=custom_data,
            status_notification_url=status_notification_url,
        )
        return await self._client._call(with_options(request, options), Order)

    async def approve(
        self,
        order_id: str,
        *,
        shipment_id: str | None = None,
        shipment_method: ShipmentMethod | int | str | None = None,
        **options: Unpack[BodyOptions],
    ) -> Order:
        """Approve a QUOTE order with one of its shipments (``PATCH /v1/orders/{id}``).

        ``shipment_method`` is a `ShipmentMethod` or its number (sent as
        ``shipmentMethodId``) or the reference's label (``"cheapest"``, sent as
        ``shipmentMethod``).
        """
        request = _endpoints.approve_order(
            order_id, shipment_id=shipment_id, shipment_method=shipment_method
        )
        return await self._client._call(with_options(request, options), Order)

    async def cancel(self, order_id: str, **options: Unpack[BodyOptions]) -> Order:
        """Cancel an order that is not yet in production (``PATCH /v1/orders/{id}``)."""
        request = with_options(_endpoints.cancel_order(order_id), options)
        return await self._client._call(request, Order)

    async def get(self, order_id: str, **options: Unpack[RequestOptions]) -> Order:
        """Return an order with its current status (``GET /v1/orders/{id}``)."""
        request = with_options(_endpoints.get_order(order_id), options)
        return await self._client._call(request, Order)

    def create_many(
        self,
        requests: Iterable[Mapping[str, Any]] | AsyncIterable[Mapping[str, Any]],
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        journal: OrderJournal | None = None,
        resend_unknown: bool = False,
    ) -> BulkRun[Order]:
        """Create many orders concurrently; each mapping holds `create`'s keyword arguments.

        Yields one `BulkResult` per input, in completion order (see its ``index``).
        At most ``concurrency`` creates are in flight, halved on each wave of 429s and
        grown back on success; an order refused with 429 was not created and is tried
        again later. No order is lost on an early exit: use it as
        ``async with client.orders.create_many(...) as results:`` and leaving the block
        waits for the creates in flight (each within its own deadline); without
        ``async with`` they finish in the background. Outcomes nobody consumed are
        logged at WARNING with their order id and partner order id.

        With ``journal``, every input goes through ``create(..., journal=journal,
        resend_unknown=resend_unknown)``: concurrent intents share one commit.
        """
        call = self.create
        if journal is not None:
            if not isinstance(journal, OrderJournal):
                raise TypeError(f"journal must be an OrderJournal, got {type(journal).__name__}")
            call = functools.partial(self.create, journal=journal, resend_unknown=resend_unknown)
        return run_bulk(
            call,
            requests,
            concurrency=concurrency,
            on_exit="drain",
            hand_over=_hand_over,
            interrupted=_interrupted,
            throttle_count=throttle_counter(self._client),
        )


def _partner_order_id(kwargs: Mapping[str, Any]) -> Any:
    return kwargs.get("partner_order_id") if isinstance(kwargs, Mapping) else None


def _hand_over(result: BulkResult[Order], kwargs: Mapping[str, Any]) -> None:
    """Log an outcome that finished after the consumer of ``create_many`` stopped."""
    partner_order_id = _partner_order_id(kwargs)
    if result.ok:
        log.warning(
            "create_many: order %s (partner order id %r, input %d) was created after the "
            "consumer stopped reading results",
            result.value.id,
            partner_order_id,
            result.index,
            extra={"order_id": result.value.id, "partner_order_id": partner_order_id},
        )
        return
    log.warning(
        "create_many: input %d (partner order id %r) ended after the consumer stopped "
        "reading results: %s: %s",
        result.index,
        partner_order_id,
        type(result.error).__name__,
        result.error,
        extra={"order_id": None, "partner_order_id": partner_order_id},
    )


def _interrupted(kwargs: Mapping[str, Any]) -> Exception:
    """Describe a create cancelled from outside (the event loop shutting down)."""
    cause = APIConnectionError("cancelled before its answer arrived (the event loop stopped)")
    return OrderOutcomeUnknownError(partner_order_id=_partner_order_id(kwargs), cause=cause)
