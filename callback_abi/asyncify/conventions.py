"""What binaryen's asyncify defines, shared by the transform and the runtime controls.

A transformed module exports :data:`ASYNCIFY_EXPORTS`; its state global takes
the values of :class:`State`. Every failure in this package that is not a
guest's trap is an :class:`AsyncifyError` naming the module or export.
"""

from __future__ import annotations

from enum import IntEnum

ASYNCIFY_EXPORTS = ("asyncify_start_unwind", "asyncify_stop_unwind", "asyncify_start_rewind",
                    "asyncify_stop_rewind", "asyncify_get_state")
"""The exports ``wasm-opt --asyncify`` adds: the four transitions and a state query."""


class AsyncifyError(Exception):
    """A module cannot be asyncified (or driven): the message names it and says why."""


class State(IntEnum):
    """Values of binaryen's ``__asyncify_state`` global (``asyncify_get_state``)."""

    NORMAL = 0
    UNWINDING = 1
    REWINDING = 2
