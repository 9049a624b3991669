# Augments stackswitch/stacks.py in the compiled build only (stackswitch/compiled.py).
# Continuation becomes a cdef class (its fields C fields); ``resume`` and the module's
# ``switch_to``/``suspend``, run on every stack switch, are cpdef with typed locals. Its
# type is immutable: patch a subclass into the module (tests/test_stacks.py), not the class.
cimport cython

cdef class Continuation:
    cdef public object name, state, _fn, _greenlet, _resumer
    cdef public Continuation _outer

    @cython.locals(ran=Continuation)
    cpdef resume(self, value=*)

@cython.locals(cont=Continuation)
cpdef switch_to(Continuation other, value, between)

@cython.locals(cont=Continuation)
cpdef suspend(value=*)
