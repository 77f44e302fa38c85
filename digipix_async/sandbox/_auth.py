"""Token issuance and checks of the sandbox (OAuth2 client credentials, RFC 6749)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from digipix_async.sandbox._clock import SandboxClock
from digipix_async.sandbox._wire import ApiError, Body

__all__ = ["SCOPES", "TokenAuthority"]

SCOPES: Final = ("orders", "quote", "products")
#: Tokens kept at most: the oldest are forgotten first (their holders get a 401 and
#: fetch a new one), so a client fetching tokens in a loop cannot grow the sandbox.
MAX_TOKENS: Final = 10_000


def _refusal(status: int, error: str, description: str) -> ApiError:
    # RFC 6749 section 5.2: the token endpoint's errors are {"error", "error_description"}.
    return ApiError(status, description, {"error": error, "error_description": description})


@dataclass(slots=True)
class _Token:
    scopes: frozenset[str]
    expires_at: datetime
    revoked: bool = False


class TokenAuthority:
    """Issue bearer tokens for one client and check them on every other route."""

    def __init__(
        self, *, client_id: str, client_secret: str, clock: SandboxClock, lifetime: float
    ) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.clock = clock
        self.lifetime = lifetime
        self.tokens_issued = 0
        # Insertion order is issue order, and every token lives `lifetime`: the oldest
        # token is always the first to expire, so purging only looks at the front.
        self._tokens: dict[str, _Token] = {}
        self._scope_sets: dict[frozenset[str], frozenset[str]] = {}

    def issue(self, body: Any) -> Body:
        """Answer a token request body (already decoded) or raise an RFC 6749 refusal."""
        if not isinstance(body, dict):
            raise _refusal(400, "invalid_request", "the body must be a JSON object")
        for key in ("client_id", "client_secret", "grant_type"):
            if not isinstance(body.get(key), str) or not body[key]:
                raise _refusal(400, "invalid_request", f"{key} is required and must be a string")
        if body["grant_type"] != "client_credentials":
            raise _refusal(
                400, "unsupported_grant_type", "only grant_type client_credentials is supported"
            )
        # compare_digest: constant time, as a real authorisation server would.
        id_ok = secrets.compare_digest(body["client_id"], self.client_id)
        secret_ok = secrets.compare_digest(body["client_secret"], self.client_secret)
        if not (id_ok and secret_ok):
            raise _refusal(401, "invalid_client", "client authentication failed")
        scopes = frozenset(self._scopes(body.get("scope")))
        scopes = self._scope_sets.setdefault(scopes, scopes)  # a handful of sets, shared
        token = secrets.token_urlsafe(32)
        now = self.clock.now()
        self._purge(now)
        self._tokens[token] = _Token(scopes, now + timedelta(seconds=self.lifetime))
        self.tokens_issued += 1
        return {"access_token": token, "token_type": "Bearer", "expires_in": int(self.lifetime)}

    @staticmethod
    def _scopes(raw: Any) -> list[str]:
        # The reference marks scope optional: absent means every scope. RFC 6749 clients
        # send a space-separated string (form bodies), the reference an array: take both.
        if raw is None:
            return list(SCOPES)
        if isinstance(raw, str):
            raw = raw.split()
        if not isinstance(raw, list) or not all(isinstance(s, str) for s in raw):
            raise _refusal(400, "invalid_request", "scope must be an array of strings")
        unknown = sorted(set(raw) - set(SCOPES))
        if unknown:
            raise _refusal(400, "invalid_scope", f"unknown scope(s): {', '.join(unknown)}")
        return list(raw)

    def _purge(self, now: datetime) -> None:
        """Forget expired tokens, and the oldest ones beyond `MAX_TOKENS`."""
        tokens = self._tokens
        while tokens:
            oldest = next(iter(tokens))
            if len(tokens) < MAX_TOKENS and tokens[oldest].expires_at > now:
                break
            del tokens[oldest]

    @property
    def tokens_kept(self) -> int:
        """Return how many tokens are remembered (live, or expired and not purged yet)."""
        return len(self._tokens)

    def client_of(self, authorization: str | None) -> str | None:
        """Return the client id a valid bearer token belongs to, None for any other header."""
        if not authorization:
            return None
        scheme, _, token = authorization.partition(" ")
        found = self._tokens.get(token.strip()) if scheme.lower() == "bearer" else None
        if found is None or found.revoked or found.expires_at <= self.clock.now():
            return None
        return self.client_id

    def expire_all(self) -> int:
        """Make every token issued so far invalid; return how many were live."""
        now = self.clock.now()
        live = [t for t in self._tokens.values() if not t.revoked and t.expires_at > now]
        for token in live:
            token.revoked = True
        return len(live)

    def check(self, authorization: str | None, scope: str) -> None:
        """Refuse with 401 (no, unknown or expired token) or 403 (scope not granted)."""
        challenge = {"WWW-Authenticate": 'Bearer realm="digipix-sandbox"'}
        if not authorization:
            raise ApiError(401, "missing Authorization: Bearer <access_token>", headers=challenge)
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiError(401, "Authorization must be 'Bearer <access_token>'", headers=challenge)
        found = self._tokens.get(token.strip())
        if found is None:
            raise ApiError(401, "unknown access token", headers=challenge)
        if found.revoked or found.expires_at <= self.clock.now():
            raise ApiError(401, "access token expired", headers=challenge)
        if scope not in found.scopes:
            raise ApiError(403, f"access token lacks the {scope!r} scope")
