"""`BulkResult`: the outcome of one input of a bulk call, shaped for type checkers."""

from __future__ import annotations

from typing import Any, Generic, TypeVar, cast

__all__ = ["BulkResult"]

T = TypeVar("T")


class BulkResult(Generic[T]):
    """The outcome for one input of a bulk call: a ``value`` or an ``error``, never both.

    ``index`` is the input's position, since results arrive in completion order.
    Read ``value`` only after ``if result.ok:`` and ``error`` only otherwise: each
    raises ``ValueError`` on the wrong side. That is what lets mypy and pyright see
    ``value`` as the model and ``error`` as the exception without narrowing (pyright
    does not narrow a union on a boolean field), and it turns a forgotten ``ok``
    check into a clear error instead of a ``None`` travelling further.
    """

    __slots__ = ("_error", "_value", "index")
    __match_args__ = ("index",)

    def __init__(self, index: int, *, value: Any = None, error: Exception | None = None) -> None:
        if error is not None and value is not None:
            raise ValueError("a BulkResult holds a value or an error, not both")
        self.index = index
        self._value: T = cast("T", value)
        self._error = error

    @property
    def ok(self) -> bool:
        """Tell whether this input succeeded."""
        return self._error is None

    @property
    def value(self) -> T:
        """Return the result; raise ``ValueError`` (from the error) if this input failed."""
        if self._error is not None:
            raise ValueError(
                f"input {self.index} failed ({type(self._error).__name__}); "
                "read .error, or check .ok first"
            ) from self._error
        return self._value

    @property
    def error(self) -> Exception:
        """Return the exception of a failed input; raise ``ValueError`` if it succeeded."""
        if self._error is None:
            raise ValueError(f"input {self.index} succeeded; read .value, or check .ok first")
        return self._error

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, BulkResult):
            return NotImplemented
        return (self.index, self._value, self._error) == (other.index, other._value, other._error)

    def __hash__(self) -> int:
        return hash((self.index, self._error is None))  # consistent with __eq__, cheap

    def __repr__(self) -> str:
        if self._error is None:
            return f"BulkResult(index={self.index}, value={self._value!r})"
        return f"BulkResult(index={self.index}, error={self._error!r})"
