"""The SDK's logger, and its level from ``DIGIPIX_LOG``.

Nothing logged here ever holds a secret: requests are logged by method and path
(ids only), errors by their texts, which are redacted where they are built.
"""

from __future__ import annotations

import logging
import os

__all__ = ["log"]

log = logging.getLogger("digipix_async")


def _configure_from_env() -> None:
    """Apply ``DIGIPIX_LOG=debug|info|warning|...`` and make its output visible."""
    level_name = os.environ.get("DIGIPIX_LOG", "").strip().upper()
    if not level_name:
        return
    level = logging.getLevelName(level_name)
    if not isinstance(level, int):
        log.warning("DIGIPIX_LOG=%r is not a logging level; ignored", level_name)
        return
    log.setLevel(level)
    # Without a handler, Python only prints WARNING and above; asking for DEBUG
    # through the environment should show DEBUG lines without more set-up.
    if not log.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
        log.addHandler(handler)


_configure_from_env()
