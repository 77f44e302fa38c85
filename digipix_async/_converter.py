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
per model). When one fails, ONE detailed cattrs converter, sharing every hook,
reads the data again to name the path of each problem (strict), or ``_lenient``
reads it field by field (the default for answers). The same converter writes
models (``unstructure``): writing needs no speed-up of its own.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from functools import partial
from typing import Any, TypeVar, get_args, get_origin, overload

import attrs
import cattrs
from cattrs.errors import (
    AttributeValidationNote,
    ClassValidationError,
    ForbiddenExtraKeysError,
    IterableValidationError,
    IterableValidationNote,
)
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override
from cattrs.v import format_exception

from digipix_async import models
from digipix_async._json import loads
from digipix_async._readers import (
    Reader,
    answer_type,
    as_dict,
    make_reader,
    model_list_element,
)
from digipix_async._sansio import Response
from digipix_async._scalar_hooks import (
    METHOD_BY_NUMBER,
    STATUS_BY_TEXT,
    BadValue,
    format_datetime,
    plain_int,
    scalar_hook,
    structure_mapping,
    structure_method_id,
    type_name,
    unstructure_status,
)
from digipix_async._wire_names import wire_name
from digipix_async.models import OrderStatus
from digipix_async.models._extra import EXPECTED

__all__ = ["MODELS", "StructureError", "describe", "response_reader", "structure", "unstructure"]

T = TypeVar("T")
Hook = Callable[[Any, Any], Any]

#: Every model the SDK reads or writes: derived from the package, never kept by hand.
MODELS: frozenset[type[Any]] = frozenset(
    cls for name in models.__all__ if attrs.has(cls := getattr(models, name))
)

# Lists the server sends only in some states (shipments while QUOTE, tracking once
# shipped): absent and empty mean the same, so an empty one is not written.
# items and parts always belong to their object and are written even when empty.
_OMIT_WHEN_EMPTY = frozenset({"shipments", "tracking_items"})
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


# --- the detailed converter: explains bad answers, writes models


def _wire_overrides(cls: type[Any]) -> dict[str, Any]:
    overrides: dict[str, Any] = {}
    for field in attrs.fields(attrs.resolve_types(cls)):
        if field.name == "extra":
            overrides["extra"] = override(omit=True)  # filled from unknown keys instead
            continue
        method = field.name == "shipment_method_id"
        required, field_type = answer_type(field)
        hook: Hook | None = structure_method_id if method else None
        if required and field_type is not field.type:  # expected: null is refused too
            hook = scalar_hook(field_type)
        # An expected field keeps its place in the written object (productId first),
        # and is dropped by the unstructure hook when None.
        overrides[field.name] = override(
            rename=wire_name(field.name),
            omit_if_default=(field.default is None and not required)
            or field.name in _OMIT_WHEN_EMPTY,
            struct_hook=hook,
            unstruct_hook=plain_int if method else None,
        )
    return overrides


def missing_expected(
    cls: type[Any], data: Mapping[str, Any], key: Callable[[str], str]
) -> list[Exception]:
    """Return cattrs' own error for each expected field (see ``expected_field``) not in ``data``.

    Those fields have a default (None) for lenient reads; read strictly, and in
    user input, they are required.
    """
    errors: list[Exception] = []
    for field in attrs.fields(cls):
        if field.metadata.get(EXPECTED) and key(field.name) not in data:
            error = KeyError(field.name)
            note = AttributeValidationNote(
                f"Required field {field.name} missing", field.name, field.type
            )
            error.__notes__ = [note]
            errors.append(error)
    return errors


def raise_together(cls: type[Any], errors: list[Exception], generated: Hook, data: Any) -> None:
    """Raise ``errors`` with whatever else ``generated`` finds in ``data``, as cattrs would."""
    try:
        generated(data, cls)
    except ClassValidationError as exc:
        errors.extend(exc.exceptions)
    raise ClassValidationError(f"While structuring {cls.__name__}", errors, cls)


def _wire_structure_hook(cls: type[Any]) -> Hook:
    overrides = _wire_overrides(cls)
    generated = make_dict_structure_fn(cls, _detailed, **overrides)
    known = frozenset(wire_name(name) for name in overrides if name != "extra")
    has_extra = "extra" in overrides

    def structure_hook(data: Any, _: Any) -> Any:
        if data.__class__ is not dict:
            data = as_dict(data)
        errors = missing_expected(cls, data, wire_name)
        if errors:
            raise_together(cls, errors, generated, data)
        value = generated(data, cls)
        if not has_extra or data.keys() <= known:
            return value
        return attrs.evolve(value, extra={k: v for k, v in data.items() if k not in known})

    return structure_hook


def list_hook_factory(converter: cattrs.Converter) -> Callable[[Any], Hook]:
    """Return the factory of ``tuple[Model, ...]`` hooks: a list (or null), never a string."""
    return partial(_list_hook, converter)


def _list_hook(converter: cattrs.Converter, field_type: Any) -> Hook:
    element = model_list_element(field_type)
    element_hook = converter.get_structure_hook(element)

    def structure_list(value: Any, _: Any) -> tuple[Any, ...]:
        if value is None:
            return ()  # as the readers have it
        if not isinstance(value, list | tuple):
            raise BadValue(f"expected a JSON array, got {type_name(value)}")
        found, errors = [], []
        for index, item in enumerate(value):
            try:
                found.append(element_hook(item, element))
            except Exception as exc:
                note = IterableValidationNote(f"Structuring @ index {index}", index, element)
                exc.__notes__ = [*getattr(exc, "__notes__", []), note]
                errors.append(exc)
        if errors:
            raise IterableValidationError(f"While structuring {field_type!r}", errors, field_type)
        return tuple(found)

    return structure_list


def _wire_unstructure_hook(cls: type[Any]) -> Callable[[Any], Any]:
    generated = make_dict_unstructure_fn(cls, _detailed, **_wire_overrides(cls))
    expected = [wire_name(f.name) for f in attrs.fields(cls) if f.metadata.get(EXPECTED)]
    if not expected and not any(field.name == "extra" for field in attrs.fields(cls)):
        return generated

    def unstructure_hook(value: Any) -> Any:
        out = generated(value)
        for key in expected:
            if out[key] is None:
                del out[key]  # None fields are left out, as everywhere
        for key, item in value.extra.items():
            out.setdefault(key, item)  # a known field wins a clash
        return out

    return unstructure_hook


def is_model_tuple(field_type: Any) -> bool:
    """Tell whether a type is ``tuple[Model, ...]``."""
    return get_origin(field_type) is tuple and model_list_element(field_type) is not None


def new_converter(**options: Any) -> cattrs.Converter:
    """Return a detailed cattrs converter holding the scalar hooks (models come after)."""
    converter = cattrs.Converter(
        detailed_validation=True, unstruct_collection_overrides={Sequence: list}, **options
    )
    for cls in (str, int, float, Decimal, datetime, OrderStatus):
        converter.register_structure_hook(cls, scalar_hook(cls))
    mapping = Mapping[str, Any]
    converter.register_structure_hook_func(lambda t: t == mapping, structure_mapping)
    converter.register_unstructure_hook(datetime, format_datetime)
    converter.register_unstructure_hook(OrderStatus, unstructure_status)
    return converter


_detailed = new_converter()
# Hooks are made by cattrs the first time a model is structured or written, and kept.
_detailed.register_structure_hook_factory(lambda t: t in MODELS, _wire_structure_hook)
_detailed.register_unstructure_hook_factory(lambda t: t in MODELS, _wire_unstructure_hook)
_detailed.register_structure_hook_factory(is_model_tuple, list_hook_factory(_detailed))


# --- errors: one walker gives both "... @ $.path" messages and Python field paths


def describe(exc: BaseException, cl: Any) -> str:
    """Return the message of one problem (a hook's own text, or cattrs' wording)."""
    if isinstance(exc, BadValue):
        return str(exc)
    return format_exception(exc, cl)


def problems(exc: BaseException, path: str) -> list[tuple[str, str]]:
    """Return (path, problem) for every problem a detailed cattrs error holds."""
    if isinstance(exc, ClassValidationError | IterableValidationError):
        found: list[tuple[str, str]] = []
        with_notes, without = exc.group_exceptions()
        for sub, note in with_notes:
            if isinstance(note, AttributeValidationNote):
                sub_path = f"{path}.{note.name}"
            elif isinstance(note, IterableValidationNote):
                sub_path = f"{path}[{note.index!r}]"
            else:  # pragma: no cover - cattrs only makes the two notes above
                sub_path = path
            if isinstance(sub, ClassValidationError | IterableValidationError):
                found.extend(problems(sub, sub_path))
            else:
                found.append((sub_path, describe(sub, note.type)))
        for sub in without:
            found.extend(problems(sub, path))
        return found
    if isinstance(exc, ForbiddenExtraKeysError):
        return [(f"{path}.{key}", _unknown_key(key, exc.cl)) for key in sorted(exc.extra_fields)]
    return [(path, describe(exc, None))]


def _unknown_key(key: str, cls: type[Any]) -> str:
    close = difflib.get_close_matches(key, [a.name for a in attrs.fields(cls)], n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"unknown field{hint}"


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
    try:
        _detailed.structure(data, cls)
    except Exception as exc:
        found = [f"{problem} @ {path}" for path, problem in problems(exc, "$")]
        return StructureError(class_name(cls), found)
    # The reader and the converter share every rule, so this is only a safety net.
    return StructureError(class_name(cls), ["unreadable @ $"])  # pragma: no cover


def unstructure(value: Any) -> Any:
    """Turn a model (or a list of them) into wire-named plain values, ready for ``dumps``."""
    return _detailed.unstructure(value)


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
