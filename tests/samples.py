"""User input shaped like spec/samples.md, shared by the client-level tests.

Python field names (what users pass); the wire shapes live next to the tests
that assert them byte for byte.
"""

from __future__ import annotations

from typing import Any

#: The samples' recipient, with the zip code as a user would type it.
RECIPIENT: dict[str, Any] = {
    "name": "Maria da Silva",
    "email": "maria@example.com",
    "phone": "+5511999990000",
    "document": "12345678909",
    "zip_code": "01311-100",
    "street": "Avenida Paulista",
    "number": "1000",
    "complement": "apto 12",
    "neighborhood": "Bela Vista",
    "city": "Sao Paulo",
    "state": "SP",
    "country": "BR",
}

#: One photobook with its cover and pages files.
ITEMS: list[dict[str, Any]] = [
    {
        "product_id": "photobook",
        "quantity": 1,
        "parts": [
            {"id": "cover", "url": "https://files.example.com/o42/cover.pdf", "pages": 1},
            {"id": "pages", "url": "https://files.example.com/o42/pages.pdf", "pages": 24},
        ],
    }
]

#: The samples' quote request items.
CART: list[dict[str, Any]] = [{"product_id": "photobook", "quantity": 2, "pages": 24}]
