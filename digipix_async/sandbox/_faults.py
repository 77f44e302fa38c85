"""Fault injection: latency, 429 with Retry-After, 5xx answers and dropped connections."""

from __future__ import annotations

import fnmatch
import random
from dataclasses import dataclass
from typing import Final, Literal

__all__ = ["Fault", "FaultKind", "Faults"]

FaultKind = Literal["latency", "status", "rate_limit", "drop", "drop_after"]
#: "drop" hangs up before the request is handled (nothing happened); "drop_after"
#: handles it, then hangs up instead of answering: the order exists, and the client
#: cannot know (the case OrderOutcomeUnknownError and the journal are for).
_KINDS: Final = ("latency", "status", "rate_limit", "drop", "drop_after")


@dataclass
class Fault:
    """One injected fault; `hits` counts the requests it has struck so far."""

    kind: FaultKind
    path: str | None = None
    method: str | None = None
    status: int = 503
    seconds: float = 0.0
    retry_after: float = 0
    times: int | None = None
    rate: float = 1.0
    hits: int = 0

    def matches(self, method: str, path: str) -> bool:
        """Tell whether this fault is still armed and aimed at this request."""
        if self.times is not None and self.hits >= self.times:
            return False
        if self.method is not None and self.method.upper() != method.upper():
            return False
        # Exact paths match themselves; "/v1/orders/*" style globs match a family.
        return self.path is None or fnmatch.fnmatchcase(path, self.path)


class Faults:
    """The faults armed on a sandbox, consulted by its middleware on every request.

    Latency faults all apply (their delays add up); of the others, the first armed one
    that fires decides the answer. `times` bounds how often a fault fires (None: no
    bound), `rate` is the share of matching requests it fires on (0..1).
    """

    def __init__(self, seed: int | None = None) -> None:
        self._faults: list[Fault] = []
        # A seeded generator makes "30 % of requests fail" reproducible in tests.
        self._random = random.Random(seed)

    def add(
        self,
        kind: FaultKind,
        *,
        path: str | None = None,
        method: str | None = None,
        status: int | None = None,
        seconds: float = 0.0,
        retry_after: float = 0,
        times: int | None = None,
        rate: float = 1.0,
    ) -> Fault:
        """Arm a fault and return it (pass it to `remove()` to disarm it)."""
        if kind not in _KINDS:
            raise ValueError(f"kind must be one of {', '.join(_KINDS)}, got {kind!r}")
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"rate must be between 0 and 1, got {rate}")
        if times is not None and times < 0:
            raise ValueError(f"times must be >= 0, got {times}")
        if seconds < 0 or retry_after < 0:
            raise ValueError("seconds and retry_after must be >= 0")
        if kind == "rate_limit":
            status = 429
        elif kind == "status":
            status = 503 if status is None else status
            if not 400 <= status <= 599:
                raise ValueError(f"status must be a 4xx or 5xx code, got {status}")
        fault = Fault(
            kind=kind,
            path=path,
            method=method,
            status=status or 0,
            seconds=seconds,
            retry_after=retry_after,
            times=times,
            rate=rate,
        )
        self._faults.append(fault)
        return fault

    def remove(self, fault: Fault) -> None:
        """Disarm one fault."""
        self._faults.remove(fault)

    def clear(self) -> None:
        """Disarm every fault."""
        self._faults.clear()

    @property
    def active(self) -> list[Fault]:
        """Return the faults still armed, in the order they were added."""
        return [f for f in self._faults if f.times is None or f.hits < f.times]

    def _fires(self, fault: Fault) -> bool:
        if fault.rate < 1.0 and self._random.random() >= fault.rate:
            return False
        fault.hits += 1
        return True

    def delay_for(self, method: str, path: str) -> float:
        """Return the seconds of latency to add to this request."""
        return sum(
            f.seconds
            for f in list(self._faults)
            if f.kind == "latency" and f.matches(method, path) and self._fires(f)
        )

    def pick(self, method: str, path: str) -> Fault | None:
        """Return the status/rate_limit/drop fault this request suffers, if any."""
        for fault in list(self._faults):
            if fault.kind != "latency" and fault.matches(method, path) and self._fires(fault):
                return fault
        return None
