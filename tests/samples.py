"""Samples shared by the tests: user input shaped like spec/samples.md, and its wire bodies.

User input uses the Python field names (what users pass); the wire samples are
the reference's bytes, verbatim, since number texts such as 41.4 matter.
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

# --- wire samples, verbatim from spec/samples.md (the number texts matter: 41.4, 2.09)

#: The body of POST /v1/orders in flow 1, for RECIPIENT and ITEMS (compact, key order kept).
FLOW_1_BODY = (
    b'{"partnerOrderID":"INV-2020-0042","customData":{"cart":"c-991"},'
    b'"statusNotificationUrl":"https://partner.example.com/digipix/notify?token=s3cr3t",'
    b'"recipient":{"name":"Maria da Silva","email":"maria@example.com",'
    b'"phone":"+5511999990000","document":"12345678909","zipCode":"01311100",'
    b'"street":"Avenida Paulista","number":"1000","complement":"apto 12",'
    b'"neighborhood":"Bela Vista","city":"Sao Paulo","state":"SP","country":"BR"},'
    b'"items":[{"productId":"photobook","quantity":1,"parts":['
    b'{"id":"cover","url":"https://files.example.com/o42/cover.pdf","pages":1},'
    b'{"id":"pages","url":"https://files.example.com/o42/pages.pdf","pages":24}]}]}'
)

#: The 200 of POST /v1/quote.
QUOTE_OPTIONS = b"""[
 {"id": "ZP2ckind4FwRhfIlt5dI", "shipmentMethodId": 1, "name": "Cheapest", "cost": 2.09,
  "estimatedDeliveryDays": 7},
 {"id": "Xk29dPq0LmA7rT5vB1cE", "shipmentMethodId": 2, "name": "Fastest", "cost": 15.3,
  "estimatedDeliveryDays": 2}]"""

#: The 201 of POST /v1/orders, flow 1 (status QUOTE, options in shipments).
ORDER_QUOTE = b"""{"id": "tFN9mEXgro9feZ7Fjf61", "partnerId": "eHxI1wQ5stcOsmTG5aAr",
 "partnerName": "Partner Name", "status": "QUOTE", "createdAt": "2020-08-26T21:31:10.7582058Z",
 "partnerOrderID": "INV-2020-0042", "customData": {"cart": "c-991"},
 "recipient": {"name": "Maria da Silva", "zipCode": "01311100", "street": "Avenida Paulista",
               "number": "1000", "city": "Sao Paulo", "state": "SP", "country": "BR"},
 "items": [{"productId": "photobook", "quantity": 1, "parts": [
     {"id": "cover", "url": "https://files.example.com/o42/cover.pdf", "pages": 1}]}],
 "shipments": [
   {"id": "ZP2ckind4FwRhfIlt5dI", "shipmentMethodId": 1, "name": "Cheapest", "cost": 2.09,
    "estimatedDeliveryDays": 7},
   {"id": "Xk29dPq0LmA7rT5vB1cE", "shipmentMethodId": 2, "name": "Fastest", "cost": 15.3,
    "estimatedDeliveryDays": 2}],
 "subtotal": 41.4, "total": 41.4}"""

#: The 200 of PATCH /v1/orders/{id} (and the shape GET answers).
ORDER_APPROVED = b"""{"id": "skR3yfgC9AfpDq6ixDzt", "partnerId": "eHxI1wQ5stcOsmTG5aAr",
 "partnerName": "Partner Name", "status": "APPROVED", "createdAt": "2020-08-26T22:02:32.970683Z",
 "recipient": {"name": "Maria da Silva", "zipCode": "01311100", "street": "Avenida Paulista",
               "number": "1000", "city": "Sao Paulo", "state": "SP", "country": "BR"},
 "items": [{"productId": "photobook", "quantity": 1, "parts": []}],
 "shipment": {"id": "ZP2ckind4FwRhfIlt5dI", "shipmentMethodId": 1, "name": "Cheapest",
              "cost": 2.09, "estimatedDeliveryDays": 7},
 "subtotal": 41.4, "shippingCost": 2.09, "total": 43.49}"""
