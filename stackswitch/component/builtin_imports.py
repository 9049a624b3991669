"""Canonical built-ins as core functions that wasm imports.

Each ``canon`` built-in definition becomes a :class:`.corefuncs.HostCoreFunc`
whose handler calls the matching function of :mod:`stackswitch.canon.canonical_builtins`
with the definition's immediates (types, options, flags) bound.

``may_block`` is True for every built-in that can switch stacks: the ones
that wait (``waitable-set.wait``, sync copies and cancels, ``thread.*``), and
the ones that may run other code (``task.return`` of a result that is not
a plain number lowers into the caller, maybe through its ``realloc``;
``subtask.cancel`` resumes the callee;
``resource.drop`` runs a destructor; copies may call a ``realloc``). An
async copy of plain numbers (or of no values) does none of that: it only
moves bytes and sets pending events, so it runs on the fiber (the cheaper
path, taken once per stream chunk).
``may_suspend`` is True for the subset that may suspend the calling thread
itself (waits, yields, sync copies and cancels, ``thread.*`` switches).
``waitable-set.wait`` has a fast path run on the fiber (``on_fiber``): with
an event already pending it answers there, without a suspension; and it says
beforehand whether a call will block (``will_block``).
"""

from __future__ import annotations

import functools
from typing import Any, Protocol

from ..canon import canonical_builtins as b
from ..canon.extensions import extension_builtins as x
from ..canon.extensions.features import not_enabled
from ..canon.options import CanonicalOptions
from ..canon.streams import ReadableStreamEnd, WritableStreamEnd
from ..canon.types import FuncType, StringType, none_or_number_type
from ..canon.values import flatten_functype
from ..errors import LinkError
from . import ast
from .core_signatures import check_copy_options, check_task_return_options
from .corefuncs import HostCoreFunc

B = ast.Builtin


class Env(Protocol):
    """What a built-in needs from the instantiation that defines it."""

    def type_at(self, i: int) -> Any: ...

    def valtype(self, t: ast.ValType) -> Any: ...

    def options(self, opts: ast.CanonOptions, *, async_: bool = False) -> CanonicalOptions: ...

    def memory_options(self, memory: int | None) -> CanonicalOptions: ...

    def table(self, i: int) -> Any: ...

    def core_functype(self, i: int) -> Any: ...

    store: Any


class Unsupported(Exception):
    """A built-in stackswitch does not implement (yet)."""


def _f(name: str, params: str, results: str, handler: Any, may_block: bool,
       may_suspend: bool = False) -> HostCoreFunc:
    return HostCoreFunc(name, tuple(params.split()), tuple(results.split()), handler, may_block,
                        may_suspend)


def make(d: ast.CanonBuiltin, env: Env) -> HostCoreFunc:
    """The core function that ``(canon <builtin> ...)`` defines."""
    name = str(d.builtin)
    kind = d.builtin
    if kind in (B.RESOURCE_NEW, B.RESOURCE_DROP, B.RESOURCE_REP):
        rt = env.type_at(d.type_index)
        if kind == B.RESOURCE_NEW:
            return _f(name, "i32", "i32", lambda rep: b.canon_resource_new(rt, rep), False)
        if kind == B.RESOURCE_DROP:
            return _f(name, "i32", "", lambda i: b.canon_resource_drop(rt, i), True)
        return _f(name, "i32", "i32", lambda i: b.canon_resource_rep(rt, i), False)
    if kind in (B.CONTEXT_GET, B.CONTEXT_SET) and d.slot not in (0, 1):
        # validation admits slots 0 and 1 only (found by the fuzzer: it was an assert)
        raise LinkError(f"{name}: there is no context slot {d.slot} (only 0 and 1)")
    if kind == B.CONTEXT_GET:
        slot = d.slot
        return _f(name, "", "i32", lambda: b.canon_context_get(slot), False)
    if kind == B.CONTEXT_SET:
        slot = d.slot
        return _f(name, "i32", "", lambda v: b.canon_context_set(slot, v), False)
    if kind == B.BACKPRESSURE_INC:
        return _f(name, "", "", b.canon_backpressure_inc, False)
    if kind == B.BACKPRESSURE_DEC:
        return _f(name, "", "", b.canon_backpressure_dec, False)
    if kind == B.TASK_RETURN:
        result_types = [] if d.result is None else [env.valtype(d.result)]
        opts = env.options(d.options)
        check_task_return_options(name, result_types, opts)
        flat = flatten_functype(CanonicalOptions(memory=opts.memory, async_=False),
                                FuncType([(f"r{i}", t) for i, t in enumerate(result_types)], []),
                                "lower")
        matched: list[tuple[FuncType, CanonicalOptions]] = []  # checked once per lift
        # Only a result lowered through the caller's realloc may run code (wasm) there.
        may_block = not all(none_or_number_type(t) for t in result_types)
        return HostCoreFunc(name, tuple(flat.params), (),
                            functools.partial(b.task_return, result_types, opts, matched), may_block)
    if kind == B.TASK_CANCEL:
        return _f(name, "", "", b.canon_task_cancel, True)
    if kind == B.SUBTASK_CANCEL:
        async_ = d.is_async
        return _f(name, "i32", "i32", lambda i: b.canon_subtask_cancel(async_, i), True,
                  not async_)
    if kind == B.SUBTASK_DROP:
        return _f(name, "i32", "", b.canon_subtask_drop, False)
    if kind in (B.STREAM_NEW, B.FUTURE_NEW):
        t = env.type_at(d.type_index)
        new = b.canon_stream_new if kind == B.STREAM_NEW else b.canon_future_new
        return _f(name, "", "i64", lambda: new(t), False)
    if kind in (B.STREAM_READ, B.STREAM_WRITE):
        t = env.type_at(d.type_index)
        opts = env.options(d.options, async_=d.options.is_async)
        check_copy_options(name, t.t, opts, receives=kind == B.STREAM_READ)
        end_type = ReadableStreamEnd if kind == B.STREAM_READ else WritableStreamEnd
        may_block = not (opts.async_ and none_or_number_type(t.t))
        # partial, not a lambda over canon_stream_read/write: two Python frames
        # fewer on a path taken once per stream chunk
        return _f(name, "i32 i32 i32", "i32", functools.partial(b.stream_copy, end_type, t, opts),
                  may_block, not opts.async_)
    if kind in (B.FUTURE_READ, B.FUTURE_WRITE):
        t = env.type_at(d.type_index)
        opts = env.options(d.options, async_=d.options.is_async)
        check_copy_options(name, t.t, opts, receives=kind == B.FUTURE_READ)
        copy = b.canon_future_read if kind == B.FUTURE_READ else b.canon_future_write
        return _f(name, "i32 i32", "i32", lambda i, ptr: copy(t, opts, i, ptr), True,
                  not opts.async_)
    if kind in _CANCELS:
        t = env.type_at(d.type_index)
        async_ = d.is_async
        cancel = _CANCELS[kind]
        return _f(name, "i32", "i32", lambda i: cancel(t, async_, i), True, not async_)
    if kind in _DROPS:
        t = env.type_at(d.type_index)
        drop = _DROPS[kind]
        return _f(name, "i32", "", lambda i: drop(t, i), False)
    if kind == B.ERROR_CONTEXT_NEW:
        opts = env.options(d.options)
        check_copy_options(name, StringType(), opts, receives=False)
        return _f(name, "i32 i32", "i32",
                  lambda ptr, units: b.canon_error_context_new(opts, ptr, units), False)
    if kind == B.ERROR_CONTEXT_DEBUG_MESSAGE:
        opts = env.options(d.options)
        check_copy_options(name, StringType(), opts, receives=True)
        return _f(name, "i32 i32", "",
                  lambda i, ptr: b.canon_error_context_debug_message(opts, i, ptr), True)
    if kind == B.ERROR_CONTEXT_DROP:
        return _f(name, "i32", "", b.canon_error_context_drop, False)
    if kind == B.WAITABLE_SET_NEW:
        return _f(name, "", "i32", b.canon_waitable_set_new, False)
    if kind in (B.WAITABLE_SET_WAIT, B.WAITABLE_SET_POLL):
        opts = env.memory_options(d.memory)
        cancellable = d.cancellable
        if kind == B.WAITABLE_SET_POLL:
            return _f(name, "i32 i32", "i32",
                      lambda si, ptr: b.canon_waitable_set_poll(cancellable, opts, si, ptr), False)
        # a partial, not a lambda: one Python frame fewer on every wait
        f = _f(name, "i32 i32", "i32",
               functools.partial(b.canon_waitable_set_wait, cancellable, opts), True, True)
        f.on_fiber = functools.partial(b.try_waitable_set_wait, cancellable, opts)
        f.will_block = functools.partial(b.waitable_set_wait_blocks, cancellable)
        return f
    if kind == B.WAITABLE_SET_DROP:
        return _f(name, "i32", "", b.canon_waitable_set_drop, False)
    if kind == B.WAITABLE_JOIN:
        return _f(name, "i32 i32", "", b.canon_waitable_join, False)
    if kind == B.THREAD_INDEX:
        return _f(name, "", "i32", b.canon_thread_index, False)
    if kind == B.THREAD_NEW_INDIRECT:
        table = env.table(d.table)
        _check_thread_start_type(env.core_functype(d.func_type))
        return _f(name, "i32 i32", "i32", lambda fi, c: b.canon_thread_new_indirect(table, fi, c),
                  True)
    if kind == B.THREAD_RESUME_LATER:
        return _f(name, "i32", "", b.canon_thread_resume_later, False)
    if kind in (B.THREAD_SUSPEND, B.THREAD_YIELD):
        cancellable = d.cancellable
        op = b.canon_thread_suspend if kind == B.THREAD_SUSPEND else b.canon_thread_yield
        return _f(name, "", "i32", lambda: op(cancellable), True, True)
    if kind in _SWITCHES:
        cancellable = d.cancellable
        op = _SWITCHES[kind]
        return _f(name, "i32", "i32", lambda i: op(cancellable, i), True, True)
    if kind in (B.STREAM_FORWARD, B.FUTURE_FORWARD):
        return _forward(name, d, env)
    raise Unsupported(f"the `{name}` built-in is not supported by stackswitch")


def _forward(name: str, d: ast.CanonBuiltin, env: Env) -> HostCoreFunc:
    """``stream.forward``/``future.forward`` (wasm-tools' ``cm-forward``): the forward extension."""
    if "forward" not in env.store.features:
        raise Unsupported(f"the `{name}` built-in needs the forward extension: "
                          + not_enabled("forward"))
    t = env.type_at(d.type_index)
    forward = x.canon_stream_forward if d.builtin == B.STREAM_FORWARD else x.canon_future_forward
    return _f(name, "i32 i32", "", lambda src, dst: forward(t, src, dst), True)


def _check_thread_start_type(ft: Any) -> None:
    if ft is None or list(ft.params) != ["i32"] or list(ft.results):
        raise Unsupported("thread.new-indirect: the start function type must be (func (param i32))")


_CANCELS = {
    B.STREAM_CANCEL_READ: b.canon_stream_cancel_read,
    B.STREAM_CANCEL_WRITE: b.canon_stream_cancel_write,
    B.FUTURE_CANCEL_READ: b.canon_future_cancel_read,
    B.FUTURE_CANCEL_WRITE: b.canon_future_cancel_write,
}
_DROPS = {
    B.STREAM_DROP_READABLE: b.canon_stream_drop_readable,
    B.STREAM_DROP_WRITABLE: b.canon_stream_drop_writable,
    B.FUTURE_DROP_READABLE: b.canon_future_drop_readable,
    B.FUTURE_DROP_WRITABLE: b.canon_future_drop_writable,
}
_SWITCHES = {
    B.THREAD_SUSPEND_THEN_RESUME: b.canon_thread_suspend_then_resume,
    B.THREAD_YIELD_THEN_RESUME: b.canon_thread_yield_then_resume,
    B.THREAD_SUSPEND_THEN_PROMOTE: b.canon_thread_suspend_then_promote,
    B.THREAD_YIELD_THEN_PROMOTE: b.canon_thread_yield_then_promote,
}
