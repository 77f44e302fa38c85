"""asyncio-native SDK for the Digipix photo-lab API."""

from importlib.metadata import version as _version

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

__version__ = _version("digipix_async")

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
