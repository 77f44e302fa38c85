"""Fixtures for the sandbox tests: a running sandbox and a plain aiohttp session."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from digipix_async.sandbox import SandboxServer

RECIPIENT: dict[str, Any] = {
    "name": "Maria da Silva",
    "email": "maria@example.com",
    "zipCode": "01311-100",
    "street": "Avenida Paulista",
    "number": "1000",
    "complement": "apto 12",
    "neighborhood": "Bela Vista",
    "city": "Sao Paulo",
    "state": "SP",
    "country": "BR",
}

ITEMS: list[dict[str, Any]] = [
    {
        "productId": "photobook",
        "quantity": 1,
        "parts": [
            {"id": "cover", "url": "https://files.example.com/o42/cover.pdf", "pages": 1},
            {"id": "pages", "url": "https://files.example.com/o42/pages.pdf", "pages": 24},
        ],
    }
]


@pytest.fixture
def recipient() -> dict[str, Any]:
    """Return a fresh, valid recipient (zip code with a dash, as users type it)."""
    return copy.deepcopy(RECIPIENT)


@pytest.fixture
def items() -> list[dict[str, Any]]:
    """Return fresh, valid order items: one photobook with cover and pages."""
    return copy.deepcopy(ITEMS)


@pytest.fixture
async def sandbox() -> AsyncIterator[SandboxServer]:
    """Start a sandbox with fast notification retries."""
    async with SandboxServer(notify_base_delay=0.01, notify_timeout=2.0, seed=7) as server:
        yield server


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """Open a plain client session with a bounded timeout."""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        yield session


class Api:
    """A tiny helper around a session: fetch a token, call routes, return (status, json)."""

    def __init__(self, sandbox: SandboxServer, http: aiohttp.ClientSession) -> None:
        self.sandbox = sandbox
        self.http = http
        self.token: str | None = None

    async def get_token(self, scope: list[str] | None = None) -> str:
        """Fetch a token for `scope` (all three by default) and keep it."""
        body = {
            "client_id": self.sandbox.client_id,
            "client_secret": self.sandbox.client_secret,
            "grant_type": "client_credentials",
            "scope": scope if scope is not None else ["orders", "quote", "products"],
        }
        async with self.http.post(f"{self.sandbox.base_url}/v1/oauth/token", json=body) as r:
            assert r.status == 200, await r.text()
            self.token = (await r.json())["access_token"]
        return self.token

    async def call(self, method: str, path: str, json: Any = None, **kw: Any) -> tuple[int, Any]:
        """Send one request with the current token; return (status, decoded JSON body)."""
        headers = dict(kw.pop("headers", {}))
        # Like the SDK: the reference marks Content-Type required even on the product GETs.
        headers.setdefault("Content-Type", "application/json")
        if self.token is not None:
            headers.setdefault("Authorization", f"Bearer {self.token}")
        url = f"{self.sandbox.base_url}{path}"
        async with self.http.request(method, url, json=json, headers=headers, **kw) as r:
            return r.status, await r.json()


@pytest.fixture
async def api(sandbox: SandboxServer, http: aiohttp.ClientSession) -> Api:
    """Return an Api helper that already holds a token with every scope."""
    helper = Api(sandbox, http)
    await helper.get_token()
    return helper


@pytest.fixture
def make_api(http: aiohttp.ClientSession) -> Any:
    """Return `await make_api(sandbox)`: an Api helper with a token, for a custom sandbox."""

    async def make(sandbox: SandboxServer) -> Api:
        helper = Api(sandbox, http)
        await helper.get_token()
        return helper

    return make
