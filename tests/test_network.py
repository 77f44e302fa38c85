"""Networks as users have them (issue 15.1, 15.2): proxies, private CAs, the User-Agent.

Everything runs on loopback: the API (aiohttp.web, over plain HTTP or over TLS with a
test CA from trustme) and a small forwarding proxy written here, which counts what it
forwards and which headers it saw.
"""

from __future__ import annotations

import asyncio
import contextlib
import pathlib
import platform
import ssl
from collections.abc import AsyncIterator, Iterator
from importlib.metadata import version

import aiohttp
import pytest
import trustme
from aiohttp import web

from digipix_async import APIConnectionError, DigipixClient, _retry

PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    _retry.set_testing(True)
    yield
    _retry.set_testing(False)


class Api:
    """The two routes a call needs; remembers each request's headers."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, dict[str, str]]] = []

    async def token(self, request: web.Request) -> web.Response:
        self.seen.append((request.path, dict(request.headers)))
        return web.json_response({"access_token": "tok", "expires_in": 3600})

    async def order(self, request: web.Request) -> web.Response:
        self.seen.append((request.path, dict(request.headers)))
        return web.json_response({"id": request.match_info["id"], "status": "APPROVED"})

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v1/oauth/token", self.token)
        app.router.add_get("/v1/orders/{id}", self.order)
        return app


@contextlib.asynccontextmanager
async def serve(api: Api, tls: ssl.SSLContext | None = None) -> AsyncIterator[str]:
    runner = web.AppRunner(api.app(), shutdown_timeout=0.1)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0, ssl_context=tls).start()
    try:
        yield f"{'https' if tls else 'http'}://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


class ForwardProxy:
    """An HTTP forward proxy: absolute-form requests are relayed, CONNECT is tunnelled.

    One request per connection (it asks the upstream to close), which is all a test
    needs; ``forwarded`` lists the request lines, ``headers`` the headers received.
    """

    def __init__(self, refuse_tunnels: bool = False) -> None:
        self.refuse_tunnels = refuse_tunnels
        self.forwarded: list[str] = []
        self.headers: list[str] = []
        self._clients: set[asyncio.StreamWriter] = set()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._clients.add(writer)
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            request_line, *lines = head.decode("latin-1").split("\r\n")
            method, target, _ = request_line.split(" ")
            self.forwarded.append(f"{method} {target}")
            self.headers.extend(line.split(":", 1)[0].lower() for line in lines if line)
            if method == "CONNECT" and self.refuse_tunnels:
                writer.write(b"HTTP/1.1 407 Proxy Authentication Required\r\n\r\n")
                await writer.drain()
                return
            if method == "CONNECT":
                host, port = target.rsplit(":", 1)
                up_reader, up_writer = await asyncio.open_connection(host, int(port))
                writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            else:
                url = aiohttp.client.URL(target)
                up_reader, up_writer = await asyncio.open_connection(url.host, url.port)
                kept = [line for line in lines if line and not line.lower().startswith(
                    ("connection:", "proxy-", "keep-alive:"))]  # fmt: skip
                length = next(
                    (int(line.split(":")[1]) for line in kept
                     if line.lower().startswith("content-length:")), 0,
                )  # fmt: skip
                body = await reader.readexactly(length)
                upstream = "\r\n".join(
                    [f"{method} {url.raw_path_qs} HTTP/1.1", *kept, "Connection: close", "", ""]
                )
                up_writer.write(upstream.encode("latin-1") + body)
            await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        except (OSError, asyncio.IncompleteReadError, TimeoutError, ValueError):
            pass
        finally:
            self._clients.discard(writer)
            writer.close()

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[str]:
        server = await asyncio.start_server(self.handle, "127.0.0.1", 0)
        try:
            yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        finally:
            server.close()
            for writer in list(self._clients):  # Server.close_clients() is 3.13+
                writer.close()
            await server.wait_closed()


async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while chunk := await reader.read(65536):
            writer.write(chunk)
            await writer.drain()
    except OSError:
        pass
    finally:
        writer.close()


async def get_order(base: str, **options: object) -> str:
    async with DigipixClient("abc123", "secret", base_url=base, **options) as client:  # type: ignore[arg-type]
        return (await client.orders.get("o-1")).id


# -- proxies from the environment ------------------------------------------------------


async def test_http_proxy_from_the_environment_carries_every_request(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    api, proxy = Api(), ForwardProxy()
    async with serve(api) as base, proxy.running() as proxy_url:
        monkeypatch.setenv("HTTP_PROXY", proxy_url)
        assert await get_order(base) == "o-1"

    assert proxy.forwarded == [f"POST {base}/v1/oauth/token", f"GET {base}/v1/orders/o-1"]
    assert [path for path, _ in api.seen] == ["/v1/oauth/token", "/v1/orders/o-1"]


async def test_a_proxy_written_without_scheme_is_read_as_http(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    api, proxy = Api(), ForwardProxy()
    async with serve(api) as base, proxy.running() as proxy_url:
        monkeypatch.setenv("http_proxy", proxy_url.removeprefix("http://"))
        assert await get_order(base) == "o-1"
    assert len(proxy.forwarded) == 2


@pytest.mark.parametrize("no_proxy", ["127.0.0.1", "*", "localhost,127.0.0.1"])
async def test_no_proxy_sends_direct(monkeypatch: pytest.MonkeyPatch, no_proxy: str) -> None:
    api, proxy = Api(), ForwardProxy()
    async with serve(api) as base, proxy.running() as proxy_url:
        monkeypatch.setenv("HTTP_PROXY", proxy_url)
        monkeypatch.setenv("NO_PROXY", no_proxy)
        assert await get_order(base) == "o-1"
    assert proxy.forwarded == []
    assert len(api.seen) == 2


async def test_trust_env_false_ignores_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    api, proxy = Api(), ForwardProxy()
    async with serve(api) as base, proxy.running() as proxy_url:
        monkeypatch.setenv("HTTP_PROXY", proxy_url)
        assert await get_order(base, trust_env=False) == "o-1"
    assert proxy.forwarded == []


async def test_netrc_is_never_read(monkeypatch: pytest.MonkeyPatch, tmp_path: pathlib.Path) -> None:
    # aiohttp's own trust_env=True would send these as Basic credentials, to the
    # proxy and to the API, clashing with the bearer token.
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login someone password hunter2\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    api, proxy = Api(), ForwardProxy()
    async with serve(api) as base, proxy.running() as proxy_url:
        monkeypatch.setenv("HTTP_PROXY", proxy_url)
        assert await get_order(base) == "o-1"

    assert "proxy-authorization" not in proxy.headers
    token_headers, order_headers = (headers for _, headers in api.seen)
    assert "Authorization" not in token_headers
    assert order_headers["Authorization"] == "Bearer tok"


async def test_an_unreachable_proxy_is_a_connection_error_before_sending(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    api, proxy = Api(), ForwardProxy()
    async with serve(api) as base:
        async with proxy.running() as proxy_url:
            pass  # closed again: nothing listens there now
        monkeypatch.setenv("HTTP_PROXY", proxy_url)
        with pytest.raises(APIConnectionError) as caught:
            await get_order(base)
    assert caught.value.request_sent is False
    assert api.seen == []


async def test_all_proxy_serves_every_scheme(monkeypatch: pytest.MonkeyPatch) -> None:
    api, proxy = Api(), ForwardProxy()
    async with serve(api) as base, proxy.running() as proxy_url:
        monkeypatch.setenv("ALL_PROXY", proxy_url)
        assert await get_order(base) == "o-1"
    assert len(proxy.forwarded) == 2


# -- TLS: default verification, a private CA, verification off ---------------------------


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def server_tls(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    return context


@pytest.fixture
def ca_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


async def test_an_untrusted_certificate_is_a_connection_error_naming_it(
    server_tls: ssl.SSLContext,
) -> None:
    api = Api()
    async with serve(api, server_tls) as base:
        with pytest.raises(APIConnectionError) as caught:
            await get_order(base)

    assert caught.value.request_sent is False
    assert "TLS certificate of 127.0.0.1" in str(caught.value)
    assert "CERTIFICATE_VERIFY_FAILED" in str(caught.value)
    assert "ssl=ssl.create_default_context(cafile=...)" in str(caught.value)
    assert api.seen == []


async def test_a_private_ca_context_is_trusted(
    server_tls: ssl.SSLContext, ca_context: ssl.SSLContext
) -> None:
    api = Api()
    async with serve(api, server_tls) as base:
        assert await get_order(base, ssl=ca_context) == "o-1"
    assert len(api.seen) == 2


async def test_ssl_false_skips_verification(server_tls: ssl.SSLContext) -> None:
    async with serve(Api(), server_tls) as base:
        assert await get_order(base, ssl=False) == "o-1"


async def test_https_through_a_proxy_tunnels_with_connect(
    monkeypatch: pytest.MonkeyPatch, server_tls: ssl.SSLContext, ca_context: ssl.SSLContext
) -> None:
    api, proxy = Api(), ForwardProxy()
    async with serve(api, server_tls) as base, proxy.running() as proxy_url:
        monkeypatch.setenv("HTTPS_PROXY", proxy_url)
        monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # not for https
        assert await get_order(base, ssl=ca_context) == "o-1"

    # One tunnel, reused for both requests, which the proxy cannot read.
    assert proxy.forwarded == [f"CONNECT {base.removeprefix('https://')}"]
    assert len(api.seen) == 2


# -- User-Agent (issue 15.2) -------------------------------------------------------------

USER_AGENT = (
    f"digipix-async/{version('digipix_async')} aiohttp/{aiohttp.__version__} "
    f"python/{platform.python_version()}"
)


@pytest.mark.parametrize(
    ("app_info", "expected"),
    [(None, USER_AGENT), (("myshop", "2.1"), f"{USER_AGENT} myshop/2.1")],
)
async def test_the_user_agent_names_the_sdk_aiohttp_python_and_the_app(
    app_info: tuple[str, str] | None, expected: str
) -> None:
    api = Api()
    async with serve(api) as base:
        await get_order(base, app_info=app_info)

    assert [headers["User-Agent"] for _, headers in api.seen] == [expected, expected]
    assert platform.python_version().count(".") == 2  # major.minor.micro


async def test_a_proxy_refusing_the_tunnel_is_a_connection_error_before_sending(
    monkeypatch: pytest.MonkeyPatch, server_tls: ssl.SSLContext, ca_context: ssl.SSLContext
) -> None:
    api, proxy = Api(), ForwardProxy(refuse_tunnels=True)
    async with serve(api, server_tls) as base, proxy.running() as proxy_url:
        monkeypatch.setenv("HTTPS_PROXY", proxy_url)
        with pytest.raises(APIConnectionError, match="the proxy refused the connection: 407"):
            await get_order(base, ssl=ca_context)

    assert api.seen == []


async def test_the_proxy_is_decided_once_per_host_not_per_request(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from digipix_async import _transport

    decided: list[str] = []

    def counting(url: str) -> str | None:
        decided.append(url)
        return None

    monkeypatch.setattr(_transport, "proxy_for", counting)
    async with serve(Api()) as base, DigipixClient("abc123", "secret", base_url=base) as client:
        for _ in range(5):
            await client.orders.get("o-1")

    assert decided == [base]
