# Augments stackswitch/canon/callback_driver.py in the compiled build only
# (stackswitch/compiled.py). TaskDriver and CallbackDriver become cdef classes, their
# task, thread and wait typed (callback_driver.py imports those modules at run time, and
# scheduler.py is a lower layer: no cycle); ``_act``, the loop over a callback's codes, is
# cpdef with typed locals. AsyncifyDriver (callback_abi) stays a Python subclass.
cimport cython
from stackswitch.scheduler cimport Scheduler
from stackswitch.canon.calls cimport CallbackWait
from stackswitch.canon.stackless_threads cimport StacklessThread
from stackswitch.canon.tasks cimport Task

cdef class TaskDriver:
    cdef public Task task
    cdef public StacklessThread thread
    cdef public object phase

cdef class CallbackDriver(TaskDriver):
    cdef public object callee
    cdef public CallbackWait wait
    cdef public object parked

    @cython.locals(task=Task, wait=CallbackWait, scheduler=Scheduler)
    cpdef _act(self, packed)
