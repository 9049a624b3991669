"""Driving one instance of an asyncified module: the unwind/rewind controls and the buffers.

:class:`Asyncify` wraps the ``asyncify_*`` exports binaryen adds (or, for a
``relocatable`` module, the two globals it imports) and hands out the buffers
suspended stacks are unwound into. Every call into the instance goes through
:func:`stackswitch.wasm.fibers.call`.

Facts about binaryen (checked with Debian's wasm-opt 108, and the npm
package's 132):

* The buffer is ``[i32 current, i32 end]`` then the data area. Unwinding
  pushes each frame's call index and live locals from ``current`` upwards;
  rewinding pops them back down, so a finished rewind leaves ``current`` at
  the start of the data area again.
* Nothing is bounds-checked while unwinding: a stack bigger than the data area
  is written *past* ``end``, and only ``asyncify_stop_unwind`` (and the two
  ``start`` functions) trap with ``unreachable`` when ``current > end``.
  :meth:`Asyncify.stop_unwind` reads the header first and reports
  :class:`UnwindOverflow` with the size that was needed; the bytes after the
  buffer are already overwritten by then, so the instance must be treated as
  trapped.
* Only wasm locals are saved. A C guest's frames in linear memory (its
  shadow stack, below the ``__stack_pointer`` global) stay where they are,
  and the stack pointer is shared by every task of the instance: two tasks
  suspended at once and resumed out of order overwrite each other's stack
  arrays unless each has a shadow stack of its own
  (``tests/test_asyncify.py`` pins this).
"""

from __future__ import annotations

import ctypes
import struct
from collections.abc import Callable

import wasmtime

from stackswitch.errors import Trap
from stackswitch.wasm import capi, fibers
from stackswitch.wasm.core_values import CoreCodec
from stackswitch.wasm.wasmtime_memory import WasmMemory

from .conventions import ASYNCIFY_EXPORTS, AsyncifyError, State

PAGE_SIZE = 65536
HEADER_SIZE = 8
"""``[i32 current, i32 end]`` at the start of every unwind buffer (wasm32 layout)."""

BUFFER_ALIGN = 16

DEFAULT_DATA_SIZE = 16 * 1024 - HEADER_SIZE
"""Bytes of saved stack per buffer: header and data fill 16 KiB, four buffers to a page."""

_HEADER = struct.Struct("<II")
_U32 = struct.Struct("<I")
_HOST = capi.HOST
_I32 = CoreCodec(["i32"])  # one wasmtime_val_t holding an i32, for raw global sets
_STATE_VALUES = {state: _I32.pack([int(state)]) for state in State}
"""Each state as the packed value a raw global set takes: built once, set on every transition."""


class UnwindOverflow(Trap):
    """A guest's stack did not fit its unwind buffer; the memory after the buffer is overwritten.

    A :class:`~stackswitch.errors.Trap`: the instance cannot be trusted any
    more (the overflow may have clobbered another task's buffer or guest
    data), so the runtime must poison it as it does for any trap.
    """


class Asyncify:
    """The unwind/rewind controls and the unwind buffers of one asyncified instance.

    Every call into the instance goes through :func:`fibers.call` (stores
    with async host functions refuse plain calls). :meth:`state` is tracked
    on the host side, without a call: only the four ``start``/``stop``
    exports change binaryen's state, and all of them go through this object
    (:func:`~callback_abi.asyncify.asyncify` refuses modules that drive
    asyncify themselves). :meth:`guest_state` asks the guest.

    **Where the buffers live.** By default the host grows the guest's memory
    by whole pages (``memory.grow`` from outside, as wasmtime's
    ``Memory.grow`` does) and cuts them into buffers of ``8 + data_size``
    bytes (rounded up to 16), kept on a free list: a finished task's buffer
    goes to the next one, and the pages are never given back. The guest never
    learns of these pages. That is safe exactly when the guest's allocator
    takes fresh memory only from what *its own* ``memory.grow`` returns (the
    old size): wasi-libc's ``sbrk`` (and so its malloc), Rust's std
    allocator, zig's wasm page allocator all do, and then a page the host
    grew is simply a gap below the guest's next growth; pages that existed at
    instantiation (data, stack, the initial heap) are never handed out. It is
    **not** safe when the allocator assumes it owns everything up to
    ``memory.size``: e.g. a bump pointer that only grows memory once it
    passes ``memory.size`` (``examples/c/blocking.c``'s ``cabi_realloc``),
    emscripten's ``sbrk``, TinyGo's heap. Such a guest would hand our pages
    out again. For those pass ``allocate``: a function returning the guest
    address of ``n`` fresh bytes from the guest's own allocator (e.g. a call
    of its ``cabi_realloc(0, 0, 16, n)``); buffers from it are never freed,
    only reused. Either way the pages count against the memory's maximum.

    **Overflow.** binaryen does not check bounds while unwinding; a stack
    that does not fit overwrites the memory after the buffer.
    :meth:`stop_unwind` detects it (``current > end``) and raises
    :class:`UnwindOverflow`; from then on this object refuses to work.
    """

    def __init__(self, store: wasmtime.Store, instance: wasmtime.Instance, *,
                 what: str = "the module", memory: wasmtime.Memory | None = None,
                 data_size: int = DEFAULT_DATA_SIZE,
                 allocate: Callable[[int], int] | None = None,
                 globals_: tuple[wasmtime.Global, wasmtime.Global] | None = None) -> None:
        if data_size <= 0 or data_size % 4:
            raise ValueError(f"data_size must be a positive multiple of 4, not {data_size}")
        self.what = what
        self.data_size = data_size
        exports = instance.exports(store)
        missing = [name for name in ASYNCIFY_EXPORTS if name not in exports]
        if missing:
            raise AsyncifyError(f"{what} has no export {', '.join(missing)}: "
                                "was it transformed with asyncify()?")
        self._start_unwind = fibers.export(store, instance, "asyncify_start_unwind")
        self._stop_unwind = fibers.export(store, instance, "asyncify_stop_unwind")
        self._start_rewind = fibers.export(store, instance, "asyncify_start_rewind")
        self._stop_rewind = fibers.export(store, instance, "asyncify_stop_rewind")
        self._get_state = fibers.export(store, instance, "asyncify_get_state")
        if memory is None:
            memory = self._exported_memory(store, instance)
        self.memory = WasmMemory(store, memory)
        if self.memory.ptr_type != "i32":
            raise AsyncifyError(f"{what}'s memory is 64-bit; unwind buffers need a 32-bit one")
        self._allocate = allocate
        self._globals = None
        if globals_ is not None:
            # A relocatable module: its state and data globals are ours to set.
            # Two raw global sets cost about a microsecond; each call of an
            # asyncify_* export is a fresh fiber (2.5 us, and often a new stack).
            context = capi.address(store._context())
            addresses = tuple(ctypes.addressof(g._global) for g in globals_)
            self._globals = (context, *addresses)
            self._keep = (store, globals_)  # the addresses above live as long as these
        self._memory_at = (capi.address(store._context()), ctypes.addressof(memory._memory))
        """(context, memory) for :func:`capi.memory_data`: the header reads of the hot path."""
        self._stride = -(-(HEADER_SIZE + data_size) // BUFFER_ALIGN) * BUFFER_ALIGN
        self._state = State.NORMAL
        self._active: int | None = None  # the buffer being unwound into / rewound from
        self._free: list[int] = []
        self._saved: dict[int, int] = {}  # buffer in use -> bytes of stack it holds
        self._fresh: set[int] = set()
        """Buffers whose header is known to read ``[data, data + data_size]``: written by
        us, or left so by a rewind :meth:`stop_rewind` checked. They need no header
        write before the next unwind."""
        self._data_global: int | None = None
        """What the data global holds (relocatable only; None: unknown). Only this object
        sets it, so a start with the same buffer needs no global set."""
        self._broken: str | None = None

    def _exported_memory(self, store: wasmtime.Store, instance: wasmtime.Instance
                         ) -> wasmtime.Memory:
        exports = instance.exports(store)
        preferred = exports.get("memory")
        if isinstance(preferred, wasmtime.Memory):
            return preferred
        for item in exports.values():
            if isinstance(item, wasmtime.Memory):
                return item
        raise AsyncifyError(f"{self.what} exports no memory: pass the memory it imports "
                            "(Asyncify(..., memory=...))")

    def __repr__(self) -> str:
        return (f"<Asyncify {self.what} {self._state.name} buffers: {len(self._saved)} in use, "
                f"{len(self._free)} free, {self.data_size} data bytes each>")

    # -- state --------------------------------------------------------------------

    def state(self) -> State:
        """NORMAL, UNWINDING or REWINDING, as the host last set it (no call into wasm)."""
        return self._state

    def guest_state(self) -> State:
        """The guest's own ``__asyncify_state`` (a call of ``asyncify_get_state``)."""
        return State(fibers.call(self._get_state)[0])

    def _check(self, expected: State, doing: str) -> None:
        if self._broken is not None:
            raise UnwindOverflow(self._broken)
        if self._state != expected:
            raise AsyncifyError(f"{self.what}: {doing} while {self._state.name.lower()} "
                                f"(needs {expected.name.lower()})")

    def _buffer(self, buf: int, doing: str) -> None:
        if buf not in self._saved:
            raise ValueError(f"{self.what}: {doing}: {buf:#x} is not a buffer in use "
                             "(from new_buffer() and not freed)")

    # -- the four transitions -------------------------------------------------------

    def start_unwind(self, buf: int) -> None:
        """Start unwinding into ``buf``; call it from the blocking import, then return any value."""
        if self._broken is not None or self._state is not State.NORMAL:
            self._check(State.NORMAL, "start_unwind")
        if buf not in self._saved:
            self._buffer(buf, "start_unwind")
        if buf not in self._fresh:
            data = buf + HEADER_SIZE
            self.memory.write(buf, _HEADER.pack(data, data + self.data_size))
        self._fresh.discard(buf)
        self._transition(self._start_unwind, State.UNWINDING, buf)
        self._state, self._active = State.UNWINDING, buf

    def stop_unwind(self) -> int:
        """The export has returned after unwinding: back to normal; the bytes of stack saved.

        Raises :class:`UnwindOverflow` if the stack did not fit, and
        :class:`AsyncifyError` if nothing was saved (the import that started
        the unwind was not instrumented: missing from ``imports``).
        """
        if self._broken is not None or self._state is not State.UNWINDING:
            self._check(State.UNWINDING, "stop_unwind")
        buf = self._active
        assert buf is not None
        data = buf + HEADER_SIZE
        used = self._current(buf) - data
        if used > self.data_size:
            end = data + self.data_size
            self._broken = (
                f"{self.what}: unwind buffer overflow: the suspended stack needed {used} bytes "
                f"but the buffer at {buf:#x} holds {self.data_size} (data_size); the "
                f"{used - self.data_size} bytes after it were overwritten, so this instance "
                "can no longer be trusted; use a larger data_size")
            self.memory.write(buf, _HEADER.pack(end, end))  # so the guest's own check passes
            self._transition(self._stop_unwind, State.NORMAL)
            self._state, self._active = State.NORMAL, None
            raise UnwindOverflow(self._broken)
        self._transition(self._stop_unwind, State.NORMAL)
        self._state, self._active = State.NORMAL, None
        if used <= 0:
            raise AsyncifyError(
                f"{self.what}: the unwind saved nothing: no instrumented function was on the "
                "stack, so the import that started it was not among asyncify()'s imports")
        self._saved[buf] = used
        return used

    def start_rewind(self, buf: int) -> None:
        """Rewind from ``buf``; then call the export that unwound, with the same arguments."""
        if self._broken is not None or self._state is not State.NORMAL:
            self._check(State.NORMAL, "start_rewind")
        if not self._saved.get(buf):
            self._buffer(buf, "start_rewind")
            raise ValueError(f"{self.what}: start_rewind: buffer {buf:#x} holds no unwound stack")
        self._transition(self._start_rewind, State.REWINDING, buf)
        self._state, self._active = State.REWINDING, buf

    def stop_rewind(self) -> None:
        """The blocking import was reached again: normal execution resumes from here."""
        if self._broken is not None or self._state is not State.REWINDING:
            self._check(State.REWINDING, "stop_rewind")
        buf = self._active
        assert buf is not None
        current = self._current(buf)
        self._transition(self._stop_rewind, State.NORMAL)
        self._state, self._active = State.NORMAL, None
        self._saved[buf] = 0
        if current != buf + HEADER_SIZE:
            raise AsyncifyError(
                f"{self.what}: rewind reached the import with {current - buf - HEADER_SIZE} "
                "bytes of saved stack left: the export called to rewind is not the one "
                "that unwound into this buffer")
        self._fresh.add(buf)  # the rewind left the header as start_unwind writes it

    def _current(self, buf: int) -> int:
        """The header's ``current`` of ``buf``, read in place.

        Equal to ``memory.read(buf, 4)`` without its bounds check: a buffer lies
        inside the memory (checked when it was made) and a memory never shrinks.
        """
        base = capi.memory_data(*self._memory_at) or 0
        return _U32.unpack_from(_HOST, base + buf)[0]

    def _transition(self, export: fibers.WasmFunc, state: State, buf: int | None = None) -> None:
        """Set binaryen's state (and buffer): by calling its export, or directly if relocatable.

        Relocatable: the data global is set only when it does not already hold
        ``buf`` (a task waiting again unwinds into the same buffer).
        """
        if self._globals is None:
            fibers.call(export, () if buf is None else (buf,))
            return
        context, state_global, data_global = self._globals
        if buf is not None and buf != self._data_global:
            capi.global_set(context, data_global, _I32.pack([buf]))
            self._data_global = buf
        capi.global_set(context, state_global, _STATE_VALUES[state])

    # -- buffers --------------------------------------------------------------------

    def new_buffer(self) -> int:
        """A buffer for one task's stack (its guest address): reused if one is free, else new."""
        if not self._free:
            self._free.extend(reversed(self._fresh_buffers()))
        buf = self._free.pop()
        self._saved[buf] = 0
        return buf

    def free_buffer(self, buf: int) -> None:
        """``buf``'s task is done (or dropped, even while suspended): reuse the buffer."""
        self._buffer(buf, "free_buffer")
        if buf == self._active:
            raise AsyncifyError(f"{self.what}: free_buffer: {buf:#x} is being "
                                f"{self._state.name.lower()} right now")
        del self._saved[buf]
        self._free.append(buf)

    def saved_bytes(self, buf: int) -> int:
        """Bytes of stack ``buf`` holds (0 when it holds none)."""
        self._buffer(buf, "saved_bytes")
        return self._saved[buf]

    @property
    def buffers_in_use(self) -> int:
        return len(self._saved)

    @property
    def buffers_free(self) -> int:
        return len(self._free)

    def _fresh_buffers(self) -> list[int]:
        if self._allocate is not None:
            buf = self._allocate(self._stride)
            if buf % 4 or buf < 0 or buf + self._stride > len(self.memory):
                raise AsyncifyError(f"{self.what}: allocate({self._stride}) returned {buf:#x}, "
                                    "not a 4-byte-aligned range inside the memory")
            return [buf]
        pages = -(-self._stride // PAGE_SIZE)
        old = self.memory.grow(pages)
        if old < 0:
            raise AsyncifyError(f"{self.what}: cannot grow the memory by {pages} page(s) for "
                                "an unwind buffer (at its maximum?)")
        base = old * PAGE_SIZE
        return [base + i * self._stride for i in range(pages * PAGE_SIZE // self._stride)]
