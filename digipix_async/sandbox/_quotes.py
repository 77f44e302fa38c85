"""The shipping options `POST /v1/quote` handed out, remembered for a bounded time and count.

The reference says a quote "is not saved", yet an order can later be created with one of
its shipment ids: the sandbox remembers each id for `QUOTE_LIFETIME` (its own choice: the
same seven days a QUOTE order may wait for its PATCH) and at most `MAX_QUOTED` ids, the
oldest forgotten first, so a bulk-quoting job of any length keeps the sandbox small.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from digipix_async.sandbox._wire import Body

__all__ = ["MAX_QUOTED", "QUOTE_LIFETIME", "QuoteBook"]

QUOTE_LIFETIME: Final = timedelta(days=7)
MAX_QUOTED: Final = 100_000


@dataclass(slots=True, frozen=True)
class _Quoted:
    method: int
    name: str
    cost: float
    days: int
    zip_code: str
    expires_at: datetime


class QuoteBook:
    """Remember quoted shipment ids: what they offered, for which zip code, until when."""

    def __init__(self, *, limit: int = MAX_QUOTED, lifetime: timedelta = QUOTE_LIFETIME) -> None:
        self.limit = limit
        self.lifetime = lifetime
        # Insertion order is quoting order and every id lives `lifetime`: the oldest
        # entry expires first, so purging only ever looks at the front.
        self._by_id: dict[str, _Quoted] = {}

    def __len__(self) -> int:
        return len(self._by_id)

    def remember(self, options: list[Body], zip_code: str, now: datetime) -> None:
        """Keep the ids of freshly quoted options (shape of `SandboxState._options`)."""
        self.purge(now)
        expires_at = now + self.lifetime
        for option in options:
            self._by_id[option["id"]] = _Quoted(
                option["shipmentMethodId"],
                option["name"],
                option["cost"],
                option["estimatedDeliveryDays"],
                zip_code,
                expires_at,
            )
        while len(self._by_id) > self.limit:
            del self._by_id[next(iter(self._by_id))]

    def purge(self, now: datetime) -> None:
        """Forget every quoted id whose lifetime is over."""
        by_id = self._by_id
        while by_id:
            oldest = next(iter(by_id))
            if by_id[oldest].expires_at > now:
                break
            del by_id[oldest]

    def find(self, shipment_id: str, now: datetime) -> tuple[Body, str] | None:
        """Return (the option as quoted, its zip code), or None if unknown or expired."""
        found = self._by_id.get(shipment_id)
        if found is None or found.expires_at <= now:
            return None
        option: Body = {
            "id": shipment_id,
            "shipmentMethodId": found.method,
            "name": found.name,
            "cost": found.cost,
            "estimatedDeliveryDays": found.days,
        }
        return option, found.zip_code
