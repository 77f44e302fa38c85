"""Generated readers: the fast path from decoded JSON to response models.

Reading a response is the SDK's largest per-call cost, and under load (aiohttp
and asyncio sharing the CPU's caches with it) it costs about twice what it does
in a tight loop, so every call saved counts double. Each model gets one
generated function that reads its fields in straight-line code: a value that
already has the exact type a field wants (a ``str`` for a ``str``, a finite
``Decimal`` of sane magnitude for money, None for an optional field) is taken
as it is, without a call; anything else goes to the scalar hook of that field
(``_scalar_hooks``), the one place the wire rules are written.

A reader never explains a problem itself. Whatever it raises (a missing key, a
hook's refusal) makes the converter read the same data again with its detailed
cattrs converter, whose error names the path of every problem. A reader must
accept exactly what that converter accepts: what it takes as it is, the hook
would have returned unchanged, and everything else it hands to the hook
(tests/test_readers.py checks this against the cattrs hooks).

A field marked expected (``models._extra.expected_field``) is read as required
and non-optional here: the fast path is the strict reading, and leniency is
the slow path's business (``_lenient``).
"""

from __future__ import annotations

import linecache
from collections.abc import Callable, Mapping
from decimal import Decimal
from types import NoneType, UnionType
from typing import Any, get_args, get_origin

import attrs

from digipix_async._scalar_hooks import (
    INT_LIMIT,
    MONEY_EXPONENT_LIMIT,
    BadValue,
    scalar_hook,
    type_name,
)
from digipix_async.models._extra import EXPECTED, to_tuple

__all__ = ["answer_type", "as_dict", "make_reader", "model_list_element", "unwrap_optional"]

Hook = Callable[[Any, Any], Any]
Reader = Callable[[Any], Any]


def make_reader(
    cls: type[Any],
    *,
    wire_name: Callable[[str], str],
    field_hooks: Mapping[str, Hook],
    lookups: Mapping[str, Mapping[Any, Any]],
    model_reader: Callable[[type[Any]], Reader],
) -> Reader:
    """Generate the reader of ``cls``, an attrs class.

    ``wire_name`` maps a field name to its key on the wire; ``field_hooks`` holds
    the hooks that replace a field type's scalar hook for some field names
    (always called: they convert any value the wire sends, as the shipment
    method's number). ``lookups`` holds, per field name, the hook's answers for
    the common wire values (a status's text): a value of exactly the keys' type
    found there needs no call. ``model_reader`` returns the reader of a nested
    model (made before this one, on first use).
    """
    namespace: dict[str, Any] = {"_cls": cls, "_as_dict": as_dict, "_Decimal": Decimal}
    lines = [f"def read_{cls.__name__}(o):", "    if o.__class__ is not dict:"]
    lines.append("        o = _as_dict(o)")
    arguments = []
    known = []
    has_extra = False
    for field in attrs.fields(attrs.resolve_types(cls)):
        if field.name == "extra":
            has_extra = True
            continue
        if field.kw_only:
            raise TypeError(f"{cls.__name__}.{field.name}: keyword-only fields are not read")
        key = wire_name(field.name)
        known.append(key)
        required, field_type = answer_type(field)
        namespace[f"_type_{field.name}"] = field_type
        var = f"v_{field.name}"
        lines.append(f"    {var} = o[{key!r}]" if required else f"    {var} = o.get({key!r})")
        hook = field_hooks.get(field.name)
        if field.name in lookups:
            namespace[f"_hook_{field.name}"] = hook or _scalar(cls, field.name, field_type)
            lines.extend(_look_up(field, var, lookups[field.name], namespace))
        elif hook is not None:
            namespace[f"_hook_{field.name}"] = hook
            lines.append(f"    {var} = _hook_{field.name}({var}, _type_{field.name})")
        else:
            lines.extend(_read_value(cls, field.name, field_type, var, namespace, model_reader))
        arguments.append(var)
    namespace["_known"] = frozenset(known)
    # The common case, no unknown field, costs one set comparison.
    extra = "{k: v for k, v in o.items() if k not in _known}"
    if settable_directly(cls):
        lines.extend(_set_fields(cls, namespace, has_extra, extra))
    elif has_extra:
        lines.append("    if o.keys() <= _known:")
        lines.append(f"        return _cls({', '.join(arguments)})")
        lines.append(f"    return _cls({', '.join(arguments)}, extra={extra})")
    else:
        lines.append(f"    return _cls({', '.join(arguments)})")
    return _compile(f"read_{cls.__name__}", lines, namespace)


def answer_type(field: attrs.Attribute[Any]) -> tuple[bool, Any]:
    """Return whether a strict read requires ``field``, and the type it reads it as."""
    if field.metadata.get(EXPECTED):
        return True, unwrap_optional(field.type)
    return field.default is attrs.NOTHING, field.type


def as_dict(data: Any) -> dict[str, Any]:
    """Return a JSON object as a plain dict; anything but a mapping is refused."""
    if isinstance(data, Mapping):
        return dict(data)
    raise BadValue(f"expected a JSON object, got {type_name(data)}")


def read_list(value: Any, read: Reader) -> tuple[Any, ...]:
    """Read a list field's value that is not a plain list (the reader's slow branch)."""
    if value is None:
        return ()  # servers that write null for an empty list (a .NET habit)
    # A string's letters or an object's keys are never read as a list.
    if isinstance(value, list | tuple):
        return tuple(map(read, value))
    raise BadValue(f"expected a JSON array, got {type_name(value)}")


def settable_directly(cls: type[Any]) -> bool:
    """Tell whether an instance may be filled slot by slot instead of by ``__init__``.

    Only when ``__init__`` would do nothing more: no validator, no post-init, and
    no converter but the shared ``to_tuple`` (the reader builds the tuple), known
    by identity, so a converter that does more is never skipped.
    """
    if "__slots__" not in cls.__dict__ or hasattr(cls, "__attrs_post_init__"):
        return False
    for field in attrs.fields(attrs.resolve_types(cls)):
        if field.validator is not None:
            return False
        if field.converter is not None and field.converter is not to_tuple:
            return False
    return True


def _set_fields(
    cls: type[Any], namespace: dict[str, Any], has_extra: bool, extra: str
) -> list[str]:
    # A frozen attrs __init__ sets each slot through object.__setattr__; the slot's
    # own descriptor does the same a quarter faster, and most of a response is
    # spent building its models.
    namespace["_new"] = object.__new__
    lines = ["    obj = _new(_cls)"]
    for field in attrs.fields(cls):
        namespace[f"_set_{field.name}"] = cls.__dict__[field.name].__set__
        if field.name == "extra":
            continue
        lines.append(f"    _set_{field.name}(obj, v_{field.name})")
    if has_extra:
        namespace["_no_extra"] = attrs.fields_dict(cls)["extra"].default
        lines.append(f"    _set_extra(obj, _no_extra if o.keys() <= _known else {extra})")
    lines.append("    return obj")
    return lines


def _scalar(cls: type[Any], name: str, field_type: Any) -> Hook:
    try:
        return scalar_hook(field_type)
    except TypeError:
        raise TypeError(f"{cls.__name__}.{name}: no reader for {field_type!r}") from None


def _look_up(
    field: attrs.Attribute[Any], var: str, table: Mapping[Any, Any], namespace: dict[str, Any]
) -> list[str]:
    # The exact class first: True == 1 and 1.0 == 1 would find an int key, and
    # the hook refuses both.
    (key_class,) = {type(key) for key in table}
    namespace[f"_table_{field.name}"] = table
    namespace[f"_class_{field.name}"] = key_class
    found = f"_found_{field.name}"
    return [
        f"    {found} = _table_{field.name}.get({var}) "
        f"if {var}.__class__ is _class_{field.name} else None",
        f"    {var} = {found} if {found} is not None "
        f"else _hook_{field.name}({var}, _type_{field.name})",
    ]


def _read_value(
    cls: type[Any],
    name: str,
    field_type: Any,
    var: str,
    namespace: dict[str, Any],
    model_reader: Callable[[type[Any]], Reader],
) -> list[str]:
    """Return the lines that turn ``var`` (the raw value) into the field's value."""
    inner = unwrap_optional(field_type)
    optional = inner is not field_type
    element_model = model_list_element(field_type)
    if element_model is not None:
        # A list of models; null means empty (optional or not).
        element = f"_read_{name}"
        namespace[element] = model_reader(element_model)
        namespace["_read_list"] = read_list
        return [
            f"    if {var}.__class__ is list:",
            f"        {var} = tuple(map({element}, {var}))",
            "    else:",
            f"        {var} = _read_list({var}, {element})",
        ]
    if attrs.has(inner):
        reader = f"_read_{name}"
        namespace[reader] = model_reader(inner)
        if optional:
            return [f"    if {var} is not None:", f"        {var} = {reader}({var})"]
        return [f"    {var} = {reader}({var})"]
    namespace[f"_hook_{name}"] = _scalar(cls, name, inner)
    call_hook = f"{var} = _hook_{name}({var}, _type_{name})"
    if inner is Decimal:
        limit = MONEY_EXPONENT_LIMIT
        exact = (
            f"({var}.__class__ is _Decimal and {var}.is_finite()"
            f" and {-limit} <= {var}.adjusted() <= {limit})"
        )
    elif inner is int or inner is float:  # a float field keeps an int as it is
        exact = f"({var}.__class__ is int and {-INT_LIMIT} <= {var} <= {INT_LIMIT})"
    elif inner is str:
        exact = f"{var}.__class__ is str"
    elif optional:  # datetime, status, mappings: the hook converts, None stays
        return [f"    if {var} is not None:", f"        {call_hook}"]
    else:
        return [f"    {call_hook}"]
    condition = f"not {exact}" if not optional else f"{var} is not None and not {exact}"
    return [f"    if {condition}:", f"        {call_hook}"]


def unwrap_optional(field_type: Any) -> Any:
    """Return X for ``X | None``, else the type itself."""
    args = get_args(field_type)
    if get_origin(field_type) is UnionType and len(args) == 2 and args[1] is NoneType:
        return args[0]
    return field_type


def model_list_element(field_type: Any) -> type[Any] | None:
    """Return the model of a ``tuple[Model, ...]`` field (optional or not), else None."""
    inner = unwrap_optional(field_type)
    if get_origin(inner) is tuple and attrs.has(get_args(inner)[0]):
        element: type[Any] = get_args(inner)[0]
        return element
    return None


def _compile(name: str, lines: list[str], namespace: dict[str, Any]) -> Reader:
    source = "\n".join(lines) + "\n"
    # A file name of its own, kept in linecache, so a traceback shows the generated line.
    filename = f"<digipix_async generated {name}>"
    exec(compile(source, filename, "exec"), namespace)  # noqa: S102 - our own source
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    reader: Reader = namespace[name]
    return reader
