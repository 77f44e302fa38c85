"""The SDK's logger, and its level from ``DIGIPIX_LOG``.

Nothing logged here ever holds a secret: requests are logged by method and path
(ids only), errors by their texts, which are redacted where they are built.
"""

from __future__ import annotations

import logging
import os

__all__ = ["log"]

log = logging.getLogger("digipix_async")
# A library's loggers get a NullHandler (the logging HOWTO's advice): without it, a
# record nobody configured a handler for goes to Python's last-resort handler, and a
# retry WARNING would land on the stderr of an application that never asked for it.
# Configured logging (root handlers) and DIGIPIX_LOG still see every record.
log.addHandler(logging.NullHandler())


def _configure_from_env() -> None:
    """Apply ``DIGIPIX_LOG=debug|info|warning|...`` and make its output visible."""
    level_name = os.environ.get("DIGIPIX_LOG", "").strip().upper()
    if not level_name:
        return
    # Whoever sets DIGIPIX_LOG asks to see the SDK's lines on stderr without more
    # set-up: the NullHandler above keeps them from the last-resort handler, so give
    # them a handler of their own (a wrong value is reported through it too).
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    log.addHandler(handler)
    level = logging.getLevelName(level_name)
    if not isinstance(level, int):
        log.warning("DIGIPIX_LOG=%r is not a logging level; ignored", level_name)
        return
    log.setLevel(level)


_configure_from_env()
