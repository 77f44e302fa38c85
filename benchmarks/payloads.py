"""The fixed wire payloads the fake server answers with (shapes of spec/samples.md)."""

from __future__ import annotations

import json
from typing import Any, Final

CLIENT_ID: Final = "bench-client"
CLIENT_SECRET: Final = "bench-secret"
SCOPES: Final = ("orders", "quote", "products")
ORDER_ID: Final = "icTwB5S3rtfEgvE41DEo"

TOKEN_PATH: Final = "/v1/oauth/token"
QUOTE_PATH: Final = "/v1/quote"
ORDER_PATH: Final = f"/v1/orders/{ORDER_ID}"

#: What every peer sends to POST /v1/quote (the SDK builds it from snake_case input).
QUOTE_REQUEST: Final[dict[str, Any]] = {
    "zipCode": "01311100",
    "items": [{"productId": "photobook", "quantity": 2, "pages": 24}],
}
SDK_QUOTE_ITEMS: Final = ({"product_id": "photobook", "quantity": 2, "pages": 24},)

TOKEN_REQUEST: Final[dict[str, Any]] = {
    "client_id": CLIENT_ID,
    "client_secret": CLIENT_SECRET,
    "grant_type": "client_credentials",
    "scope": list(SCOPES),
}

TOKEN_RESPONSE: Final[dict[str, Any]] = {
    "access_token": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.e30.sig",
    "token_type": "Bearer",
    "expires_in": 3600,
}

QUOTE_RESPONSE: Final[list[dict[str, Any]]] = [
    {
        "id": "ZP2ckind4FwRhfIlt5dI",
        "shipmentMethodId": 1,
        "name": "Cheapest",
        "cost": 2.09,
        "estimatedDeliveryDays": 7,
    },
    {
        "id": "Xk29dPq0LmA7rT5vB1cE",
        "shipmentMethodId": 2,
        "name": "Fastest",
        "cost": 15.3,
        "estimatedDeliveryDays": 2,
    },
]

#: GET /v1/orders/{id}: a full document (every recipient field, parts, shipment, money).
ORDER_RESPONSE: Final[dict[str, Any]] = {
    "id": ORDER_ID,
    "partnerId": "eHxI1wQ5stcOsmTG5aAr",
    "partnerName": "Partner Name",
    "status": "NEW",
    "createdAt": "2020-08-26T22:00:24.6153558Z",
    "partnerOrderID": "INV-2020-0042",
    "customData": {"cart": "c-991"},
    "recipient": {
        "name": "Maria da Silva",
        "email": "maria@example.com",
        "phone": "+5511999990000",
        "document": "12345678909",
        "zipCode": "01311100",
        "street": "Avenida Paulista",
        "number": "1000",
        "complement": "apto 12",
        "neighborhood": "Bela Vista",
        "city": "Sao Paulo",
        "state": "SP",
        "country": "BR",
    },
    "items": [
        {
            "productId": "photobook",
            "quantity": 1,
            "parts": [
                {"id": "cover", "url": "https://files.example.com/o42/cover.pdf", "pages": 1},
                {"id": "pages", "url": "https://files.example.com/o42/pages.pdf", "pages": 24},
            ],
        }
    ],
    "shipment": {
        "id": "ZP2ckind4FwRhfIlt5dI",
        "shipmentMethodId": 1,
        "name": "Cheapest",
        "cost": 2.09,
        "estimatedDeliveryDays": 7,
    },
    "subtotal": 41.4,
    "shippingCost": 2.09,
    "total": 43.49,
}


def encode(value: Any) -> bytes:
    """Return ``value`` as compact JSON bytes, as a server would send it."""
    return json.dumps(value, separators=(",", ":")).encode()


#: path -> response body, for both fake servers.
ROUTES: Final[dict[str, bytes]] = {
    TOKEN_PATH: encode(TOKEN_RESPONSE),
    QUOTE_PATH: encode(QUOTE_RESPONSE),
    ORDER_PATH: encode(ORDER_RESPONSE),
}

#: Every request of every peer is bounded by this many seconds.
REQUEST_TIMEOUT = 30.0
#: Pool size of every peer (the SDK's default max_connections); above the concurrency.
MAX_CONNECTIONS = 100
