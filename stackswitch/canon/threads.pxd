# Augments stackswitch/canon/threads.py in the compiled build only (stackswitch/compiled.py).
# Thread becomes a cdef class: its attributes are C struct fields (StacklessThread is a cdef
# subclass, stackless_threads.pxd). ``task`` stays untyped: typing it would cimport tasks,
# which threads.py does not import at run time (tasks imports threads: a cycle at init).
# ``scheduler`` and ``cont`` are typed (scheduler.py and stacks.py are lower layers: no
# cycle), so their fields and cpdef methods are reached in C.
# ``resume`` (not overridden by StacklessThread) is cpdef, its locals typed; so is
# ``resume_from_host``, whose loops over the instances being entered set ``may_enter`` as a
# C field (component_instance.py imports nothing of threads at run time: no cycle); and
# ``ready``, which the scheduler asks of every waiting thread.
cimport cython
from stackswitch.scheduler cimport Scheduler
from stackswitch.stacks cimport Continuation
from stackswitch.canon.component_instance cimport ComponentInstance

cdef class Thread:
    cdef public Continuation cont
    cdef public object ready_func, task
    cdef public object cancellable, index, storage, name, waits_on, counted
    cdef public Scheduler scheduler
    cdef object __weakref__

    @cython.locals(thread=Thread, ran=Thread)
    cpdef resume(self, cancelled=*)

    @cython.locals(scheduler=Scheduler, inst=ComponentInstance, i=ComponentInstance)
    cpdef resume_from_host(self)

    @cython.locals(inst=ComponentInstance)
    cpdef ready(self)
