"""A fast local fake of the Digipix API in its own process: nginx, or aiohttp.web as a fallback.

nginx (the Debian package) answers fixed JSON from a generated config in a temp dir:
one worker, keep-alive on, access log off. Without nginx, ``python -m
benchmarks.fake_server --port N`` serves the same bodies with aiohttp.web; results
are then marked ``aiohttp-fallback`` (that server is slower and costs more CPU).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from benchmarks import payloads

NGINX = "nginx"
FALLBACK = "aiohttp-fallback"
_REPO = Path(__file__).resolve().parent.parent
_START_TIMEOUT = 10.0

_NGINX_CONF = """\
daemon off;
master_process on;
worker_processes 1;
{affinity}
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    keepalive_timeout 75s;
    keepalive_requests 10000000;
    server_tokens off;
    server {{
        listen 127.0.0.1:{port};
        default_type application/json;
        location = {token_path} {{ return 200 '{token}'; }}
        location = {quote_path} {{ return 200 '{quote}'; }}
        location ~ ^/v1/orders/[^/]+$ {{ return 200 '{order}'; }}
        location / {{ return 404 '{{"message": "not found"}}'; }}
    }}
}}
"""


def nginx_path() -> str | None:
    """Return the nginx binary, or None when it is not installed."""
    return shutil.which(NGINX) or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.access(p, os.X_OK)), None
    )


def free_port() -> int:
    """Return a loopback port that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def nginx_config(tmp: Path, port: int, cpu: int | None) -> str:
    """Render the nginx config serving the fixed payloads on ``port``."""
    bodies = {name: body.decode() for name, body in _named_bodies().items()}
    for body in bodies.values():
        if "'" in body or "$" in body or "\\" in body:
            raise ValueError("a payload would need escaping in nginx.conf")
    # worker_cpu_affinity takes a bit mask, rightmost character is CPU 0.
    affinity = "" if cpu is None else f"worker_cpu_affinity {'1' + '0' * cpu};"
    return _NGINX_CONF.format(
        tmp=tmp,
        port=port,
        affinity=affinity,
        token_path=payloads.TOKEN_PATH,
        quote_path=payloads.QUOTE_PATH,
        **bodies,
    )


def _named_bodies() -> dict[str, bytes]:
    return {
        "token": payloads.ROUTES[payloads.TOKEN_PATH],
        "quote": payloads.ROUTES[payloads.QUOTE_PATH],
        "order": payloads.ROUTES[payloads.ORDER_PATH],
    }


def _wait_listening(port: int, proc: subprocess.Popen[bytes], log: Path | None) -> None:
    deadline = time.monotonic() + _START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            detail = log.read_text() if log is not None and log.exists() else ""
            raise RuntimeError(f"fake server exited with {proc.returncode}: {detail}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"fake server did not listen on port {port} within {_START_TIMEOUT} s")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        # nginx: SIGTERM is a fast shutdown of master and worker; the fallback just exits.
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


@contextlib.contextmanager
def fake_server(kind: str = "auto", cpu: int | None = None) -> Iterator[tuple[str, str]]:
    """Run the fake API for the ``with`` block; yield ``(base_url, kind)``.

    ``kind`` is ``auto`` (nginx when installed), ``nginx`` or ``aiohttp``. ``cpu``
    pins the server to that core. The process is terminated on exit, errors included.
    """
    binary = nginx_path()
    if kind == "nginx" and binary is None:
        raise RuntimeError("nginx is not installed (apt-get install -y nginx-light)")
    use_nginx = binary is not None and kind in ("auto", "nginx")
    if kind == "auto" and binary is None:
        print(
            "WARNING: nginx is not installed; falling back to an aiohttp.web fake server. "
            "Results are marked 'aiohttp-fallback' (apt-get install -y nginx-light).",
            file=sys.stderr,
        )
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="digipix-bench-") as tmp_name:
        tmp = Path(tmp_name)
        if use_nginx:
            assert binary is not None
            conf = tmp / "nginx.conf"
            conf.write_text(nginx_config(tmp, port, cpu))
            command = [binary, "-e", str(tmp / "error.log"), "-p", str(tmp), "-c", str(conf)]
            log = tmp / "error.log"
        else:
            command = [sys.executable, "-m", "benchmarks.fake_server", "--port", str(port)]
            if cpu is not None:
                command += ["--cpu", str(cpu)]
            log = None
        proc = subprocess.Popen(command, cwd=_REPO, stdin=subprocess.DEVNULL)
        try:
            if cpu is not None:
                with contextlib.suppress(OSError):
                    os.sched_setaffinity(proc.pid, {cpu})
            _wait_listening(port, proc, log)
            yield f"http://127.0.0.1:{port}", NGINX if use_nginx else FALLBACK
        finally:
            _stop(proc)


def _serve_fallback(port: int) -> None:
    """Serve the fixed payloads with aiohttp.web until SIGTERM."""
    from aiohttp import web

    routes = payloads.ROUTES

    async def fixed(request: web.Request) -> web.Response:
        path = request.path
        if path.startswith("/v1/orders/") and path.count("/") == 3:
            path = payloads.ORDER_PATH
        body = routes.get(path)
        if body is None:
            return web.json_response({"message": "not found"}, status=404)
        if request.can_read_body:
            await request.read()
        return web.Response(body=body, content_type="application/json")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", fixed)
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


def main(argv: list[str] | None = None) -> int:
    """Run the aiohttp.web fallback fake server (or print the nginx config with --nginx-conf)."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--cpu", type=int, default=None, help="pin to this core")
    parser.add_argument("--nginx-conf", action="store_true", help="print the nginx config")
    args = parser.parse_args(argv)
    if args.nginx_conf:
        print(nginx_config(Path(tempfile.gettempdir()), args.port, args.cpu))
        return 0
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})
    _serve_fallback(args.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
