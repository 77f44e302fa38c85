"""One token per fleet: processes sharing a store share one access token.

Every process of a web app (or shard of a bulk job) with the same credentials,
environment and scopes would otherwise fetch a token of its own. With a shared
`Store`, the process that needs a new token first takes the store's refresh lock
(an owner value and an expiry: a process that dies holding it cannot block the
fleet for longer than the expiry), fetches, shares the token and releases the
lock; the others wait briefly and read the new token. A token the store holds is
taken only if it is not the one the caller is replacing (``stale``: the token it
holds, or the one a 401 just refused) and has some life left.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Awaitable, Callable

from digipix_async._sansio import TokenGrant
from digipix_async.stores import Store

__all__ = ["SharedTokens"]

#: A shared token with less life than this would expire in flight: fetch a new one.
_MIN_LIFE = 1.0
#: How often a process waiting for another's token request looks for its result.
_POLL = 0.05


class SharedTokens:
    """Fetch the fleet's token through ``store``, requesting it from the API at most once."""

    def __init__(
        self,
        store: Store,
        namespace: str,
        request_token: Callable[[], Awaitable[TokenGrant]],
        *,
        lock_ttl: float,
    ) -> None:
        self._store = store
        self._namespace = namespace
        self._request_token = request_token
        self._lock_ttl = lock_ttl

    async def fetch(self, stale: str | None) -> TokenGrant:
        """Return a token other than ``stale``: the fleet's, or one requested and shared."""
        store, namespace = self._store, self._namespace
        owner = secrets.token_hex(16)
        # The holder of the lock has this long to share its token; past that it is
        # presumed gone (its lock expires too) and this process asks the API itself.
        give_up_at = time.monotonic() + self._lock_ttl
        while True:
            shared = self._usable(await store.get_token(namespace), stale)
            if shared is not None:
                return shared
            if await store.acquire_refresh_lock(namespace, owner, self._lock_ttl):
                try:
                    # Another process may have shared a token between the look and the lock.
                    shared = self._usable(await store.get_token(namespace), stale)
                    if shared is not None:
                        return shared
                    sent_at = time.time()
                    grant = await self._request_token()
                    await store.set_token(namespace, grant.access_token, sent_at + grant.expires_in)
                    return grant
                finally:
                    await store.release_refresh_lock(namespace, owner)
            if time.monotonic() >= give_up_at:
                return await self._request_token()
            await asyncio.sleep(_POLL)

    @staticmethod
    def _usable(found: tuple[str, float] | None, stale: str | None) -> TokenGrant | None:
        if found is None:
            return None
        token, expires_at = found
        life = expires_at - time.time()
        if token == stale or life < _MIN_LIFE:
            return None
        return TokenGrant(token, life)
