"""A chat-bot style loop: one module-level client, one ``asyncio.run()`` per message.

Bot frameworks, command shells and notebook cells often hand you one message at a
time and run each in an event loop of its own. The client is created once, at import,
and follows them: each ``asyncio.run()`` gets a fresh connection pool, the token is
kept (one token request for the whole conversation), and it is closed at the end.

    python examples/chat_bot.py         # credentials from the environment
    > products
    > quote 01311-100 photobook 2
    > track <order id>
    > quit
"""

from __future__ import annotations

import asyncio
import sys

from digipix_async import DigipixClient, DigipixError, NotFoundError

client = DigipixClient.from_env(app_info=("chat-bot-example", "1.0"))

HELP = "say: products | quote <zip code> <product id> [quantity] | track <order id> | quit"


async def answer(message: str) -> str:
    """Answer one message, whatever it holds; never raise for a user's input."""
    command, *args = message.split() or [""]
    try:
        if command == "products":
            products = await client.products.list()
            return ", ".join(f"{product.id} ({product.price})" for product in products)
        if command == "quote" and len(args) in (2, 3):
            quantity = int(args[2]) if len(args) == 3 else 1
            options = await client.quotes.create(
                zip_code=args[0], items=[{"product_id": args[1], "quantity": quantity}]
            )
            return "; ".join(
                f"{option.name}: {option.cost} in {option.estimated_delivery_days} days"
                for option in options
            )
        if command == "track" and len(args) == 1:
            order = await client.orders.get(args[0])
            return f"order {order.id} is {order.status}"
    except NotFoundError:
        return "I know no such order or product."
    except ValueError as exc:  # a bad quantity, or the SDK's ValidationError
        return f"I could not read that: {exc}"
    except DigipixError as exc:
        return f"Digipix did not answer ({type(exc).__name__}); try again in a moment."
    return HELP


def main() -> None:
    """Read messages from stdin until ``quit``; each is answered in its own event loop."""
    prompt = sys.stdin.isatty()
    try:
        while True:
            if prompt:
                print("> ", end="", flush=True)
            line = sys.stdin.readline()
            if not line or line.strip() == "quit":
                break
            print(asyncio.run(answer(line)), flush=True)
    finally:
        asyncio.run(client.close())


if __name__ == "__main__":
    main()
