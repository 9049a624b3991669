# Augments stackswitch/wasm/fibers.py in the compiled build only (benchmarks/build_compiled.py).
# The per-call records of the fiber layer become cdef classes (C struct fields).

cdef class _InFlight:
    cdef public object buffer, _view, address, state, imp, args, results_at, trap_at, exc, pending

cdef class _Import:
    cdef public object module, name, handler, params, results, may_block, on_fiber
    cdef object __weakref__

cdef class StoreState:
    cdef public object blocking, plain

cdef class WasmFunc:
    cdef public object store, func, name, params, results, _context, _address, _spare, state
