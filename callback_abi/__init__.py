"""The stackless strategy: async tasks that hold no stack of their own while they wait.

:mod:`callback_abi.asyncify` is the layer for stackful-lifted exports:
binaryen's asyncify transform of a core module (``wasm-opt --asyncify``),
and the host-side controls of an instance of the result (unwind and rewind,
unwind buffers in the guest's own memory), so that a guest written in a
blocking style gives up its frames at a blocking built-in instead of keeping
a suspended stack; ``unwinding`` drives such a task and ``replay`` is its
fast path on the fiber. ``callback_strategy`` is the strategy itself. The
stackless records every strategy runs callback-lifted tasks as are in
:mod:`stackswitch.canon.callback_driver` and
:mod:`stackswitch.canon.stackless_threads`.
"""
