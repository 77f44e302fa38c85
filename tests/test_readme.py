"""Every ```python block of README.md and docs/*.md runs as a user would run it (issue 12.7).

A block is exactly one of:

- a **program** (the default): saved as a file and run with ``python file.py`` while
  ``DIGIPIX_BASE_URL``, ``DIGIPIX_CLIENT_ID`` and ``DIGIPIX_CLIENT_SECRET`` point at a
  sandbox started by the test (what a user's shell holds after pasting the exports of
  ``python -m digipix_async.sandbox``). It must exit 0 with no traceback or unclosed
  resource, and each ``# prints: ...`` comment in it must match a line of its output
  (``...`` stands for any text), so a comment never shows a figure the code does not give;
- a **fragment** of the program above it: its first line is ``# (continues the program
  above)``. It is compiled (top-level ``await`` allowed), and a program must precede it;
- a **web app** (``<!-- readme-test: server path=/digipix -->`` before the fence): run the
  same way with ``PORT`` set; the test places an order whose status notifications go to
  it, checks each was answered 200 and that no secret reached the app's output, then
  stops it with Ctrl-C (it must exit cleanly);
- a **test module** (``<!-- readme-test: pytest asyncio_mode=auto -->`` or ``strict``): run
  by pytest in a project of its own configured with that mode;
- an **example** shown on a docs page (``<!-- readme-test: example -->``): the block is
  ``--8<-- "examples/<name>.py"``, which mkdocs replaces with that file; the file must
  exist (tests/test_examples.py runs it).

A block that is none of these fails `test_every_python_block_is_run_or_marked`.
"""

from __future__ import annotations

import ast
import asyncio
import builtins
import os
import re
import signal
import socket
import sys
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import attrs
import pytest

from digipix_async import DigipixClient, ShipmentMethod
from digipix_async.sandbox import SandboxServer
from digipix_async.webhooks import notification_url

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCUMENTS = [README, *sorted((ROOT / "docs").glob("*.md"))]

FRAGMENT_MARK = "# (continues the program above)"
_FENCE = re.compile(r"^```(\S*)\s*$")
_DIRECTIVE = re.compile(r"^<!--\s*readme-test:\s*(.*?)\s*-->$")
_PRINTS = re.compile(r"#\s*prints:\s*(.+?)\s*$")

#: The webhook secret the README's apps read from DIGIPIX_WEBHOOK_SECRET in these tests.
WEBHOOK_SECRET = "readme-webhook-secret-6f1d2c"
#: A program gets this long; the sandbox answers in milliseconds.
RUN_TIMEOUT = 90.0

SETUP_COMMANDS = (
    "python3 -m venv .venv && .venv/bin/pip install -e '.[cli]' && .venv/bin/digipix demo",
    "python3 -m venv .venv && .venv/bin/pip install -e '.[dev]' && .venv/bin/python -m pytest",
)


@attrs.frozen
class Block:
    """One fenced code block of a Markdown document."""

    document: str  # its path in the repository
    line: int  # of the opening fence, 1-based
    language: str
    code: str
    directive: str | None  # the text of a readme-test comment right before the fence

    @property
    def kind(self) -> str:
        if self.code.lstrip().startswith(FRAGMENT_MARK):
            return "fragment"
        if self.directive is None:
            return "program"
        return self.directive.split()[0]

    @property
    def options(self) -> dict[str, str]:
        words = (self.directive or "").split()[1:]
        return dict(word.partition("=")[::2] for word in words)

    @property
    def where(self) -> str:
        return f"{self.document}:{self.line}"

    @property
    def id(self) -> str:
        return f"{self.document}:{self.line}-{self.kind}"


def read_blocks(path: Path) -> list[Block]:
    """Return the fenced blocks of the Markdown document at ``path``, in order."""
    blocks: list[Block] = []
    lines = path.read_text(encoding="utf-8").splitlines()
    index = 0
    while index < len(lines):
        match = _FENCE.match(lines[index])
        if match is None:
            index += 1
            continue
        start = index
        index += 1
        body: list[str] = []
        while index < len(lines) and lines[index].rstrip() != "```":
            body.append(lines[index])
            index += 1
        before = [line for line in lines[:start] if line.strip()]
        directive = _DIRECTIVE.match(before[-1].strip()) if before else None
        blocks.append(
            Block(
                document=path.relative_to(ROOT).as_posix(),
                line=start + 1,
                language=match.group(1),
                code="\n".join(body) + "\n",
                directive=directive.group(1) if directive else None,
            )
        )
        index += 1
    return blocks


BLOCKS = [block for document in DOCUMENTS for block in read_blocks(document)]
PYTHON = [block for block in BLOCKS if block.language == "python"]
KINDS = ("program", "fragment", "server", "pytest", "example")


def _of_kind(kind: str) -> list[Any]:
    return [pytest.param(block, id=block.id) for block in PYTHON if block.kind == kind]


# -- running a file as a user would --------------------------------------------------------


def sandbox_env(sandbox: SandboxServer, **more: str) -> dict[str, str]:
    """Return this process's environment with the DIGIPIX_* variables of ``sandbox`` only."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("DIGIPIX_")}
    env.update(
        DIGIPIX_BASE_URL=sandbox.base_url,
        DIGIPIX_CLIENT_ID=sandbox.client_id,
        DIGIPIX_CLIENT_SECRET=sandbox.client_secret,
        DIGIPIX_WEBHOOK_SECRET=WEBHOOK_SECRET,
        PYTHONUNBUFFERED="1",
    )
    env.update(more)
    return env


@attrs.define
class Ran:
    """What a finished process left."""

    returncode: int
    stdout: str
    stderr: str

    def check_clean(self, *secrets: str) -> None:
        """Fail unless it exited 0 with no traceback, no unclosed resource, no secret shown."""
        shown = f"exit {self.returncode}\n--- stdout\n{self.stdout}\n--- stderr\n{self.stderr}"
        assert self.returncode == 0, shown
        for bad in ("Traceback", "Unclosed", "ResourceWarning", "was never awaited"):
            assert bad not in self.stderr, shown
        for secret in secrets:
            assert secret not in self.stdout + self.stderr, "a secret was printed or logged"


async def run_python(*args: str, env: Mapping[str, str], cwd: Path) -> Ran:
    """Run ``python -W default *args`` (ResourceWarnings shown) and wait for it to end."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-W",
        "default",
        *args,
        env=dict(env),
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with asyncio.timeout(RUN_TIMEOUT):
            stdout, stderr = await process.communicate()
    except TimeoutError:
        process.kill()
        stdout, stderr = await process.communicate()
        pytest.fail(f"{args} ran over {RUN_TIMEOUT} s:\n{stdout.decode()}\n{stderr.decode()}")
    return Ran(process.returncode or 0, stdout.decode(), stderr.decode())


def free_port() -> int:
    """Return a loopback port that was free a moment ago."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def _wait_for_port(port: int, process: asyncio.subprocess.Process) -> None:
    async with asyncio.timeout(30):
        while True:
            if process.returncode is not None:
                return  # it died: the caller reports its output
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                await asyncio.sleep(0.05)
                continue
            writer.close()
            await writer.wait_closed()
            return


@asynccontextmanager
async def served_program(
    *args: str, env: Mapping[str, str], cwd: Path, port: int
) -> AsyncIterator[list[Ran]]:
    """Run a web app program until it listens on ``port``; on exit, Ctrl-C it and collect.

    Yields a list that holds the finished process's `Ran` after the block.
    """
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-W",
        "default",
        *args,
        env=dict(env),
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    result: list[Ran] = []
    try:
        await _wait_for_port(port, process)
        if process.returncode is not None:
            stdout, stderr = await process.communicate()
            pytest.fail(f"the app exited early:\n{stdout.decode()}\n{stderr.decode()}")
        yield result
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGINT)  # what Ctrl-C sends: a graceful shutdown
        try:
            async with asyncio.timeout(30):
                stdout, stderr = await process.communicate()
        except TimeoutError:
            process.kill()
            stdout, stderr = await process.communicate()
        result.append(Ran(process.returncode or 0, stdout.decode(), stderr.decode()))


async def notify_app(sandbox: SandboxServer, url: str) -> str:
    """Place an order whose notifications go to ``url`` (+ the secret), drive it to DELIVERED.

    Returns the order id once every notification was answered 200.
    """
    async with DigipixClient(
        sandbox.client_id, sandbox.client_secret, base_url=sandbox.base_url
    ) as client:
        order = await client.orders.create(
            recipient={
                "name": "Maria da Silva",
                "zip_code": "01311-100",
                "street": "Avenida Paulista",
                "number": "1000",
                "city": "Sao Paulo",
                "state": "SP",
                "country": "BR",
            },
            items=[
                {
                    "product_id": "mug",
                    "quantity": 1,
                    "parts": [{"id": "wrap", "url": "https://files.example.com/wrap.png"}],
                }
            ],
            shipment_method=ShipmentMethod.CHEAPEST,
            status_notification_url=notification_url(url, WEBHOOK_SECRET),
        )
    await sandbox.advance(order.id, to="DELIVERED")
    records = await sandbox.wait_notifications(timeout=30)
    statuses = [record.payload.get("status") for record in records]
    assert statuses[-3:] == ["IN_MANUFACTURING", "SHIPPED", "DELIVERED"], statuses
    answers = [(record.payload.get("status"), record.last_status) for record in records]
    assert all(status == 200 for _, status in answers), answers
    return order.id


async def post_status(url: str, body: bytes) -> int:
    """POST ``body`` to ``url`` and return the answer's status (a forger's request)."""
    import aiohttp

    async with aiohttp.ClientSession() as session, session.post(url, data=body) as response:
        return response.status


# -- the README's own structure -------------------------------------------------------------


def _bound_names(tree: ast.AST) -> set[str]:
    """Return every name ``tree`` binds: assignments, imports, defs, arguments, targets."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.alias):
            names.add(node.asname or node.name.split(".")[0])
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            names.add(node.name)
    return names


def _parse(block: Block) -> ast.Module:
    flags = ast.PyCF_ALLOW_TOP_LEVEL_AWAIT | ast.PyCF_ONLY_AST
    tree = compile(block.code, block.where, "exec", flags=flags)
    assert isinstance(tree, ast.Module)
    return tree


def continued_program(fragment: Block) -> Block | None:
    """Return the whole program a fragment continues: the nearest one above it."""
    above = [
        block
        for block in PYTHON
        if block.document == fragment.document
        and block.line < fragment.line
        and block.kind in ("program", "server")
    ]
    return above[-1] if above else None


def test_every_python_block_is_run_or_marked() -> None:
    assert sum(block.document == "README.md" for block in PYTHON) >= 8, "README lost examples?"
    assert {block.document for block in PYTHON} > {"README.md"}, "no docs pages found?"
    for block in PYTHON:
        assert block.kind in KINDS, f"{block.where}: unknown readme-test kind"
        if block.kind == "fragment":
            assert continued_program(block), f"{block.where}: a fragment with no program above"


def test_every_code_block_names_its_language() -> None:
    unnamed = [block.where for block in BLOCKS if not block.language]
    assert not unnamed, f"code blocks without a language (python? bash? text?): {unnamed}"


def test_the_two_setup_commands_are_there() -> None:
    text = README.read_text(encoding="utf-8")
    for command in SETUP_COMMANDS:
        assert command in text


def test_prints_comments_are_only_in_programs() -> None:
    for block in PYTHON:
        if block.kind != "program":
            assert not _PRINTS.search(block.code), f"{block.where}: '# prints:' is not checked"


# -- running the blocks ---------------------------------------------------------------------


def _expected_lines(code: str) -> list[re.Pattern[str]]:
    patterns = []
    for line in code.splitlines():
        match = _PRINTS.search(line)
        if match:
            pieces = [re.escape(piece.strip()) for piece in match.group(1).split("...")]
            patterns.append(re.compile(r".*?".join(piece for piece in pieces if piece)))
    return patterns


@pytest.mark.parametrize("block", _of_kind("program"))
async def test_program_runs(block: Block, digipix_sandbox: SandboxServer, tmp_path: Path) -> None:
    path = tmp_path / "snippet.py"
    path.write_text(block.code, encoding="utf-8")
    ran = await run_python(str(path), env=sandbox_env(digipix_sandbox), cwd=tmp_path)
    ran.check_clean(digipix_sandbox.client_secret, WEBHOOK_SECRET)
    for pattern in _expected_lines(block.code):
        assert any(pattern.search(line) for line in ran.stdout.splitlines()), (
            f"{block.where}: no output line matches {pattern.pattern!r}:\n{ran.stdout}"
        )


@pytest.mark.parametrize("block", _of_kind("fragment"))
def test_fragment_uses_only_names_of_the_program_above(block: Block) -> None:
    """A fragment compiles, and every name it reads is its own, a builtin or the program's.

    This is what catches an undefined ``CLIENT_ID`` in a snippet nobody runs whole.
    """
    program = continued_program(block)
    assert program is not None
    tree = _parse(block)
    read = {
        node.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)
    }
    known = _bound_names(tree) | _bound_names(_parse(program)) | set(dir(builtins))
    assert read <= known, f"{block.where}: undefined {sorted(read - known)}"


@pytest.mark.parametrize("block", _of_kind("server"))
async def test_web_app_receives_notifications(
    block: Block, digipix_sandbox: SandboxServer, tmp_path: Path
) -> None:
    path = tmp_path / "webapp.py"
    path.write_text(block.code, encoding="utf-8")
    port = free_port()
    url = f"http://127.0.0.1:{port}{block.options.get('path', '/digipix')}"
    env = sandbox_env(digipix_sandbox, PORT=str(port))
    async with served_program(str(path), env=env, cwd=tmp_path, port=port) as result:
        order_id = await notify_app(digipix_sandbox, url)
        forged = b'{"id": "%s", "status": "DELIVERED"}' % order_id.encode()
        assert await post_status(url, forged) == 401  # no secret
        assert await post_status(notification_url(url, "guess"), forged) == 403
    ran = result[0]
    ran.check_clean(digipix_sandbox.client_secret, WEBHOOK_SECRET)
    for status in ("IN_MANUFACTURING", "SHIPPED", "DELIVERED"):
        assert f"{order_id} {status}" in ran.stdout, ran.stdout


@pytest.mark.parametrize("block", _of_kind("pytest"))
async def test_test_module_passes(block: Block, tmp_path: Path) -> None:
    mode = block.options.get("asyncio_mode", "auto")
    assert mode in ("auto", "strict")
    (tmp_path / "pytest.ini").write_text(
        "[pytest]\n"
        f"asyncio_mode = {mode}\n"
        "asyncio_default_fixture_loop_scope = function\n"
        "filterwarnings = error\n",
        encoding="utf-8",
    )
    (tmp_path / "test_snippet.py").write_text(block.code, encoding="utf-8")
    env = {key: value for key, value in os.environ.items() if not key.startswith("DIGIPIX_")}
    ran = await run_python(
        "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path), env=env, cwd=tmp_path
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert re.search(r"\b\d+ passed\b", ran.stdout), ran.stdout
    assert not re.search(r"\b(failed|errors?|skipped)\b", ran.stdout), ran.stdout


@pytest.mark.parametrize("block", _of_kind("example"))
def test_example_blocks_show_a_tested_example(block: Block) -> None:
    match = re.fullmatch(r'--8<-- "(examples/[\w.]+\.py)"\n', block.code)
    assert match, f'{block.where}: an example block holds only --8<-- "examples/<name>.py"'
    assert (ROOT / match.group(1)).is_file(), f"{block.where}: no {match.group(1)}"


async def test_docs_site_builds_strict_and_offline(tmp_path: Path) -> None:
    """``mkdocs build --strict`` (warnings are errors) with every proxy pointing nowhere.

    A plugin or theme fetching anything at build time would fail here; the pages
    themselves load no web fonts.
    """
    mkdocs = Path(sys.executable).parent / "mkdocs"
    if not mkdocs.exists():
        pytest.skip("mkdocs is not installed (the docs extra)")
    env = {key: value for key, value in os.environ.items() if not key.startswith("DIGIPIX_")}
    nowhere = "http://127.0.0.1:9"  # the discard port: nothing listens
    env.update(HTTP_PROXY=nowhere, HTTPS_PROXY=nowhere, NO_PROXY="", NO_MKDOCS_2_WARNING="1")
    site = tmp_path / "site"
    process = await asyncio.create_subprocess_exec(
        str(mkdocs),
        "build",
        "--strict",
        "--site-dir",
        str(site),
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    async with asyncio.timeout(300):
        output, _ = await process.communicate()
    assert process.returncode == 0, output.decode()
    index = (site / "index.html").read_text(encoding="utf-8")
    assert "fonts.googleapis.com" not in index
    assert "fonts.gstatic.com" not in index
    client_page = (site / "reference" / "client" / "index.html").read_text(encoding="utf-8")
    assert 'id="digipix_async.DigipixClient.from_env"' in client_page
    webhooks = (site / "webhooks" / "index.html").read_text(encoding="utf-8")
    assert "--8&lt;--" not in webhooks
    assert "make_app" in webhooks  # examples/aiohttp_app.py, inlined
    assert "lifespan" in webhooks  # examples/fastapi_app.py, inlined


def _shell_commands(program: str) -> list[tuple[str, list[str]]]:
    """Return (where, words) of each ``program ...`` line of the bash blocks, comments cut."""
    found = []
    for block in BLOCKS:
        if block.language != "bash":
            continue
        for line in block.code.splitlines():
            words = line.split("#", 1)[0].split()
            if words[:1] == [program]:
                found.append((block.where, words[1:]))
    return found


async def test_every_digipix_command_shown_exists_with_its_options(tmp_path: Path) -> None:
    """Each ``digipix ...`` line names real (sub)commands, and options they take."""
    digipix = Path(sys.executable).parent / "digipix"
    if not digipix.exists():
        pytest.skip("the digipix console script is not installed")
    env = {key: value for key, value in os.environ.items() if not key.startswith("DIGIPIX_")}
    helps: dict[tuple[str, ...], str] = {}

    async def help_of(path: tuple[str, ...]) -> str:
        if path not in helps:
            ran = await run_python("-m", "digipix_async", *path, "--help", env=env, cwd=tmp_path)
            assert ran.returncode == 0, f"digipix {' '.join(path)}: {ran.stdout}{ran.stderr}"
            helps[path] = ran.stdout
        return helps[path]

    commands = _shell_commands("digipix")
    assert len(commands) >= 5
    for where, words in commands:
        path: tuple[str, ...] = ()
        for word in words:
            commands_listed = (await help_of(path)).partition("Commands:")[2]
            if word.startswith("-") or not re.search(
                rf"^\s+{re.escape(word)}\s", commands_listed, re.M
            ):
                break
            path = (*path, word)
        text = await help_of(path)
        for word in words:
            option = word.split("=", 1)[0]
            if option.startswith("-"):
                assert re.search(rf"(^|[\s,]){re.escape(option)}\b", text), f"{where}: {option}?"
