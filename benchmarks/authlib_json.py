"""The httpx_authlib peer's pieces: a JSON token request for authlib, and pydantic models.

authlib form-encodes the token request (RFC 6749); Digipix wants JSON. The override is
one registered client-auth method, ``client_secret_json``: authlib calls it with the
form body it built (``grant_type=client_credentials&scope=...``), and it returns that
body as JSON with ``client_id``/``client_secret`` added and ``scope`` as an array.
Everything else (token storage, expiry check, the refresh lock) is stock authlib.
"""

from __future__ import annotations

import json
import warnings
from datetime import datetime
from decimal import Decimal
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qsl

import authlib.deprecate
import httpx
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter
from pydantic.alias_generators import to_camel

from benchmarks import payloads
from benchmarks.payloads import MAX_CONNECTIONS, REQUEST_TIMEOUT

with warnings.catch_warnings():
    # authlib >= 1.7 prefers the httpx2 fork; the brief measures plain httpx, which it still runs.
    warnings.filterwarnings("ignore", category=authlib.deprecate.AuthlibDeprecationWarning)
    from authlib.integrations.httpx_client import AsyncOAuth2Client

JSON_AUTH_METHOD = "client_secret_json"


def _client_secret_json(
    auth: Any, method: str, uri: str, headers: Any, body: bytes | str
) -> tuple[str, Any, bytes]:
    """Turn authlib's form-encoded token request into Digipix's JSON body."""
    text = body.decode() if isinstance(body, bytes) else body
    fields: dict[str, Any] = dict(parse_qsl(text))
    fields["client_id"] = auth.client_id
    fields["client_secret"] = auth.client_secret
    if "scope" in fields:
        fields["scope"] = fields["scope"].split()
    encoded = json.dumps(fields).encode()
    headers["Content-Type"] = "application/json"
    headers["Content-Length"] = str(len(encoded))
    return uri, headers, encoded


def json_token_client(
    base_url: str, *, client_id: str, client_secret: str, leeway: int = 60
) -> AsyncOAuth2Client:
    """Return an AsyncOAuth2Client for the client-credentials grant with JSON token bodies."""
    client = AsyncOAuth2Client(
        client_id,
        client_secret,
        token_endpoint_auth_method=JSON_AUTH_METHOD,
        scope=" ".join(payloads.SCOPES),
        leeway=leeway,
        base_url=base_url,
        timeout=httpx.Timeout(REQUEST_TIMEOUT),
        limits=httpx.Limits(
            max_connections=MAX_CONNECTIONS, max_keepalive_connections=MAX_CONNECTIONS
        ),
        # authlib metadata: lets ensure_active_token re-fetch an expired token by itself.
        token_endpoint=base_url + payloads.TOKEN_PATH,
        grant_type="client_credentials",
    )
    client.register_client_auth_method((JSON_AUTH_METHOD, _client_secret_json))
    return client


class _Wire(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="allow", frozen=True
    )


class ShippingOption(_Wire):
    id: str
    shipment_method_id: int
    name: str
    cost: Decimal
    estimated_delivery_days: int


class Recipient(_Wire):
    name: str | None = None
    email: str | None = None
    phone: str | None = None
    document: str | None = None
    zip_code: str | None = None
    street: str | None = None
    number: str | None = None
    complement: str | None = None
    neighborhood: str | None = None
    city: str | None = None
    state: str | None = None
    country: str | None = None


class ItemPart(_Wire):
    id: str
    url: str
    pages: int | None = None


class OrderItem(_Wire):
    product_id: str
    quantity: int
    parts: tuple[ItemPart, ...] = ()


class Order(_Wire):
    id: str
    status: str
    partner_id: str | None = None
    partner_name: str | None = None
    created_at: datetime | None = None
    partner_order_id: str | None = Field(default=None, alias="partnerOrderID")
    custom_data: dict[str, Any] | None = None
    status_notification_url: str | None = None
    recipient: Recipient | None = None
    items: tuple[OrderItem, ...] = ()
    shipments: tuple[ShippingOption, ...] = ()
    shipment: ShippingOption | None = None
    subtotal: Decimal | None = None
    shipping_cost: Decimal | None = None
    total: Decimal | None = None


def models() -> SimpleNamespace:
    """Return the validators the peer uses: ``quote`` (a TypeAdapter) and ``order``."""
    return SimpleNamespace(quote=TypeAdapter(list[ShippingOption]), order=Order)
