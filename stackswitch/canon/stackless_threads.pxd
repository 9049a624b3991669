# Augments stackswitch/canon/stackless_threads.py in the compiled build only
# (stackswitch/compiled.py). StacklessThread becomes a cdef subclass of Thread
# (threads.pxd): the fields its steps read are C fields.
from stackswitch.canon.threads cimport Thread

cdef class StacklessThread(Thread):
    cdef public object step, on_builtin_blocked, replay, unwind_early, _phase, _builtin
    cdef public object _in_builtin, _switch_to
