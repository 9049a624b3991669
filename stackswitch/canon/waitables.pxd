# Augments stackswitch/canon/waitables.py in the compiled build only (stackswitch/compiled.py).
# Waitable and WaitableSet become cdef subclasses of WaitKey (scheduler.pxd): the fields every
# event and every wait read (a waitable's set and pending event, a set's heap of ready
# members) are C fields, ``wset`` typed; the methods on the path of each event are cpdef
# with typed locals. Subtask and CopyEnd stay Python subclasses (with a __dict__, inherited).
cimport cython
from stackswitch.scheduler cimport WaitKey

cdef class WaitableSet

cdef class Waitable(WaitKey):
    cdef public object _join_seq, _queued, pending_event
    cdef public WaitableSet wset
    cdef public object has_sync_waiter

    @cython.locals(wset=WaitableSet, ready=list)
    cpdef set_pending_event(self, pending_event)
    cpdef has_pending_event(self)

cdef class WaitableSet(WaitKey):
    cdef public list elems
    cdef public object num_waiting, _joins
    cdef public list _ready

    @cython.locals(ready=list, w=Waitable)
    cpdef _first_ready(self)
    @cython.locals(ready=list, w=Waitable)
    cpdef has_pending_event(self)
    @cython.locals(ready=list, w=Waitable)
    cpdef _deliver(self, scheduler)
