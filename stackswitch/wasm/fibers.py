"""Blocking wasm imports: wasm frames live on wasmtime's fibers, blocking on greenlets.

Why this shape (see ``/work/shared/notes/wasmtime-stacks.md``): a greenlet
must never hold wasm frames, because wasmtime's per-thread chain of wasm
activations has to be popped in LIFO order and greenlets resume in any order
(the process aborts). wasmtime's own fibers can hold them. But a greenlet
switch *on* a fiber kills the interpreter too. So every call into wasm runs
on a fiber, and all greenlet switching happens on the caller's greenlet,
*between* polls of the fiber::

    task greenlet, in call()             wasmtime fiber
    ── poll ───────────────────────────▶ wasm runs, calls a may_block import;
                                         _on_async_call records the request and
    ◀─ False ─────────────────────────── hands back a "not yet" continuation
    handler(*args) runs here, outside the
    fiber: it may stacks.suspend(), let
    other greenlets run, call other wasm
    results written to the fiber's result
    slots, the call's ready flag set
    ── poll ───────────────────────────▶ the continuation (native code) reads
                                         the flag: set -> wasm continues
    ◀─ True ──────────────────────────── ... and returns

Imports defined with ``may_block=False`` run on the fiber, right where wasm
called them: cheaper, but they must not block. They are defined as plain
(sync) host functions, which under an async call run on the fiber all the
same and skip the continuation round trip (0.9 µs per call instead of 1.8
for an async one answering "ready" at once). While one runs,
:func:`in_fiber_callback` is true and every stack switch (``resume`` or
``suspend`` of any continuation) raises :class:`FiberSwitchError` instead of
switching (see :func:`stackswitch.stacks.forbid_switching`). Canon code that
might block must consult :func:`in_fiber_callback` (or call
:func:`check_can_block`) first.

A may_block import may also have a fast path (``on_fiber`` in
:func:`define_import`), tried first on the fiber under the same guard: when
it can answer without blocking, wasm goes on at once, with no suspension and
no poll; when it cannot, it says so (:data:`WOULD_BLOCK`) before any side
effect and the handler runs between polls as above.

Python exceptions raised by handlers trap the wasm (so it unwinds cleanly)
and are then re-raised, traceback intact, from :func:`call`. Traps in wasm
become :class:`~stackswitch.errors.Trap`.

Only numeric core types (i32, i64, f32, f64) cross this boundary, packed
and unpacked by :mod:`stackswitch.wasm.core_values`: i32/i64 values are
unsigned Python ints (negative ints are accepted on the way in).

At most ``Limits.fiber_stacks`` calls may be in flight at once in the whole
process (:func:`set_max_fiber_stacks`): the next call traps instead of
taking a fiber stack, and the memory maps it needs, from a process that may
be running out of them.

Several calls into one store may be suspended at once, each on its own fiber
and polled in any order (one OS thread only: the bookkeeping is global). wasmtime's header asks for one live future per
store; wasmtime 50 saves and restores all per-fiber state when it switches
fibers (what its own component-model async relies on), and the tests here
exercise exactly that. Reference values (externref, funcref) would not be
safe this way, which is one more reason they are not supported.

A greenlet of the embedder's own (not a continuation's) that switches away
while its call is suspended, and is then dropped for good, is not killed
where it is dropped (that could be on a fiber: see
:func:`stackswitch.stacks.hold_current`) but later, on the thread's own
stack, by :func:`stackswitch.stacks.release_dropped`.
"""

from __future__ import annotations

import ctypes
import itertools
import struct
import threading
import weakref
from collections.abc import Callable, Sequence
from typing import Any

import greenlet
import wasmtime

from .. import limits, stacks, trace
from ..errors import Trap
from . import backtrace as wasm_backtrace
from . import capi
from .core_values import CoreCodec, Value

# Measured (benchmarks/wasm_fibers.py): 10,000 calls suspended at once take
# ~13.6 KiB of RSS each (6.6 of them the greenlets' own), the same for fiber
# stacks of 64 KiB and of 2 MiB: stacks are mmap'ed, only touched pages count.
# So the size is set for safety. Host code (Python handlers) running on a
# fiber that overflows its stack aborts the process ("execution on async fiber
# has overflowed its stack"); wasm overflowing max_wasm_stack only traps.
# 512 KiB with 128 KiB for wasm leaves room for ~600 levels of Python
# recursion through C (e.g. ``sum(map(f, ...))``), and bounds the RSS of a
# suspended call whose wasm went as deep as allowed at about 140 KiB
# (1.4 GiB for 10,000 such calls).
DEFAULT_STACK_SIZE = 512 * 1024
"""Bytes per fiber stack (wasmtime's default is 2 MiB)."""

MIN_HOST_STACK = 32 * 1024
"""Stack a fiber must keep for host code beyond wasm's share (a trivial handler uses ~12 KiB)."""

Handler = Callable[..., Any]


WOULD_BLOCK = stacks.WOULD_BLOCK
"""Returned by an ``on_fiber`` handler that would block (see :func:`define_import`)."""


class FiberSwitchError(stacks.StackError):
    """Something tried to block (switch greenlets) while running on a wasmtime fiber."""


_FIBER_SWITCH_MESSAGE = (
    "cannot block inside a may_block=False import: it runs on a wasmtime fiber, "
    "where a greenlet switch would crash the interpreter; define the import with "
    "may_block=True, or check stackswitch.wasm.fibers.in_fiber_callback() first"
)

_FORBIDDEN = (FiberSwitchError, _FIBER_SWITCH_MESSAGE)
"""What :data:`stacks.forbidden` is while Python code runs on a fiber."""


# -- engines -----------------------------------------------------------------


def make_engine(stack_size: int = DEFAULT_STACK_SIZE, *, max_wasm_stack: int | None = None,
                config: wasmtime.Config | None = None) -> wasmtime.Engine:
    """An engine whose fibers have ``stack_size``-byte stacks.

    ``max_wasm_stack`` (default: a quarter of the stack) is what wasm itself
    may use before it traps with "call stack exhausted"; the rest is for host
    code running on the fiber (handlers with ``may_block=False``, wasmtime's
    own frames), which aborts the process if it overflows. ``config`` is
    consumed, as ``wasmtime.Engine(config)`` does.
    """
    wasm_stack = stack_size // 4 if max_wasm_stack is None else max_wasm_stack
    if not 0 < wasm_stack <= stack_size - MIN_HOST_STACK:
        raise ValueError(f"need 0 < max_wasm_stack ({wasm_stack}) <= stack_size "
                         f"({stack_size}) - {MIN_HOST_STACK} (host code runs on fibers too)")
    config = wasmtime.Config() if config is None else config
    cfg = capi.address(config.ptr())
    capi.config_async_stack_size_set(cfg, stack_size)
    capi.config_max_wasm_stack_set(cfg, wasm_stack)
    engine = wasmtime.Engine(config)
    engine.__dict__["_stackswitch_wasm_stack"] = wasm_stack  # see StoreState.plain
    return engine


PLAIN_WASM_STACK = 1 << 20
"""The largest ``max_wasm_stack`` for which a call may run plain, on the calling
thread's own stack (:func:`_call_plain`): wasmtime stops wasm that far below the
stack pointer at the call, without knowing where the native stack ends, so only a
stack known to have that much room (the main thread's, 8 MiB by default) may hold it."""


# -- call buffers -----------------------------------------------------------------

_TRAP_AND_ERROR = struct.Struct("<QQ")
_POINTER = struct.Struct("<Q")
_HOST = capi.HOST
_READY_AT = _TRAP_AND_ERROR.size
"""Offset of the call's *ready flag*: a byte, then a NUL (see :data:`_CONTINUATION`)."""
_RESULTS_AT = _READY_AT + 8
_NO_FAILURE = bytes(_RESULTS_AT)
_NO_TRAP_OR_ERROR = bytes(_READY_AT)
"""The buffer's start after a call that neither trapped nor failed: both pointers null."""


# -- per-call state ------------------------------------------------------------

_IDLE, _REQUESTED, _ANSWERED = 0, 1, 2


class _InFlight:
    """One call in flight: where wasmtime writes its outcome, and its pending import.

    ``buffer`` holds ``wasm_trap_t *trap; wasmtime_error_t *error;``, the
    ready flag of the pending import (a byte and a NUL), then the results;
    its address is fixed for the call's lifetime (the ctypes view pins it).
    At most one import is pending per call, as a fiber blocks on one thing
    at a time, so the request lives here too.
    """

    __slots__ = ("buffer", "_view", "address", "state", "imp", "args",
                 "results_at", "trap_at", "exc", "pending")

    def __init__(self, result_bytes: int) -> None:
        self.buffer = bytearray(_RESULTS_AT + result_bytes)
        self._view = (ctypes.c_char * len(self.buffer)).from_buffer(self.buffer)
        self.address = ctypes.addressof(self._view)
        self.state = _IDLE
        self.imp: _Import | None = None
        self.args: tuple[Value, ...] = ()
        self.results_at = 0
        self.trap_at = 0
        self.exc: BaseException | None = None
        self.pending = _continuation(self.address + _READY_AT)
        """The continuation a blocked import hands wasmtime: ready once the flag is set."""

    def end_request(self) -> None:
        self.state = _IDLE
        self.imp = None
        self.args = ()

    def clear(self) -> None:
        self.end_request()
        self.exc = None

    def record(self, exc: BaseException) -> None:
        """Remember the first Python exception that made this call's wasm trap."""
        if self.exc is None:
            self.exc = exc


class _Import:
    __slots__ = ("module", "name", "handler", "params", "results", "may_block", "on_fiber",
                 "__weakref__")

    def __init__(self, module: str, name: str, handler: Handler, params: CoreCodec,
                 results: CoreCodec, may_block: bool, on_fiber: Handler | None = None) -> None:
        self.module, self.name, self.handler = module, name, handler
        self.params, self.results, self.may_block = params, results, may_block
        self.on_fiber = on_fiber

    def trap_message(self, exc: BaseException) -> str:
        if isinstance(exc, Trap):
            return str(exc)
        return f"host function {self.module}.{self.name} raised {type(exc).__name__}: {exc}"


_call_async = capi.func_call_async
_poll = capi.call_future_poll
_delete = capi.call_future_delete

_imports: dict[int, weakref.ref[_Import]] = {}
"""What wasmtime's ``env`` numbers stand for. Weak: each import is kept alive by the
wasmtime store that may call it (:func:`_keep_for`), never by this module, so that a
store nobody holds (with its memories, its handlers and everything they reach) can be
freed."""
_next_env = itertools.count(1)

_polling: _InFlight | None = None
"""The call whose fiber runs now: the innermost poll (polls nest, never interleave)."""

_fiber_depth = 0
"""How many may_block=False handlers are running (on fibers) right now."""

_pending: BaseException | None = None
"""An exception to raise once the outermost poll ends (see :func:`set_pending`)."""

_live = 0
"""Futures created and not yet deleted: calls in flight (suspended ones included)."""


_max_live = limits.DEFAULT.fiber_stacks
"""At most this many calls in flight: each holds a fiber stack (see :func:`set_max_fiber_stacks`)."""


def live_calls() -> int:
    """How many calls into wasm on fibers are in flight (running or suspended) right now
    (a plain call, with no fiber, is not counted)."""
    return _live


def set_max_fiber_stacks(n: int) -> None:
    """Allow ``n`` calls in flight at once in this process (``Limits.fiber_stacks``).

    Process-wide because what it protects is: every suspended call holds a
    native stack of two memory maps, and once the process is out of maps
    nothing (not even compiling a new module) works. A call beyond it traps.
    """
    global _max_live
    if n < 0:
        raise ValueError(f"fiber stack limit must be >= 0, got {n}")
    _max_live = n


def _check_fiber_available() -> None:
    if _live >= _max_live:
        raise Trap(limits.too_many_fiber_stacks(_max_live))


# -- the guard against switching on a fiber --------------------------------------


def polling() -> bool:
    """True while wasm runs (inside a poll), where Python must not raise out of a callback."""
    return _polling is not None or _fiber_depth > 0


def set_pending(error: BaseException | None) -> None:
    """Raise ``error`` from the current call as soon as its outermost poll returns.

    For a signal that arrives while wasm runs (:mod:`.interrupts`): the
    handler cannot raise there, so it leaves the exception here, and the
    call (whatever the wasm did meanwhile: trapped on the epoch, returned,
    or called a blocking import) raises it instead of going on. A still
    suspended call is then deleted, which unwinds its fiber.
    """
    global _pending
    _pending = error


def _raise_pending() -> None:
    global _pending
    error, _pending = _pending, None
    if error is not None:
        raise error


def in_fiber_callback() -> bool:
    """True while a may_block=False handler runs on a fiber, where nothing may block."""
    return _fiber_depth > 0


def check_can_block() -> None:
    """Raise :class:`FiberSwitchError` if blocking now would switch greenlets on a fiber."""
    if _fiber_depth:
        raise FiberSwitchError(_FIBER_SWITCH_MESSAGE)


def suspend(value: Any = None) -> Any:
    """:func:`stackswitch.stacks.suspend`, refused with a clear error on a fiber."""
    check_can_block()
    return stacks.suspend(value)


# -- callbacks from wasmtime (they run on the fiber) -----------------------------


def _write_pointer(address: int, value: int) -> None:
    _POINTER.pack_into(_HOST, address, value)


_CONTINUATION = struct.Struct("<QQQ")
"""``wasmtime_async_continuation_t``: callback, env, finalizer."""

_READ_FLAG = capi.READ_FLAG
"""The continuation's callback: native code that answers whether the byte at ``env`` is
set. wasmtime asks it once when the import returns and at every poll after; a
Python callback there cost two crossings per blocking import, each answering only
"not yet" or "yes"."""

_SET = b"\x01\x00"
_ALWAYS_READY = ctypes.create_string_buffer(_SET, 2)


def _continuation(flag_address: int) -> bytes:
    return _CONTINUATION.pack(_READ_FLAG, flag_address, 0)


_READY = _continuation(ctypes.addressof(_ALWAYS_READY))
_CONTINUATION_SIZE = _CONTINUATION.size


SPARE_TRAPS = 16
"""Traps made in advance, for a callback that fails to make one (see :data:`_SPARE_TRAPS`)."""

_SPARE_MESSAGE = "stackswitch: a host callback failed and could not say why (out of stack or memory?)"

_SPARE_TRAPS: list[int] = [0] * SPARE_TRAPS
"""``wasm_trap_t`` pointers made in advance: the first :data:`_spares_left` are unused.

The ``except`` path of a callback from wasmtime must not raise: an exception
escaping a ctypes callback is lost, and the callback's return value (the trap
pointer wasmtime frees) is then garbage (seen: "munmap_chunk(): invalid pointer").
Entered at the recursion limit, or out of memory, making a trap fails too: the
path then takes one of these, with nothing but bytecode that calls nothing
(a call may itself raise ``RecursionError``). The Python exception, recorded in
the call's :class:`_InFlight` the same way, is what the call raises; the trap only
stops the wasm. :func:`_outcome` makes new ones once such a call has ended. With
none left (that many failures in one call), the import returns as if it had
succeeded; the exception is still recorded.
"""

_SPARE_TRAP_BYTES: list[bytes] = [bytes(8)] * SPARE_TRAPS
"""The same pointers, packed for a store into ``*trap_ret`` with no call."""

_spares_left = 0


def _refill_spare_traps() -> None:
    """Make the spare traps used since the last time (see :data:`_SPARE_TRAPS`)."""
    global _spares_left
    while _spares_left < SPARE_TRAPS:
        trap = capi.new_trap(_SPARE_MESSAGE)
        _SPARE_TRAPS[_spares_left] = trap
        _SPARE_TRAP_BYTES[_spares_left] = _POINTER.pack(trap)
        _spares_left += 1


_refill_spare_traps()


def _async_call(env: int | None, _caller: int | None, args: int | None, _nargs: int,
                results: int | None, _nresults: int, trap_ret: int | None,
                continuation_ret: int | None) -> None:
    """A may_block import was called: record it and answer "not yet".

    The body of the ctypes callback :data:`_on_async_call`, a plain function of its own
    so that the compiled build can type its locals (it is ``cpdef`` there): wasmtime
    calls it through the callback, with no call more than a decorated function would take.
    """
    # wasmtime aborts the process if no continuation is filled in, so one
    # always is: "pending" normally, "ready" (with a trap set) on any failure.
    global _spares_left
    continuation = _READY
    inflight = _polling
    imp = None
    try:
        try:  # the import env stands for (a subscript: no call on the hot path)
            imp = _imports[env or 0]()
        except KeyError:
            imp = None
        if inflight is None or imp is None:
            what = "an unknown import" if imp is None else f"{imp.module}.{imp.name}"
            raise RuntimeError(f"{what} was called outside stackswitch.wasm.fibers.call")
        params = imp.params  # the arguments wasmtime stored (the hot path of every blocking import)
        inflight.args = params.unpack_from(_HOST, args or 0) if params.count else ()
        if imp.on_fiber is not None and _answer_on_fiber(imp, inflight, results or 0,
                                                         trap_ret or 0):
            inflight.args = ()
            _HOST[continuation_ret or 0:(continuation_ret or 0) + _CONTINUATION_SIZE] = _READY
            return
        inflight.imp = imp
        inflight.results_at = results or 0
        inflight.trap_at = trap_ret or 0
        inflight.state = _REQUESTED
        inflight.buffer[_READY_AT] = 0
        continuation = inflight.pending
    except BaseException as e:
        if inflight is not None and inflight.exc is None:
            inflight.exc = e  # inflight.record(e), inline: see _SPARE_TRAPS
        try:
            _write_pointer(trap_ret or 0, capi.new_trap(f"stackswitch: {e}"))
        except BaseException:  # (no calls here: see _SPARE_TRAPS)
            if _spares_left:
                _spares_left -= 1
                _HOST[(trap_ret or 0):(trap_ret or 0) + 8] = _SPARE_TRAP_BYTES[_spares_left]
    _HOST[continuation_ret or 0:(continuation_ret or 0) + _CONTINUATION_SIZE] = continuation


_on_async_call = capi.ASYNC_CALLBACK(_async_call)
"""The host function of every may_block import: :func:`_async_call` as a wasmtime callback."""


def _answer_on_fiber(imp: _Import, inflight: _InFlight, results: int, trap_ret: int) -> bool:
    """Try ``imp.on_fiber`` right here, on the fiber, with switching forbidden.

    True if it answered: its results (or the trap its exception makes, as
    :func:`_fail` would make it) are stored and wasm goes on at once, with no
    suspension and no poll. False if it returned :data:`WOULD_BLOCK`, which it
    does before any side effect: the request then takes the usual path.
    """
    global _fiber_depth
    token = stacks.forbidden  # stacks.forbid_switching, inline (as is its undoing below)
    stacks.forbidden = _FORBIDDEN
    _fiber_depth += 1
    try:
        result = imp.on_fiber(*inflight.args)  # type: ignore[misc]
        if result is WOULD_BLOCK:
            return False
        imp.results.store(results, result)
    except BaseException as e:
        inflight.record(e)
        _write_pointer(trap_ret, capi.new_trap(imp.trap_message(e)))
    finally:
        _fiber_depth -= 1
        stacks.forbidden = token
    return True


def _sync_call(env: int | None, _caller: int | None, args: int | None, _nargs: int,
               results: int | None, _nresults: int) -> int:
    """A may_block=False import was called: run its handler right here, on the fiber.

    The body of the ctypes callback :data:`_on_sync_call`, a plain function for the
    same reason as :func:`_async_call`.
    """
    global _fiber_depth, _spares_left
    token = stacks.forbidden  # stacks.forbid_switching, inline (as is its undoing below)
    stacks.forbidden = _FORBIDDEN
    _fiber_depth += 1
    imp = None
    try:
        try:  # the import env stands for (a subscript: no call on the hot path)
            imp = _imports[env or 0]()
        except KeyError:
            imp = None
        if imp is None:
            raise RuntimeError("an unknown import was called")
        params = imp.params  # the arguments wasmtime stored (the hot path of every cheap import)
        result = imp.handler(*(params.unpack_from(_HOST, args or 0) if params.count else ()))
        codec = imp.results
        # codec.store(results, result), but for no results its early exit is inline: an
        # import with none (join, drop, task.return) returning None or [] writes nothing
        if codec.count or not (result is None or (type(result) is list and not result)):
            codec.store(results or 0, result)
        return 0
    except BaseException as e:
        inflight = _polling
        if imp is not None and inflight is not None and inflight.exc is None:
            inflight.exc = e  # inflight.record(e), inline: see _SPARE_TRAPS
        try:
            return capi.new_trap(f"stackswitch: {e}" if imp is None else imp.trap_message(e))
        except BaseException:  # (no calls here: see _SPARE_TRAPS)
            if _spares_left:
                _spares_left -= 1
                return _SPARE_TRAPS[_spares_left]
            return 0
    finally:
        _fiber_depth -= 1
        stacks.forbidden = token


_on_sync_call = capi.SYNC_CALLBACK(_sync_call)
"""The host function of every may_block=False import: :func:`_sync_call` as a wasmtime callback."""


_NO_FINALIZER = ctypes.cast(None, capi.FINALIZER)
"""A null finalizer: see :func:`_forgetter` for why none is given to wasmtime."""


def _forgetter(env: int) -> Callable[[weakref.ref[_Import]], None]:
    """The weakref callback that drops ``env``'s entry once its import is gone.

    Not a wasmtime finalizer: wasmtime would call that from C while it frees a
    store, which at interpreter shutdown happens after Python can no longer take
    calls from C (the process crashed on exit with a segmentation fault).
    """
    def forget(_ref: weakref.ref[_Import]) -> None:
        try:
            _imports.pop(env, None)
        except BaseException:  # during interpreter shutdown the dict may be gone
            pass
    return forget


# -- defining imports ---------------------------------------------------------


_kept_forever: list[_Import] = []
"""Imports defined without a store to hold them (see :func:`define_import`)."""


class StoreState:
    """What :func:`call` must know about a wasmtime store: whether it holds a blocking import.

    ``blocking`` becomes true for good when a ``may_block=True`` import is
    defined for the store, or a linker holding one instantiates into it
    (:func:`instantiate`; wasmtime then requires async calls into it); until
    then every call into the store may be a plain one (see :func:`call`).
    """

    __slots__ = ("blocking", "plain")

    def __init__(self, wasm_stack: int | None = None) -> None:
        self.blocking = False
        self.plain = wasm_stack is not None and wasm_stack <= PLAIN_WASM_STACK
        """May calls run plain at all: the engine's wasm stack is known and small
        (:data:`PLAIN_WASM_STACK`); a plain call also needs the main thread."""


def store_state(store: wasmtime.Store) -> StoreState:
    """``store``'s :class:`StoreState`, made on first use."""
    state = store.__dict__.get("_stackswitch_state")
    if state is None:
        wasm_stack = getattr(store.engine, "_stackswitch_wasm_stack", None)
        state = store.__dict__["_stackswitch_state"] = StoreState(wasm_stack)
    return state


def _keep_for(store: wasmtime.Store | None, imp: _Import) -> None:
    """``store`` may call ``imp`` for as long as it lives: it holds it."""
    kept = _kept_forever if store is None else store.__dict__.setdefault("_stackswitch_imports", [])
    kept.append(imp)


def define_import(linker: wasmtime.Linker, module: str, name: str, functype: wasmtime.FuncType,
                  handler: Handler, *, may_block: bool, store: wasmtime.Store | None = None,
                  on_fiber: Handler | None = None) -> None:
    """Define ``module.name`` in ``linker`` as a call of ``handler(*args)``.

    ``store``, the only store ``linker`` will instantiate into, keeps the
    handler alive for as long as it lives; without one the handler is kept for
    the life of the process (and so is everything it refers to).

    ``handler`` gets the core arguments as Python numbers and returns
    ``None``, one number, or a sequence of numbers. With ``may_block=True``
    it runs on the calling task's greenlet outside the fiber and may block
    (``stacks.suspend``) and call other wasm; with ``may_block=False`` it runs
    on the fiber, costs less, and must not block.

    ``on_fiber`` (with ``may_block=True`` only) is the same import's fast
    path: tried first, on the fiber, where no stack may switch. It returns
    what ``handler`` would, or :data:`WOULD_BLOCK` *before any side effect*
    if it would have to block; ``handler`` then runs as usual. An answer on
    the fiber costs one callback, like a ``may_block=False`` import; a
    blocked request costs a suspension and a poll more.
    """
    if on_fiber is not None and not may_block:
        raise ValueError("on_fiber is the fast path of a may_block import")
    imp = _Import(module, name, handler, CoreCodec.of(functype.params),
                  CoreCodec.of(functype.results), may_block, on_fiber)
    env = next(_next_env)
    _imports[env] = weakref.ref(imp, _forgetter(env))
    _keep_for(store, imp)
    if may_block:  # whatever store the linker instantiates into (see instantiate)
        linker.__dict__["_stackswitch_blocking"] = True
        if store is not None:
            store_state(store).blocking = True
    mod, nm = module.encode("utf-8"), name.encode("utf-8")
    args = (capi.address(linker.ptr()), mod, len(mod), nm, len(nm), capi.address(functype.ptr()))
    if may_block:
        error = capi.linker_define_async_func(*args, _on_async_call, env, _NO_FINALIZER)
    else:
        error = capi.linker_define_func(*args, _on_sync_call, env, _NO_FINALIZER)
    if error:
        _imports.pop(env, None)
        raise wasmtime.WasmtimeError(capi.take_error_message(error))


# -- driving calls --------------------------------------------------------------


def _answer(inflight: _InFlight) -> bool:
    """Run the pending may_block handler on this greenlet and store its outcome.

    False if the handler raised :class:`Park`: the call stays suspended.
    """
    imp = inflight.imp
    assert imp is not None
    # The handler may switch away, and then a greenlet of the embedder's (neither a
    # continuation's, kept alive by its own frames, nor a thread's main greenlet) could
    # be dropped on a fiber: see stacks.hold_current.
    held = stacks._current is None and _getcurrent().parent is not None
    if held:
        _hold_current()
    try:
        result = imp.handler(*inflight.args)
    except Park:
        return False
    except BaseException as e:  # GreenletExit too: the wasm must unwind either way
        _fail(inflight, e)
        return True
    finally:
        if held:
            _let_go_current()
    try:  # _reply, inline (once per blocking import)
        imp.results.store(inflight.results_at, result)
    except BaseException as e:
        _fail(inflight, e)
        return True
    inflight.buffer[_READY_AT] = 1  # _answered, inline
    inflight.state = _ANSWERED
    inflight.imp = None
    inflight.args = ()
    return True


_getcurrent = greenlet.getcurrent
_hold_current = stacks.hold_current
_let_go_current = stacks.let_go_current


def _reply(inflight: _InFlight, result: Any) -> None:
    """Store the import's results where wasmtime reads them once the fiber resumes, and
    set the ready flag. The suspended fiber's result slots stay valid until then."""
    imp = inflight.imp
    assert imp is not None
    try:
        imp.results.store(inflight.results_at, result)
    except BaseException as e:
        _fail(inflight, e)
        return
    _answered(inflight)


def _fail(inflight: _InFlight, exc: BaseException) -> None:
    """The import traps when the fiber resumes: a trap in its trap slot, the flag set."""
    imp = inflight.imp
    assert imp is not None
    inflight.record(exc)
    _write_pointer(inflight.trap_at, capi.new_trap(imp.trap_message(exc)))
    _answered(inflight)


def _answered(inflight: _InFlight) -> None:
    inflight.buffer[_READY_AT] = 1
    inflight.state = _ANSWERED
    inflight.imp = None
    inflight.args = ()


def _drive(future: int, inflight: _InFlight) -> bool:
    """Poll ``future`` from this greenlet until it is done (True) or parked (False).

    ``_polling`` is set only for the duration of each poll, never across a
    handler: handlers may switch greenlets, and other greenlets poll too.
    """
    global _polling
    outer = _polling
    try:
        while True:
            _polling = inflight
            done = _poll(future)  # cannot raise: the callbacks catch everything
            _polling = outer
            if _pending is not None and outer is None:
                _raise_pending()
            if done:
                return True
            trace.counts["suspensions"] += 1
            if inflight.state != _REQUESTED:
                raise RuntimeError("wasm yielded with no pending import "
                                   "(fuel and epoch yields are not supported)")
            if not _answer(inflight):
                return False
    finally:
        _polling = outer


THROWN = "thrown Wasm exception"
"""wasmtime's error for a wasm exception that left the function it called."""

UNCAUGHT_EXCEPTION = f"wasm trap: uncaught exception propagated out of component ({THROWN})"
"""An exception may not cross a component boundary: it is a trap there (wasmtime's
``UncaughtException`` words, with the error its async path reports, which its tests expect)."""


def _root_cause(message: str) -> tuple[str, str]:
    """Split wasmtime's "error while executing ... Caused by: X" into (X, backtrace)."""
    head, sep, tail = message.partition("\nCaused by:\n")
    if not sep:
        return message.strip(), ""
    cause = "\n".join(line.strip() for line in tail.strip().splitlines())
    return cause, head.strip()


def _outcome(inflight: _InFlight) -> BaseException | None:
    """What the finished call raises: the handler's exception, a Trap, or nothing."""
    trap, error = _TRAP_AND_ERROR.unpack_from(inflight.buffer)
    if not (trap or error):
        return None
    if _spares_left < SPARE_TRAPS:  # a callback may have taken one for this trap
        try:
            _refill_spare_traps()
        except BaseException:  # noqa: S110 (this call's outcome comes first: refilled next time)
            pass
    message = capi.take_trap_message(trap) if trap else ""
    if error:
        message = message or capi.take_error_message(error)
        if trap:
            capi.error_delete(error)
    if inflight.exc is not None:
        return inflight.exc
    cause, backtrace = _root_cause(message)
    if cause == THROWN:
        cause = UNCAUGHT_EXCEPTION
    if trap or cause.startswith("wasm trap:"):
        exc: BaseException = Trap(cause)
        if backtrace:
            exc.add_note(backtrace)
            exc.wasm_frames = wasm_backtrace.parse(backtrace)  # type: ignore[attr-defined]
        return exc
    return wasmtime.WasmtimeError(message)


def _as_trap(exc: BaseException | None) -> BaseException | None:
    """Anything else wasmtime reports about a guest *call* (it could not allocate a
    stack, an exception was thrown out of wasm ...) ends the guest too: a trap in
    wasmtime's words, never a WasmtimeError out of the runtime."""
    if type(exc) is wasmtime.WasmtimeError:
        cause, backtrace = _root_cause(str(exc))
        trap = Trap(f"wasm trap: {cause}")
        if backtrace:
            trap.add_note(backtrace)
        return trap
    return exc


class WasmFunc:
    """A wasm function bound to its store, with its signature decoded once."""

    __slots__ = ("store", "func", "name", "params", "results", "_context", "_address", "_spare",
                 "_plain", "state", "raw_count", "buffer_bytes")

    def __init__(self, store: wasmtime.Store, func: wasmtime.Func, name: str = "") -> None:
        functype = func.type(store)
        self.store = store  # both kept alive: their addresses are used below
        self.func = func
        self.name = name
        self.params = CoreCodec.of(functype.params)
        self.results = CoreCodec.of(functype.results)
        self._context = capi.address(store._context())
        self._address = ctypes.addressof(func._func)
        self._spare: list[_InFlight] = []
        """Buffers of ended calls on fibers, for the next ones."""
        self._plain: _InFlight | None = None
        """The buffer of plain calls (:func:`_call_plain`), None while one runs: they do
        not nest (see there), so one is enough and takes no list operation."""
        self.state = store_state(store)
        self.raw_count = max(self.params.count, self.results.count)
        """``wasmtime_val_raw_t``s a plain call passes: arguments in, results out."""
        self.buffer_bytes = max(self.results.size, capi.RAW_SIZE * self.raw_count)
        """Bytes after an :class:`_InFlight`'s header: room for either layout."""

    def __repr__(self) -> str:
        sig = f"{list(self.params.types)} -> {list(self.results.types)}"
        return f"<WasmFunc {self.name or '?'} {sig}>"

    def __call__(self, *args: Value) -> list[Value]:
        return call(self, args)


def export(store: wasmtime.Store, instance: wasmtime.Instance, name: str) -> WasmFunc:
    """``instance``'s exported function ``name``, ready for :func:`call`."""
    func = instance.exports(store)[name]
    if not isinstance(func, wasmtime.Func):
        raise TypeError(f"export {name!r} is a {type(func).__name__}, not a function")
    return WasmFunc(store, func, name)


def call(func: WasmFunc, args: Sequence[Value] = ()) -> list[Value]:
    """Run ``func(*args)`` on a fiber, driven from the current greenlet; its results.

    Blocking imports it calls run on this greenlet, so this may suspend the
    current continuation any number of times. A trap raises
    :class:`~stackswitch.errors.Trap`; an exception raised by a handler is
    re-raised here once the wasm has unwound. If a handler raises
    :class:`Park`, this raises :class:`ParkedCall` instead, leaving the call
    suspended on its fiber.
    """
    global _live
    if _live >= _max_live:  # (before the plain path too: the limit traps the same way)
        _check_fiber_available()
    state = func.state
    if not state.blocking and state.plain and not _fiber_depth and _get_ident() == _MAIN_THREAD:
        return _call_plain(func, args)
    params = func.params
    data = params.pack(args) if params.count or args else None
    spare = func._spare
    inflight = spare.pop() if spare else _InFlight(func.buffer_bytes)
    base = inflight.address
    inflight.buffer[:_RESULTS_AT] = _NO_FAILURE
    future = _call_async(func._context, func._address, data, params.count,
                         base + _RESULTS_AT, func.results.count, base, base + 8)
    _live += 1
    return _finish(func, future, inflight)


_func_call_unchecked = capi.func_call_unchecked
_get_ident = threading.get_ident
_MAIN_THREAD = threading.main_thread().ident


def _call_plain(func: WasmFunc, args: Sequence[Value]) -> list[Value]:
    """:func:`call` for a store with no blocking import: one ``wasmtime_func_call_unchecked``,
    no fiber.

    Equal to the async path, whose fiber would never suspend: without a
    may_block import nothing can request a suspension, and the only Python
    code that runs while the wasm frames are live is ``may_block=False``
    handlers (:func:`_on_sync_call`), which run with stack switching
    forbidden. So the frames, here on the calling greenlet's own stack, are
    popped before this greenlet can switch: wasmtime's chain of activations
    stays LIFO (the hazard of ``wasmtime-stacks.md`` §1 needs a switch while
    they are live). Outcomes are read as the async path reads them: the trap
    pointer at the start of the call's buffer, the returned error after it.

    Unchecked (wasmtime skips its type check of the arguments, about 0.5 µs of
    the 1 µs a checked call costs): the arguments are packed by the function's
    own signature (:meth:`CoreCodec.pack_raw_into`, which checks each value as
    the tagged path does), and every signature here is numeric (``CoreCodec``
    refuses reference types), so wasmtime gets exactly what it would have
    checked.

    Only taken on the main thread, with an engine whose wasm stack is small
    (:attr:`StoreState.plain`: wasm that recursed past the end of a small
    native stack would crash the process instead of trapping), and from a
    greenlet's own stack (no plain handler running, ``_fiber_depth == 0``): a
    call made from a handler on a fiber still gets a fiber of its own, so that
    nested calls do not pile up on one fiber's fixed-size stack, where host
    code overflowing aborts the process.

    So plain calls of one function never nest (while one runs, only handlers
    on the fiber run Python, and a call from them takes a fiber): its buffer is
    kept in :attr:`WasmFunc._plain`, not in the list of spares.
    """
    global _polling
    inflight = func._plain
    if inflight is None:  # the first plain call of func (or one nested in another): a new one
        inflight = _InFlight(func.buffer_bytes)
    else:
        func._plain = None
    buffer = inflight.buffer
    if func.params.count or args:
        try:
            func.params.pack_raw_into(buffer, _RESULTS_AT, args)
        except BaseException:
            func._plain = inflight
            raise
    base = inflight.address
    buffer[:_RESULTS_AT] = _NO_FAILURE
    outer = _polling
    _polling = inflight
    try:
        error = _func_call_unchecked(func._context, func._address, base + _RESULTS_AT,
                                     func.raw_count, base)
    finally:
        _polling = outer
    try:
        if error:
            _POINTER.pack_into(buffer, 8, error)
        if _pending is not None and outer is None:
            _raise_pending()
        if buffer[:_READY_AT] == _NO_TRAP_OR_ERROR:  # (a slice: no call)
            return list(func.results.raw_unpack_from(buffer, _RESULTS_AT))
        exc = _as_trap(_outcome(inflight))
    finally:
        if inflight.exc is not None:
            inflight.clear()
        func._plain = inflight
    raise exc


def _finish(func: WasmFunc, future: int, inflight: _InFlight) -> list[Value]:
    """Drive a started call to its end: its results, or its exception; or park it."""
    global _live
    parked = False
    try:
        if not _drive(future, inflight):
            parked = True
            trace.counts["parks"] += 1
            raise ParkedCall(func, future, inflight)
        buffer = inflight.buffer
        if buffer[:_READY_AT] == _NO_TRAP_OR_ERROR:  # (a slice: no call)
            return func.results.load_from(buffer, _RESULTS_AT)
        exc = _as_trap(_outcome(inflight))
    finally:
        if not parked:
            _delete(future)
            _live -= 1
            if inflight.state != _IDLE or inflight.exc is not None:
                inflight.clear()
            func._spare.append(inflight)
        if _abandoned and _polling is None and not _fiber_depth:
            _delete_all_abandoned()
    raise exc


class Park(Exception):  # noqa: N818 (a request, not an error)
    """Raised by a may_block handler: leave this call suspended on its fiber.

    :func:`call` then raises :class:`ParkedCall`, and whoever holds that
    answers the handler later and resumes the call. This lets a driver with
    no stack of its own (the callback strategy) wait without a greenlet: the
    wasm frames stay on wasmtime's fiber.
    """


class ParkedCall(Exception):  # noqa: N818 (a state handed up, not an error)
    """A call suspended on its fiber at a may_block import whose handler parked it.

    Give the import its outcome with :meth:`answer` or :meth:`fail`, then
    :meth:`resume` the call, which returns its results like :func:`call`
    (or raises ``ParkedCall`` again). The call holds its fiber until then.
    """

    def __init__(self, func: WasmFunc, future: int, inflight: _InFlight) -> None:
        imp = inflight.imp
        where = f"{imp.module}.{imp.name}" if imp is not None else "an import"
        super().__init__(f"call of {func.name or 'a wasm function'} parked at {where}")
        self.func, self.future, self.inflight = func, future, inflight
        self._open = True
        """Does this object still own the suspended call (not resumed, not closed)?"""

    def answer(self, result: Any) -> None:
        """The import returns ``result`` (None, a number, or a sequence) when resumed."""
        _reply(self.inflight, result)

    def fail(self, exc: BaseException) -> None:
        """The import traps with ``exc`` when resumed; :meth:`resume` re-raises it."""
        _fail(self.inflight, exc)

    def resume(self) -> list[Value]:
        if not self._open:
            raise RuntimeError(f"{self}: already resumed or closed")
        if self.inflight.state != _ANSWERED:
            raise RuntimeError(f"{self}: resumed before its import was answered")
        self._open = False  # the call is _finish's now: ended, or parked in a new ParkedCall
        return _finish(self.func, self.future, self.inflight)

    def close(self) -> None:
        """Abandon the call: its fiber is unwound and given back, and with it the trap
        :meth:`fail` left in its import (wasmtime frees it with the call). Called when
        the object is dropped unresumed. While wasm runs (in a poll, or in a handler on
        a fiber) the call is only put aside, and deleted once the outermost call ends.
        """
        if not self._open:
            return
        self._open = False
        try:
            self.func.store.ptr()
        except ValueError:  # store closed first (a cycle's finalizers run in any order):
            return  # deleting the call now would use freed memory
        if polling():
            _abandoned.append((self.future, self.inflight))
        else:
            _delete_abandoned(self.future)

    def __del__(self) -> None:
        try:
            self.close()
        except BaseException:  # noqa: S110 (at interpreter exit the module may be gone)
            pass


_abandoned: list[tuple[int, _InFlight]] = []
"""Parked calls dropped while wasm ran (with the buffer wasmtime may still write to):
deleted after the outermost call."""


def _delete_abandoned(future: int) -> None:
    global _live
    _delete(future)
    _live -= 1


def _delete_all_abandoned() -> None:
    while _abandoned:
        _delete_abandoned(_abandoned.pop()[0])


def instantiate(linker: wasmtime.Linker, store: wasmtime.Store,
                module: wasmtime.Module) -> wasmtime.Instance:
    """Instantiate ``module`` through the async path (needed once async imports exist).

    A start function runs like :func:`call`: it may call blocking imports.
    """
    global _live
    if linker.__dict__.get("_stackswitch_blocking"):
        store_state(store).blocking = True
    _check_fiber_available()
    instance = capi.InstanceStruct()
    inflight = _InFlight(0)
    base = inflight.address
    future = capi.linker_instantiate_async(
        capi.address(linker.ptr()), capi.address(store._context()), capi.address(module.ptr()),
        ctypes.addressof(instance), base, base + 8)
    _live += 1
    try:
        if not _drive(future, inflight):
            raise RuntimeError("a core start function cannot be parked")
        exc = _outcome(inflight)
    finally:
        _delete(future)
        _live -= 1
        inflight.clear()
    if exc is not None:
        raise exc
    return wasmtime.Instance._from_raw(instance)
