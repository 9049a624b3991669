# Augments stackswitch/canon/threads.py in the compiled build only (benchmarks/build_compiled.py).
# Thread becomes a cdef class: its attributes are C struct fields (StacklessThread, a Python
# subclass, keeps its own slots). ``task`` stays untyped: typing it would cimport tasks,
# which threads.py does not import at run time (tasks imports threads: a cycle at init).
# ``scheduler`` is typed (scheduler.py is a lower layer: no cycle), so its fields and
# cpdef methods are reached in C.
# ``resume`` (not overridden by StacklessThread) is cpdef, its locals typed.
cimport cython
from stackswitch.scheduler cimport Scheduler

cdef class Thread:
    cdef public object cont, ready_func, task
    cdef public object cancellable, index, storage, name, waits_on, counted
    cdef public Scheduler scheduler
    cdef object __weakref__

    @cython.locals(thread=Thread, ran=Thread)
    cpdef resume(self, cancelled=*)
