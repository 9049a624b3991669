# Augments stackswitch/canon/tasks.py in the compiled build only (stackswitch/compiled.py).
# Task becomes a cdef class: its attributes are C struct fields, read without a dict or
# descriptor lookup from its own methods. ``caller`` stays untyped: a host task may be one.
from stackswitch.canon.threads cimport Thread

cdef class Task:
    cdef public object ft, opts, inst, store, on_start, on_resolve, state, num_borrows
    cdef public Thread implicit_thread
    cdef public list threads
    cdef public object name, caller, exclusive
    cdef object __weakref__
