"""Field helpers shared by the models: ``extra``, list fields and expected fields.

The generated readers (``digipix_async._readers``) fill a model slot by slot,
skipping ``__init__``; they may do so only because they know every converter a
field can have. The one they know is :func:`to_tuple`, recognised by identity:
a model with any other converter is built through its ``__init__``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import attrs

__all__ = ["EXPECTED", "NO_EXTRA", "expected_field", "extra_field", "to_tuple"]


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


def to_tuple(value: Iterable[Any]) -> tuple[Any, ...]:
    """Turn a list field's value into a tuple (the one converter readers know).

    Declared ``attrs.field(default=(), converter=to_tuple)`` in the class body,
    where the type checkers' attrs support can see it; the element type of the
    ``__init__`` argument is lost (mypy reads no generic converter), the
    attribute keeps it, and user input is checked at run time anyway.
    """
    return tuple(value)


#: The metadata key of a field every answer should carry (see expected_field).
EXPECTED = "digipix_expected"


def expected_field() -> Any:
    """Declare a field answers should always carry, though only our guess says so.

    Typed optional so a lenient read can leave it None when the server's shape
    differs from our reading of the reference; a strict read (and user input)
    still requires it.
    """
    return attrs.field(default=None, metadata={EXPECTED: True})
