"""What the ping-pong would cost with a pool of fiber stacks (an experiment, not a setting).

wasmtime's store keeps a single spare fiber stack. Under ``callback`` the
stackful-caller ping-pong needs two stacks at once (the re-call of ``run``
that rewinds, and the callee's entry called inside it) and none once ``run``
has unwound, so every iteration maps a stack and unmaps one (``strace -c``:
one ``mmap``, ``mprotect`` and ``munmap`` each). This script runs the
ping-pong of ``native_vs_stackswitch.py`` under both strategies with the
engine as the runtime makes it ("plain") and with wasmtime's pooling
allocator ("pool": its stacks are reused, never unmapped), and prints CPU µs
per iteration (best of ``--repeat`` runs of ``--n`` iterations, each in this
one process). The pooling allocator also bounds instances, memories and
memory sizes for the whole engine (the limits below), which is why the
runtime does not use it. Run:
``python benchmarks/stack_pool.py [--n N] [--repeat R]``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import wasmtime  # noqa: E402
from native_vs_stackswitch import GUESTS  # noqa: E402
from wasmtime import _bindings  # noqa: E402

from stackswitch.component.linker import Linker  # noqa: E402
from stackswitch.component.wasm_tools import load_component  # noqa: E402
from stackswitch.wasm import fibers  # noqa: E402


def pooled_engine() -> wasmtime.Engine:
    """:func:`fibers.make_engine`'s engine with the pooling allocator (limits enough here)."""
    config = wasmtime.Config()
    pool: Any = _bindings.wasmtime_pooling_allocation_config_new()
    _bindings.wasmtime_pooling_allocation_config_total_stacks_set(pool, 64)
    _bindings.wasmtime_pooling_allocation_config_total_memories_set(pool, 64)
    _bindings.wasmtime_pooling_allocation_config_total_tables_set(pool, 64)
    _bindings.wasmtime_pooling_allocation_config_total_core_instances_set(pool, 64)
    _bindings.wasmtime_pooling_allocation_config_total_component_instances_set(pool, 16)
    _bindings.wasmtime_pooling_allocation_config_max_memory_size_set(pool, 1 << 26)
    _bindings.wasmtime_pooling_allocation_strategy_set(config.ptr(), pool)
    _bindings.wasmtime_pooling_allocation_config_delete(pool)
    return fibers.make_engine(config=config)


def per_iteration_us(strategy: str, engine: wasmtime.Engine | None, n: int, repeat: int) -> float:
    run = Linker(strategy=strategy, engine=engine).instantiate(load_component(GUESTS["stackful-caller"])).func("run")
    run.call(10)  # warm up
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        assert run.call(n) == n
        best = min(best, (time.process_time() - start) / n * 1e6)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    for name, engine in (("plain", None), ("pool", pooled_engine())):
        figures = {s: per_iteration_us(s, engine, args.n, args.repeat)
                   for s in ("stackful", "callback")}
        print(f"{name:>5}: stackful {figures['stackful']:6.1f} µs, callback "
              f"{figures['callback']:6.1f} µs (CPU per iteration), callback / stackful "
              f"{figures['callback'] / figures['stackful']:.2f}")


if __name__ == "__main__":
    main()
