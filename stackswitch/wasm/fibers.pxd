# Augments stackswitch/wasm/fibers.py in the compiled build only (benchmarks/build_compiled.py).
# The per-call records of the fiber layer become cdef classes (C struct fields), some
# attributes typed; the call path's functions become cpdef with typed locals, so that
# ``func.params.count`` or ``inflight.buffer`` are struct reads. A typed argument must
# have that type (else TypeError where pure Python would fail later, or not at all).
cimport cython
from stackswitch.wasm.core_values cimport CoreCodec

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
