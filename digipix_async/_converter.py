"""The one place that knows the wire: names, money, dates, enums and unknown fields.

Reading a response is ``structure(_json.loads(body), Order)``; writing a body is
``_json.dumps(unstructure(model))``. Wire rules:

- Names: camelCase from ``_WIRE_NAMES`` (one table, so a wrong wire name is a
  one-line fix); a field not listed keeps its Python name (the notification's
  ``tracking_items`` is snake_case on the wire).
- Money: ``_json.loads`` parses every JSON fraction as ``Decimal`` (never via
  float), and ``_json.dumps`` writes a Decimal as a JSON number with exactly its digits.
- Numbers that are not money (weight, quantity...) come out as int, or float
  when the server sends a fraction in a float field.
- ``createdAt``: ISO 8601; the vendor sends 7 fractional digits, Python keeps 6,
  so the 7th is truncated (``.7582058`` -> 758205 µs). No offset means UTC.
  Written back as ``...Z`` with microseconds.
- Unknown fields: kept in each model's ``extra`` and written back after the
  known ones (a known field wins a clash).
- ``None`` fields are left out when writing.

Hooks are generated once, at import. A response is read by the generated
readers of ``_readers`` (straight-line code per model that calls these hooks
only for a value not already of the exact type a field wants); the cattrs hooks
read what the readers hand over, and a detailed cattrs converter explains bad data.
"""

from __future__ import annotations

import difflib
import operator
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from functools import partial
from types import GenericAlias
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
from digipix_async._errors import ValidationError
from digipix_async._json import format_datetime, loads
from digipix_async._readers import make_reader, unwrap_optional
from digipix_async._sansio import Response
from digipix_async._wire_values import (
    METHOD_BY_NUMBER,
    STATUS_BY_TEXT,
    BadValue,
    plain_int,
    structure_datetime,
    structure_float,
    structure_int,
    structure_method_id,
    structure_money,
    structure_status,
    structure_str,
    type_name,
    unstructure_status,
)
from digipix_async.models import OrderStatus

__all__ = ["StructureError", "from_input", "structure", "unstructure", "wire_name"]

T = TypeVar("T")
Hook = Callable[[Any, Any], Any]

#: Python field name -> wire name, for every model (the API reuses names consistently).
_WIRE_NAMES = {
    "internal_code": "internalCode",
    "production_time": "productionTime",
    "product_id": "productId",
    "shipment_method_id": "shipmentMethodId",
    "estimated_delivery_days": "estimatedDeliveryDays",
    "zip_code": "zipCode",
    "partner_id": "partnerId",
    "partner_name": "partnerName",
    "created_at": "createdAt",
    "partner_order_id": "partnerOrderID",  # sic: capital ID in the reference
    "custom_data": "customData",
    "status_notification_url": "statusNotificationUrl",
    "shipping_cost": "shippingCost",
}


def wire_name(field: str) -> str:
    """Return the wire name of a model field (its Python name when it has no other)."""
    return _WIRE_NAMES.get(field, field)


# Lists the server sends only in some states (shipments while QUOTE, tracking once
# shipped): absent and empty mean the same, so an empty one is not written.
# items and parts always belong to their object and are written even when empty.
_OMIT_WHEN_EMPTY = frozenset({"shipments", "tracking_items"})

# Leaves first: a generated hook looks up the hooks of its fields when it is made.
_MODELS: tuple[type[Any], ...] = (
    *(models.ProductPart, models.Product, models.QuoteItem, models.ShippingOption),
    *(models.Recipient, models.ItemPart, models.OrderItem, models.Order),
    *(models.TrackingItem, models.StatusNotification),
)


class StructureError(ValueError):
    """Data did not fit the model; ``problems`` holds ``"... @ $.path"`` lines."""

    def __init__(self, cls_name: str, problems: list[str]) -> None:
        super().__init__(f"invalid {cls_name}: " + "; ".join(problems))
        self.problems = problems


def _new_converter(*, detailed: bool, forbid_extra_keys: bool = False) -> cattrs.Converter:
    converter = cattrs.Converter(
        detailed_validation=detailed,
        forbid_extra_keys=forbid_extra_keys,
        unstruct_collection_overrides={Sequence: list},
    )
    for cls, hook in (
        (str, structure_str),
        (int, structure_int),
        (float, structure_float),
        (Decimal, structure_money),
        (datetime, structure_datetime),
        (OrderStatus, structure_status),
    ):
        converter.register_structure_hook(cls, hook)
    converter.register_unstructure_hook(datetime, format_datetime)
    converter.register_unstructure_hook(OrderStatus, unstructure_status)
    return converter


def _optional(hook: Hook, inner: Any) -> Hook:
    # Most optional fields are str, int or money: a value of exactly that type
    # needs no further call (the hot path of every response).
    if inner is Decimal:

        def optional_money(value: Any, cl: Any) -> Any:
            if value is None or (value.__class__ is Decimal and value.is_finite()):
                return value
            return hook(value, cl)

        return optional_money
    exact = inner if inner in (str, int) else None

    def optional(value: Any, cl: Any) -> Any:
        if value is None or value.__class__ is exact:
            return value
        return hook(value, cl)

    return optional


def _array(hook: Hook, element: Any, *, fast: bool) -> Hook:
    def array(value: Any, cl: Any) -> Any:
        if value is None:
            return ()  # servers that write null for an empty list (a .NET habit)
        # cattrs alone would read a string's letters or an object's keys as a list.
        if not isinstance(value, list | tuple):
            raise BadValue(f"expected a JSON array, got {type_name(value)}")
        if fast:
            return tuple([hook(item, element) for item in value])
        return hook(value, cl)  # cattrs' own loop, which notes the failing index

    return array


def _register_field_types(converter: cattrs.Converter, cls: type[Any], *, fast: bool) -> None:
    # Prebuilt hooks for "X | None" and "tuple[X, ...]": cattrs would otherwise look
    # the inner hook up on every call. The inner types are registered already.
    for field in attrs.fields(attrs.resolve_types(cls)):
        inner = unwrap_optional(field.type)
        if inner is not field.type:
            hook = _optional(converter.get_structure_hook(inner), inner)
            converter.register_structure_hook(field.type, hook)
        elif get_origin(field.type) is tuple:
            element = get_args(field.type)[0]
            element_hook = converter.get_structure_hook(element if fast else field.type)
            hook = _array(element_hook, element, fast=fast)
            converter.register_structure_hook_func(partial(operator.eq, field.type), hook)


def _not_an_object(data: Any) -> BadValue:
    return BadValue(f"expected a JSON object, got {type_name(data)}")


def _wire_overrides(cls: type[Any]) -> dict[str, Any]:
    overrides: dict[str, Any] = {}
    for field in attrs.fields(cls):
        if field.name == "extra":
            overrides["extra"] = override(omit=True)  # filled from unknown keys instead
            continue
        method = field.name == "shipment_method_id"
        overrides[field.name] = override(
            rename=_WIRE_NAMES.get(field.name),
            omit_if_default=field.default is None or field.name in _OMIT_WHEN_EMPTY,
            struct_hook=structure_method_id if method else None,
            unstruct_hook=plain_int if method else None,
        )
    return overrides


def _wire_structure_hook(converter: cattrs.Converter, cls: type[Any]) -> Hook:
    overrides = _wire_overrides(cls)
    generated = make_dict_structure_fn(cls, converter, **overrides)
    known = frozenset(_WIRE_NAMES.get(name, name) for name in overrides if name != "extra")
    has_extra = "extra" in overrides

    def structure_hook(data: Any, _: Any) -> Any:
        if not isinstance(data, dict):
            if not isinstance(data, Mapping):
                raise _not_an_object(data)
            data = dict(data)
        value = generated(data, cls)
        # The common case, no unknown field, costs one set comparison.
        if not has_extra or data.keys() <= known:
            return value
        return attrs.evolve(value, extra={k: v for k, v in data.items() if k not in known})

    return structure_hook


def _wire_unstructure_hook(converter: cattrs.Converter, cls: type[Any]) -> Callable[[Any], Any]:
    generated = make_dict_unstructure_fn(cls, converter, **_wire_overrides(cls))
    if not any(field.name == "extra" for field in attrs.fields(cls)):
        return generated

    def unstructure_hook(value: Any) -> Any:
        out = generated(value)
        for key, item in value.extra.items():
            out.setdefault(key, item)  # a known field wins a clash
        return out

    return unstructure_hook


def _input_hook(converter: cattrs.Converter, cls: type[Any]) -> Hook:
    names = tuple(a.name for a in attrs.fields(cls))
    overrides: dict[str, Any] = {}
    if "shipment_method_id" in names:
        overrides["shipment_method_id"] = override(struct_hook=structure_method_id)
    generated = make_dict_structure_fn(cls, converter, **overrides)

    def input_hook(data: Any, _: Any) -> Any:
        if data.__class__ is dict:  # the common case, without an ABC check
            return generated(data, cls)
        # An instance is re-checked field by field: attrs does not check types.
        if isinstance(data, cls):
            data = {name: getattr(data, name) for name in names}
        elif not isinstance(data, Mapping):
            raise BadValue(f"expected {cls.__name__} or a mapping, got {type_name(data)}")
        return generated(data, cls)

    return input_hook


# Responses are read by _fast (no per-field bookkeeping); only when that fails is
# the same data read again by _detailed, whose errors carry every field's path.
_fast = _new_converter(detailed=False)
_detailed = _new_converter(detailed=True)
# User input uses Python names and refuses unknown keys (a typo is never dropped).
# Converters of their own because hooks are per type; they hold no wire name. The
# same fast-then-detailed split: input is read on every request.
_input_fast = _new_converter(detailed=False, forbid_extra_keys=True)
_input = _new_converter(detailed=True, forbid_extra_keys=True)

_CONVERTERS = ((_fast, True), (_detailed, False), (_input_fast, True), (_input, False))
for _cls in _MODELS:
    for _conv, _is_fast in _CONVERTERS:
        _register_field_types(_conv, _cls, fast=_is_fast)
    _fast.register_structure_hook(_cls, _wire_structure_hook(_fast, _cls))
    _fast.register_unstructure_hook(_cls, _wire_unstructure_hook(_fast, _cls))
    _detailed.register_structure_hook(_cls, _wire_structure_hook(_detailed, _cls))
    _input_fast.register_structure_hook(_cls, _input_hook(_input_fast, _cls))
    _input.register_structure_hook(_cls, _input_hook(_input, _cls))


# --- errors: one walker gives both "... @ $.path" messages and Python field paths


def _describe(exc: BaseException, cl: Any) -> str:
    if isinstance(exc, BadValue):
        return str(exc)
    return format_exception(exc, cl)


def _problems(exc: BaseException, path: str) -> list[tuple[str, str]]:
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
                found.extend(_problems(sub, sub_path))
            else:
                found.append((sub_path, _describe(sub, note.type)))
        for sub in without:
            found.extend(_problems(sub, path))
        return found
    if isinstance(exc, ForbiddenExtraKeysError):
        return [(f"{path}.{key}", _unknown_key(key, exc.cl)) for key in sorted(exc.extra_fields)]
    return [(path, _describe(exc, None))]


def _unknown_key(key: str, cls: type[Any]) -> str:
    close = difflib.get_close_matches(key, [a.name for a in attrs.fields(cls)], n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"unknown field{hint}"


# --- public functions


def _class_name(cls: Any) -> str:
    if get_origin(cls) is list:
        return f"list[{_class_name(cls.__args__[0])}]"
    return getattr(cls, "__name__", repr(cls))


def _list_of(read: Callable[[Any], Any]) -> Callable[[Any], list[Any]]:
    def read_list(data: Any) -> list[Any]:
        # cattrs would iterate a string or an object's keys as if they were a list.
        if not isinstance(data, list):
            raise BadValue(f"expected a JSON array, got {type_name(data)}")
        return [read(item) for item in data]

    return read_list


# What resources ask for, resolved once: no hook lookup on the per-call path.
# Responses are read by generated readers (see _readers) that call the _fast
# converter's hooks for anything but a value of the exact type a field wants.
_READERS: dict[Any, Callable[[Any], Any]] = {}
_INPUT_HOOKS: dict[Any, Hook] = {}
_UNSTRUCTURE_HOOKS: dict[Any, Callable[[Any], Any]] = {}
for _cls in _MODELS:
    _UNSTRUCTURE_HOOKS[_cls] = _fast.get_unstructure_hook(_cls)
    _INPUT_HOOKS[_cls] = _input_fast.get_structure_hook(_cls)
    _READERS[_cls] = make_reader(
        _cls,
        wire_name=wire_name,
        type_hook=_fast.get_structure_hook,
        field_hooks={"shipment_method_id": structure_method_id},
        lookups={"status": STATUS_BY_TEXT, "shipment_method_id": METHOD_BY_NUMBER},
        model_reader=_READERS.__getitem__,
        not_a_dict=_fast.get_structure_hook(_cls),
    )
    _READERS[GenericAlias(list, (_cls,))] = _list_of(_READERS[_cls])


@overload
def structure(data: Any, cls: type[T]) -> T: ...
@overload
def structure(data: Any, cls: Any) -> Any: ...


def structure(data: Any, cls: Any) -> Any:
    """Build ``cls`` (a model class or ``list[Model]``) from wire-named plain values.

    Raises :class:`StructureError` for any data that does not fit.
    """
    try:
        read = _READERS.get(cls)
        return read(data) if read is not None else _fast.structure(data, cls)
    except Exception as fast_error:  # any failure here is bad data, whatever raised it
        # cattrs would iterate a string or an object's keys as if they were a list.
        if get_origin(cls) is list and not isinstance(data, list):
            problem = f"expected a JSON array, got {type_name(data)} @ $"
            raise StructureError(_class_name(cls), [problem]) from fast_error
        try:
            _detailed.structure(data, cls)
        except Exception as exc:
            problems = [f"{problem} @ {path}" for path, problem in _problems(exc, "$")]
            raise StructureError(_class_name(cls), problems) from exc
        # Both converters share every rule, so this is only a safety net.
        problem = f"{_describe(fast_error, None)} @ $"  # pragma: no cover
        raise StructureError(_class_name(cls), [problem]) from fast_error  # pragma: no cover


def unstructure(value: Any) -> Any:
    """Turn a model (or a list of them) into wire-named plain values, ready for ``dumps``."""
    hook = _UNSTRUCTURE_HOOKS.get(value.__class__)
    return hook(value) if hook is not None else _fast.unstructure(value)


def from_input(value: Any, cls: type[T], field: str) -> T:
    """Check user input (a ``cls`` instance or a mapping of its Python field names).

    Raises ``ValidationError`` naming the path under ``field`` (``recipient.zip_code``,
    ``items[1].quantity``) of a wrong type, a missing field or an unknown key.
    """
    try:
        return _INPUT_HOOKS[cls](value, cls)  # type: ignore[no-any-return]
    except Exception:  # bad input: read it again, noting the path of each problem
        try:
            _input.structure(value, cls)
        except Exception as exc:
            path, problem = _problems(exc, field)[0]
            raise ValidationError(path, problem) from exc
        raise  # pragma: no cover - both converters share every rule


_BODY_READERS: dict[Any, Callable[[Any], Any]] = {}


def response_reader(cls: type[T]) -> Callable[[Response], T]:
    """Return the function that reads a response's JSON body as ``cls`` (one per class)."""
    reader = _BODY_READERS.get(cls)
    if reader is None:

        def reader(response: Response) -> Any:
            return structure(loads(response.body), cls)

        _BODY_READERS[cls] = reader
    return reader
