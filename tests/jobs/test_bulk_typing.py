"""After ``if result.ok:`` type checkers see ``value`` as the model, else ``error``.

Both checkers run in strict mode on ``typing/bulk_loop.py`` (the README's loops).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SNIPPET = Path(__file__).parent / "typing" / "bulk_loop.py"
BIN = Path(sys.executable).parent


def run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)


@pytest.mark.skipif(not (BIN / "mypy").exists(), reason="mypy is not installed")
def test_mypy_strict_accepts_the_bulk_loops() -> None:
    checked = run(str(BIN / "mypy"), "--strict", str(SNIPPET))

    assert checked.returncode == 0, checked.stdout + checked.stderr


@pytest.mark.skipif(not (BIN / "pyright").exists(), reason="pyright is not installed")
def test_pyright_strict_accepts_the_bulk_loops(tmp_path: Path) -> None:
    config = tmp_path / "pyrightconfig.json"
    config.write_text(
        '{"typeCheckingMode": "strict", "pythonVersion": "3.11", '
        f'"venvPath": "{BIN.parent.parent}", "venv": "{BIN.parent.name}"}}',
        encoding="utf-8",
    )
    checked = run(str(BIN / "pyright"), "--project", str(config), str(SNIPPET))

    assert checked.returncode == 0, checked.stdout + checked.stderr
