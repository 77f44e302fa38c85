"""`client.products`: the catalogue (scope "products")."""

from __future__ import annotations

from digipix_async import _endpoints
from digipix_async.models import Product
from digipix_async.resources._base import Caller

__all__ = ["Products"]


class Products:
    """List the products available to this partner, or fetch one."""

    def __init__(self, client: Caller) -> None:
        self._client = client

    async def list(self) -> list[Product]:
        """Return every product (``GET /v1/products``)."""
        return await self._client._call(_endpoints.list_products(), list[Product])

    async def get(self, product_id: str) -> Product:
        """Return one product by id (``GET /v1/products/{productId}``)."""
        return await self._client._call(_endpoints.get_product(product_id), Product)
