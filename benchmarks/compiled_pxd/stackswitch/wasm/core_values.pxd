# Augments stackswitch/wasm/core_values.py in the compiled build only (benchmarks/build_compiled.py).

cdef class CoreCodec:
    cdef public object types, count, size, _unpack, _pack, _kinds, _kind0, _template
