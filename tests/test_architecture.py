"""The layout's promises, checked: who may import aiohttp, and a complete public surface."""

from __future__ import annotations

import ast
import pathlib

import digipix_async
import digipix_async.jobs
import digipix_async.models
import digipix_async.stores
import digipix_async.webhooks

PACKAGE = pathlib.Path(digipix_async.__file__).parent

# The client's own request path touches aiohttp only in the transport (its send and
# its per-loop session pool). The sandbox, the webhook adapter and the helpers built
# on the sandbox are users of the client.
MAY_IMPORT_AIOHTTP = {
    "_transport.py",
    "_transport_pool.py",
    "webhooks/_aiohttp.py",
}
USERS_OF_THE_CLIENT = ("sandbox/", "testing.py", "testing/", "cli.py", "cli/")


def imported_modules(path: pathlib.Path) -> set[str]:
    """Return the top-level modules a file imports at run time (not for type hints only)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING":
            node.body = []
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_only_the_transport_imports_aiohttp() -> None:
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).as_posix()
        if relative in MAY_IMPORT_AIOHTTP or relative.startswith(USERS_OF_THE_CLIENT):
            continue
        if {"aiohttp", "yarl", "multidict"} & imported_modules(path):
            offenders.append(relative)
    assert offenders == []


def test_the_client_never_imports_its_users() -> None:
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).as_posix()
        if relative.startswith((*USERS_OF_THE_CLIENT, "webhooks/", "__main__")):
            continue
        source = path.read_text(encoding="utf-8")
        for user in ("digipix_async.sandbox", "digipix_async.webhooks", "digipix_async.cli"):
            assert user not in source, f"{relative} imports {user}"


def test_public_names_are_sorted_and_exist() -> None:
    modules = (
        digipix_async,
        digipix_async.models,
        digipix_async.webhooks,
        digipix_async.stores,
        digipix_async.jobs,
    )
    for module in modules:
        names = list(module.__all__)
        assert names == sorted(names), module.__name__
        for name in names:
            assert hasattr(module, name), f"{module.__name__}.{name}"


def test_every_name_of_the_contract_is_public() -> None:
    contract = {
        "DigipixClient", "BulkResult", "DigipixError", "APIConnectionError", "APITimeoutError",
        "APIStatusError", "BadRequestError", "AuthenticationError", "PermissionDeniedError",
        "NotFoundError", "ConflictError", "UnprocessableEntityError", "RateLimitError",
        "InternalServerError", "APIResponseValidationError", "ValidationError",
        "OrderOutcomeUnknownError",
    }  # fmt: skip
    models = {
        "Product", "ProductPart", "QuoteItem", "ShippingOption", "Recipient", "OrderItem",
        "ItemPart", "Order", "OrderStatus", "ShipmentMethod", "StatusNotification",
        "TrackingItem",
    }  # fmt: skip
    assert contract <= set(digipix_async.__all__)
    assert models <= set(digipix_async.models.__all__)
    assert {"parse_notification", "aiohttp_handler"} <= set(digipix_async.webhooks.__all__)
    assert {"MemoryStore", "RedisStore", "APIResponse"} <= set(digipix_async.__all__)
    assert {"OrderJournal", "JOURNAL_KEY"} <= set(digipix_async.jobs.__all__)


def test_modules_stay_small() -> None:
    sizes = {
        path.relative_to(PACKAGE).as_posix(): len(path.read_text(encoding="utf-8").splitlines())
        for path in PACKAGE.rglob("*.py")
    }
    assert {name: size for name, size in sizes.items() if size > 400} == {}


def test_the_protocol_layer_sits_below_auth() -> None:
    # _sansio holds the request and response values; the token refresher builds on
    # them, never the other way round.
    assert "digipix_async._auth" not in (PACKAGE / "_sansio.py").read_text(encoding="utf-8")
    assert "_auth" not in imported_package_modules(PACKAGE / "_sansio.py")


def imported_package_modules(path: pathlib.Path) -> set[str]:
    """Return the digipix_async submodules a file imports (``_auth`` for digipix_async._auth)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            parts = node.module.split(".")
            if parts[0] == "digipix_async" and len(parts) > 1:
                names.add(parts[1])
            elif parts[0] == "digipix_async":
                names.update(alias.name for alias in node.names)
    return names
