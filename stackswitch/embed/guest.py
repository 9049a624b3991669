"""Python guests: component instances whose core code is written in Python.

This is the quickest way to prototype a concurrency scenario: each core
function is a plain Python function taking and returning *core* values (ints
and floats), reading and writing a bounds-checked :class:`LinearMemory`, and
calling the canonical built-ins as methods. Such a function runs on its
task's own stack, so a built-in that blocks (``waitable_set_wait``, a sync
``stream_read``, a sync call of an import) really suspends it.

A scenario::

    store = Store()
    a = PyComponent(store, "a")

    @a.export(FuncType([], [U32Type()], async_=True), abi="stackful")
    def run():
        ...
        a.task_return(42)

    store.call(run, [])        # -> [42]

Core results follow the spec's shape: return ``None`` for no result, a number
for one, a tuple or list for several. Lowered imports return the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..canon import canonical_builtins as b
from ..canon.calls import FuncInst, as_core_results
from ..canon.extensions import extension_builtins as x
from ..canon.options import CanonicalOptions
from ..canon.resources import ResourceType
from ..canon.store import Store
from ..canon.threads import current_thread
from ..canon.types import FuncType
from ..errors import trap_if
from ..wasm.memory import LinearMemory

ABIS = ("sync", "stackful", "callback")


def _unwrap(values: list[Any]) -> Any:
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return tuple(values)


class PyComponent:
    """A component instance with a linear memory, whose core functions are Python.

    ``memory_pages`` sizes the memory (64 KiB pages); ``realloc`` is a bump
    allocator over it, so lifting strings and lists into this instance works.
    """

    def __init__(self, store: Store, name: str, *, memory_pages: int = 1,
                 string_encoding: str = "utf8", parent: PyComponent | None = None) -> None:
        self.store = store
        self.name = name
        self.inst = store.new_instance(name, parent.inst if parent else None)
        self.memory = LinearMemory(memory_pages)
        self._heap_top = 1024  # below: scratch space for event records
        self.opts = CanonicalOptions(string_encoding=string_encoding, memory=self.memory,
                                     realloc=self.realloc)
        self.scratch = 16  # 8 bytes for a waitable-set event payload
        self._sync_opts = self.opts
        self._async_opts = CanonicalOptions(string_encoding=string_encoding, memory=self.memory,
                                            realloc=self.realloc, async_=True)

    def __repr__(self) -> str:
        return f"<PyComponent {self.name}>"

    # -- memory ---------------------------------------------------------------

    def alloc(self, size: int, align: int = 8) -> int:
        """Reserve ``size`` bytes (never freed); traps when memory is full."""
        ptr = -(-self._heap_top // align) * align
        trap_if(ptr + size > len(self.memory), f"{self.name}: out of memory (bump allocator)")
        self._heap_top = ptr + size
        return ptr

    def realloc(self, old_ptr: int, old_size: int, align: int, new_size: int) -> int:
        """The ``realloc`` canon option: allocate anew and copy the old bytes."""
        ptr = self.alloc(new_size, align)
        if old_ptr and old_size:
            self.memory.write(ptr, self.memory.read(old_ptr, min(old_size, new_size)))
        return ptr

    # -- lifting and lowering ---------------------------------------------------

    def export(self, ft: FuncType, *, abi: str = "sync", callback: Callable[..., Any] | None = None,
               post_return: Callable[..., Any] | None = None, name: str = "",
               string_encoding: str | None = None) -> Callable[[Callable[..., Any]], FuncInst]:
        """Decorator: lift a Python core function with the given ABI.

        ``abi`` is ``"sync"``, ``"stackful"`` (async, blocks in built-ins) or
        ``"callback"`` (async; the function and ``callback(event, index,
        payload)`` return packed codes).
        """
        if abi not in ABIS:
            raise ValueError(f"abi must be one of {ABIS}, not {abi!r}")
        if abi == "callback" and callback is None:
            raise ValueError("abi='callback' needs a callback function")
        if abi != "sync" and not ft.async_:
            raise ValueError("the `async` canonical option requires an async function type")

        def decorate(fn: Callable[..., Any]) -> FuncInst:
            opts = CanonicalOptions(
                string_encoding=string_encoding or self.opts.string_encoding,
                memory=self.memory, realloc=self.realloc,
                post_return=(lambda results: post_return(*results)) if post_return else None,
                async_=abi != "sync",
                callback=(lambda args: as_core_results(callback(*args))) if callback else None,
            )
            return self.store.lift(lambda args: as_core_results(fn(*args)), ft, opts, self.inst,
                                   name=name or fn.__name__)

        return decorate

    def import_(self, callee: FuncInst, ft: FuncType, *, async_: bool = False,
                name: str = "") -> Callable[..., Any]:
        """Lower ``callee`` into this instance: a core function of flat arguments.

        Sync lowering returns the flat result (or None); async lowering
        returns the packed status ``state | subtask << 4``.
        """
        if async_ and not ft.async_:
            raise ValueError("the `async` canonical option requires an async function type")
        opts = CanonicalOptions(string_encoding=self.opts.string_encoding, memory=self.memory,
                                realloc=self.realloc, async_=async_)
        core = self.store.lower(callee, ft, opts, name=name or getattr(callee, "__name__", ""))

        def call(*flat_args: Any) -> Any:
            self._check_current()
            return _unwrap(core(list(flat_args)))

        return call

    def _check_current(self) -> None:
        if current_thread().task.inst is not self.inst:
            raise RuntimeError(f"{self.name}'s core code called from another instance's thread")

    def _opts(self, async_: bool = False) -> CanonicalOptions:
        return self._async_opts if async_ else self._sync_opts

    # -- built-ins: tasks ---------------------------------------------------------

    def task_return(self, *flat: Any, types: list[Any] | None = None,
                    opts: CanonicalOptions | None = None) -> None:
        """``task.return``; ``types`` and ``opts`` default to the current task's own."""
        self._check_current()
        task = current_thread().task
        rtypes = task.ft.result_types() if types is None else types
        if opts is None:
            opts = CanonicalOptions(string_encoding=task.opts.string_encoding, memory=task.opts.memory)
        b.canon_task_return(rtypes, opts, list(flat))

    def task_cancel(self) -> None:
        b.canon_task_cancel()

    def context_get(self, i: int) -> int:
        return b.canon_context_get(i)[0]

    def context_set(self, i: int, v: int) -> None:
        b.canon_context_set(i, v)

    def backpressure_inc(self) -> None:
        b.canon_backpressure_inc()

    def backpressure_dec(self) -> None:
        b.canon_backpressure_dec()

    # -- built-ins: waitables and subtasks -------------------------------------------

    def waitable_set_new(self) -> int:
        return b.canon_waitable_set_new()[0]

    def waitable_set_wait(self, si: int, ptr: int, cancellable: bool = False) -> int:
        return b.canon_waitable_set_wait(cancellable, self.opts, si, ptr)[0]

    def waitable_set_poll(self, si: int, ptr: int, cancellable: bool = False) -> int:
        return b.canon_waitable_set_poll(cancellable, self.opts, si, ptr)[0]

    def wait(self, si: int, cancellable: bool = False) -> tuple[int, int, int]:
        """``waitable-set.wait`` with the payload read back: ``(event, index, payload)``."""
        code = self.waitable_set_wait(si, self.scratch, cancellable)
        return code, self.memory.load_u32(self.scratch), self.memory.load_u32(self.scratch + 4)

    def poll(self, si: int, cancellable: bool = False) -> tuple[int, int, int]:
        code = self.waitable_set_poll(si, self.scratch, cancellable)
        return code, self.memory.load_u32(self.scratch), self.memory.load_u32(self.scratch + 4)

    def waitable_set_drop(self, si: int) -> None:
        b.canon_waitable_set_drop(si)

    def waitable_join(self, wi: int, si: int) -> None:
        b.canon_waitable_join(wi, si)

    def subtask_cancel(self, i: int, async_: bool = False) -> int:
        return b.canon_subtask_cancel(async_, i)[0]

    def subtask_drop(self, i: int) -> None:
        b.canon_subtask_drop(i)

    # -- built-ins: streams and futures -------------------------------------------------

    def stream_new(self, t: Any) -> tuple[int, int]:
        """``stream.new``: ``(readable, writable)`` handle indices."""
        packed = b.canon_stream_new(t)[0]
        return packed & 0xFFFF_FFFF, packed >> 32

    def future_new(self, t: Any) -> tuple[int, int]:
        packed = b.canon_future_new(t)[0]
        return packed & 0xFFFF_FFFF, packed >> 32

    def stream_read(self, t: Any, h: int, ptr: int, n: int, async_: bool = True) -> int:
        return b.canon_stream_read(t, self._opts(async_), h, ptr, n)[0]

    def stream_write(self, t: Any, h: int, ptr: int, n: int, async_: bool = True) -> int:
        return b.canon_stream_write(t, self._opts(async_), h, ptr, n)[0]

    def future_read(self, t: Any, h: int, ptr: int, async_: bool = True) -> int:
        return b.canon_future_read(t, self._opts(async_), h, ptr)[0]

    def future_write(self, t: Any, h: int, ptr: int, async_: bool = True) -> int:
        return b.canon_future_write(t, self._opts(async_), h, ptr)[0]

    def stream_cancel_read(self, t: Any, h: int, async_: bool = False) -> int:
        return b.canon_stream_cancel_read(t, async_, h)[0]

    def stream_cancel_write(self, t: Any, h: int, async_: bool = False) -> int:
        return b.canon_stream_cancel_write(t, async_, h)[0]

    def future_cancel_read(self, t: Any, h: int, async_: bool = False) -> int:
        return b.canon_future_cancel_read(t, async_, h)[0]

    def future_cancel_write(self, t: Any, h: int, async_: bool = False) -> int:
        return b.canon_future_cancel_write(t, async_, h)[0]

    def stream_drop_readable(self, t: Any, h: int) -> None:
        b.canon_stream_drop_readable(t, h)

    def stream_drop_writable(self, t: Any, h: int) -> None:
        b.canon_stream_drop_writable(t, h)

    def future_drop_readable(self, t: Any, h: int) -> None:
        b.canon_future_drop_readable(t, h)

    def future_drop_writable(self, t: Any, h: int) -> None:
        b.canon_future_drop_writable(t, h)

    # -- extensions beyond the spec (docs/extensions.md): each traps unless enabled -----------

    def stream_splice(self, t: Any, src: int, dst: int, n: int, async_: bool = True) -> int:
        """``stream.splice``: move up to ``n`` values from ``src`` to ``dst``, not through memory."""
        return x.canon_stream_splice(t, self._opts(async_), src, dst, n)[0]

    def stream_skip(self, t: Any, h: int, n: int, async_: bool = True) -> int:
        """``stream.skip``: a read of up to ``n`` values that discards them."""
        return x.canon_stream_skip(t, self._opts(async_), h, n)[0]

    def stream_forward(self, t: Any, src: int, dst: int) -> None:
        """``stream.forward``: both ends leave this table; values flow until one side ends."""
        x.canon_stream_forward(t, src, dst)

    def future_forward(self, t: Any, src: int, dst: int) -> None:
        x.canon_future_forward(t, src, dst)

    def stream_write_end(self, t: Any, h: int, ptr: int) -> None:
        """Close a ``stream<T, U>`` (a ``StreamEndType``) with the ``U`` stored at ``ptr``."""
        x.canon_stream_write_end(t, getattr(t, "end", None), self.opts, h, ptr)

    def stream_read_end(self, t: Any, h: int, ptr: int) -> int:
        """The ended stream's ``U`` into ``ptr``: 1, or 0 if it ended without one."""
        return x.canon_stream_read_end(t, getattr(t, "end", None), self.opts, h, ptr)[0]

    def thread_park(self, i: int) -> int:
        """Wait until thread ``i`` unparks this one: 0; a cycle of parks: 1; ``i`` exited: 2."""
        return x.canon_thread_park(i)[0]

    def thread_unpark(self, i: int) -> int:
        return x.canon_thread_unpark(i)[0]

    # -- built-ins: threads ----------------------------------------------------------------

    def thread_index(self) -> int:
        return b.canon_thread_index()[0]

    def thread_new(self, fn: Callable[[int], Any], c: int) -> int:
        """``thread.new-indirect`` with a one-entry table holding ``fn``."""
        return b.canon_thread_new_indirect(_OneFunctionTable(fn), 0, c)[0]

    def thread_resume_later(self, i: int) -> None:
        b.canon_thread_resume_later(i)

    def thread_suspend(self, cancellable: bool = False) -> int:
        return b.canon_thread_suspend(cancellable)[0]

    def thread_yield(self, cancellable: bool = False) -> int:
        return b.canon_thread_yield(cancellable)[0]

    def thread_suspend_then_resume(self, i: int, cancellable: bool = False) -> int:
        return b.canon_thread_suspend_then_resume(cancellable, i)[0]

    def thread_yield_then_resume(self, i: int, cancellable: bool = False) -> int:
        return b.canon_thread_yield_then_resume(cancellable, i)[0]

    def thread_suspend_then_promote(self, i: int, cancellable: bool = False) -> int:
        return b.canon_thread_suspend_then_promote(cancellable, i)[0]

    def thread_yield_then_promote(self, i: int, cancellable: bool = False) -> int:
        return b.canon_thread_yield_then_promote(cancellable, i)[0]

    # -- built-ins: resources and error contexts -----------------------------------------------

    def resource_type(self, name: str = "resource", dtor: Callable[[int], Any] | None = None) -> ResourceType:
        """A resource type defined (implemented) by this instance; ``dtor(rep)`` runs on drop."""
        core_dtor = (lambda args: as_core_results(dtor(*args))) if dtor is not None else None
        return ResourceType(self.inst, core_dtor, name)

    def resource_new(self, rt: ResourceType, rep: int) -> int:
        return b.canon_resource_new(rt, rep)[0]

    def resource_drop(self, rt: ResourceType, i: int) -> None:
        b.canon_resource_drop(rt, i)

    def resource_rep(self, rt: ResourceType, i: int) -> int:
        return b.canon_resource_rep(rt, i)[0]

    def error_context_new(self, ptr: int, units: int) -> int:
        return b.canon_error_context_new(self.opts, ptr, units)[0]

    def error_context_debug_message(self, i: int, ptr: int) -> None:
        b.canon_error_context_debug_message(self.opts, i, ptr)

    def error_context_drop(self, i: int) -> None:
        b.canon_error_context_drop(i)


class _OneFunctionTable:
    """A funcref table with one entry, for :meth:`PyComponent.thread_new`."""

    def __init__(self, fn: Callable[[int], Any]) -> None:
        self.fn = fn

    def get(self, i: int) -> Callable[[list[Any]], list[Any]]:
        trap_if(i != 0, f"undefined element: table index {i} out of bounds")
        return lambda args: as_core_results(self.fn(*args))
