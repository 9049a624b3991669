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


def spawner(strategy: str) -> tuple[Linker, object]:
    """tests/limits' spawner, whose spawn(n) leaves n holder tasks waiting for ever."""
    linker = Linker(strategy=strategy)
    linker.define("holder", linker.instantiate(
        Component.from_file(HOLDER_GUESTS / "holder.wat"), "holder"))
    return linker, linker.instantiate(Component.from_file(HOLDER_GUESTS / "spawner.wat"))


@pytest.mark.parametrize("strategy", ["stackful", "callback"])
def test_a_linker_dropped_with_tasks_suspended_warns_and_changes_nothing(strategy: str) -> None:
    # Its instances may outlive it, so nothing is unwound; the tasks stay until their
    # store is closed, and the warning says so.
    linker, guest = spawner(strategy)
    assert guest["spawn"](5) == 5
    store = linker.store
    with pytest.warns(ResourceWarning, match=r"dropped without close\(\) while 5 of its tasks"):
        del linker
        gc.collect()
    assert store.live_threads == 5
    assert guest["spawn"](1) == 1  # still usable
    store.close()
    assert store.live_threads == 0


def test_a_closed_or_store_sharing_linker_dropped_does_not_warn() -> None:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", ResourceWarning)
        linker, guest = spawner("stackful")
        guest["spawn"](3)
        linker.close()
        del linker, guest
        gc.collect()
        owner, guest = spawner("stackful")
        guest["spawn"](3)
        sharer = Linker(owner.store)  # the store is owner's: dropping sharer says nothing
        del sharer
        gc.collect()
        owner.close()
