"""Python values to the canon representation, checked against the type on the way.

:func:`canon_converter` works out, once per type, a function that checks a
Python value (see :mod:`stackswitch.embed.pyvalues` for the mapping) and
returns the canon value: ``Variant``s for options and results, reps for
handles. A value that does not fit raises
:class:`~.conversion_errors.BadValue` with the path to the bad part.
"""

from __future__ import annotations

import keyword
import operator
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from ...canon import types as ct
from ...canon.error_context import ErrorContext
from .call_resources import CallResources, Convert
from .conversion_errors import BadValue, brief, describe, expected
from .host_handles import GuestResource, HostResourceType
from .option_result import Err, Ok, Some

__all__ = ["canon_converter", "to_canon"]

_INT_BITS: dict[type, tuple[int, bool]] = {
    ct.U8Type: (8, False), ct.U16Type: (16, False), ct.U32Type: (32, False),
    ct.U64Type: (64, False), ct.S8Type: (8, True), ct.S16Type: (16, True),
    ct.S32Type: (32, True), ct.S64Type: (64, True),
}
_SURROGATE = re.compile("[\ud800-\udfff]")
_NONE = ct.Variant("none")


def _snake(label: str) -> str:
    """The Python name of a WIT label: ``max-age`` is ``max_age``, ``class`` is ``class_``."""
    name = label.replace("-", "_")
    return name + "_" if keyword.iskeyword(name) else name


def _may_be_variant(t: ct.ValType | None) -> bool:
    """Can the Python form of a ``t`` value be a :class:`~stackswitch.canon.types.Variant`?"""
    if isinstance(t, ct.OptionType):
        return _may_be_variant(t.t)
    return isinstance(t, ct.VariantType)


def _bool_in(v: Any, cx: CallResources) -> bool:
    if v is True or v is False:
        return v
    raise expected("bool", v)


def _int_in(t: ct.ValType) -> Convert:
    bits, signed = _INT_BITS[type(t)]
    lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    what = f"{t!r} (an int from {lo} to {hi})"

    def conv(v: Any, cx: CallResources) -> int:
        if type(v) is not int:
            if isinstance(v, bool) or not hasattr(type(v), "__index__"):
                raise expected(what, v)
            v = operator.index(v)
        if lo <= v <= hi:
            return v
        raise expected(what, v, ValueError)

    return conv


def _float_in(t: ct.ValType) -> Convert:
    what = f"{t!r} (a float)"

    def conv(v: Any, cx: CallResources) -> float:
        if isinstance(v, float):
            return v
        if isinstance(v, int) and not isinstance(v, bool):
            try:
                return float(v)
            except OverflowError:
                raise expected(what, v, ValueError) from None
        raise expected(what, v)

    return conv


def _char_in(v: Any, cx: CallResources) -> str:
    if not isinstance(v, str) or len(v) != 1:
        raise expected("char (a one-character str)", v)
    if 0xD800 <= ord(v) <= 0xDFFF:
        raise expected("char (a Unicode scalar value, not a surrogate)", v, ValueError)
    return v


def _string_in(v: Any, cx: CallResources) -> str:
    if not isinstance(v, str):
        raise expected("string (a str)", v)
    if not v.isascii() and _SURROGATE.search(v) is not None:
        raise expected("string (no lone surrogates)", v, ValueError)
    return v


def _sequence(v: Any, t: ct.ValType, length: int | None) -> Sequence[Any]:
    if isinstance(v, str) or not isinstance(v, Sequence):
        raise expected(f"{brief(t)} (a sequence)", v)
    if length is not None and len(v) != length:
        raise expected(f"{brief(t)} ({length} elements)", v, ValueError)
    return v


def _list_in(t: ct.ListType) -> Convert:
    elem = canon_converter(t.t)
    length = t.length
    u8 = isinstance(t.t, ct.U8Type)

    def conv(v: Any, cx: CallResources) -> Any:
        if u8 and isinstance(v, bytes | bytearray | memoryview):
            data = bytes(v)
            if length is not None and len(data) != length:
                raise expected(f"{brief(t)} ({length} bytes)", v, ValueError)
            return data
        out = []
        for i, x in enumerate(_sequence(v, t, length)):
            try:
                out.append(elem(x, cx))
            except BadValue as e:
                raise e.at(f"element {i}") from None
        return out

    return conv


def _record_in(t: ct.RecordType) -> Convert:
    fields = [(f.label, _snake(f.label), canon_converter(f.t)) for f in t.fields]
    what = f"{brief(t)} (a mapping or an object with attributes " \
           f"{', '.join(snake for _, snake, _ in fields)})"

    def from_mapping(v: Mapping[Any, Any], cx: CallResources) -> dict[str, Any]:
        out = {}
        used = 0
        for label, snake, conv in fields:
            if label in v:
                if snake != label and snake in v:
                    raise BadValue(ValueError, f"field {label!r} is given twice (as {label!r} "
                                               f"and {snake!r})")
                x = v[label]
            elif snake in v:
                x = v[snake]
            else:
                raise BadValue(TypeError, f"expected {what}: field {label!r} is missing")
            used += 1
            try:
                out[label] = conv(x, cx)
            except BadValue as e:
                raise e.at(f"field {label!r}") from None
        if len(v) != used:
            known = {name for label, snake, _ in fields for name in (label, snake)}
            unknown = [k for k in v if k not in known]
            raise BadValue(ValueError, f"{brief(t)} has no field(s) "
                                       f"{', '.join(map(repr, unknown))}")
        return out

    def conv(v: Any, cx: CallResources) -> dict[str, Any]:
        if isinstance(v, Mapping):
            return from_mapping(v, cx)
        out = {}
        missing = object()
        for label, snake, field_conv in fields:
            x = getattr(v, snake, missing)
            if x is missing:
                raise BadValue(TypeError, f"expected {what}, got {describe(v)}: "
                                          f"no attribute {snake!r} (field {label!r})")
            try:
                out[label] = field_conv(x, cx)
            except BadValue as e:
                raise e.at(f"field {label!r}") from None
        return out

    return conv


def _tuple_in(t: ct.TupleType) -> Convert:
    convs = [canon_converter(u) for u in t.ts]

    def conv(v: Any, cx: CallResources) -> tuple[Any, ...]:
        items = _sequence(v, t, len(convs))
        out = []
        for i, (c, x) in enumerate(zip(convs, items, strict=True)):
            try:
                out.append(c(x, cx))
            except BadValue as e:
                raise e.at(f"element {i}") from None
        return tuple(out)

    return conv


class _Case:
    """One case of a variant or result: its payload's conversion and how messages name it."""

    __slots__ = ("label", "payload", "no_payload", "where")

    def __init__(self, label: str, t: ct.ValType | None, no_payload: str, where: str) -> None:
        self.label = label
        self.payload = None if t is None else canon_converter(t)
        self.no_payload = no_payload  # the message for a value given to a case without payload
        self.where = where  # the step of the path into the payload

    def convert(self, value: Any, cx: CallResources) -> ct.Variant:
        """The canon ``Variant`` of this case with ``value`` (None for a case without payload)."""
        if self.payload is None:
            if value is not None:
                raise BadValue(ValueError, f"{self.no_payload}, got {describe(value)}")
            return ct.Variant(self.label)
        try:
            return ct.Variant(self.label, self.payload(value, cx))
        except BadValue as e:
            raise e.at(self.where) from None


def _variant_in(t: ct.VariantType) -> Convert:
    cases = {c.label: _Case(c.label, c.t, f"case {c.label!r} of {brief(t)} has no payload",
                            f"case {c.label!r}")
             for c in t.cases}
    what = f"{brief(t)} (a Variant(case, value), case one of {', '.join(cases)})"

    def conv(v: Any, cx: CallResources) -> ct.Variant:
        if not isinstance(v, ct.Variant):
            raise expected(what, v)
        case = cases.get(v.case)
        if case is None:
            raise expected(what, v, ValueError)
        return case.convert(v.value, cx)

    return conv


def _enum_in(t: ct.EnumType) -> Convert:
    labels = frozenset(t.labels)
    what = f"{brief(t)} (a case name)"

    def conv(v: Any, cx: CallResources) -> str:
        if not isinstance(v, str):
            raise expected(what, v)
        if v not in labels:
            raise expected(what, v, ValueError)
        return v

    return conv


def _option_in(t: ct.OptionType) -> Convert:
    inner = canon_converter(t.t)
    spec_shape = not _may_be_variant(t.t)

    def conv(v: Any, cx: CallResources) -> ct.Variant:
        if v is None:
            return _NONE
        if isinstance(v, Some):
            payload = v.value
        elif spec_shape and isinstance(v, ct.Variant):
            if v.case == "none" and v.value is None:
                return _NONE
            if v.case != "some":
                raise expected(f"{brief(t)} (None or a value)", v, ValueError)
            payload = v.value
        else:
            payload = v
        try:
            return ct.Variant("some", inner(payload, cx))
        except BadValue as e:
            raise e.at("some") from None

    return conv


def _result_in(t: ct.ResultType) -> Convert:
    cases = {label: _Case(label, u, f"the {label} case of {brief(t)} has no value",
                          f"{label} value")
             for label, u in (("ok", t.ok), ("error", t.error))}
    what = f"{brief(t)} (Ok(value) or Err(value))"

    def conv(v: Any, cx: CallResources) -> ct.Variant:
        if isinstance(v, Ok):
            case = cases["ok"]
        elif isinstance(v, Err):
            case = cases["error"]
        elif isinstance(v, ct.Variant) and v.case in cases:
            case = cases[v.case]
        else:
            raise expected(what, v)
        return case.convert(v.value, cx)

    return conv


def _flags_in(t: ct.FlagsType) -> Convert:
    labels = frozenset(t.labels)
    what = f"{brief(t)} (a set of flag names)"

    def conv(v: Any, cx: CallResources) -> frozenset[str]:
        if isinstance(v, Mapping):
            names = [k for k, on in v.items() if on]
        elif isinstance(v, str | bytes) or not isinstance(v, Iterable):
            raise expected(what, v)
        else:
            names = list(v)
        unknown = [n for n in names if n not in labels]
        if unknown:
            raise BadValue(ValueError, f"{brief(t)} has no flag(s) "
                                       f"{', '.join(map(repr, unknown))}")
        return frozenset(names)

    return conv


def _map_in(t: ct.MapType) -> Convert:
    key, value = canon_converter(t.k), canon_converter(t.v)
    what = f"{brief(t)} (a mapping or a sequence of pairs)"

    def conv(v: Any, cx: CallResources) -> list[tuple[Any, Any]]:
        if isinstance(v, Mapping):
            entries: Iterable[Any] = v.items()
        elif isinstance(v, str) or not isinstance(v, Sequence):
            raise expected(what, v)
        else:
            entries = v
        out = []
        for i, entry in enumerate(entries):
            if isinstance(entry, str) or not isinstance(entry, Sequence) or len(entry) != 2:
                raise expected("a (key, value) pair", entry).at(f"entry {i}")
            try:
                out.append((key(entry[0], cx), value(entry[1], cx)))
            except BadValue as e:
                raise e.at(f"entry {i}") from None
        return out

    return conv


def _handle_in(t: ct.OwnType | ct.BorrowType) -> Convert:
    rt = t.rt
    own = isinstance(t, ct.OwnType)
    if isinstance(rt, HostResourceType):
        host = rt.host

        def host_conv(v: Any, cx: CallResources) -> int:
            host._check(v)
            rep = host._add(v)
            (cx.add if own else cx.lend)(host, rep)
            return rep

        return host_conv
    if rt.impl is None:
        # A canon ResourceType the host made itself: its values are bare reps.
        return _int_in(ct.U32Type())
    what = f"{t!r} (a GuestResource of type {rt.name})"

    def guest_conv(v: Any, cx: CallResources) -> int:
        if not isinstance(v, GuestResource) or v.type is not rt:
            raise expected(what, v)
        if not v.alive:
            raise BadValue(ValueError, f"{v!r} cannot be passed: it was {v._state}")
        if own:
            if v._state != "owned":
                raise BadValue(ValueError, f"{v!r} is borrowed: it cannot be passed as an own")
            cx.move(v)
        elif cx.moves(v):
            raise BadValue(ValueError, f"{v!r} is passed as an own in the same call")
        return v.rep

    return guest_conv


def _stream_in(t: ct.StreamType | ct.FutureType) -> Convert:
    kind = "stream" if isinstance(t, ct.StreamType) else "future"
    host_class = "HostStream" if kind == "stream" else "HostFuture"
    what = f"{t!r} (a {host_class}, or a {kind} a guest returned)"

    def conv(v: Any, cx: CallResources) -> Any:
        if not callable(getattr(v, "read", None)) or not hasattr(v, "t"):
            raise expected(what, v)
        if v.t != t.t:
            element = "nothing" if v.t is None else repr(v.t)
            raise BadValue(TypeError, f"expected {what}, got a {kind} of {element}")
        return v

    return conv


def _error_context_in(v: Any, cx: CallResources) -> ErrorContext:
    if not isinstance(v, ErrorContext):
        raise expected("error-context", v)
    return v


# How to build the conversion of each type's values; the first entry the type is an instance of.
_BUILDERS: tuple[tuple[type | tuple[type, ...], Callable[[Any], Convert]], ...] = (
    (ct.BoolType, lambda t: _bool_in),
    (tuple(_INT_BITS), _int_in),
    ((ct.F32Type, ct.F64Type), _float_in),
    (ct.CharType, lambda t: _char_in),
    (ct.StringType, lambda t: _string_in),
    (ct.ListType, _list_in),
    (ct.RecordType, _record_in),
    (ct.TupleType, _tuple_in),
    (ct.VariantType, _variant_in),
    (ct.EnumType, _enum_in),
    (ct.OptionType, _option_in),
    (ct.ResultType, _result_in),
    (ct.FlagsType, _flags_in),
    (ct.MapType, _map_in),
    ((ct.OwnType, ct.BorrowType), _handle_in),
    ((ct.StreamType, ct.FutureType), _stream_in),
    (ct.ErrorContextType, lambda t: _error_context_in),
)


def canon_converter(t: ct.ValType) -> Convert:
    """The conversion of a Python value of type ``t`` to the canon representation."""
    for cls, build in _BUILDERS:
        if isinstance(t, cls):
            return build(t)
    raise TypeError(f"no Python mapping for values of type {t!r}")


def to_canon(value: Any, t: ct.ValType, what: str = "value") -> Any:
    """``value`` (the Python mapping) in the canon representation of ``t``.

    For values that do not cross a call: e.g. the elements of a
    ``HostStream``. Own handles passed here are spent.
    """
    cx = CallResources()
    try:
        out = canon_converter(t)(value, cx)
    except BadValue as e:
        cx.abort()
        e.raise_as(what)
    cx.commit()
    return out
