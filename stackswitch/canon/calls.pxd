# Augments stackswitch/canon/calls.py in the compiled build only (stackswitch/compiled.py).
# CallbackWait's task and set are typed (calls.py imports tasks and waitables at run time:
# no cycle), and its ``ready`` (asked by the scheduler) and ``deliver`` (once per event)
# are cpdef, so the task's instance and the set's pending event are read in C.
cimport cython
from stackswitch.canon.tasks cimport Task
from stackswitch.canon.waitables cimport WaitableSet

cdef class CallbackWait:
    cdef public Task task
    cdef public WaitableSet wset
    cdef public object yielding, why, keys

    cpdef ready(self)
    @cython.locals(task=Task, wset=WaitableSet)
    cpdef deliver(self, cancelled)

cdef class Lowering:
    cdef public object callee, ft, opts, name, param_types, result_types
    cdef public object max_flat_params, max_flat_results, values
