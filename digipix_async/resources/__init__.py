"""The resources of a client: thin, one request each, named after the reference's groups."""

from digipix_async.resources._bulk import BulkRun
from digipix_async.resources._bulk_result import BulkResult
from digipix_async.resources.orders import Orders
from digipix_async.resources.products import Products
from digipix_async.resources.quotes import Quotes

__all__ = ["BulkResult", "BulkRun", "Orders", "Products", "Quotes"]
