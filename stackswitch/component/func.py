"""A component function as the host sees it: :class:`Func`.

Call it like a Python function: ``add(2, 40)`` takes and returns Python
values (:mod:`stackswitch.embed.pyvalues`) and runs the event loop until the
call resolves. :meth:`Func.call_canon` speaks the canon layer's values instead
(``Variant``s, bare handles), which is what WAVE and ``.wast`` scripts use.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..canon.store import Store
from ..canon.types import FuncType
from ..embed import pyvalues


@dataclass(eq=False)
class Func:
    """A component function: its type and the ``FuncInst`` that calls it.

    :meth:`call` speaks Python values (:mod:`.pyvalues`: ``None``/``Ok``/``Err``,
    resource handles); :meth:`call_canon` the canon layer's (``Variant``s, bare
    reps), which is what WAVE and ``.wast`` scripts use.
    """

    name: str
    ft: FuncType
    func_inst: Any
    store: Store = field(repr=False)
    _signature: pyvalues.Signature | None = field(default=None, init=False, repr=False)

    def call(self, *args: Any) -> list[Any] | None:
        """Call from the host and run the event loop until it resolves (None if cancelled).

        Arguments and results are Python values (:mod:`.pyvalues`); an argument
        that does not fit its parameter's type raises TypeError or ValueError
        before anything runs.
        """
        if self._signature is None:
            self._signature = pyvalues.Signature(self.ft, self.name)
        return self._signature.call(args, lambda canon_args: self.store.call(self.func_inst,
                                                                             canon_args))

    def call_canon(self, *args: Any) -> list[Any] | None:
        """:meth:`call` with arguments and results in the canon representation."""
        return self.store.call(self.func_inst, list(args))




def host_func(name: str, fn: Any, ft: FuncType, store: Store) -> Func:
    """A Python host function as a :class:`Func`; it sees Python values (:mod:`~stackswitch.embed.pyvalues`)."""
    wrapped = pyvalues.Signature(ft, name).host_function(fn)
    return Func(name, ft, store.host_function(wrapped, ft, name), store)
