"""The ``digipix`` click group, the options its commands share, and the exit codes."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Sequence
from typing import Any, TextIO, TypeVar

import click

from digipix_async.cli._context import Settings

__all__ = ["api_options", "cli", "run_cli", "settings_from"]

F = TypeVar("F", bound=Callable[..., Any])


@click.group(
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Quote, order and follow Digipix orders from the command line.

    Credentials come from DIGIPIX_CLIENT_ID and DIGIPIX_CLIENT_SECRET (with
    DIGIPIX_ENVIRONMENT or DIGIPIX_BASE_URL); --sandbox runs any command against an
    embedded sandbox instead. Exit status: 0 when every input was answered, 1 when
    some failed, 2 on bad usage, 130 when interrupted (Ctrl-C), 143 when terminated
    (SIGTERM); a bulk job finishes the requests in flight at the first of either.
    """
    ctx.ensure_object(dict)


def api_options(command: F) -> F:
    """Add --sandbox, --json and --rate-limit to a command that talks to Digipix."""
    command = click.option(
        "--rate-limit",
        type=click.FloatRange(min=0, min_open=True),
        metavar="R",
        help="Send at most R requests per second.",
    )(command)
    command = click.option(
        "--json", "as_json", is_flag=True, help="Print JSON for scripts instead of tables."
    )(command)
    return click.option(
        "--sandbox",
        is_flag=True,
        help="Run against an embedded sandbox (no credentials, nothing real).",
    )(command)


def settings_from(
    ctx: click.Context, *, sandbox: bool, as_json: bool, rate_limit: float | None
) -> Settings:
    """Build the command's settings from its options and the streams main() was given."""
    obj = ctx.find_root().obj or {}
    return Settings(
        out=obj.get("out") or sys.stdout,
        err=obj.get("err") or sys.stderr,
        sandbox=sandbox,
        as_json=as_json,
        rate_limit=rate_limit,
    )


_COMMAND_MODULES = ("_catalog", "_demo", "_orders", "_orders_bulk", "_quote_bulk")


def _register() -> None:
    # Imported here, not at the top: each module adds its commands to `cli`, which
    # it imports from this one.
    for name in _COMMAND_MODULES:
        importlib.import_module(f"digipix_async.cli.{name}")


def run_cli(argv: Sequence[str] | None, *, out: TextIO | None, err: TextIO | None) -> int:
    """Run the group and return the exit status instead of calling sys.exit."""
    _register()
    try:
        result = cli.main(
            args=list(argv) if argv is not None else None,
            prog_name="digipix",
            standalone_mode=False,
            obj={"out": out, "err": err},
        )
    except click.ClickException as error:  # usage errors: 2
        error.show(file=err or sys.stderr)
        return error.exit_code
    except click.Abort:
        print("Aborted!", file=err or sys.stderr)
        return 130
    # A command returns its exit status; --help and friends return one through Exit.
    return result if isinstance(result, int) else 0
