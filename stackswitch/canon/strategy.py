"""Strategies: how the task of a lifted function runs its code.

The spec describes one semantics and leaves the machinery to the embedder.
A :class:`Strategy` is that machinery, chosen per :class:`~.store.Store`:

* ``stackful`` (this module, the default): every task's implicit thread is a
  stack of its own (a greenlet, its wasm on a wasmtime fiber). A
  callback-lifted export runs the spec's "as if" desugaring on that stack:
  loop, wait for the event, call the callback, until EXIT.
* ``callback`` (:mod:`callback_abi`): no stack per task; a callback-lifted
  task is a record the event loop calls back into.

Everything observable (results, traps, event order) is the same under both;
only the costs differ. The strategy is asked at three points: when a lifted
function is called (:meth:`Strategy.lift`), when a built-in that may suspend
its caller is linked (:meth:`Strategy.wrap_builtin`), and when a core module
is compiled (:meth:`Strategy.prepare_module`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .calls import OnCancel, canon_lift

if TYPE_CHECKING:
    from .component_instance import ComponentInstance
    from .options import CanonicalOptions
    from .tasks import OnResolve, OnStart, Task
    from .types import FuncType


class Strategy:
    """The stackful strategy; subclasses override what they run differently."""

    name = "stackful"
    unwinds_stackful = False
    """Does this strategy transform modules that define stackful-lifted functions?"""

    def lift(self, callee: Callable[[list[Any]], list[Any]], ft: FuncType, opts: CanonicalOptions,
             inst: ComponentInstance, on_start: OnStart, on_resolve: OnResolve,
             caller: Task | None, name: str) -> OnCancel:
        """Run one call of a lifted core function (``canon lift``) as a new task."""
        return canon_lift(callee, ft, opts, inst, on_start, on_resolve, caller=caller, name=name)

    def wrap_builtin(self, handler: Callable[..., Any], what: str, results: int) -> Callable[..., Any]:
        """The handler to link for a built-in (or lowered import) that may suspend its caller.

        ``results`` is how many core results it returns."""
        return handler

    def prepare_module(self, data: bytes, what: str) -> bytes:
        """The core module to compile in place of ``data``, which defines a stackful-lifted
        function (asked only if :attr:`unwinds_stackful`; ``what`` names it in errors)."""
        return data

    def __repr__(self) -> str:
        return f"<strategy {self.name}>"


STACKFUL = Strategy()
