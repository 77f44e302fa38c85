"""An aiohttp.web app that quotes carts and receives Digipix status notifications.

Run it with credentials in the environment (or the ``export`` lines printed by
``python -m digipix_async.sandbox``) and a webhook secret of your own::

    export DIGIPIX_WEBHOOK_SECRET=$(python -c "import secrets; print(secrets.token_urlsafe())")
    python examples/aiohttp_app.py

- one `DigipixClient` for the whole app, opened and closed in a ``cleanup_ctx``;
- ``GET /quote?zip_code=01311-100&product_id=photobook&quantity=2``: a quote in a handler;
- ``POST /digipix?token=<secret>``: status notifications, each verified against the API
  before ``on_status`` sees it (give Digipix the URL built by ``notification_url``);
- the access log is off: its lines would show the ``?token=`` secret.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web

from digipix_async import APIStatusError, DigipixClient, DigipixError
from digipix_async.webhooks import NotificationEvent, aiohttp_handler

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

CLIENT = web.AppKey("digipix", DigipixClient)
WEBHOOK: web.AppKey[Handler] = web.AppKey("digipix_webhook")


async def on_status(event: NotificationEvent) -> None:
    """Act on a verified status change: here, print it (a real app updates its orders)."""
    tracking = [item.code for item in event.notification.tracking_items]
    print(f"order {event.order_id} is {event.status} {tracking or ''}".rstrip(), flush=True)


async def digipix_context(app: web.Application) -> AsyncIterator[None]:
    """Open the app's one client at start-up and close it at shutdown."""
    async with DigipixClient.from_env(app_info=("aiohttp-example", "1.0")) as client:
        app[CLIENT] = client
        app[WEBHOOK] = aiohttp_handler(
            on_status, secret=os.environ["DIGIPIX_WEBHOOK_SECRET"], verify_with=client
        )
        yield


async def quote(request: web.Request) -> web.Response:
    """Return the shipping options for one product sent to ``zip_code``."""
    query = request.query
    try:
        quantity = int(query.get("quantity", "1"))
        options = await request.app[CLIENT].quotes.create(
            zip_code=query.get("zip_code", ""),
            items=[{"product_id": query.get("product_id", ""), "quantity": quantity}],
        )
    except ValueError as exc:  # a bad number, or the SDK's ValidationError (a ValueError)
        raise web.HTTPUnprocessableEntity(text=str(exc)) from exc
    except APIStatusError as exc:
        if exc.status < 500 and exc.status not in (401, 403, 429):  # e.g. an unknown product
            raise web.HTTPUnprocessableEntity(text=exc.description or "refused") from exc
        raise web.HTTPBadGateway(text="Digipix is not available, try again later") from exc
    except DigipixError as exc:  # could not reach it, after the SDK's retries
        raise web.HTTPBadGateway(text="Digipix is not available, try again later") from exc
    return web.json_response(
        [
            {
                "id": option.id,
                "name": option.name,
                "cost": str(option.cost),  # a string keeps the Decimal exact in JSON
                "days": option.estimated_delivery_days,
            }
            for option in options
        ]
    )


async def status_notification(request: web.Request) -> web.StreamResponse:
    """Hand the notification to the receiver built with the app's client."""
    return await request.app[WEBHOOK](request)


def make_app() -> web.Application:
    """Build the application: routes, and the client's life in a ``cleanup_ctx``."""
    app = web.Application()
    app.cleanup_ctx.append(digipix_context)
    app.router.add_get("/quote", quote)
    app.router.add_post("/digipix", status_notification)
    return app


def main() -> None:
    """Serve the app on 127.0.0.1 (``PORT``, 8000 by default) with no access log."""
    port = int(os.environ.get("PORT", "8000"))
    web.run_app(make_app(), host="127.0.0.1", port=port, access_log=None)


if __name__ == "__main__":
    main()
