"""Every program in examples/ runs as its docstring says, against the sandbox (issue 15 item 6).

Each runs in a subprocess as a user runs it (``python examples/<name>.py``) with the
``DIGIPIX_*`` variables of a sandbox started by the test; the web apps are served on a
free loopback port, asked for a quote, sent real status notifications by the sandbox,
then stopped with Ctrl-C, and must exit cleanly without ever printing a secret.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest
from test_readme import (
    WEBHOOK_SECRET,
    free_port,
    notify_app,
    post_status,
    run_python,
    sandbox_env,
    served_program,
)

from digipix_async.sandbox import SandboxServer
from digipix_async.webhooks import notification_url

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
WEB_APPS = ["fastapi_app.py", "aiohttp_app.py"]


@pytest.mark.parametrize("name", WEB_APPS)
async def test_web_app_quotes_and_receives_verified_notifications(
    name: str, digipix_sandbox: SandboxServer, tmp_path: Path
) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = sandbox_env(digipix_sandbox, PORT=str(port))
    async with served_program(str(EXAMPLES / name), env=env, cwd=tmp_path, port=port) as result:
        async with aiohttp.ClientSession() as session:
            query = {"zip_code": "01311-100", "product_id": "photobook", "quantity": "2"}
            async with session.get(f"{base}/quote", params=query) as response:
                assert response.status == 200, await response.text()
                options = await response.json()
            assert [option["name"] for option in options] == ["Cheapest", "Fastest"]
            assert options[0]["cost"] == "2.09"  # money as exact text, not a float
            bad = {"zip_code": "123", "product_id": "photobook"}
            async with session.get(f"{base}/quote", params=bad) as response:
                assert response.status == 422  # refused before anything was sent
            unknown = {"zip_code": "01311-100", "product_id": "no-such-product"}
            async with session.get(f"{base}/quote", params=unknown) as response:
                assert response.status == 422
        quotes_sent = digipix_sandbox.request_count("POST", "/v1/quote")
        assert quotes_sent == 2  # the bad zip code never left the app

        order_id = await notify_app(digipix_sandbox, f"{base}/digipix")
        forged = b'{"id": "%s", "status": "DELIVERED"}' % order_id.encode()
        assert await post_status(f"{base}/digipix", forged) == 401
        assert await post_status(notification_url(f"{base}/digipix", "guess"), forged) == 403
        # A forged step for an order that never reached it: answered 200, not delivered.
        other = b'{"id": "no-such-order", "status": "SHIPPED"}'
        assert await post_status(notification_url(f"{base}/digipix", WEBHOOK_SECRET), other) == 200
    ran = result[0]
    ran.check_clean(digipix_sandbox.client_secret, WEBHOOK_SECRET)
    lines = [line for line in ran.stdout.splitlines() if line.startswith("order ")]
    assert lines[-3].startswith(f"order {order_id} is IN_MANUFACTURING")
    assert lines[-2].startswith(f"order {order_id} is SHIPPED ['")  # with its tracking code
    assert lines[-1].startswith(f"order {order_id} is DELIVERED")
    assert "no-such-order" not in ran.stdout
    assert digipix_sandbox.token_requests == 2  # one for the app, one for notify_app


async def test_bulk_quotes_over_the_csv(digipix_sandbox: SandboxServer, tmp_path: Path) -> None:
    ran = await run_python(
        str(EXAMPLES / "bulk_quotes.py"),
        str(EXAMPLES / "carts.csv"),
        env=sandbox_env(digipix_sandbox),
        cwd=tmp_path,
    )
    assert ran.returncode == 1, ran  # one cart names an unknown product: exit 1, says which
    assert "4 carts: 3 quoted, 1 failed" in ran.stdout, ran.stdout
    assert ran.stderr.startswith("A-1004: "), ran.stderr
    assert digipix_sandbox.request_count("POST", "/v1/quote") == 4


async def test_bulk_quotes_with_its_own_sandbox(tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith("DIGIPIX_")}
    ran = await run_python(
        str(EXAMPLES / "bulk_quotes.py"), "--sandbox", "--generate", "300", env=env, cwd=tmp_path
    )
    ran.check_clean()
    assert "300 carts: 300 quoted, 0 failed" in ran.stdout, ran.stdout


async def test_chat_bot_keeps_one_client_across_event_loops(
    digipix_sandbox: SandboxServer, tmp_path: Path
) -> None:
    messages = "products\nquote 01311-100 photobook 2\ntrack nope\nquote 123 mug\nhello\nquit\n"
    process = await _start(EXAMPLES / "chat_bot.py", digipix_sandbox, tmp_path)
    stdout, stderr = await process.communicate(messages.encode())
    assert process.returncode == 0, stderr.decode()
    answers = stdout.decode().splitlines()
    assert answers[0].startswith("photobook (10.9), print-10x15 (0.89)")
    assert answers[1].startswith("Cheapest: 2.09 in 7 days; Fastest:")
    assert answers[2] == "I know no such order or product."
    assert answers[3].startswith("I could not read that: ")
    assert answers[4].startswith("say: products")
    for bad in ("Traceback", "Unclosed", "ResourceWarning", digipix_sandbox.client_secret):
        assert bad not in stderr.decode() + stdout.decode()
    # Five event loops, one client: the token outlived every loop but the first.
    assert digipix_sandbox.token_requests == 1


async def _start(path: Path, sandbox: SandboxServer, cwd: Path) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-W",
        "default",
        str(path),
        env=sandbox_env(sandbox),
        cwd=cwd,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


def test_examples_take_no_credentials_from_their_source() -> None:
    for path in EXAMPLES.glob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert "from_env(" in text, f"{path.name} should read credentials from the environment"
        assert "client_secret=" not in text, f"{path.name} holds a credential"


def test_examples_are_ruff_clean() -> None:
    ruff = Path(sys.executable).parent / "ruff"
    if not ruff.exists():
        pytest.skip("ruff is not installed in this environment")
    for command in (["check"], ["format", "--check"]):
        done = subprocess.run(
            [str(ruff), *command, str(EXAMPLES)], capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, done.stdout + done.stderr


def test_examples_type_check_strict() -> None:
    """Examples are code users copy: they pass ``mypy --strict`` as written."""
    mypy = Path(sys.executable).parent / "mypy"
    if not mypy.exists():
        pytest.skip("mypy is not installed in this environment")
    done = subprocess.run(
        [str(mypy), "--strict", str(EXAMPLES)],
        capture_output=True,
        text=True,
        check=False,
        cwd=EXAMPLES.parent,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
