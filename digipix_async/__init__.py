"""asyncio-native SDK for the Digipix photo-lab API.

Every public name is imported on first use (PEP 562): ``import digipix_async``
alone costs almost nothing, so the pytest plugin (``digipix_async.testing``, which
every pytest run in an environment with the package loads) and a program's
start-up pay for the client and aiohttp only when they use them.
``from digipix_async import DigipixClient`` works as ever.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from digipix_async._client import DigipixClient
    from digipix_async._config import Limits, RetryPolicy, Timeout
    from digipix_async._errors import (
        APIConnectionError,
        APIResponseValidationError,
        APIStatusError,
        APITimeoutError,
        AuthenticationError,
        BadRequestError,
        ConflictError,
        DigipixError,
        InternalServerError,
        JournalError,
        NotFoundError,
        OrderOutcomeUnknownError,
        PermissionDeniedError,
        RateLimitError,
        UnprocessableEntityError,
        ValidationError,
    )
    from digipix_async._raw import APIResponse
    from digipix_async.models import (
        ItemPart,
        Order,
        OrderItem,
        OrderStatus,
        Product,
        ProductPart,
        QuoteItem,
        Recipient,
        ShipmentMethod,
        ShippingOption,
        StatusNotification,
        TrackingItem,
    )
    from digipix_async.resources import BulkResult, BulkRun
    from digipix_async.stores import MemoryStore, RedisStore

__all__ = [
    "APIConnectionError",
    "APIResponse",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "BulkResult",
    "BulkRun",
    "ConflictError",
    "DigipixClient",
    "DigipixError",
    "InternalServerError",
    "ItemPart",
    "JournalError",
    "Limits",
    "MemoryStore",
    "NotFoundError",
    "Order",
    "OrderItem",
    "OrderOutcomeUnknownError",
    "OrderStatus",
    "PermissionDeniedError",
    "Product",
    "ProductPart",
    "QuoteItem",
    "RateLimitError",
    "Recipient",
    "RedisStore",
    "RetryPolicy",
    "ShipmentMethod",
    "ShippingOption",
    "StatusNotification",
    "Timeout",
    "TrackingItem",
    "UnprocessableEntityError",
    "ValidationError",
    "__version__",
]

#: Public name -> the module that defines it.
_HOMES = {
    "APIConnectionError": "digipix_async._errors",
    "APIResponse": "digipix_async._raw",
    "APIResponseValidationError": "digipix_async._errors",
    "APIStatusError": "digipix_async._errors",
    "APITimeoutError": "digipix_async._errors",
    "AuthenticationError": "digipix_async._errors",
    "BadRequestError": "digipix_async._errors",
    "BulkResult": "digipix_async.resources",
    "BulkRun": "digipix_async.resources",
    "ConflictError": "digipix_async._errors",
    "DigipixClient": "digipix_async._client",
    "DigipixError": "digipix_async._errors",
    "InternalServerError": "digipix_async._errors",
    "ItemPart": "digipix_async.models",
    "JournalError": "digipix_async._errors",
    "Limits": "digipix_async._config",
    "MemoryStore": "digipix_async.stores",
    "NotFoundError": "digipix_async._errors",
    "Order": "digipix_async.models",
    "OrderItem": "digipix_async.models",
    "OrderOutcomeUnknownError": "digipix_async._errors",
    "OrderStatus": "digipix_async.models",
    "PermissionDeniedError": "digipix_async._errors",
    "Product": "digipix_async.models",
    "ProductPart": "digipix_async.models",
    "QuoteItem": "digipix_async.models",
    "RateLimitError": "digipix_async._errors",
    "Recipient": "digipix_async.models",
    "RedisStore": "digipix_async.stores",
    "RetryPolicy": "digipix_async._config",
    "ShipmentMethod": "digipix_async.models",
    "ShippingOption": "digipix_async.models",
    "StatusNotification": "digipix_async.models",
    "Timeout": "digipix_async._config",
    "TrackingItem": "digipix_async.models",
    "UnprocessableEntityError": "digipix_async._errors",
    "ValidationError": "digipix_async._errors",
}

#: The installed version; read from the package metadata on first use (see below).
__version__: str


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is not None:
        value = getattr(importlib.import_module(home), name)
    elif name == "__version__":
        from importlib.metadata import version

        value = version("digipix_async")
    else:
        raise AttributeError(f"module 'digipix_async' has no attribute {name!r}")
    globals()[name] = value  # looked up once
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
