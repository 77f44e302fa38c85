"""A FastAPI app that quotes carts and receives Digipix status notifications.

Run it with credentials in the environment (or the ``export`` lines printed by
``python -m digipix_async.sandbox``) and a webhook secret of your own::

    export DIGIPIX_WEBHOOK_SECRET=$(python -c "import secrets; print(secrets.token_urlsafe())")
    python examples/fastapi_app.py          # or: uvicorn fastapi_app:app --no-access-log

- one `DigipixClient` for the whole app, opened and closed in the lifespan;
- ``GET /quote?zip_code=01311-100&product_id=photobook&quantity=2``: a quote in a handler;
- ``POST /digipix?token=<secret>``: status notifications, each verified against the API
  before ``on_status`` sees it (give Digipix the URL built by ``notification_url``);
- uvicorn's access log is off: its lines would show the ``?token=`` secret.
"""

from __future__ import annotations

import os
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from typing import Annotated

import uvicorn
from fastapi import Depends, FastAPI, HTTPException, Query, Request, Response

from digipix_async import APIStatusError, DigipixClient, DigipixError, ValidationError
from digipix_async.webhooks import NotificationEvent, NotificationReceiver


async def on_status(event: NotificationEvent) -> None:
    """Act on a verified status change: here, print it (a real app updates its orders)."""
    tracking = [item.code for item in event.notification.tracking_items]
    print(f"order {event.order_id} is {event.status} {tracking or ''}".rstrip(), flush=True)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncGenerator[None, None]:
    async with DigipixClient.from_env(app_info=("fastapi-example", "1.0")) as client:
        app.state.digipix = client
        app.state.receiver = NotificationReceiver(
            on_status, secret=os.environ["DIGIPIX_WEBHOOK_SECRET"], verify_with=client
        )
        yield


app = FastAPI(lifespan=lifespan)


def digipix(request: Request) -> DigipixClient:
    """Hand a route the app's one client."""
    client: DigipixClient = request.app.state.digipix
    return client


@app.get("/quote")
async def quote(
    client: Annotated[DigipixClient, Depends(digipix)],
    zip_code: str,
    product_id: str,
    quantity: Annotated[int, Query(ge=1, le=1000)] = 1,
) -> list[dict[str, object]]:
    """Return the shipping options for one product sent to ``zip_code``."""
    try:
        options = await client.quotes.create(
            zip_code=zip_code, items=[{"product_id": product_id, "quantity": quantity}]
        )
    except ValidationError as exc:  # refused before sending: the caller's input
        raise HTTPException(422, str(exc)) from exc
    except APIStatusError as exc:
        if exc.status < 500 and exc.status not in (401, 403, 429):  # e.g. an unknown product
            raise HTTPException(422, exc.description or "refused by Digipix") from exc
        raise HTTPException(502, "Digipix is not available, try again later") from exc
    except DigipixError as exc:  # could not reach it, after the SDK's retries
        raise HTTPException(502, "Digipix is not available, try again later") from exc
    return [
        {
            "id": option.id,
            "name": option.name,
            "cost": str(option.cost),  # a string keeps the Decimal exact in JSON
            "days": option.estimated_delivery_days,
        }
        for option in options
    ]


@app.post("/digipix")
async def status_notification(request: Request) -> Response:
    """Answer one status notification as the receiver decides (see its table)."""
    receiver: NotificationReceiver = request.app.state.receiver
    outcome = receiver.authorize(request.query_params)  # the secret, before reading the body
    if outcome is None:
        outcome = await receiver.handle(await request.body(), request.query_params)
    headers = {"Retry-After": str(outcome.retry_after)} if outcome.retry_after else None
    return Response(outcome.reason, outcome.status, headers, media_type="text/plain")


def main() -> None:
    """Serve the app on 127.0.0.1 (``PORT``, 8000 by default) with no access log."""
    uvicorn.run(app, host="127.0.0.1", port=int(os.environ.get("PORT", "8000")), access_log=False)


if __name__ == "__main__":
    main()
