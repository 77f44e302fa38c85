"""`client.products`: the catalogue (scope "products")."""

from __future__ import annotations

from digipix_async import _requests
from digipix_async.models import Product
from digipix_async.resources._base import Caller

__all__ = ["Products"]


class Products:
    """List the products available to this partner, or fetch one."""

    def __init__(self, client: Caller) -> None:
        self._client = client

    async def list(self) -> list[Product]:
        """Return every product (``GET /v1/products``)."""
        products: list[Product] = await self._client._call(_requests.list_products(), list[Product])
        return products

    async def get(self, product_id: str) -> Product:
        """Return one product by id (``GET /v1/products/{productId}``)."""
        product: Product = await self._client._call(_requests.get_product(product_id), Product)
        return product
