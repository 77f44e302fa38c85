"""The detailed cattrs converters: they explain bad data, write models, check input.

The generated readers (``_readers``) read well-formed answers on their own; this
module is needed only when something must be explained (a refused answer, bad
user input) or written (a request body from models), so it, and cattrs with it,
is imported on first use and never by ``import digipix_async``. Both converters
share the scalar hooks of ``_scalar_hooks``, so answers and user input obey the
same rules (types, bounds); they differ in names (wire vs Python) and in unknown
keys (kept in ``extra`` vs refused with a "did you mean").

As cattrs' ``transform_error`` does, ``problems`` walks a detailed cattrs error
into ``(path, problem)`` pairs: ``$.items[0].quantity`` or ``items[0].quantity``.
"""

from __future__ import annotations

import difflib
import functools
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from functools import partial
from typing import Any, NoReturn, get_origin

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

from digipix_async import _json
from digipix_async._converter import MODELS
from digipix_async._readers import answer_type, as_dict, model_list_element, unwrap_optional
from digipix_async._scalar_hooks import (
    INT_LIMIT,
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

__all__ = ["describe", "detailed", "for_input", "problems"]

Hook = Callable[[Any, Any], Any]

# Lists the server sends only in some states (shipments while QUOTE, tracking once
# shipped): absent and empty mean the same, so an empty one is not written.
# items and parts always belong to their object and are written even when empty.
_OMIT_WHEN_EMPTY = frozenset({"shipments", "tracking_items"})


# --- answers: wire names, expected fields, unknown fields kept


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
    cls: type[Any], data: Mapping[str, Any], key: Callable[[str], str] | None
) -> list[Exception]:
    """Return cattrs' own error for each expected field (see ``expected_field``) not in ``data``.

    Those fields have a default (None) for lenient reads; read strictly, and in
    user input, they are required.
    """
    errors: list[Exception] = []
    for field in _expected(cls):
        if (field.name if key is None else key(field.name)) not in data:
            error = KeyError(field.name)
            note = AttributeValidationNote(
                f"Required field {field.name} missing", field.name, field.type
            )
            error.__notes__ = [note]
            errors.append(error)
    return errors


_EXPECTED: dict[type[Any], tuple[attrs.Attribute[Any], ...]] = {}


def _expected(cls: type[Any]) -> tuple[attrs.Attribute[Any], ...]:
    found = _EXPECTED.get(cls)
    if found is None:
        found = tuple(field for field in attrs.fields(cls) if field.metadata.get(EXPECTED))
        _EXPECTED[cls] = found
    return found


def raise_together(cls: type[Any], errors: list[Exception], generated: Hook, data: Any) -> NoReturn:
    """Raise ``errors`` with whatever else ``generated`` finds in ``data``, as cattrs would."""
    try:
        generated(data, cls)
    except ClassValidationError as exc:
        errors.extend(exc.exceptions)
    raise ClassValidationError(f"While structuring {cls.__name__}", errors, cls)


def _wire_structure_hook(converter: cattrs.Converter, cls: type[Any]) -> Hook:
    overrides = _wire_overrides(cls)
    generated = make_dict_structure_fn(cls, converter, **overrides)
    known = frozenset(wire_name(name) for name in overrides if name != "extra")
    expected = [wire_name(field.name) for field in _expected(cls)]
    has_extra = "extra" in overrides

    def structure_hook(data: Any, _: Any) -> Any:
        if data.__class__ is not dict:
            data = as_dict(data)
        for key in expected:
            if key not in data:
                raise_together(cls, missing_expected(cls, data, wire_name), generated, data)
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
    detailed = converter.detailed_validation

    def structure_list(value: Any, _: Any) -> tuple[Any, ...]:
        if value is None:
            return ()  # as the readers have it
        if not isinstance(value, list | tuple):
            raise BadValue(f"expected a JSON array, got {type_name(value)}")
        if not detailed:  # any failure is read again by the detailed converter
            return tuple([element_hook(item, element) for item in value])
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


def _wire_unstructure_hook(converter: cattrs.Converter, cls: type[Any]) -> Callable[[Any], Any]:
    generated = make_dict_unstructure_fn(cls, converter, **_wire_overrides(cls))
    expected = [wire_name(f.name) for f in attrs.fields(cls) if f.metadata.get(EXPECTED)]
    if not expected and not any(field.name == "extra" for field in attrs.fields(cls)):
        return generated

    def unstructure_hook(value: Any) -> Any:
        out = generated(value)
        for key in expected:
            if out[key] is None:
                del out[key]  # None fields are left out, as everywhere
        if value.extra:  # most models have none: the shared empty NO_EXTRA
            for key, item in value.extra.items():
                out.setdefault(key, item)  # a known field wins a clash
        return out

    return unstructure_hook


def is_model_tuple(field_type: Any) -> bool:
    """Tell whether a type is ``tuple[Model, ...]``."""
    return get_origin(field_type) is tuple and model_list_element(field_type) is not None


def new_converter(*, detailed: bool = True, **options: Any) -> cattrs.Converter:
    """Return a cattrs converter holding the scalar hooks (models come after)."""
    converter = cattrs.Converter(
        detailed_validation=detailed, unstruct_collection_overrides={Sequence: list}, **options
    )
    for cls in (str, int, float, Decimal, datetime, OrderStatus):
        converter.register_structure_hook(cls, scalar_hook(cls))
    mapping = Mapping[str, Any]
    converter.register_structure_hook_func(lambda t: t == mapping, structure_mapping)
    converter.register_unstructure_hook(datetime, format_datetime)
    converter.register_unstructure_hook(OrderStatus, unstructure_status)
    # "X | None" hooks made once per type: cattrs' own look the inner hook up per call.
    is_optional = partial(_is_optional_of, converter)
    converter.register_structure_hook_factory(is_optional, partial(_optional_in, converter))
    converter.register_unstructure_hook_factory(is_optional, partial(_optional_out, converter))
    return converter


def _is_optional_of(converter: cattrs.Converter, field_type: Any) -> bool:
    inner = unwrap_optional(field_type)
    return inner is not field_type and not attrs.has(inner)


def _optional_in(converter: cattrs.Converter, field_type: Any) -> Hook:
    inner = unwrap_optional(field_type)
    hook = converter.get_structure_hook(inner)
    if inner is int:  # an int within bounds is right for every hook of int

        def structure_optional_int(value: Any, _: Any) -> Any:
            if value is None or (value.__class__ is int and -INT_LIMIT <= value <= INT_LIMIT):
                return value
            return hook(value, inner)

        return structure_optional_int
    if inner is str:  # most optional fields: an ASCII str is right for every hook of str

        def structure_optional_str(value: Any, _: Any) -> Any:
            if value is None or (value.__class__ is str and value.isascii()):
                return value
            return hook(value, inner)

        return structure_optional_str

    def structure_optional(value: Any, _: Any) -> Any:
        return None if value is None else hook(value, inner)

    return structure_optional


def _optional_out(converter: cattrs.Converter, field_type: Any) -> Callable[[Any], Any]:
    inner = unwrap_optional(field_type)
    if inner in (str, int, float, Decimal) or inner == Mapping[str, Any]:
        return _as_it_is  # plain JSON values already (a Decimal: dumps writes it exactly)
    hook = converter.get_unstructure_hook(inner)

    def unstructure_optional(value: Any) -> Any:
        return None if value is None else hook(value)

    return unstructure_optional


def _as_it_is(value: Any) -> Any:
    return value


@functools.cache
def detailed() -> cattrs.Converter:
    """Return the converter of answers (wire names), made on first use.

    cattrs makes each model's hooks the first time it is structured or written.
    """
    converter = new_converter()
    is_model = MODELS.__contains__
    converter.register_structure_hook_factory(is_model, partial(_wire_structure_hook, converter))
    converter.register_unstructure_hook_factory(
        is_model, partial(_wire_unstructure_hook, converter)
    )
    converter.register_structure_hook_factory(is_model_tuple, list_hook_factory(converter))
    return converter


# --- user input: Python names, unknown keys refused, free-form data checked


def _input_str(value: Any, _: Any) -> str:
    if value.__class__ is str and value.isascii():  # the common case: one check
        return value
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise BadValue("holds a lone surrogate, not valid Unicode") from None
        return value
    raise BadValue(f"expected a string, got {type_name(value)}")


def _input_mapping(value: Any, _: Any) -> dict[str, Any]:
    # extra: free-form, so checked here, where the field's path is known.
    if not isinstance(value, Mapping):
        raise BadValue(f"expected a mapping, got {type_name(value)}")
    try:
        _json.dumps_exact(value)
    except (TypeError, ValueError) as exc:  # UnicodeEncodeError is a ValueError
        raise BadValue(f"must be writable as JSON: {exc}") from None
    return dict(value)  # a copy: a later change to the caller's dict alters nothing


def _input_hook(converter: cattrs.Converter, cls: type[Any]) -> Hook:
    overrides: dict[str, Any] = {}
    for field in attrs.fields(attrs.resolve_types(cls)):
        required, field_type = answer_type(field)
        if field.name == "shipment_method_id":
            overrides[field.name] = override(struct_hook=scalar_hook(int))
        elif required and field_type is not field.type:  # expected: None is refused too
            overrides[field.name] = override(struct_hook=converter.get_structure_hook(field_type))
    generated = make_dict_structure_fn(cls, converter, **overrides)
    names = tuple(field.name for field in attrs.fields(cls))
    expected = [field.name for field in _expected(cls)]

    def input_hook(data: Any, _: Any) -> Any:
        # An instance is re-checked field by field: attrs does not check types.
        if data.__class__ is dict:  # the common case, without an ABC check
            pass
        elif isinstance(data, cls):
            data = {name: getattr(data, name) for name in names}
        elif not isinstance(data, Mapping):
            raise BadValue(f"expected {cls.__name__} or a mapping, got {type_name(data)}")
        for name in expected:  # Python names
            if name not in data:
                raise_together(cls, missing_expected(cls, data, None), generated, data)
        return generated(data, cls)

    return input_hook


@functools.cache
def for_input(detailed: bool) -> cattrs.Converter:
    """Return a converter of user input (Python names, unknown keys refused), made once.

    Input is checked on every request: the plain one checks it, and only when it
    refuses does the detailed one read it again to name the path of the problem.
    """
    converter = new_converter(detailed=detailed, forbid_extra_keys=True)
    converter.register_structure_hook(str, _input_str)
    converter.register_structure_hook_func(lambda t: t == Mapping[str, Any], _input_mapping)
    converter.register_structure_hook_factory(is_model_tuple, list_hook_factory(converter))
    converter.register_structure_hook_factory(MODELS.__contains__, partial(_input_hook, converter))
    return converter


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
