"""The callback strategy's fast path on the fiber for built-ins that may suspend a stackless thread.

A stackful-lifted task under the callback strategy (``unwinding``) leaves a
blocked built-in by unwinding its wasm, and comes back by rewinding it, which
calls the built-in again: :func:`replayable` answers that second call on the
fiber with the outcome the built-in already had, and unwinds before a
``waitable-set.wait`` that will block (one fiber suspension less). The
stackless thread and the built-ins' wrapping every strategy shares are in
:mod:`stackswitch.canon.stackless_threads`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from stackswitch import stacks
from stackswitch.canon.stackless_threads import StacklessThread
from stackswitch.canon.threads import current_thread_or_none


def replayable(on_fiber: Callable[..., Any] | None, handler: Callable[..., Any],
               results: int, will_block: Callable[..., bool] | None = None) -> Callable[..., Any]:
    """The fast path on the fiber (see :func:`stackswitch.wasm.fibers.define_import`) of a
    built-in linked through :func:`~stackswitch.canon.stackless_threads.suspendable`
    (``handler`` unwrapped): it also answers a rewind's replay there, and starts an early
    unwind for a wait that will block (``will_block(thread, *args)``, the built-in's own
    test, :attr:`stackswitch.component.corefuncs.HostCoreFunc.will_block`).

    * A replay: equal to the handler path, where
      :meth:`StacklessThread.run_builtin` returns ``replay()`` (or raises its
      exception) without running the built-in. A replay never switches stacks
      (it only restores the driver's state), so it may run on the fiber; the
      built-in then costs one callback instead of a fiber suspension and a poll.
    * A built-in that says it will block (``waitable-set.wait`` on a set with
      no event pending and no cancellation to deliver), by a thread whose driver
      can unwind early (:attr:`StacklessThread.unwind_early`): the driver unwinds the wasm at
      once and runs the built-in right after the export has returned, before
      anything else runs (see :meth:`StacklessThread.run_deferred`). Equal to
      the handler path: unwinding runs no guest code and calls no import, so
      the built-in runs in the same state and order; if it blocks, the driver
      waits exactly as when it unwinds from the handler; if it does not (the
      test only reads, and may misjudge: that costs time only), the driver
      rewinds at once and the built-in is replayed with its outcome (value or
      trap), as it would have returned.
    * Anything else goes to ``on_fiber`` (if any), which declines for a
      stackless thread.
    """
    placeholder = [0] * results

    def answer(*args: Any) -> Any:
        thread = current_thread_or_none()
        if type(thread) is StacklessThread:
            replay = thread.replay
            if replay is not None:
                thread.replay = None
                return replay()
            if will_block is not None and thread.unwind_early is not None \
                    and will_block(thread, *args):
                return thread.unwind_early(handler, args, placeholder)
        return stacks.WOULD_BLOCK if on_fiber is None else on_fiber(*args)

    return answer
