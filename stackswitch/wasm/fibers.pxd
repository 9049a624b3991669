# Augments stackswitch/wasm/fibers.py in the compiled build only (stackswitch/compiled.py).
# The per-call records of the fiber layer become cdef classes (C struct fields), some
# attributes typed; the call path's functions become cpdef with typed locals, so that
# ``func.params.count`` or ``inflight.buffer`` are struct reads. A typed argument must
# have that type (else TypeError where pure Python would fail later, or not at all).
cimport cython
from stackswitch.wasm.core_values cimport CoreCodec

# The fiber layer's per-call counters and current poll are C variables of the module, not
# entries of its dict: every store to a module global bumps the dict's version, and each
# global read of the module after one (``capi``, ``stacks``, ``_imports``, ...) then misses
# Cython's cache and looks the name up again (84 such lookups per ping-pong iteration).
# Nothing outside fibers.py reads these four; ``_max_live`` and ``_spares_left``, which
# tests patch or read, stay module attributes.
cdef object _polling, _pending
cdef Py_ssize_t _fiber_depth, _live

cdef class _Import

cdef class _InFlight:
    cdef public bytearray buffer
    cdef public object _view, address, state
    cdef public _Import imp
    cdef public object args, results_at, trap_at, exc, pending

cdef class _Import:
    cdef public object module, name, handler
    cdef public CoreCodec params, results
    cdef public object may_block, on_fiber
    cdef object __weakref__

cdef class StoreState:
    cdef public object blocking, plain

cdef class WasmFunc:
    cdef public object store, func, name
    cdef public CoreCodec params, results
    cdef public object _context, _address
    cdef public list _spare
    cdef public object _plain
    cdef public StoreState state
    cdef public object raw_count, buffer_bytes

@cython.locals(state=StoreState, params=CoreCodec, inflight=_InFlight, spare=list)
cpdef call(WasmFunc func, args=*)

@cython.locals(inflight=_InFlight, buffer=bytearray)
cpdef _call_plain(WasmFunc func, args)

cpdef _finish(WasmFunc func, future, _InFlight inflight)

@cython.locals(imp=_Import)
cpdef _answer(_InFlight inflight)

# The bodies of the two import callbacks (ctypes calls their Python wrappers, as it called
# the decorated functions before): their import record and call typed, so that
# ``imp.params``, ``params.unpack_from`` and ``codec.store`` read C fields and call
# CoreCodec's cpdef methods in C.
@cython.locals(imp=_Import, inflight=_InFlight, params=CoreCodec)
cpdef _async_call(env, _caller, args, _nargs, results, _nresults, trap_ret, continuation_ret)

@cython.locals(imp=_Import, inflight=_InFlight, params=CoreCodec, codec=CoreCodec)
cpdef _sync_call(env, _caller, args, _nargs, results, _nresults)

cpdef _answer_on_fiber(_Import imp, _InFlight inflight, results, trap_ret)
