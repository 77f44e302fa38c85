"""asyncio-native SDK for the Digipix photo-lab API."""

from typing import Any

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
from digipix_async.resources import BulkResult
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
    "ConflictError",
    "DigipixClient",
    "DigipixError",
    "InternalServerError",
    "ItemPart",
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

#: The installed version; read from the package metadata on first use (see below).
__version__: str


def __getattr__(name: str) -> Any:
    # importlib.metadata is read on first use only: it is a noticeable share of the
    # import time, and most programs never look at the version.
    if name == "__version__":
        from importlib.metadata import version

        value = version("digipix_async")
        globals()["__version__"] = value
        return value
    raise AttributeError(f"module 'digipix_async' has no attribute {name!r}")
