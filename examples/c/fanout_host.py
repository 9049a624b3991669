"""Host import for examples/c/fanout_sync.c and examples/c/fanout_callback.c.

    python examples/build_c_guests.py --out build
    stackswitch run build/fanout_sync.component.wasm \
        --host examples/c/fanout_host.py --invoke 'run(10)'         # prints 385
    stackswitch run build/fanout_callback.component.wasm \
        --host examples/c/fanout_host.py --invoke 'run(10)'         # prints 385

The import is named ``slow-square``, which is not a Python identifier, so it
is supplied through the ``IMPORTS`` dict rather than by function name.
"""

from stackswitch.embed.host import yield_


def _slow_square(x: int) -> int:
    """``x * x``, after giving up 1, 2 or 3 scheduler turns (``x % 3 + 1``).

    A host function of an async import runs on a stack of its own and may
    block: the guest's async call comes back STARTED and all the calls run
    at once. The different numbers of turns make them finish in another
    order than they started (3, 6, 9, ... first, then 1, 4, 7, ...), so the
    guest really takes the results as they come.
    """
    for _ in range(x % 3 + 1):
        yield_()
    return x * x


IMPORTS = {"slow-square": _slow_square}
