"""Where compiled core modules come from: the process's own table, then the disk, then wasmtime.

Compiling is most of the start-up of a big guest (a componentize-py
component holds 38 core modules, CPython among them: about 4 s of Cranelift
on this machine), and the same bytes are compiled again by every
:class:`~stackswitch.component.linker.Linker`, every ``.wast`` command and
every schedule ``stackswitch explore`` runs. So:

* in one process, a compiled module is kept per engine, by the SHA-256 of
  its bytes (least recently used ones dropped beyond :data:`MEMORY_BUDGET`
  bytes of wasm), and :func:`shared_engine` gives every Linker that does not
  need an engine of its own the same one, so they share those modules;
* across processes, :func:`compile_module` keeps wasmtime's serialized
  artifact in a :class:`~.disk_cache.DiskCache`, keyed by the module's
  digest, the wasmtime version and the engine's settings.

The engine's settings are read from wasmtime itself: the artifact of an empty
module records the target, the compiler's flags and the features, fuel and
epoch checks included, so its digest (:func:`engine_fingerprint`) differs
whenever an artifact compiled under one engine would not load under another.
wasmtime checks that again when loading; an entry it refuses is compiled
afresh and replaced.
"""

from __future__ import annotations

import ctypes
import hashlib
import weakref
from collections import OrderedDict
from pathlib import Path

import wasmtime
from wasmtime import _ffi

from . import capi
from .disk_cache import DiskCache, key_digest
from .fibers import make_engine

MEMORY_BUDGET = 256 << 20
"""Bytes of wasm whose compiled modules each engine keeps in the process."""

KIND = "modules"
"""The disk cache's subdirectory for compiled modules."""

_EMPTY_MODULE = b"\0asm\x01\0\0\0"


class _Entry:
    """A compiled module in the process, and the disk caches known to hold it."""

    __slots__ = ("module", "size", "on_disk")

    def __init__(self, module: wasmtime.Module, size: int) -> None:
        self.module = module
        self.size = size
        self.on_disk: set[Path] = set()


class _EngineTable:
    """One engine's compiled modules by digest, least recently used first."""

    def __init__(self, fingerprint: bytes) -> None:
        self.fingerprint = fingerprint
        self.modules: OrderedDict[bytes, _Entry] = OrderedDict()
        self.size = 0

    def get(self, digest: bytes) -> _Entry | None:
        found = self.modules.get(digest)
        if found is not None:
            self.modules.move_to_end(digest)
        return found

    def add(self, digest: bytes, module: wasmtime.Module, size: int) -> _Entry:
        entry = self.modules[digest] = _Entry(module, size)
        self.size += size
        while self.size > MEMORY_BUDGET and len(self.modules) > 1:
            _, dropped = self.modules.popitem(last=False)
            self.size -= dropped.size
        return entry


_tables: weakref.WeakKeyDictionary[wasmtime.Engine, _EngineTable] = weakref.WeakKeyDictionary()
_shared: dict[tuple[bool], wasmtime.Engine] = {}


class Counts:
    """How the modules asked for in this process were obtained (for benchmarks and tests)."""

    def __init__(self) -> None:
        self.compiled = 0
        self.from_disk = 0
        self.in_process = 0

    def __repr__(self) -> str:
        return (f"Counts(compiled={self.compiled}, from_disk={self.from_disk}, "
                f"in_process={self.in_process})")


counts = Counts()


def shared_engine(consume_fuel: bool = False) -> wasmtime.Engine:
    """The process's engine for Linkers that need no engine of their own.

    One per setting that changes compiled code and can be shared: fuel is
    counted per store, so Linkers with and without a fuel limit can each
    share one. Epoch interruption cannot be shared (interrupting one Linker
    would interrupt every store of the engine), so interruptible Linkers make
    their own (they still find their modules on disk).
    """
    key = (consume_fuel,)
    engine = _shared.get(key)
    if engine is None:
        config = wasmtime.Config()
        config.consume_fuel = consume_fuel
        engine = _shared[key] = make_engine(config=config)
    return engine


def engine_fingerprint(engine: wasmtime.Engine) -> bytes:
    """A digest of everything in ``engine``'s settings that its compiled code depends on."""
    return _table(engine).fingerprint


def _table(engine: wasmtime.Engine) -> _EngineTable:
    table = _tables.get(engine)
    if table is None:
        artifact = _serialize(_compile(engine, _EMPTY_MODULE))
        table = _tables[engine] = _EngineTable(hashlib.sha256(artifact).digest())
    return table


def compile_module(engine: wasmtime.Engine, data: bytes | bytearray,
                   disk: DiskCache | None = None) -> wasmtime.Module:
    """``data`` compiled for ``engine``: from the process's table, else from ``disk``, else
    compiled (and then stored in both; a module found in the process is also written to a
    ``disk`` that lacks it). Raises ``wasmtime.WasmtimeError`` if ``data`` is not a valid
    module."""
    data = bytes(data)
    table = _table(engine)
    digest = hashlib.sha256(data).digest()
    key = key_digest(KIND, capi.EXPECTED_WASMTIME, table.fingerprint, digest)
    entry = table.get(digest)
    if entry is not None:
        counts.in_process += 1
        if disk is not None and disk.directory not in entry.on_disk:
            if not disk.path(KIND, key).is_file():
                disk.put(KIND, key, _serialize(entry.module))
            entry.on_disk.add(disk.directory)
        return entry.module
    module = None
    if disk is not None:
        stored = disk.get(KIND, key)
        if stored is not None:
            module = _deserialize(engine, stored)
    if module is not None:
        counts.from_disk += 1
    else:
        module = _compile(engine, data)
        counts.compiled += 1
        if disk is not None:
            disk.put(KIND, key, _serialize(module))
    entry = table.add(digest, module, len(data))
    if disk is not None:
        entry.on_disk.add(disk.directory)
    return module


# -- the C API ----------------------------------------------------------------------------------

_MODULE_POINTER = ctypes.POINTER(_ffi.wasmtime_module_t)


def _wrap(raw: ctypes.c_void_p) -> wasmtime.Module:
    """A ``wasmtime.Module`` that owns the ``wasmtime_module_t*`` in ``raw``."""
    return wasmtime.Module._from_ptr(ctypes.cast(raw, _MODULE_POINTER))


def _compile(engine: wasmtime.Engine, data: bytes) -> wasmtime.Module:
    raw = ctypes.c_void_p()
    error = capi.module_new(capi.address(engine.ptr()), data, len(data), ctypes.byref(raw))
    if error:
        raise wasmtime.WasmtimeError(capi.take_error_message(error))
    return _wrap(raw)


def _serialize(module: wasmtime.Module) -> bytes:
    vec = capi.ByteVec()
    error = capi.module_serialize(capi.address(module.ptr()), ctypes.addressof(vec))
    if error:
        raise wasmtime.WasmtimeError(capi.take_error_message(error))
    try:
        return ctypes.string_at(vec.data, vec.size)
    finally:
        capi.byte_vec_delete(ctypes.addressof(vec))


def _deserialize(engine: wasmtime.Engine, artifact: memoryview) -> wasmtime.Module | None:
    """The module an artifact holds, or ``None`` if wasmtime refuses it (another version or
    other settings: compile afresh)."""
    if artifact.readonly:
        artifact = memoryview(bytearray(artifact))
    buffer = (ctypes.c_char * len(artifact)).from_buffer(artifact)
    raw = ctypes.c_void_p()
    error = capi.module_deserialize(capi.address(engine.ptr()), ctypes.addressof(buffer),
                                    len(artifact), ctypes.byref(raw))
    del buffer
    if error:
        capi.take_error_message(error)
        return None
    return _wrap(raw)
