"""The sandbox's clock: wall time plus an offset that tests move forward."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

__all__ = ["SandboxClock"]


class SandboxClock:
    """Tell the sandbox's time; `advance()` jumps it ahead without sleeping.

    Token expiry, `createdAt` and the seven-day approval window all read this clock,
    so `clock.advance(days=8)` makes a quote too old to approve and
    `clock.advance(seconds=3601)` expires every token.
    """

    def __init__(self) -> None:
        self._offset = timedelta()

    def now(self) -> datetime:
        """Return the current sandbox time, timezone-aware UTC."""
        return datetime.now(UTC) + self._offset

    def advance(
        self, *, days: float = 0, hours: float = 0, minutes: float = 0, seconds: float = 0
    ) -> datetime:
        """Move the clock forward and return the new time."""
        step = timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
        if step < timedelta():
            raise ValueError("the sandbox clock only moves forward")
        self._offset += step
        return self.now()

    def set(self, moment: datetime) -> None:
        """Make `now()` read `moment` (aware) from here on, even if that is in the past."""
        if moment.tzinfo is None:
            raise ValueError("moment must be timezone-aware")
        self._offset = moment - datetime.now(UTC)

    def reset(self) -> None:
        """Return to wall time."""
        self._offset = timedelta()
