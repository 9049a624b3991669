"""Host imports for examples/c/blocking.c (a stackful C guest that blocks).

    python examples/build_c_guests.py --out /tmp/c-guests
    stackswitch run /tmp/c-guests/blocking.component.wasm \
        --host examples/c/blocking_host.py --invoke 'run(21)'      # prints 42

The import is named ``slow-double``, which is not a Python identifier, so it
is supplied through the ``IMPORTS`` dict rather than by function name.
"""

from stackswitch.embed.host import yield_


def _slow_double(x: int) -> int:
    """Double ``x`` after giving up a couple of scheduler turns.

    A host function runs on a stack of its own, so it may block: meanwhile
    the guest's async call has come back STARTED and the guest waits in
    ``waitable-set.wait`` until this returns.
    """
    for _ in range(2):
        yield_()
    return 2 * x


IMPORTS = {"slow-double": _slow_double}
