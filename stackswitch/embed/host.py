"""What host functions written in Python may call while they run.

Host functions (made with :meth:`stackswitch.canon.store.Store.host_function`)
run on a stack of their own, so they may block with these.
"""

from ..canon.host_functions import TaskCancelled, wait_until, yield_

__all__ = ["TaskCancelled", "wait_until", "yield_"]
