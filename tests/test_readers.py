"""The generated readers against the cattrs hooks they stand in for.

A reader must give exactly what the converter's cattrs hooks give (same values,
same types, same unknown fields) and must fail on exactly the data they refuse:
more lenient would let bad data in, stricter would refuse a valid response.
"""

from __future__ import annotations

import linecache
import subprocess
import sys
from datetime import datetime
from decimal import Decimal
from typing import Any, get_args

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from samples import ORDER_APPROVED, ORDER_QUOTE, QUOTE_OPTIONS

from digipix_async import _converter, _readers, models
from digipix_async._cattrs_rules import detailed as _converter_detailed
from digipix_async._json import loads
from digipix_async._readers import unwrap_optional
from digipix_async._wire_names import wire_name
from digipix_async.models import (
    Order,
    OrderStatus,
    Product,
    Recipient,
    ShippingOption,
    StatusNotification,
)
from digipix_async.models._extra import to_tuple

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5) | st.decimals(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=8,
)


def _well_typed(field_type: Any, depth: int) -> st.SearchStrategy[Any]:
    """Values the field's hook may accept, near misses included (bool for int...)."""
    inner = unwrap_optional(field_type)
    if attrs.has(inner):
        found = _document(inner, depth + 1)
    elif getattr(inner, "__origin__", None) is tuple:
        found = st.lists(_document(get_args(inner)[0], depth + 1), max_size=2) | st.tuples()
    elif inner is str:
        found = st.text(max_size=8)
    elif inner in (int, float, Decimal):
        found = (
            st.integers()
            | st.booleans()
            | st.decimals(places=0)
            | st.decimals()
            | st.floats()
            | st.sampled_from([Decimal("2.0"), Decimal("NaN"), Decimal("Infinity")])
            # the shipment methods' numbers, and values equal to them of other types
            | st.sampled_from([1, 2, 3, True, 1.0, Decimal("2")])
        )
    elif inner is datetime:
        found = st.datetimes().map(datetime.isoformat) | st.datetimes() | st.text(max_size=8)
    elif inner is OrderStatus:
        found = st.sampled_from(["NEW", "shipped", "ON_HOLD", ""])
    else:  # Mapping[str, Any]
        found = st.dictionaries(st.text(max_size=5), json_values, max_size=2)
    return found | st.none() if inner is not field_type else found


def _document(cls: type[Any], depth: int = 0) -> st.SearchStrategy[Any]:
    """A wire document for ``cls``: known keys with good or bad values, unknown keys."""
    if depth > 2:
        return json_values
    entries: dict[str, st.SearchStrategy[Any]] = {}
    for field in attrs.fields(attrs.resolve_types(cls)):
        if field.name != "extra":
            wire = wire_name(field.name)
            entries[wire] = _well_typed(field.type, depth) | json_values
    keys = st.sampled_from(sorted(entries)) | st.sampled_from(["extra", "unknownField"])
    return st.dictionaries(keys, st.just(None), max_size=len(entries) + 2).flatmap(
        lambda chosen: st.fixed_dictionaries({key: entries.get(key, json_values) for key in chosen})
    )


def _shape(value: Any) -> Any:
    """Everything about a structured value, types included, comparable with ==."""
    if attrs.has(type(value)):
        fields = attrs.fields(type(value))
        return (type(value), tuple((f.name, _shape(getattr(value, f.name))) for f in fields))
    if isinstance(value, list | tuple):
        return (type(value), tuple(_shape(item) for item in value))
    if isinstance(value, dict) or (hasattr(value, "items") and hasattr(value, "keys")):
        return ("mapping", tuple(sorted((k, repr(v)) for k, v in value.items())))
    return (type(value), repr(value))  # repr: a NaN float equals itself this way


def _outcome(read: Any, data: Any) -> Any:
    try:
        return ("value", _shape(read(data)))
    except Exception:  # which exception does not matter, only that one came
        return ("refused",)


def _cattrs_hook(cls: Any) -> Any:
    # The one detailed converter, which explains what the readers refuse.
    return lambda data: _converter_detailed().structure(data, cls)


@pytest.mark.parametrize("cls", [Order, Product, StatusNotification, ShippingOption])
@settings(suppress_health_check=[HealthCheck.too_slow], max_examples=120)
@given(data=st.data())
def test_a_reader_accepts_and_refuses_exactly_what_cattrs_does(
    cls: type[Any], data: st.DataObject
) -> None:
    document = data.draw(_document(cls))
    assert _outcome(_converter.reader_of(cls), document) == _outcome(_cattrs_hook(cls), document)


@pytest.mark.parametrize(
    ("body", "cls"),
    [(ORDER_QUOTE, Order), (ORDER_APPROVED, Order), (QUOTE_OPTIONS, list[ShippingOption])],
)
def test_the_samples_read_the_same_both_ways(body: bytes, cls: Any) -> None:
    outcome = _outcome(_converter.reader_of(cls), loads(body))
    assert outcome[0] == "value"
    assert outcome == _outcome(_cattrs_hook(cls), loads(body))


def test_unknown_fields_land_in_extra_at_every_level() -> None:
    data = loads(ORDER_APPROVED)
    data["badge"] = "gold"
    data["recipient"]["floor"] = 3
    data["items"][0]["parts"] = [{"id": "cover", "url": "https://x.example/c.pdf", "dpi": 300}]
    order = _converter.reader_of(Order)(data)
    assert order.extra == {"badge": "gold"}
    assert order.recipient is not None
    assert order.recipient.extra == {"floor": 3}
    assert order.items[0].parts[0].extra == {"dpi": 300}
    assert order.items[0].extra == {}


def test_a_mapping_that_is_not_a_dict_goes_to_the_hook() -> None:
    from types import MappingProxyType

    option = _converter.reader_of(ShippingOption)(MappingProxyType({"id": "a", "cost": 1}))
    assert option == ShippingOption(id="a", cost=Decimal(1))


def test_generated_source_shows_in_tracebacks() -> None:
    with pytest.raises(KeyError) as caught:
        _converter.reader_of(Order)({"status": "NEW"})  # no id
    frame = caught.traceback[-1]
    assert "generated read_Order" in str(frame.path)
    assert "o['id']" in linecache.getline(str(frame.path), frame.lineno + 1)


def test_a_model_filled_slot_by_slot_is_the_same_frozen_value() -> None:
    data = loads(ORDER_APPROVED)
    order = _converter.reader_of(Order)(data)
    assert order == _converter_detailed().structure(data, Order)
    assert hash(order.recipient) == hash(
        _converter_detailed().structure(data["recipient"], Recipient)
    )
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        order.id = "other"  # type: ignore[misc]


@attrs.frozen
class _Checked:
    name: str = attrs.field(validator=attrs.validators.min_len(2))


@attrs.frozen(order=True)
class _Plain:
    name: str


def test_a_model_whose_init_does_more_is_built_by_its_init() -> None:
    assert not _readers.settable_directly(_Checked)
    assert _readers.settable_directly(_Plain)
    assert _readers.settable_directly(Order)
    read = _readers.make_reader(
        _Checked, wire_name=str, field_hooks={}, lookups={}, model_reader=lambda cls: cls
    )
    with pytest.raises(ValueError, match="Length of 'name'"):
        read({"name": "x"})


def _sorted_tuple(value: Any) -> tuple[Any, ...]:
    return tuple(sorted(value))


@attrs.frozen
class _Sorted:
    names: tuple[_Plain, ...] = attrs.field(default=(), converter=_sorted_tuple)


@attrs.frozen
class _Shared:
    names: tuple[_Plain, ...] = attrs.field(default=(), converter=to_tuple)


def test_only_the_shared_tuple_converter_is_skipped() -> None:
    # A converter that does more than tuple() must run: the reader goes through __init__.
    assert not _readers.settable_directly(_Sorted)
    assert _readers.settable_directly(_Shared)
    read = _readers.make_reader(
        _Sorted,
        wire_name=str,
        field_hooks={},
        lookups={},
        model_reader=lambda cls: lambda data: _Plain(data["name"]),
    )
    assert read({"names": [{"name": "b"}, {"name": "a"}]}).names == (_Plain("a"), _Plain("b"))


def test_every_model_is_registered() -> None:
    # The registry is derived from digipix_async.models: nothing to keep by hand.
    every = {
        cls
        for name in dir(models)
        if attrs.has(cls := getattr(models, name))
        and cls.__module__.startswith("digipix_async.models")
    }
    assert every == set(_converter.MODELS)
    for cls in every:
        assert callable(_converter.reader_of(cls))
        assert callable(_converter.reader_of(list[cls]))  # type: ignore[valid-type]


def test_a_class_without_a_reader_is_refused() -> None:
    # Never a silent read without wire names, nor unknown fields dropped.
    with pytest.raises(TypeError, match="no reader"):
        _converter.structure({"name": "x"}, _Plain)
    with pytest.raises(TypeError, match="no reader"):
        _converter.structure([], list[_Plain])


def test_nothing_is_generated_at_import() -> None:
    # Readers and cattrs hooks are made on first use; cattrs is not even imported.
    code = (
        "import sys, digipix_async, digipix_async._converter as c;"
        "print(len(c._READERS), 'cattrs' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["0", "False"]


@pytest.mark.parametrize("value", [1, 7, True, 1.0, Decimal("1"), Decimal("1.0"), "1", None])
def test_a_shipment_method_is_looked_up_only_for_an_exact_int(value: Any) -> None:
    document = {"id": "a", "shipmentMethodId": value}
    reader = _converter.reader_of(ShippingOption)
    assert _outcome(reader, document) == _outcome(_cattrs_hook(ShippingOption), document)


@pytest.mark.parametrize("value", ["NEW", "new", "ON_HOLD", "", 1, True, None])
def test_a_status_is_looked_up_only_for_an_exact_str(value: Any) -> None:
    document = {"id": "a", "status": value}
    reader = _converter.reader_of(StatusNotification)
    assert _outcome(reader, document) == _outcome(_cattrs_hook(StatusNotification), document)


def test_a_list_subclass_is_read_as_a_list() -> None:
    class Options(list[Any]):
        pass

    options = _converter.structure(Options([{"id": "a", "cost": 1}]), list[ShippingOption])
    assert options == [ShippingOption(id="a", cost=Decimal(1))]
