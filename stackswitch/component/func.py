"""A component function as the host sees it: :class:`Func`.

Call it like a Python function, as wasmtime-py's ``Func`` is called:
``add(2, 40) == 42``. It takes and returns Python values
(:mod:`stackswitch.embed.pyvalues`) and runs the event loop until the call
resolves. :meth:`Func.call_canon` speaks the canon layer's values and
shapes instead (``Variant``s, bare handles, a list of results), which is
what WAVE and ``.wast`` scripts use.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..canon.store import Store
from ..canon.types import FuncType
from ..embed import pyvalues


class CallCancelled(Exception):
    """The call resolved as cancelled instead of returning.

    It happens when the callee gives up (a host function lets
    :class:`~stackswitch.embed.host.TaskCancelled` escape); a result of
    ``None`` always means "no result", never "cancelled".
    """


@dataclass(eq=False)
class Func:
    """A component function: its type and the ``FuncInst`` that calls it.

    ``f(*args)`` (or ``f.call(*args)``, the same) takes and returns Python
    values. A component function has at most one result: the call returns
    its value, or ``None`` for a function without one. :meth:`call_canon`
    keeps the spec's shapes.
    """

    name: str
    ft: FuncType
    func_inst: Any
    store: Store = field(repr=False)
    _signature: pyvalues.Signature | None = field(default=None, init=False, repr=False)

    def __call__(self, *args: Any) -> Any:
        """Call from the host and run the event loop until the call resolves.

        An argument that does not fit its parameter's type raises TypeError or
        ValueError before anything runs; a call the callee resolved as
        cancelled raises :class:`CallCancelled`.
        """
        if self._signature is None:
            self._signature = pyvalues.Signature(self.ft, self.name)
        results = self._signature.call(args, lambda canon_args: self.store.call(self.func_inst,
                                                                                canon_args))
        if results is None:
            raise CallCancelled(f"the call of {self.name!r} was cancelled")
        return results[0] if results else None

    call = __call__

    def call_canon(self, *args: Any) -> list[Any] | None:
        """Call with arguments and results in the canon representation.

        The results come as the spec's list, ``None`` if the call was
        cancelled.
        """
        return self.store.call(self.func_inst, list(args))


def host_func(name: str, fn: Any, ft: FuncType, store: Store) -> Func:
    """A Python host function as a :class:`Func`; it sees Python values (:mod:`~stackswitch.embed.pyvalues`)."""
    wrapped = pyvalues.Signature(ft, name).host_function(fn)
    return Func(name, ft, store.host_function(wrapped, ft, name), store)
