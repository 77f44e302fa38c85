"""The clients under test; each does ``quote()`` (POST /v1/quote) and ``get_order()``.

- ``sdk``: `DigipixClient`, full typed decoding into attrs models.
- ``raw_aiohttp``: one shared ``aiohttp.ClientSession``, the token fetched once by hand,
  ``resp.json()`` to dicts: the floor for anything built on aiohttp.
- ``httpx_authlib``: authlib's ``AsyncOAuth2Client`` (httpx) with pydantic v2 models, what
  a user would write instead of an SDK. Imported lazily: only the ``bench`` extra has it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol, Self

from benchmarks import payloads
from benchmarks.payloads import MAX_CONNECTIONS, REQUEST_TIMEOUT


class Peer(Protocol):
    """An open client that can make the two benchmarked calls."""

    async def __aenter__(self) -> Self: ...
    async def __aexit__(self, *exc: object) -> None: ...
    async def quote(self) -> Any: ...
    async def get_order(self) -> Any: ...


class SdkPeer:
    """digipix_async.DigipixClient."""

    def __init__(
        self,
        base_url: str,
        *,
        client_id: str = payloads.CLIENT_ID,
        client_secret: str = payloads.CLIENT_SECRET,
    ) -> None:
        from digipix_async import DigipixClient

        self.client = DigipixClient(
            client_id,
            client_secret,
            base_url=base_url,
            timeout=REQUEST_TIMEOUT,
            max_connections=MAX_CONNECTIONS,
        )

    async def __aenter__(self) -> Self:
        await self.client.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.client.close()

    async def quote(self) -> Any:
        return await self.client.quotes.create(
            zip_code=payloads.QUOTE_REQUEST["zipCode"], items=payloads.SDK_QUOTE_ITEMS
        )

    async def get_order(self) -> Any:
        return await self.client.orders.get(payloads.ORDER_ID)


class RawAiohttpPeer:
    """aiohttp by hand: token fetched once, JSON to dicts, status checked."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.headers: dict[str, str] = {}

    async def __aenter__(self) -> Self:
        import aiohttp

        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=MAX_CONNECTIONS),
            timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT),
        )
        async with self.session.post(
            self.base_url + payloads.TOKEN_PATH, json=payloads.TOKEN_REQUEST
        ) as resp:
            resp.raise_for_status()
            token = (await resp.json())["access_token"]
        self.headers = {"Authorization": f"Bearer {token}"}
        self.quote_url = self.base_url + payloads.QUOTE_PATH
        self.order_url = self.base_url + payloads.ORDER_PATH
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.session.close()

    async def quote(self) -> Any:
        async with self.session.post(
            self.quote_url, json=payloads.QUOTE_REQUEST, headers=self.headers
        ) as resp:
            resp.raise_for_status()
            return await resp.json()

    async def get_order(self) -> Any:
        async with self.session.get(self.order_url, headers=self.headers) as resp:
            resp.raise_for_status()
            return await resp.json()


class HttpxAuthlibPeer:
    """authlib AsyncOAuth2Client (httpx) + pydantic v2 models.

    ``leeway`` is authlib's "treat as expired this many seconds early" (default 60).
    """

    def __init__(
        self,
        base_url: str,
        *,
        client_id: str = payloads.CLIENT_ID,
        client_secret: str = payloads.CLIENT_SECRET,
        leeway: int = 60,
    ) -> None:
        from benchmarks import authlib_json

        self.client = authlib_json.json_token_client(
            base_url, client_id=client_id, client_secret=client_secret, leeway=leeway
        )
        self.models = authlib_json.models()

    async def __aenter__(self) -> Self:
        await self.client.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.client.aclose()

    async def ensure_token(self) -> None:
        """What a user writes: fetch a token if there is none (authlib will not)."""
        if not self.client.token:
            await self.client.fetch_token()

    async def quote(self) -> Any:
        await self.ensure_token()
        resp = await self.client.post(payloads.QUOTE_PATH, json=payloads.QUOTE_REQUEST)
        resp.raise_for_status()
        return self.models.quote.validate_json(resp.content)

    async def get_order(self) -> Any:
        await self.ensure_token()
        resp = await self.client.get(payloads.ORDER_PATH)
        resp.raise_for_status()
        return self.models.order.model_validate_json(resp.content)


PEERS: dict[str, Callable[[str], Peer]] = {
    "sdk": SdkPeer,
    "raw_aiohttp": RawAiohttpPeer,
    "httpx_authlib": HttpxAuthlibPeer,
}

#: operation name -> the peer method doing it.
OPS: dict[str, Callable[[Peer], Awaitable[Any]]] = {
    "quotes.create": lambda peer: peer.quote(),
    "orders.get": lambda peer: peer.get_order(),
}
