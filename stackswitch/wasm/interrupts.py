"""Ctrl-C and timeouts that stop a guest wherever it is: running wasm, a host function,
or the event loop.

Python runs a signal handler only between bytecodes of the main thread. While
the main thread runs wasm (inside ``wasmtime_call_future_poll``) no bytecode
runs, so a plain ``KeyboardInterrupt`` never comes. What does still happen is
that the C-level handler writes the signal's number to the wakeup fd
(:func:`signal.set_wakeup_fd`). A *watcher* thread blocks on that fd and,
for SIGINT or SIGALRM, increments the epoch of every engine registered with
:func:`watch` (ctypes releases the GIL while wasm runs, so the watcher gets
to run); every store made with an epoch deadline then traps with ``interrupt``
at its next loop header or call.

The Python-level handler, when it runs, decides what the main thread raises:

* not inside wasm (the event loop, a host function blocked in ``sleep`` or on a
  lock, the runtime's own Python): it raises at once, ``KeyboardInterrupt``
  for SIGINT, a :class:`Timeout` trap for SIGALRM;
* inside a poll of a wasm call (a callback wasmtime called on a fiber, where
  an exception must never escape): it only records the request; the epoch
  trap unwinds the wasm, and :mod:`.fibers` raises the pending exception when
  the call ends (:func:`pending`).

Only the command line installs these handlers (:func:`handling`,
:func:`deadline`); a library user keeps Python's own, and may call
``Linker.interrupt`` from any thread.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import weakref
from collections.abc import Iterator
from types import FrameType

import wasmtime

from ..limits import TIMEOUT_MESSAGE, Timeout
from . import fibers

_engines: weakref.WeakSet[wasmtime.Engine] = weakref.WeakSet()
_lock = threading.Lock()


def watch(engine: wasmtime.Engine) -> None:
    """Interrupt ``engine``'s wasm on SIGINT and SIGALRM (its config enables epochs)."""
    with _lock:
        _engines.add(engine)


def interrupt_all() -> None:
    """Make the running wasm of every watched engine trap (any thread may call this)."""
    with _lock:
        engines = list(_engines)
    for engine in engines:
        engine.increment_epoch()


def _watcher(fd: int) -> None:
    """The watcher thread: every SIGINT or SIGALRM written to ``fd`` interrupts wasm."""
    while True:
        try:
            data = os.read(fd, 64)
        except OSError:
            return
        if not data:
            return
        if signal.SIGINT in data or signal.SIGALRM in data:
            interrupt_all()


def _raise_for(signum: int) -> None:
    """What the main thread raises for ``signum`` (see the module docs)."""
    error: BaseException = KeyboardInterrupt() if signum == signal.SIGINT else Timeout(TIMEOUT_MESSAGE)
    if fibers.polling():
        fibers.set_pending(error)
        return
    raise error


def _on_signal(signum: int, _frame: FrameType | None) -> None:
    _raise_for(signum)


@contextlib.contextmanager
def handling() -> Iterator[None]:
    """SIGINT (and SIGALRM, for :func:`deadline`) stop wasm and Python alike, inside.

    Outside the main thread it does nothing (signals go to the main thread).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    read_fd, write_fd = os.pipe()
    os.set_blocking(write_fd, False)
    old_wakeup = signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)
    old_int = signal.signal(signal.SIGINT, _on_signal)
    old_alrm = signal.signal(signal.SIGALRM, _on_signal)
    watcher = threading.Thread(target=_watcher, args=(read_fd,), name="stackswitch-interrupts",
                               daemon=True)
    watcher.start()
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGINT, old_int)
        signal.signal(signal.SIGALRM, old_alrm)
        signal.set_wakeup_fd(old_wakeup)
        os.close(write_fd)  # the watcher's read returns b"": it ends
        watcher.join(1)
        os.close(read_fd)
        fibers.set_pending(None)


@contextlib.contextmanager
def deadline(seconds: float | None) -> Iterator[None]:
    """Within :func:`handling`: after ``seconds``, whatever runs stops with :class:`Timeout`."""
    if seconds is None:
        yield
        return
    if seconds <= 0:
        raise ValueError(f"the timeout must be positive, got {seconds}")
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
