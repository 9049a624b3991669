"""What a Linker holds once the host drops it, or closes it."""

from __future__ import annotations

import gc
import weakref
from pathlib import Path

import pytest

from stackswitch import Component, Linker

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
HOLDER_GUESTS = ROOT / "tests" / "limits"


@pytest.mark.parametrize("strategy", ["stackful", "callback"])
def test_a_dropped_linker_whose_tasks_all_ended_is_freed(strategy: str) -> None:
    # Before: the greenlet pool kept each greenlet's first job (greenlet holds the
    # arguments of a greenlet's first switch for its whole life), and a job refers to
    # its task, its store, its instances and, through their closures, the Linker.
    def run() -> weakref.ref[Linker]:
        linker = Linker(strategy=strategy)
        instance = linker.instantiate(Component.from_file(EXAMPLES / "add.wat"))
        assert instance["add"](2, 40) == 42
        return weakref.ref(linker)

    dropped = run()
    gc.collect()
    assert dropped() is None
