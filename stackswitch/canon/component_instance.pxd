# Augments stackswitch/canon/component_instance.py in the compiled build only
# (stackswitch/compiled.py). ComponentInstance has no __slots__: the __dict__ keeps
# any attribute set from elsewhere working as in pure Python, and __weakref__ weak
# references (as for any instance of a class without __slots__).

cdef class ComponentInstance:
    cdef public object store, name, parent, handles, threads, may_enter, may_leave, enter_key
    cdef public object backpressure, num_waiting_to_enter, exclusive_thread
    cdef public object _ancestry, host_entering, _entering, _nested
    cdef public ComponentInstance root
    cdef public object _trapped
    cdef dict __dict__
    cdef object __weakref__
