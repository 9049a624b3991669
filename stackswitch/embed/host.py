"""What host functions written in Python may call while they run.

Host functions (made with :meth:`stackswitch.canon.store.Store.host_function`)
run on a stack of their own, so they may block with these (``sleep`` waits on the
store's event loop, costing nothing while it waits).
"""

from ..canon.host_functions import TaskCancelled, sleep, wait_until, yield_

__all__ = ["TaskCancelled", "sleep", "wait_until", "yield_"]
