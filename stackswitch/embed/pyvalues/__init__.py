"""Python values at the embedding boundary: the mapping a Python host sees.

The canon layer represents component values the way the spec's reference
code does: ``option`` and ``result`` are :class:`~stackswitch.canon.types.Variant`
objects, resources are bare ``rep`` integers. That is right for the runtime
(and for WAVE and ``.wast``, which speak the spec's shapes), but clumsy for a
host written in Python. This package converts, directed by the component
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

The package holds one concept a module: :mod:`.option_result` (``Some``,
``Ok``, ``Err``), :mod:`.host_handles` (``HostResource``,
``GuestResource``), :mod:`.python_to_canon` and :mod:`.canon_to_python`
(the two directions of the mapping), :mod:`.signature` (a function's
conversions, for calls and host functions), with :mod:`.call_resources`
and :mod:`.conversion_errors` under them.
"""

from __future__ import annotations

from ...canon.types import Variant
from .canon_to_python import to_python
from .host_handles import GuestResource, HostResource
from .option_result import Err, Ok, Some
from .python_to_canon import to_canon
from .signature import Signature

__all__ = [
    "Err", "GuestResource", "HostResource", "Ok", "Signature", "Some", "Variant",
    "to_canon", "to_python",
]
