"""Set-up for the command-line tests (helpers are in cli_helpers.py)."""

from __future__ import annotations

import pytest
from cli_helpers import CREDENTIALS


@pytest.fixture(autouse=True)
def _no_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reads the credentials of whoever runs the suite."""
    for name in CREDENTIALS:
        monkeypatch.delenv(name, raising=False)
