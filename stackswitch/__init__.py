"""stackswitch: the Component Model's async semantics on real stacks.

Layers, bottom to top (no module imports from a layer above it):

* ``stacks``, ``scheduler``, ``trace``, ``errors``: continuations on greenlets,
  the choice of the next ready thread, one place to observe everything;
* ``canon``: the Canonical ABI: value types and their layout, runtime state
  (instances, tasks, threads, waitables, streams, futures, resources) and the
  canonical built-ins;
* ``guest``, ``demo``, ``cli``: Python-written guests, the demo, the command line.
"""

__version__ = "0.1.0"
