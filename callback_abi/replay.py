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

import functools
from collections.abc import Callable
from typing import Any

from stackswitch import stacks
from stackswitch.canon.canonical_builtins import try_waitable_set_wait
from stackswitch.canon.stackless_threads import StacklessThread
from stackswitch.canon.tasks import Task
from stackswitch.canon.threads import current_thread_or_none
from stackswitch.canon.waitables import WaitableSet


def replayable(on_fiber: Callable[..., Any] | None, handler: Callable[..., Any],
               results: int) -> Callable[..., Any]:
    """The fast path on the fiber (see :func:`stackswitch.wasm.fibers.define_import`) of a
    built-in linked through :func:`~stackswitch.canon.stackless_threads.suspendable`
    (``handler`` unwrapped): it also answers a rewind's replay there, and starts an early
    unwind for a wait that will block.

    * A replay: equal to the handler path, where
      :meth:`StacklessThread.run_builtin` returns ``replay()`` (or raises its
      exception) without running the built-in. A replay never switches stacks
      (it only restores the driver's state), so it may run on the fiber; the
      built-in then costs one callback instead of a fiber suspension and a poll.
    * ``waitable-set.wait`` (``on_fiber`` is its fast path) on a set with no
      event pending, by a thread whose driver can unwind early (:attr:`StacklessThread.unwind_early`): the driver unwinds the wasm at
      once and runs the built-in right after the export has returned, before
      anything else runs (see :meth:`StacklessThread.run_deferred`). Equal to
      the handler path: unwinding runs no guest code and calls no import, so
      the built-in runs in the same state and order; if it blocks, the driver
      waits exactly as when it unwinds from the handler; if it does not (the
      test below is only a guess), the driver rewinds at once and the built-in
      is replayed with its outcome (value or trap), as it would have returned.
    * Anything else goes to ``on_fiber`` (if any), which declines for a
      stackless thread.
    """
    placeholder = [0] * results
    blocks = _wait_blocks(on_fiber)

    def answer(*args: Any) -> Any:
        thread = current_thread_or_none()
        if type(thread) is StacklessThread:
            replay = thread.replay
            if replay is not None:
                thread.replay = None
                return replay()
            if blocks is not None and thread.unwind_early is not None and blocks(thread, *args):
                return thread.unwind_early(handler, args, placeholder)
        return stacks.WOULD_BLOCK if on_fiber is None else on_fiber(*args)

    return answer


def _wait_blocks(on_fiber: Callable[..., Any] | None) -> Callable[..., bool] | None:
    """For ``waitable-set.wait``'s fast path, a test "this wait will block"; else None.

    It only reads: a valid set with no event pending, and no cancellation to
    deliver. Anything it misjudges costs time only (see :func:`replayable`).
    """
    if not (isinstance(on_fiber, functools.partial) and on_fiber.func is try_waitable_set_wait):
        return None
    cancellable = on_fiber.args[0]

    def blocks(thread: StacklessThread, si: int, _ptr: int) -> bool:
        task = thread.task
        handles = task.inst.handles.array
        wset = handles[si] if 0 <= si < len(handles) else None
        return (type(wset) is WaitableSet and not wset.has_pending_event()
                and not (cancellable and task.state == Task.State.PENDING_CANCEL))

    return blocks
