# Augments stackswitch/canon/calls.py in the compiled build only (benchmarks/build_compiled.py).

cdef class CallbackWait:
    cdef public object task, wset, yielding, why, keys

cdef class Lowering:
    cdef public object callee, ft, opts, name, param_types, result_types
    cdef public object max_flat_params, max_flat_results, values
