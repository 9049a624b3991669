"""Python values at the embedding boundary: the mapping a Python host sees.

The canon layer represents component values the way the spec's reference
code does: ``option`` and ``result`` are :class:`~stackswitch.canon.types.Variant`
objects, resources are bare ``rep`` integers. That is right for the runtime
(and for WAVE and ``.wast``, which speak the spec's shapes), but clumsy for a
host written in Python. This module converts, directed by the component
type, between the canon representation and a friendlier one:

=====================  ====================================================
WIT                    Python
=====================  ====================================================
bool, integers         ``bool``, ``int`` (ints must be in range)
f32, f64               ``float`` (an ``int`` is accepted going in)
char, string           ``str``
list<T>                ``list`` (any sequence going in)
list<u8>               ``bytes`` (bytes, bytearray, memoryview or a sequence
                       of ints going in)
record                 ``dict`` keyed by the WIT field name going out; a
                       mapping (WIT or snake_case keys) or any object with
                       snake_case attributes (a dataclass) going in
tuple                  ``tuple`` (any sequence going in)
variant                :class:`Variant` ``(case, value)``
enum                   the case name (``str``)
flags                  ``frozenset`` of the set flag names (any iterable of
                       names, or a mapping name -> bool, going in)
option<T>              ``None`` / the value; :class:`Some` wraps the value
                       only when ``T`` is itself an option (see below)
result<T, E>           :class:`Ok` ``(value)`` / :class:`Err` ``(value)``
map<K, V>              ``dict`` (a list of ``(key, value)`` pairs if ``K``'s
                       Python values cannot be dict keys, e.g. lists)
own<R>, borrow<R>      a :class:`GuestResource` for a resource a guest
                       implements; the Python object itself for a
                       :class:`HostResource`
stream, future,        as in the canon layer (``StreamReader``/``HostStream``
error-context          and friends)
=====================  ====================================================

Nested options: ``option<option<u32>>`` has three kinds of value, and
``None`` can only name one of them, so the outer ``some`` is written
``Some(x)``: ``None`` is ``none``, ``Some(None)`` is ``some(none)``,
``Some(5)`` is ``some(some(5))``. Going in, a bare value that is not ``None``
also means ``some`` of it (``5`` is ``some(some(5))``), and ``Some(v)`` is
accepted for any option. For backward compatibility the spec's shapes
``Variant("some", v)`` / ``Variant("none")`` / ``Variant("ok", v)`` /
``Variant("error", e)`` are still accepted going in, except for an
``option<V>`` whose payload may itself be a :class:`Variant`, where they
would be ambiguous.

A value that does not fit its type raises ``TypeError`` (wrong kind of
value) or ``ValueError`` (right kind, wrong value: out of range, an unknown
case or field), naming the function, the parameter or result, the path into
the value and the expected type.
"""

from __future__ import annotations

import keyword
import operator
import re
import reprlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn

from ..canon.error_context import ErrorContext
from ..canon.options import CanonicalOptions
from ..canon.resources import ResourceType
from ..canon.threads import current_thread_or_none
from ..canon.types import (
    BoolType,
    BorrowType,
    CharType,
    EnumType,
    ErrorContextType,
    F32Type,
    F64Type,
    FlagsType,
    FuncType,
    FutureType,
    ListType,
    MapType,
    OptionType,
    OwnType,
    RecordType,
    ResultType,
    S8Type,
    S16Type,
    S32Type,
    S64Type,
    StreamType,
    StringType,
    TupleType,
    U8Type,
    U16Type,
    U32Type,
    U64Type,
    ValType,
    Variant,
    VariantType,
)

__all__ = [
    "Err", "GuestResource", "HostResource", "Ok", "Signature", "Some", "Variant",
    "to_canon", "to_python",
]


# -- the small value types ------------------------------------------------------------------


@dataclass(frozen=True)
class Some:
    """``some(value)`` of an option whose payload is itself an option.

    Only there is it needed (and produced): elsewhere an option is ``None``
    or its value.
    """

    value: Any


@dataclass(frozen=True)
class Ok:
    """The ``ok`` case of a ``result``; ``value`` is None when ``ok`` has no payload."""

    value: Any = None


@dataclass(frozen=True)
class Err:
    """The ``error`` case of a ``result``; ``value`` is None when ``error`` has no payload.

    A plain value, not an exception: a host function returns ``Err(e)``
    rather than raising.
    """

    value: Any = None


# -- resources ----------------------------------------------------------------------------


class _HostResourceType(ResourceType):
    """The canon resource type of a :class:`HostResource` (``impl`` None: the host)."""

    def __init__(self, host: HostResource, name: str) -> None:
        super().__init__(None, host._guest_dropped, name)
        self.host = host


class HostResource:
    """A resource type the host implements, with Python objects as its resources.

    Define it for a component's ``(import "r" (type (sub resource)))`` (or as
    the ``"r"`` entry of an instance import's dict): ``linker.define("r",
    HostResource(Counter))``. Host functions then return plain Python objects
    for ``own<r>`` and receive the same objects for ``own<r>`` and
    ``borrow<r>``; ``Func.call`` takes and returns them the same way.

    Each time an object leaves the host as an ``own<r>`` it gets a fresh
    ``rep`` (an id in this table) and the receiving guest a handle to it.
    ``dtor(obj)`` runs when a guest drops such a handle; it runs inside the
    guest's ``resource.drop`` and must not block. An object that comes back
    to the host as an ``own<r>`` leaves the table without ``dtor``: the host
    owns it again. A ``borrow<r>`` the host lends in ``Func.call`` has a rep
    for that call only.
    """

    def __init__(self, cls_or_name: type | str = "resource",
                 dtor: Callable[[Any], Any] | None = None) -> None:
        if isinstance(cls_or_name, type):
            self.cls: type | None = cls_or_name
            self.name = cls_or_name.__name__
        else:
            self.cls = None
            self.name = cls_or_name
        self.dtor = dtor
        self.type: ResourceType = _HostResourceType(self, self.name)
        self._objects: dict[int, Any] = {}
        self._next_rep = 1

    def __repr__(self) -> str:
        return f"<HostResource {self.name}: {len(self._objects)} live>"

    def __len__(self) -> int:
        """How many reps are live: objects guests hold (or borrow) right now."""
        return len(self._objects)

    def _check(self, obj: Any) -> None:
        if self.cls is not None and not isinstance(obj, self.cls):
            raise _Bad(TypeError, f"expected a {self.cls.__name__} (resource {self.name}), "
                                  f"got {_show(obj)}")
        if isinstance(obj, GuestResource):
            raise _Bad(TypeError, f"expected a Python object for host resource {self.name}, "
                                  f"got {obj!r}")

    def _add(self, obj: Any) -> int:
        rep = self._next_rep
        if rep >= 1 << 32:
            raise RuntimeError(f"host resource {self.name}: out of reps")
        self._next_rep += 1
        self._objects[rep] = obj
        return rep

    def _get(self, rep: int) -> Any:
        try:
            return self._objects[rep]
        except KeyError:
            raise LookupError(f"host resource {self.name} has no rep {rep}") from None

    def _take(self, rep: int) -> Any:
        obj = self._get(rep)
        del self._objects[rep]
        return obj

    def _release(self, rep: int) -> None:
        self._objects.pop(rep, None)

    def _guest_dropped(self, args: list[int]) -> list[Any]:
        """The canon destructor (``[rep] -> []``): a guest dropped its own handle."""
        obj = self._take(args[0])
        if self.dtor is not None:
            self.dtor(obj)
        return []


_DTOR_TYPE = FuncType([("rep", U32Type())], [])


class GuestResource:
    """A handle the host holds to a resource a guest implements.

    It stands for ``rep`` of resource type ``type``. An *owned* handle (the
    host received an ``own<R>``) may be passed back as an ``own<R>``
    argument, which moves it (the handle is then spent), lent as a
    ``borrow<R>`` argument (it stays the host's), or dropped with
    :meth:`drop`, which runs the guest's destructor. A *borrowed* handle (a
    host function's ``borrow<R>`` parameter) is valid until that host
    function returns. A handle the host never drops is never destroyed:
    nothing runs guest code from the garbage collector. ``with handle:``
    drops it at the end of the block.
    """

    __slots__ = ("type", "rep", "_state")

    def __init__(self, rt: ResourceType, rep: int, owned: bool) -> None:
        self.type = rt
        self.rep = rep
        self._state = "owned" if owned else "borrowed"

    def __repr__(self) -> str:
        return f"<{self._state} {self.type.name} rep={self.rep}>"

    @property
    def owned(self) -> bool:
        """True while the host owns this handle (not moved, dropped or merely borrowed)."""
        return self._state == "owned"

    @property
    def alive(self) -> bool:
        """True while the handle may still be used."""
        return self._state in ("owned", "borrowed")

    def drop(self) -> None:
        """Give up the handle; for an owned one, run the resource's destructor."""
        self._check_alive("drop")
        owned = self._state == "owned"
        self._state = "dropped"
        if owned:
            _run_destructor(self.type, self.rep)

    def __enter__(self) -> GuestResource:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.alive:
            self.drop()

    def _check_alive(self, what: str) -> None:
        if not self.alive:
            raise ValueError(f"cannot {what} {self.type.name} handle rep={self.rep}: "
                             f"it was {self._state}")


def _run_destructor(rt: ResourceType, rep: int) -> None:
    """Destroy a guest resource the host owned: a sync call of its destructor.

    As the spec's ``resource.drop`` does it, the destructor runs as a call
    into the defining instance (a task of its own, the reentrance rule). On
    the host's stack the event loop runs until it returns; inside a host
    function the call nests on that function's stack.
    """
    impl = rt.impl
    if rt.dtor is None:
        return
    store = impl.store
    func_inst = store.lift(rt.dtor, _DTOR_TYPE, CanonicalOptions(), impl, name=f"{rt.name}.drop")
    if current_thread_or_none() is None:
        store.call(func_inst, [rep])
    else:
        func_inst(lambda: [rep], lambda _result: None, None)


# -- conversion errors ----------------------------------------------------------------------


_repr = reprlib.Repr()
_repr.maxstring = 40
_repr.maxother = 40


def _show(v: Any) -> str:
    return f"{_repr.repr(v)} ({type(v).__name__})"


def _brief(t: ValType | None) -> str:
    text = repr(t)
    return text if len(text) <= 60 else text[:57] + "..."


class _Bad(Exception):
    """A value that does not fit its type: raised as ``error`` with its path once it is known."""

    def __init__(self, error: type[Exception], message: str) -> None:
        super().__init__(message)
        self.error = error
        self.message = message
        self.path: list[str] = []

    def at(self, where: str) -> _Bad:
        self.path.append(where)
        return self

    def raise_as(self, where: str) -> NoReturn:
        path = ", ".join([where, *reversed(self.path)])
        raise self.error(f"{path}: {self.message}") from None


def _expected(what: str, v: Any, error: type[Exception] = TypeError) -> _Bad:
    return _Bad(error, f"expected {what}, got {_show(v)}")


# -- one call's bookkeeping -----------------------------------------------------------------


class _Call:
    """What converting the values of one call did to resources, to settle afterwards.

    Handles move only once every argument converted (a bad argument leaves
    the host's handles as they were); borrowed handles and lent reps end
    with the call.
    """

    __slots__ = ("moving", "borrowed", "lent", "added")

    # Tuples, empty in the common case: most calls involve no resources, and
    # four empty tuples cost nothing to make.
    def __init__(self) -> None:
        self.moving: tuple[GuestResource, ...] = ()
        self.borrowed: tuple[GuestResource, ...] = ()
        self.lent: tuple[tuple[HostResource, int], ...] = ()
        self.added: tuple[tuple[HostResource, int], ...] = ()

    def moves(self, h: GuestResource) -> bool:
        return any(m is h for m in self.moving)

    def move(self, h: GuestResource) -> None:
        if self.moves(h):
            raise _Bad(ValueError, f"{h!r} is passed as an own twice in one call")
        self.moving += (h,)

    def borrow(self, h: GuestResource) -> None:
        self.borrowed += (h,)

    def lend(self, host: HostResource, rep: int) -> None:
        self.lent += ((host, rep),)

    def add(self, host: HostResource, rep: int) -> None:
        self.added += ((host, rep),)

    def commit(self) -> None:
        for h in self.moving:
            h._state = "moved"

    def abort(self) -> None:
        for host, rep in self.added + self.lent:
            host._release(rep)

    def finish(self) -> None:
        for h in self.borrowed:
            if h._state == "borrowed":
                h._state = "expired"
        for host, rep in self.lent:
            host._release(rep)


Convert = Callable[[Any, _Call], Any]
_NO_RESOURCES = _Call()


def _snake(label: str) -> str:
    name = label.replace("-", "_")
    return name + "_" if keyword.iskeyword(name) else name


def _contains_handle(ft: FuncType) -> bool:
    """Whether an ``own`` or ``borrow`` occurs anywhere in ``ft``."""

    def walk(t: ValType | None) -> bool:
        match t:
            case OwnType() | BorrowType():
                return True
            case ListType(u) | OptionType(u):
                return walk(u)
            case RecordType(fields):
                return any(walk(f.t) for f in fields)
            case TupleType(ts):
                return any(map(walk, ts))
            case VariantType(cases):
                return any(walk(c.t) for c in cases)
            case ResultType(ok, error):
                return walk(ok) or walk(error)
            case MapType(k, v):
                return walk(k) or walk(v)
        return False

    return any(map(walk, ft.param_types() + ft.result_types()))


def _may_be_variant(t: ValType | None) -> bool:
    """Can the Python form of a ``t`` value be a :class:`Variant`?"""
    if isinstance(t, OptionType):
        return _may_be_variant(t.t)
    return isinstance(t, VariantType)


# -- Python -> canon ----------------------------------------------------------------------


_INT_BITS: dict[type, tuple[int, bool]] = {
    U8Type: (8, False), U16Type: (16, False), U32Type: (32, False), U64Type: (64, False),
    S8Type: (8, True), S16Type: (16, True), S32Type: (32, True), S64Type: (64, True),
}
_SURROGATE = re.compile("[\ud800-\udfff]")
_NONE = Variant("none")


def _bool_in(v: Any, cx: _Call) -> bool:
    if v is True or v is False:
        return v
    raise _expected("bool", v)


def _int_in(t: ValType) -> Convert:
    bits, signed = _INT_BITS[type(t)]
    lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    what = f"{t!r} (an int from {lo} to {hi})"

    def conv(v: Any, cx: _Call) -> int:
        if type(v) is not int:
            if isinstance(v, bool) or not hasattr(type(v), "__index__"):
                raise _expected(what, v)
            v = operator.index(v)
        if lo <= v <= hi:
            return v
        raise _expected(what, v, ValueError)

    return conv


def _float_in(t: ValType) -> Convert:
    what = f"{t!r} (a float)"

    def conv(v: Any, cx: _Call) -> float:
        if isinstance(v, float):
            return v
        if isinstance(v, int) and not isinstance(v, bool):
            try:
                return float(v)
            except OverflowError:
                raise _expected(what, v, ValueError) from None
        raise _expected(what, v)

    return conv


def _char_in(v: Any, cx: _Call) -> str:
    if not isinstance(v, str) or len(v) != 1:
        raise _expected("char (a one-character str)", v)
    if 0xD800 <= ord(v) <= 0xDFFF:
        raise _expected("char (a Unicode scalar value, not a surrogate)", v, ValueError)
    return v


def _string_in(v: Any, cx: _Call) -> str:
    if not isinstance(v, str):
        raise _expected("string (a str)", v)
    if not v.isascii() and _SURROGATE.search(v) is not None:
        raise _expected("string (no lone surrogates)", v, ValueError)
    return v


def _sequence(v: Any, t: ValType, length: int | None) -> Sequence[Any]:
    if isinstance(v, str) or not isinstance(v, Sequence):
        raise _expected(f"{_brief(t)} (a sequence)", v)
    if length is not None and len(v) != length:
        raise _expected(f"{_brief(t)} ({length} elements)", v, ValueError)
    return v


def _list_in(t: ListType) -> Convert:
    elem = _to_canon(t.t)
    length = t.length
    u8 = isinstance(t.t, U8Type)

    def conv(v: Any, cx: _Call) -> Any:
        if u8 and isinstance(v, bytes | bytearray | memoryview):
            data = bytes(v)
            if length is not None and len(data) != length:
                raise _expected(f"{_brief(t)} ({length} bytes)", v, ValueError)
            return data
        out = []
        for i, x in enumerate(_sequence(v, t, length)):
            try:
                out.append(elem(x, cx))
            except _Bad as e:
                raise e.at(f"element {i}") from None
        return out

    return conv


def _record_in(t: RecordType) -> Convert:
    fields = [(f.label, _snake(f.label), _to_canon(f.t)) for f in t.fields]
    what = f"{_brief(t)} (a mapping or an object with attributes " \
           f"{', '.join(snake for _, snake, _ in fields)})"

    def from_mapping(v: Mapping[Any, Any], cx: _Call) -> dict[str, Any]:
        out = {}
        used = 0
        for label, snake, conv in fields:
            if label in v:
                if snake != label and snake in v:
                    raise _Bad(ValueError, f"field {label!r} is given twice (as {label!r} and "
                                           f"{snake!r})")
                x = v[label]
            elif snake in v:
                x = v[snake]
            else:
                raise _Bad(TypeError, f"expected {what}: field {label!r} is missing")
            used += 1
            try:
                out[label] = conv(x, cx)
            except _Bad as e:
                raise e.at(f"field {label!r}") from None
        if len(v) != used:
            known = {name for label, snake, _ in fields for name in (label, snake)}
            unknown = [k for k in v if k not in known]
            raise _Bad(ValueError, f"{_brief(t)} has no field(s) {', '.join(map(repr, unknown))}")
        return out

    def conv(v: Any, cx: _Call) -> dict[str, Any]:
        if isinstance(v, Mapping):
            return from_mapping(v, cx)
        out = {}
        missing = object()
        for label, snake, field_conv in fields:
            x = getattr(v, snake, missing)
            if x is missing:
                raise _Bad(TypeError, f"expected {what}, got {_show(v)}: "
                                      f"no attribute {snake!r} (field {label!r})")
            try:
                out[label] = field_conv(x, cx)
            except _Bad as e:
                raise e.at(f"field {label!r}") from None
        return out

    return conv


def _tuple_in(t: TupleType) -> Convert:
    convs = [_to_canon(u) for u in t.ts]

    def conv(v: Any, cx: _Call) -> tuple[Any, ...]:
        items = _sequence(v, t, len(convs))
        out = []
        for i, (c, x) in enumerate(zip(convs, items, strict=True)):
            try:
                out.append(c(x, cx))
            except _Bad as e:
                raise e.at(f"element {i}") from None
        return tuple(out)

    return conv


def _variant_in(t: VariantType) -> Convert:
    cases = {c.label: (None if c.t is None else _to_canon(c.t)) for c in t.cases}
    labels = ", ".join(cases)
    what = f"{_brief(t)} (a Variant(case, value), case one of {labels})"

    def conv(v: Any, cx: _Call) -> Variant:
        if not isinstance(v, Variant):
            raise _expected(what, v)
        if v.case not in cases:
            raise _expected(what, v, ValueError)
        payload = cases[v.case]
        if payload is None:
            if v.value is not None:
                raise _Bad(ValueError, f"case {v.case!r} of {_brief(t)} has no payload, "
                                       f"got {_show(v.value)}")
            return v
        try:
            return Variant(v.case, payload(v.value, cx))
        except _Bad as e:
            raise e.at(f"case {v.case!r}") from None

    return conv


def _enum_in(t: EnumType) -> Convert:
    labels = frozenset(t.labels)
    what = f"{_brief(t)} (a case name)"

    def conv(v: Any, cx: _Call) -> str:
        if not isinstance(v, str):
            raise _expected(what, v)
        if v not in labels:
            raise _expected(what, v, ValueError)
        return v

    return conv


def _option_in(t: OptionType) -> Convert:
    inner = _to_canon(t.t)
    spec_shape = not _may_be_variant(t.t)

    def conv(v: Any, cx: _Call) -> Variant:
        if v is None:
            return _NONE
        if isinstance(v, Some):
            payload = v.value
        elif spec_shape and isinstance(v, Variant):
            if v.case == "none" and v.value is None:
                return _NONE
            if v.case != "some":
                raise _expected(f"{_brief(t)} (None or a value)", v, ValueError)
            payload = v.value
        else:
            payload = v
        try:
            return Variant("some", inner(payload, cx))
        except _Bad as e:
            raise e.at("some") from None

    return conv


def _result_in(t: ResultType) -> Convert:
    cases = {"ok": None if t.ok is None else _to_canon(t.ok),
             "error": None if t.error is None else _to_canon(t.error)}
    what = f"{_brief(t)} (Ok(value) or Err(value))"

    def conv(v: Any, cx: _Call) -> Variant:
        if isinstance(v, Ok):
            case = "ok"
        elif isinstance(v, Err):
            case = "error"
        elif isinstance(v, Variant) and v.case in cases:
            case = v.case
        else:
            raise _expected(what, v)
        payload = cases[case]
        if payload is None:
            if v.value is not None:
                raise _Bad(ValueError, f"the {case} case of {_brief(t)} has no value, "
                                       f"got {_show(v.value)}")
            return Variant(case)
        try:
            return Variant(case, payload(v.value, cx))
        except _Bad as e:
            raise e.at(f"{case} value") from None

    return conv


def _flags_in(t: FlagsType) -> Convert:
    labels = frozenset(t.labels)
    what = f"{_brief(t)} (a set of flag names)"

    def conv(v: Any, cx: _Call) -> frozenset[str]:
        if isinstance(v, Mapping):
            names = [k for k, on in v.items() if on]
        elif isinstance(v, str | bytes) or not isinstance(v, Iterable):
            raise _expected(what, v)
        else:
            names = list(v)
        unknown = [n for n in names if n not in labels]
        if unknown:
            raise _Bad(ValueError, f"{_brief(t)} has no flag(s) {', '.join(map(repr, unknown))}")
        return frozenset(names)

    return conv


def _map_in(t: MapType) -> Convert:
    key, value = _to_canon(t.k), _to_canon(t.v)
    what = f"{_brief(t)} (a mapping or a sequence of pairs)"

    def conv(v: Any, cx: _Call) -> list[tuple[Any, Any]]:
        if isinstance(v, Mapping):
            entries: Iterable[Any] = v.items()
        elif isinstance(v, str) or not isinstance(v, Sequence):
            raise _expected(what, v)
        else:
            entries = v
        out = []
        for i, entry in enumerate(entries):
            if isinstance(entry, str) or not isinstance(entry, Sequence) or len(entry) != 2:
                raise _expected("a (key, value) pair", entry).at(f"entry {i}")
            try:
                out.append((key(entry[0], cx), value(entry[1], cx)))
            except _Bad as e:
                raise e.at(f"entry {i}") from None
        return out

    return conv


def _handle_in(t: OwnType | BorrowType) -> Convert:
    rt = t.rt
    own = isinstance(t, OwnType)
    if isinstance(rt, _HostResourceType):
        host = rt.host

        def host_conv(v: Any, cx: _Call) -> int:
            host._check(v)
            rep = host._add(v)
            (cx.add if own else cx.lend)(host, rep)
            return rep

        return host_conv
    if rt.impl is None:
        # A canon ResourceType the host made itself: its values are bare reps.
        return _int_in(U32Type())
    what = f"{t!r} (a GuestResource of type {rt.name})"

    def guest_conv(v: Any, cx: _Call) -> int:
        if not isinstance(v, GuestResource):
            raise _expected(what, v)
        if v.type is not rt:
            raise _expected(what, v)
        if not v.alive:
            raise _Bad(ValueError, f"{v!r} cannot be passed: it was {v._state}")
        if own:
            if v._state != "owned":
                raise _Bad(ValueError, f"{v!r} is borrowed: it cannot be passed as an own")
            cx.move(v)
        elif cx.moves(v):
            raise _Bad(ValueError, f"{v!r} is passed as an own in the same call")
        return v.rep

    return guest_conv


def _stream_in(t: StreamType | FutureType) -> Convert:
    kind = "stream" if isinstance(t, StreamType) else "future"
    host_class = "HostStream" if kind == "stream" else "HostFuture"
    what = f"{t!r} (a {host_class}, or a {kind} a guest returned)"

    def conv(v: Any, cx: _Call) -> Any:
        if not callable(getattr(v, "read", None)) or not hasattr(v, "t"):
            raise _expected(what, v)
        if v.t != t.t:
            element = "nothing" if v.t is None else repr(v.t)
            raise _Bad(TypeError, f"expected {what}, got a {kind} of {element}")
        return v

    return conv


def _error_context_in(v: Any, cx: _Call) -> ErrorContext:
    if not isinstance(v, ErrorContext):
        raise _expected("error-context", v)
    return v


def _to_canon(t: ValType) -> Convert:
    """The conversion of a Python value of type ``t`` to the canon representation."""
    match t:
        case BoolType():
            return _bool_in
        case U8Type() | U16Type() | U32Type() | U64Type() | S8Type() | S16Type() | S32Type() \
                | S64Type():
            return _int_in(t)
        case F32Type() | F64Type():
            return _float_in(t)
        case CharType():
            return _char_in
        case StringType():
            return _string_in
        case ListType():
            return _list_in(t)
        case RecordType():
            return _record_in(t)
        case TupleType():
            return _tuple_in(t)
        case VariantType():
            return _variant_in(t)
        case EnumType():
            return _enum_in(t)
        case OptionType():
            return _option_in(t)
        case ResultType():
            return _result_in(t)
        case FlagsType():
            return _flags_in(t)
        case MapType():
            return _map_in(t)
        case OwnType() | BorrowType():
            return _handle_in(t)
        case StreamType() | FutureType():
            return _stream_in(t)
        case ErrorContextType():
            return _error_context_in
    raise TypeError(f"no Python mapping for values of type {t!r}")


# -- canon -> Python -------------------------------------------------------------------------
# ``None`` stands for "the canon value is already the Python value", so that
# records of numbers, lists of strings and the like are not copied.


def _list_out(t: ListType) -> Convert | None:
    if isinstance(t.t, U8Type):
        return lambda v, cx: bytes(v)
    elem = _to_python(t.t)
    if elem is None:
        return None
    return lambda v, cx: [elem(x, cx) for x in v]


def _record_out(t: RecordType) -> Convert | None:
    fields = [(f.label, _to_python(f.t)) for f in t.fields]
    if all(c is None for _, c in fields):
        return None
    return lambda v, cx: {label: (v[label] if c is None else c(v[label], cx))
                          for label, c in fields}


def _tuple_out(t: TupleType) -> Convert | None:
    convs = [_to_python(u) for u in t.ts]
    if all(c is None for c in convs):
        return None
    return lambda v, cx: tuple(x if c is None else c(x, cx) for c, x in zip(convs, v, strict=True))


def _variant_out(t: VariantType) -> Convert | None:
    cases = {c.label: (None if c.t is None else _to_python(c.t)) for c in t.cases}
    if all(c is None for c in cases.values()):
        return None

    def conv(v: Variant, cx: _Call) -> Variant:
        c = cases[v.case]
        return v if c is None else Variant(v.case, c(v.value, cx))

    return conv


def _option_out(t: OptionType) -> Convert:
    inner = _to_python(t.t)
    wrap = isinstance(t.t, OptionType)

    def conv(v: Variant, cx: _Call) -> Any:
        if v.case == "none":
            return None
        value = v.value if inner is None else inner(v.value, cx)
        return Some(value) if wrap else value

    return conv


def _result_out(t: ResultType) -> Convert:
    ok = None if t.ok is None else _to_python(t.ok)
    error = None if t.error is None else _to_python(t.error)

    def conv(v: Variant, cx: _Call) -> Ok | Err:
        if v.case == "ok":
            return Ok(v.value if ok is None else ok(v.value, cx))
        return Err(v.value if error is None else error(v.value, cx))

    return conv


def _hashable(t: ValType | None) -> bool:
    """Is the Python form of every ``t`` value hashable (so that it can be a dict key)?"""
    match t:
        case ListType(u):
            return isinstance(u, U8Type)
        case RecordType() | MapType():
            return False
        case TupleType(ts):
            return all(map(_hashable, ts))
        case VariantType(cases):
            return all(_hashable(c.t) for c in cases)
        case OptionType(u):
            return _hashable(u)
        case ResultType(ok, error):
            return _hashable(ok) and _hashable(error)
    return True


def _map_out(t: MapType) -> Convert:
    key = _to_python(t.k) or (lambda x, cx: x)
    value = _to_python(t.v) or (lambda x, cx: x)
    if not _hashable(t.k):
        # Valid components only have primitive and string keys; a key that
        # cannot be a dict key leaves the entries as pairs.
        return lambda v, cx: [(key(k, cx), value(x, cx)) for k, x in v]
    return lambda v, cx: {key(k, cx): value(x, cx) for k, x in v}


def _handle_out(t: OwnType | BorrowType) -> Convert | None:
    rt = t.rt
    own = isinstance(t, OwnType)
    if isinstance(rt, _HostResourceType):
        host = rt.host
        return (lambda rep, cx: host._take(rep)) if own else (lambda rep, cx: host._get(rep))
    if rt.impl is None:
        return None

    def conv(rep: int, cx: _Call) -> GuestResource:
        h = GuestResource(rt, rep, owned=own)
        if not own:
            cx.borrow(h)
        return h

    return conv


def _to_python(t: ValType) -> Convert | None:
    """The conversion of a canon value of type ``t`` to Python (None: no change)."""
    match t:
        case ListType():
            return _list_out(t)
        case RecordType():
            return _record_out(t)
        case TupleType():
            return _tuple_out(t)
        case VariantType():
            return _variant_out(t)
        case OptionType():
            return _option_out(t)
        case ResultType():
            return _result_out(t)
        case MapType():
            return _map_out(t)
        case OwnType() | BorrowType():
            return _handle_out(t)
    return None


# -- functions ---------------------------------------------------------------------------


class Signature:
    """The conversions of one function type, worked out once and used for every call.

    :meth:`call` is the host calling a component function with Python values;
    :meth:`host_function` wraps a Python host function so that it receives
    and returns Python values while the runtime sees canon ones.
    """

    def __init__(self, ft: FuncType, name: str) -> None:
        self.ft = ft
        self.name = name
        self._names = [pname for pname, _ in ft.params]
        self._args_in = [_to_canon(t) for _, t in ft.params]
        self._args_out = [_to_python(t) for _, t in ft.params]
        self._result_in = [_to_canon(t) for t in ft.result_types()]
        self._result_out = [_to_python(t) for t in ft.result_types()]
        # Without resources no conversion touches its _Call: one shared (and
        # never changed) instance spares each call the bookkeeping.
        self._resources = _contains_handle(ft)

    def _convert_args(self, args: Sequence[Any], cx: _Call) -> list[Any]:
        convs = self._args_in
        if len(args) != len(convs):
            names = ", ".join(f"{n}: {t!r}" for n, t in self.ft.params)
            raise TypeError(f"{self.name}({names}) takes {len(convs)} argument(s), "
                            f"{len(args)} given")
        out: list[Any] = []
        try:
            for conv, arg in zip(convs, args, strict=True):
                out.append(conv(arg, cx))
        except _Bad as e:
            cx.abort()
            e.raise_as(f"{self.name}: parameter {self._names[len(out)]!r}")
        return out

    def call(self, args: Sequence[Any],
             call_canon: Callable[[list[Any]], list[Any] | None]) -> list[Any] | None:
        """Convert ``args``, ``call_canon`` them, convert the results (None stays None)."""
        if not self._resources:
            results = call_canon(self._convert_args(args, _NO_RESOURCES))
        else:
            cx = _Call()
            canon_args = self._convert_args(args, cx)
            cx.commit()
            try:
                results = call_canon(canon_args)
            finally:
                cx.finish()
        if results is None:
            return None
        if results and self._result_out[0] is not None:
            return [self._result_out[0](results[0], _Call())]
        return results

    def host_function(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """``fn`` taking and returning Python values, as a function of canon values."""
        params = self._args_out
        result = self._result_in[0] if self._result_in else None
        name = self.name

        def run(*canon_args: Any) -> Any:
            cx = _Call()
            try:
                args = [a if conv is None else conv(a, cx)
                        for conv, a in zip(params, canon_args, strict=True)]
                value = fn(*args)
                if result is None:
                    return None
                try:
                    out = result(value, cx)
                except _Bad as e:
                    cx.abort()
                    e.raise_as(f"host function {name!r}: its result")
                cx.commit()
                return out
            finally:
                cx.finish()

        run.__name__ = getattr(fn, "__name__", name)
        return run


def to_canon(value: Any, t: ValType, what: str = "value") -> Any:
    """``value`` (the Python mapping) in the canon representation of ``t``.

    For values that do not cross a call: e.g. the elements of a
    ``HostStream``. Own handles passed here are spent.
    """
    cx = _Call()
    try:
        out = _to_canon(t)(value, cx)
    except _Bad as e:
        cx.abort()
        e.raise_as(what)
    cx.commit()
    return out


def to_python(value: Any, t: ValType) -> Any:
    """A canon value of type ``t`` in the Python mapping: e.g. what a ``StreamReader`` read."""
    conv = _to_python(t)
    return value if conv is None else conv(value, _Call())
