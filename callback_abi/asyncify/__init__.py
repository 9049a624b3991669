"""Asyncify: suspend a stackful export without switching stacks (issue 5's "callback" strategy).

A guest written in a synchronous style calls blocking built-ins
(``waitable-set.wait`` ...) deep inside its own frames. The stackful strategy
keeps those frames on a suspended stack. This package lets them be *saved and
dropped* instead: binaryen's ``wasm-opt --asyncify`` rewrites the core module
so that, once the host says so, every frame between the export and the
blocking import writes its locals and its position into a buffer in the
guest's linear memory and returns. Later the host calls the same export again
in "rewind" mode and each frame reloads its state from the buffer until the
blocking import is reached again; this time the import returns the real
result. One task then holds no stack while it waits, only its buffer.

By concern, bottom to top:

* :mod:`.conventions`: what binaryen's asyncify defines (its exports, its
  :class:`State`) and :class:`AsyncifyError`;
* :mod:`.wasm_opt`: finding ``wasm-opt`` (:func:`find_wasm_opt`: the
  ``STACKSWITCH_WASM_OPT`` variable, PATH, ``node_modules/.bin``, npx) and
  the features it knows;
* :mod:`.core_module`: a core module's memories, imports and exports, and
  giving a module without memory one of its own (:func:`needs_memory`,
  :func:`with_memory`);
* :mod:`.transform`: :func:`asyncify` transforms a module, or says why it
  cannot, naming the export or module;
* :mod:`.controls`: :class:`Asyncify` drives one instance of a transformed
  module: the ``asyncify_*`` exports binaryen adds, and the unwind buffers.

The facts about binaryen each part relies on are written down in that part.
The sequence, as a runtime drives it (all calls through
:func:`stackswitch.wasm.fibers.call`; the blocking import is a ``may_block``
import, so its handler runs on the greenlet and may call the instance)::

    buf = a.new_buffer()
    call export(args)        -> import handler decides to block:
                                  a.start_unwind(buf); return a dummy result
                             <- export returns (its results mean nothing)
    a.state() == UNWINDING   -> a.stop_unwind()   (the task is now just buf)
    ... other code runs in the instance, the event arrives ...
    a.start_rewind(buf)
    call export(args) again  -> frames reload their locals; the import is
                                called again: a.state() == REWINDING, so the
                                handler calls a.stop_rewind() and returns the
                                real result; the export carries on
    ... returns normally (or blocks again: same buf) ... a.free_buffer(buf)
"""

from __future__ import annotations

from .controls import (
    BUFFER_ALIGN,
    DEFAULT_DATA_SIZE,
    HEADER_SIZE,
    PAGE_SIZE,
    Asyncify,
    UnwindOverflow,
)
from .conventions import ASYNCIFY_EXPORTS, AsyncifyError, State
from .core_module import MEMORY_EXPORT, needs_memory, with_memory
from .transform import (
    DATA_GLOBAL,
    DEFAULT_OPTIMIZE,
    OPTIMIZE_LEVELS,
    STATE_GLOBAL,
    WASM_OPT_TIMEOUT,
    asyncify,
    clear_cache,
    import_pattern,
)
from .wasm_opt import ENV_VAR, FEATURES, INSTALL_HINT, find_wasm_opt, wasm_opt_version

__all__ = [
    "ASYNCIFY_EXPORTS", "BUFFER_ALIGN", "DATA_GLOBAL", "DEFAULT_DATA_SIZE", "DEFAULT_OPTIMIZE",
    "ENV_VAR", "FEATURES", "HEADER_SIZE", "INSTALL_HINT", "MEMORY_EXPORT", "OPTIMIZE_LEVELS",
    "PAGE_SIZE", "STATE_GLOBAL", "WASM_OPT_TIMEOUT", "Asyncify", "AsyncifyError", "State",
    "UnwindOverflow", "asyncify", "clear_cache", "find_wasm_opt", "import_pattern",
    "needs_memory", "wasm_opt_version", "with_memory",
]
