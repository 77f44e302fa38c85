"""`client.products`: the catalogue (scope "products")."""

from __future__ import annotations

from typing import Unpack

from digipix_async import _endpoints
from digipix_async._options import RequestOptions, with_options
from digipix_async.models import Product
from digipix_async.resources._base import Caller

__all__ = ["Products"]


class Products:
    """List the products available to this partner, or fetch one."""

    def __init__(self, client: Caller) -> None:
        self._client = client

    async def list(self, **options: Unpack[RequestOptions]) -> list[Product]:
        """Return every product (``GET /v1/products``)."""
        request = with_options(_endpoints.list_products(), options)
        return await self._client._call(request, list[Product])

    async def get(self, product_id: str, **options: Unpack[RequestOptions]) -> Product:
        """Return one product by id (``GET /v1/products/{productId}``)."""
        request = with_options(_endpoints.get_product(product_id), options)
        return await self._client._call(request, Product)
