"""The ``digipix`` command line: quote carts in bulk, place and follow orders, a demo.

It needs the optional extra ``digipix_async[cli]`` (click and rich); without it the
command says so in one line and exits 2.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TextIO

__all__ = ["main"]

INSTALL_HINT = "digipix: the command line needs click and rich: pip install 'digipix_async[cli]'"


def main(
    argv: Sequence[str] | None = None, *, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    """Run the ``digipix`` command line; return the exit status."""
    try:
        from digipix_async.cli._app import run_cli
    except ImportError as error:
        if (error.name or "").split(".")[0] not in ("click", "rich"):
            raise
        print(INSTALL_HINT, file=err or sys.stderr)
        return 2
    return run_cli(argv, out=out, err=err)
