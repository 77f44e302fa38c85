"""The one converter: reads answers into models and writes models as wire values.

Reading a response is ``structure(_json.loads(body), Order)``; writing a body is
``_json.dumps(unstructure(model))``. Wire rules:

- Names: from ``_wire_names`` (one table, read by requests too); a field not
  listed keeps its Python name (the notification's ``tracking_items``).
- Scalars (money, dates, numbers, statuses): the hooks of ``_scalar_hooks``,
  bounded so no number can freeze the loop.
- Unknown fields: kept in each model's ``extra`` and written back after the
  known ones (a known field wins a clash). ``None`` fields are left out when
  writing.

Only the models of ``digipix_async.models`` (and lists of them) are read: any
other class is a TypeError, never a silent read without wire names. Everything
is built on first use, per model, and kept: importing the SDK generates nothing.

A response is read by the generated readers of ``_readers`` (straight-line code
per model). When one fails, ONE detailed cattrs converter (``_cattrs_rules``,
sharing every hook) reads the data again to name the path of each problem
(strict), or ``_lenient`` reads it field by field (the default for answers).
The same converter writes models (``unstructure``): writing needs no speed-up of
its own. cattrs itself is imported the first time it is needed, not at import.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar, get_args, get_origin, overload

import attrs

from digipix_async import models
from digipix_async._json import loads
from digipix_async._readers import (
    Reader,
    make_reader,
)
from digipix_async._sansio import Response
from digipix_async._scalar_hooks import (
    METHOD_BY_NUMBER,
    STATUS_BY_TEXT,
    BadValue,
    structure_method_id,
    type_name,
)
from digipix_async._wire_names import wire_name

__all__ = [
    "MODELS",
    "StructureError",
    "class_name",
    "explain",
    "reader_of",
    "response_reader",
    "structure",
    "unstructure",
]

T = TypeVar("T")
Hook = Callable[[Any, Any], Any]

#: Every model the SDK reads or writes: derived from the package, never kept by hand.
MODELS: frozenset[type[Any]] = frozenset(
    cls for name in models.__all__ if attrs.has(cls := getattr(models, name))
)

_FIELD_HOOKS: dict[str, Hook] = {"shipment_method_id": structure_method_id}
_LOOKUPS: dict[str, Mapping[Any, Any]] = {
    "status": STATUS_BY_TEXT,
    "shipment_method_id": METHOD_BY_NUMBER,
}


class StructureError(ValueError):
    """Data did not fit the model; ``problems`` holds ``"... @ $.path"`` lines."""

    def __init__(self, cls_name: str, problems: list[str]) -> None:
        super().__init__(f"invalid {cls_name}: " + "; ".join(problems))
        self.problems = problems


# --- readers, made on first use


def class_name(cls: Any) -> str:
    """Return ``Order`` or ``list[ShippingOption]``, as errors name what was read."""
    if get_origin(cls) is list:
        return f"list[{class_name(get_args(cls)[0])}]"
    return getattr(cls, "__name__", repr(cls))


_READERS: dict[Any, Reader] = {}


def reader_of(cls: Any) -> Reader:
    """Return the generated reader of a model or ``list[Model]``, made once."""
    read = _READERS.get(cls)
    if read is not None:
        return read
    if cls in MODELS:
        read = make_reader(
            cls,
            wire_name=wire_name,
            field_hooks=_FIELD_HOOKS,
            lookups=_LOOKUPS,
            model_reader=reader_of,
        )
    elif get_origin(cls) is list and get_args(cls)[0] in MODELS:
        read = _list_of(reader_of(get_args(cls)[0]))
    else:
        raise TypeError(f"no reader for {cls!r}: only digipix_async.models (or lists) are read")
    _READERS[cls] = read
    return read


def _list_of(read: Reader) -> Callable[[Any], list[Any]]:
    def read_list(data: Any) -> list[Any]:
        # Never read a string's letters or an object's keys as if they were a list.
        if not isinstance(data, list):
            raise BadValue(f"expected a JSON array, got {type_name(data)}")
        return [read(item) for item in data]

    return read_list


@overload
def structure(data: Any, cls: type[T]) -> T: ...
@overload
def structure(data: Any, cls: Any) -> Any: ...


def structure(data: Any, cls: Any) -> Any:
    """Build ``cls`` (a model class or ``list[Model]``) from wire-named plain values.

    Raises :class:`StructureError` for any data that does not fit, and TypeError
    for a class that is not one of the models.
    """
    read = reader_of(cls)
    try:
        return read(data)
    except Exception as fast_error:  # any failure here is bad data, whatever raised it
        raise explain(data, cls) from fast_error


def explain(data: Any, cls: Any) -> StructureError:
    """Return the error naming every problem of ``data`` read as ``cls``."""
    if get_origin(cls) is list and not isinstance(data, list):
        return StructureError(
            class_name(cls), [f"expected a JSON array, got {type_name(data)} @ $"]
        )
    from digipix_async._cattrs_rules import detailed, problems  # cattrs: on first use

    try:
        detailed().structure(data, cls)
    except Exception as exc:
        found = [f"{problem} @ {path}" for path, problem in problems(exc, "$")]
        return StructureError(class_name(cls), found)
    # The reader and the converter share every rule, so this is only a safety net.
    return StructureError(class_name(cls), ["unreadable @ $"])  # pragma: no cover


def unstructure(value: Any) -> Any:
    """Turn a model (or a list of them) into wire-named plain values, ready for ``dumps``."""
    hook = _WRITERS.get(value.__class__)
    if hook is None:
        from digipix_async._cattrs_rules import detailed  # cattrs: on first use

        hook = _WRITERS[value.__class__] = detailed().get_unstructure_hook(value.__class__)
    return hook(value)


# Resolved once per class: request bodies are written on every call.
_WRITERS: dict[type[Any], Callable[[Any], Any]] = {}


_BODY_READERS: dict[tuple[Any, bool], Callable[[Response], Any]] = {}


def response_reader(cls: type[T], strict: bool = False) -> Callable[[Response], T]:
    """Return the function that reads a response's JSON body as ``cls`` (one per class).

    Lenient by default (API.md "Responses"): when the fast reader fails, the
    answer is read field by field, and only its identity fields must be right.
    ``strict=True`` raises :class:`StructureError` for any drift.
    """
    reader = _BODY_READERS.get((cls, strict))
    if reader is None:
        from digipix_async._lenient import structure_leniently  # _lenient reads with this module

        read = structure if strict else structure_leniently

        def reader(response: Response) -> Any:
            return read(loads(response.body), cls)

        _BODY_READERS[cls, strict] = reader
    return reader
