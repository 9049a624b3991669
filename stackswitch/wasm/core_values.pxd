# Augments stackswitch/wasm/core_values.py in the compiled build only (stackswitch/compiled.py).
# CoreCodec becomes a cdef class; the methods every core call uses are cpdef, so that a
# caller holding a typed CoreCodec (fibers.pxd) calls them in C.

cdef class CoreCodec:
    cdef public object types, count, size, _unpack, _pack, _kinds, _kind0, _template, _raw
    cdef public object unpack_from, raw_unpack_from
    cpdef load_from(self, buffer, offset)
    cpdef pack(self, values)
    cpdef store(self, address, result)
    cpdef pack_raw_into(self, buffer, offset, values)
