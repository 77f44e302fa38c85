"""Lenient reading of answers: only identity fields must be right (API.md "Responses").

The vendor's reference collapses every nested object, so most field names and
shapes are our best reading. When the fast reader refuses an answer, it is read
again here field by field: a field whose value does not fit (wrong type,
out-of-range number, an object where a list was expected...) becomes None (or
an empty tuple), its raw value is kept in the model's ``extra`` under its wire
name, and one WARNING per (model, field) per process says so. The warning names
the model and the field, never the value (values may be personal data).

Only the identity fields of each answer are required (``Order.id`` and
``status``, ``Product.id``, ``ShippingOption.id``): without them nothing can be
done with the answer, and a :class:`StructureError` naming the path is raised.
Nested inside another model, a broken identity makes the enclosing field the
surprise instead (an order whose ``shipment`` has no id is still an order).

Well-formed answers never come here: this path runs only after the fast reader
failed, so leniency costs nothing on the common path.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any, get_args, get_origin

import attrs

from digipix_async._converter import StructureError, class_name, explain, reader_of
from digipix_async._readers import answer_type, model_list_element, unwrap_optional
from digipix_async._scalar_hooks import (
    METHOD_BY_NUMBER,
    BadValue,
    scalar_hook,
    structure_method_id,
    type_name,
)
from digipix_async._wire_names import wire_name
from digipix_async.models import Order, Product, ShippingOption

__all__ = ["IDENTITY", "reset_warnings", "structure_leniently"]

logger = logging.getLogger("digipix_async")

#: The fields an answer cannot do without, per model.
IDENTITY: dict[type[Any], frozenset[str]] = {
    Order: frozenset({"id", "status"}),
    Product: frozenset({"id"}),
    ShippingOption: frozenset({"id"}),
}

_warned: set[tuple[str, str]] = set()
_warned_lock = threading.Lock()  # two event loops in two threads may read at once


def reset_warnings() -> None:
    """Forget which (model, field) pairs were warned about (for tests)."""
    with _warned_lock:
        _warned.clear()


def _warn(cls: type[Any], name: str) -> None:
    key = (cls.__name__, name)
    with _warned_lock:
        if key in _warned:
            return
        _warned.add(key)
    logger.warning(
        "the answer's %s.%s does not have the shape this SDK reads: it is None here "
        "and its raw value (if any) is kept in extra[%r]; further surprises in this "
        "field are not logged again",
        cls.__name__,
        name,
        wire_name(name),
    )


class _Surprise(Exception):
    """A field's value does not fit; ``problem`` says why (for identity fields)."""

    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem


def structure_leniently(data: Any, cls: Any) -> Any:
    """Read ``cls`` (a model or ``list[Model]``), tolerating every drift but identity's."""
    try:
        return reader_of(cls)(data)
    except Exception:  # noqa: S110 - the slow path below says what it could not read
        pass
    if get_origin(cls) is list:
        if not isinstance(data, list):
            raise explain(data, cls)
        element = get_args(cls)[0]
        return [_top(item, element, f"$[{index}]", cls) for index, item in enumerate(data)]
    return _top(data, cls, "$", cls)


def _top(data: Any, cls: type[Any], path: str, named: Any) -> Any:
    try:
        return _nested(data, cls, path)  # in a list, most elements are fine
    except _Surprise as surprise:
        raise StructureError(class_name(named), [surprise.problem]) from None


def _model(data: Any, cls: type[Any], path: str) -> Any:
    """Read one model leniently; raise _Surprise when one of its identity fields is wrong."""
    if not isinstance(data, Mapping):
        raise _Surprise(f"expected a JSON object, got {type_name(data)} @ {path}")
    identity = IDENTITY.get(cls, frozenset())
    fields = [field for field in attrs.fields(attrs.resolve_types(cls)) if field.name != "extra"]
    known = {wire_name(field.name) for field in fields}
    extra = {key: value for key, value in data.items() if key not in known}
    values: dict[str, Any] = {}
    for field in fields:
        key = wire_name(field.name)
        required, _ = answer_type(field)
        raw = data.get(key)
        if key not in data and (field.name in identity or field.default is attrs.NOTHING):
            raise _Surprise(f"required field missing @ {path}.{field.name}")
        if raw is None and field.default is not attrs.NOTHING:
            if required:  # an expected field (our reading of the reference) is absent
                _warn(cls, field.name)
            continue
        try:
            values[field.name] = _value(raw, field, f"{path}.{field.name}")
        except _Surprise:
            if field.name in identity or field.default is attrs.NOTHING:
                raise
            extra[key] = raw
            _warn(cls, field.name)
    return cls(**values, extra=extra) if extra else cls(**values)


def _value(raw: Any, field: attrs.Attribute[Any], path: str) -> Any:
    element = model_list_element(field.type)
    if element is not None:
        if raw is None:
            return ()
        if not isinstance(raw, list | tuple):
            raise _Surprise(f"expected a JSON array, got {type_name(raw)} @ {path}")
        return tuple(_nested(item, element, f"{path}[{i}]") for i, item in enumerate(raw))
    inner = unwrap_optional(field.type)
    if raw is None and inner is not field.type:
        return None
    if attrs.has(inner):
        return _nested(raw, inner, path)
    if field.name == "shipment_method_id":
        if raw.__class__ is int and raw in METHOD_BY_NUMBER:
            return METHOD_BY_NUMBER[raw]
        hook: Callable[[Any, Any], Any] = structure_method_id
    else:
        hook = scalar_hook(inner)
    try:
        return hook(raw, inner)
    except BadValue as exc:  # the hooks' own refusal: its text is the message
        raise _Surprise(f"{exc} @ {path}") from None
    except Exception as exc:  # any other refusal is a surprise too
        raise _Surprise(f"invalid value ({type_name(exc)}) @ {path}") from None


def _nested(raw: Any, cls: type[Any], path: str) -> Any:
    try:
        return reader_of(cls)(raw)  # most nested objects are fine: the fast way
    except Exception:
        return _model(raw, cls, path)
