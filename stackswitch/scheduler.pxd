# Augments stackswitch/scheduler.py in the compiled build only (stackswitch/compiled.py).
# Scheduler becomes a cdef class: its methods read their own state (the waiting set, the
# candidates and their heap) as C struct fields; the ones every wait, resume and hand-off
# calls are cpdef, so that a caller holding a typed Scheduler (threads.pxd) calls them in C
# (a Python subclass may still override them). It has no __slots__: the __dict__ keeps any
# attribute set from elsewhere working as in pure Python. Its type is immutable: patch a
# subclass (tests/test_hand_off.py), not the class. Weak references to it are taken
# (event_loop.py's loop per scheduler).
cimport cython

cdef class Scheduler

# WaitKey: ``_watchers`` a C field (Waitable and WaitableSet, waitables.pxd, are cdef
# subclasses); its Python subclasses (host_streams, host_functions) keep the __dict__.
cdef class WaitKey:
    cdef public dict _watchers
    cdef dict __dict__
    cdef object __weakref__

    @cython.locals(watchers=dict, scheduler=Scheduler, candidates=dict)
    cpdef touch(self)

cdef class Scheduler:
    cdef public object policy, fifo
    cdef public dict _waiting
    cdef public object _removed, _seq
    cdef public dict _candidates
    cdef public list _heap
    cdef public dict _polled, _rekey
    cdef public object idle, ticks, _done, handoff_from, host_thread, _error, _decided, checks
    cdef dict __dict__
    cdef object __weakref__

    @cython.locals(candidates=dict, waiting=dict, watchers=dict)
    cpdef add_waiting(self, thread, keys=*)
    @cython.locals(candidates=dict, waiting=dict)
    cpdef remove_waiting(self, thread)
    @cython.locals(candidates=dict)
    cpdef wake(self, thread)
    @cython.locals(heap=list, candidates=dict)
    cpdef next_ready(self)
    cpdef successor(self)
    cpdef hand_off(self, thread)
    cpdef defer(self, thread)
