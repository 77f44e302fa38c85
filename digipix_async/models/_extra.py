"""The ``extra`` field every response model has: unknown wire fields, kept."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import attrs

__all__ = ["NO_EXTRA", "extra_field"]


class _NoExtra(Mapping[str, Any]):
    """The empty, read-only ``extra`` shared by every model without unknown fields.

    One immutable instance instead of a new dict per model: nothing to allocate on
    the decoding path, and a caller cannot add keys to a frozen model's default.
    """

    __slots__ = ()

    def __getitem__(self, key: str) -> Any:
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0

    def __repr__(self) -> str:
        return "{}"

    def __reduce__(self) -> str:
        return "NO_EXTRA"  # unpickles as this module's singleton


NO_EXTRA: Mapping[str, Any] = _NoExtra()


def extra_field() -> Any:
    """Declare ``extra``: unknown wire fields, written back when the model is re-sent.

    Left out of equality: two values that agree on every field the SDK knows are
    equal, so a field the server adds later never makes stored values differ.
    """
    return attrs.field(default=NO_EXTRA, kw_only=True, eq=False)
