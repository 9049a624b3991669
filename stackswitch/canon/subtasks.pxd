# Augments stackswitch/canon/subtasks.py in the compiled build only (stackswitch/compiled.py).
# Subtask becomes a cdef subclass of Waitable (waitables.pxd): the fields its own methods
# read and write on every call (state, lenders, flat_results) are C fields. It has no
# __slots__: the __dict__ and __weakref__ it inherits from WaitKey keep any other
# attribute and weak references working as in pure Python.
from stackswitch.canon.waitables cimport Waitable

cdef class Subtask(Waitable):
    cdef public object name, state, on_cancel, lenders, cancellation_requested, flat_results
