"""Watching a run: Chrome/Perfetto traces, the readable event log, trace checks.

A layer of its own between the components and the command line: it
subscribes to :mod:`stackswitch.trace` and reads the runtime's state
(:mod:`stackswitch.canon`), but changes nothing. The task tree itself is
``Store.task_tree()`` (:mod:`stackswitch.canon.task_tree`); wasm backtraces
are :mod:`stackswitch.wasm.backtrace`.
"""
