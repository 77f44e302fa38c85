"""Run cleanup when an event loop shuts down: a parked async generator as a loop-end hook.

``asyncio.run`` and ``asyncio.Runner`` end by calling ``loop.shutdown_asyncgens()``,
which finalises every async generator that was started in the loop and is still
alive, inside the loop. A generator started and parked at its first ``yield``
(the *keeper*) is so a hook: its ``finally`` runs at the loop's end. The loop holds
it weakly, so the owner of the cleanup keeps it alive, and releases it
(`unpark`) when the cleanup is no longer needed.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator

__all__ = ["park", "unpark"]


def park(keeper: AsyncGenerator[None, None]) -> None:
    """Start ``keeper`` (registering it with the running loop) up to its first yield."""
    # It parks at once, so this needs no await.
    step = keeper.asend(None)
    try:
        step.send(None)
    except StopIteration:
        return
    raise AssertionError("the keeper must park at its first yield")  # pragma: no cover


def unpark(keeper: AsyncGenerator[None, None]) -> None:
    """Finalise ``keeper`` now; its ``finally`` must not await (it runs synchronously)."""
    step = keeper.aclose()
    try:
        step.send(None)
    except StopIteration:
        return
    except RuntimeError:  # already running (its finally is what called us) or closed
        step.close()
        return
    step.close()  # pragma: no cover - a finally that awaited
