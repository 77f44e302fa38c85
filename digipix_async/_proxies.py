"""Which proxy a request goes through, read from the environment (never from ``.netrc``).

``HTTP_PROXY``/``HTTPS_PROXY``/``ALL_PROXY`` and ``NO_PROXY`` (either case), as
httpx and requests read them. aiohttp's own ``trust_env=True`` would also read
``~/.netrc`` and send its credentials as Basic auth, clashing with the bearer
token, so the SDK resolves proxies itself with the standard library and hands
aiohttp an explicit ``proxy=``. No aiohttp here: plain functions of strings.
"""

from __future__ import annotations

import urllib.request
from urllib.parse import urlsplit

__all__ = ["proxy_for"]


def proxy_for(url: str) -> str | None:
    """Return the proxy URL the environment names for ``url``, or None to go direct.

    Called once per origin, not per request (the transport remembers the answer):
    the environment is read when a client first talks to a host.
    """
    parts = urlsplit(url)
    host = parts.hostname
    if not host:
        return None
    proxies = urllib.request.getproxies()
    proxy = proxies.get(parts.scheme) or proxies.get("all")
    if not proxy:
        return None
    # proxy_bypass reads NO_PROXY (and, on macOS and Windows, the system settings);
    # it wants the host with its port when one was given, as curl matches it.
    netloc = f"{host}:{parts.port}" if parts.port else host
    if urllib.request.proxy_bypass(netloc):
        return None
    # "proxy.corp:3128" is commonly written without a scheme; curl reads it as http.
    return proxy if "://" in proxy else f"http://{proxy}"
