"""Compiled and asyncified core modules kept on disk and shared in the process.

What must hold: a second Linker (or process) gets the same module without
compiling it; an entry that is truncated, corrupted, foreign or made for
other engine settings is never handed to wasmtime as it is, but is dropped
and compiled afresh; a cache that cannot be written never fails a run; the
``--cache-dir`` / ``--no-cache`` options and the environment variables say
where (or whether) entries go.
"""

from __future__ import annotations

import os
import stat
import warnings
from pathlib import Path

import pytest
import wasmtime

from stackswitch import Component, Linker
from stackswitch.cli import main
from stackswitch.wasm import fibers, module_cache
from stackswitch.wasm.core_exports import CoreExports
from stackswitch.wasm.disk_cache import (
    ENV_VAR,
    OFF_VAR,
    DiskCache,
    default_cache,
    default_directory,
    key_digest,
)

ROOT = Path(__file__).resolve().parent.parent
ADD = ROOT / "examples" / "add.wat"


def core_module(n: int) -> bytes:
    """A small core module unique to ``n`` (so no other test has compiled it before)."""
    return wasmtime.wat2wasm(f"""(module (func (export "f") (result i32) i32.const {n})
                                         (func (export "g") (result i32) i32.const 1))""")


def entries(directory: Path) -> list[Path]:
    return sorted(p for p in directory.rglob("*.bin") if not p.name.startswith(".tmp"))


@pytest.fixture
def counts(monkeypatch):
    fresh = module_cache.Counts()
    monkeypatch.setattr(module_cache, "counts", fresh)
    return fresh


# -- the disk store ------------------------------------------------------------------------


def test_disk_cache_round_trip_and_misses(tmp_path):
    cache = DiskCache(tmp_path)
    key = key_digest("test", b"input")
    assert cache.get("k", key) is None
    assert cache.put("k", key, b"payload")
    assert bytes(cache.get("k", key)) == b"payload"
    assert cache.get("k", key_digest("test", b"other")) is None
    assert cache.get("other-kind", key) is None
    assert (cache.hits, cache.misses, cache.rejected) == (1, 3, 0)


def test_key_parts_are_delimited():
    assert key_digest("ab", "c") != key_digest("a", "bc")
    assert key_digest(b"x") == key_digest("x")


@pytest.mark.parametrize("damage", ["flip-payload", "truncate", "extend", "foreign", "empty",
                                    "other-key", "header-only"])
def test_damaged_entries_read_as_misses_and_are_removed(tmp_path, damage):
    cache = DiskCache(tmp_path)
    key = key_digest("test", damage)
    cache.put("k", key, b"x" * 1000)
    path = cache.path("k", key)
    data = bytearray(path.read_bytes())
    if damage == "flip-payload":
        data[-10] ^= 1
    elif damage == "truncate":
        del data[-1:]
    elif damage == "extend":
        data += b"!"
    elif damage == "foreign":
        data = bytearray(os.urandom(len(data)))
    elif damage == "empty":
        data = bytearray()
    elif damage == "header-only":
        del data[-1000:]
    elif damage == "other-key":  # a whole, valid entry, but for another key
        other = key_digest("test", "another")
        cache.put("k", other, b"x" * 1000)
        data = bytearray(cache.path("k", other).read_bytes())
    path.write_bytes(data)
    assert cache.get("k", key) is None
    assert cache.rejected == 1
    assert not path.exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only directories")
def test_unwritable_cache_warns_once_and_goes_on(tmp_path):
    tmp_path.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        cache = DiskCache(tmp_path / "sub")
        with pytest.warns(RuntimeWarning, match="cannot write to the cache"):
            assert not cache.put("k", key_digest("a"), b"1")
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert not cache.put("k", key_digest("b"), b"2")
    finally:
        tmp_path.chmod(stat.S_IRWXU)


def test_cache_path_that_is_a_file_warns_and_goes_on(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    cache = DiskCache(blocker)
    with pytest.warns(RuntimeWarning, match="cannot write to the cache"):
        assert not cache.put("k", key_digest("a"), b"1")
    assert cache.get("k", key_digest("a")) is None
    linker = Linker(cache=blocker)
    with pytest.warns(RuntimeWarning):
        instance = linker.instantiate(Component.from_file(ADD))
    assert instance["add"](2, 40) == 42


def test_default_directory_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.delenv(ENV_VAR, raising=False)
    monkeypatch.delenv(OFF_VAR, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_directory() == tmp_path / "xdg" / "stackswitch"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/ignored")
    assert default_directory() == Path.home() / ".cache" / "stackswitch"
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "mine"))
    assert default_cache().directory == tmp_path / "mine"
    monkeypatch.setenv(OFF_VAR, "0")
    assert default_cache() is not None
    monkeypatch.setenv(OFF_VAR, "1")
    assert default_cache() is None


# -- compiled modules ---------------------------------------------------------------------


def test_second_engine_loads_from_disk(tmp_path, counts):
    cache = DiskCache(tmp_path)
    data = core_module(1001)
    first = module_cache.compile_module(fibers.make_engine(), data, cache)
    assert (counts.compiled, counts.from_disk) == (1, 0)
    assert len(entries(tmp_path)) == 1
    engine = fibers.make_engine()
    second = module_cache.compile_module(engine, data, cache)
    assert (counts.compiled, counts.from_disk) == (1, 1)
    assert [e.name for e in second.exports] == [e.name for e in first.exports]
    instance = wasmtime.Instance(store := wasmtime.Store(engine), second, [])
    assert instance.exports(store)["f"](store) == 1001
    assert module_cache.compile_module(engine, data, cache) is second
    assert counts.in_process == 1


def test_engine_settings_that_change_code_change_the_key(tmp_path, counts):
    cache = DiskCache(tmp_path)
    data = core_module(1002)
    plain = fibers.make_engine()
    fuel = module_cache.shared_engine(consume_fuel=True)
    assert module_cache.engine_fingerprint(plain) != module_cache.engine_fingerprint(fuel)
    assert (module_cache.engine_fingerprint(plain)
            == module_cache.engine_fingerprint(fibers.make_engine()))
    module_cache.compile_module(plain, data, cache)
    module_cache.compile_module(fuel, data, cache)
    assert (counts.compiled, counts.from_disk) == (2, 0)
    assert len(entries(tmp_path)) == 2


def test_artifact_wasmtime_refuses_is_compiled_again_and_replaced(tmp_path, counts):
    """A well-formed entry whose payload is not a loadable artifact (e.g. another program
    wrote it, or a different wasmtime with the same key): wasmtime refuses it, we compile."""
    cache = DiskCache(tmp_path)
    data = core_module(1003)
    module_cache.compile_module(fibers.make_engine(), data, cache)
    (path,) = entries(tmp_path)
    key = bytes.fromhex(path.parent.name + path.stem)
    good = bytes(cache.get(module_cache.KIND, key))
    cache.put(module_cache.KIND, key, b"\x7fELF" + bytes(100))
    engine = fibers.make_engine()
    module = module_cache.compile_module(engine, data, cache)
    assert (counts.compiled, counts.from_disk) == (2, 0)
    instance = wasmtime.Instance(store := wasmtime.Store(engine), module, [])
    assert instance.exports(store)["f"](store) == 1003
    assert len(bytes(cache.get(module_cache.KIND, key))) == len(good)


def test_corrupt_artifact_on_disk_is_never_loaded(tmp_path, counts):
    cache = DiskCache(tmp_path)
    data = core_module(1004)
    module_cache.compile_module(fibers.make_engine(), data, cache)
    (path,) = entries(tmp_path)
    damaged = bytearray(path.read_bytes())
    damaged[len(damaged) // 2] ^= 0xFF  # somewhere in the compiled code
    path.write_bytes(damaged)
    engine = fibers.make_engine()
    module = module_cache.compile_module(engine, data, cache)
    assert (counts.compiled, counts.from_disk, cache.rejected) == (2, 0, 1)
    instance = wasmtime.Instance(store := wasmtime.Store(engine), module, [])
    assert instance.exports(store)["f"](store) == 1004
    assert entries(tmp_path) == [path]  # written again, whole


def test_invalid_module_is_a_link_error_and_caches_nothing(tmp_path):
    from stackswitch.errors import LinkError

    linker = Linker(cache=tmp_path)
    with pytest.raises(LinkError, match="invalid core module"):
        linker.module(b"\0asm\x01\0\0\0\x01")
    assert entries(tmp_path) == []


def test_in_process_table_drops_least_recently_used(monkeypatch, counts):
    engine = fibers.make_engine()
    a, b, c = core_module(2001), core_module(2002), core_module(2003)
    monkeypatch.setattr(module_cache, "MEMORY_BUDGET", 2 * len(a))
    for data in (a, b, a, c):  # c evicts b (a was used more recently)
        module_cache.compile_module(engine, data)
    assert counts.compiled == 3
    module_cache.compile_module(engine, a)
    assert counts.compiled == 3
    module_cache.compile_module(engine, b)
    assert counts.compiled == 4


# -- through the Linker -------------------------------------------------------------------


def test_linkers_share_compiled_modules_in_the_process(counts):
    component = Component.from_file(ADD)
    first = Linker(cache=False).instantiate(component)
    before = counts.compiled
    second = Linker(cache=False).instantiate(component)
    assert counts.compiled == before
    assert first["add"](1, 2) == second["add"](3, 4) - 4 == 3


def test_linker_cache_option(tmp_path, monkeypatch, counts):
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "env"))
    monkeypatch.delenv(OFF_VAR, raising=False)
    assert Linker().cache.directory == tmp_path / "env"
    assert Linker(cache=tmp_path / "given").cache.directory == tmp_path / "given"
    assert Linker(cache=str(tmp_path)).cache.directory == tmp_path
    assert Linker(cache=False).cache is None
    monkeypatch.setenv(OFF_VAR, "1")
    assert Linker().cache is None
    with pytest.raises(TypeError, match="cache must be"):
        Linker(cache=3)


def test_linker_writes_and_reads_the_disk_cache(tmp_path, counts):
    text = "(component (core module (func (export \"x\") (result i32) i32.const 3003)))"
    Linker(cache=tmp_path, interruptible=True).instantiate(Component(text))
    assert len(entries(tmp_path / "modules")) == 1
    assert counts.compiled == 1
    # an interruptible Linker has an engine of its own, so it finds the module on disk
    Linker(cache=tmp_path, interruptible=True).instantiate(Component(text))
    assert (counts.compiled, counts.from_disk) == (1, 1)


def test_module_sizes_count_cached_modules_too(tmp_path):
    component = Component.from_file(ADD)
    Linker(cache=tmp_path).instantiate(component)
    again = Linker(cache=tmp_path)
    again.instantiate(component)
    assert len(again.module_sizes) == 1


def test_interrupting_one_linker_leaves_the_others_alone():
    component = Component.from_file(ADD)
    stopped = Linker(interruptible=True)
    other = Linker(interruptible=True)
    plain = Linker()
    instances = [linker.instantiate(component) for linker in (stopped, other, plain)]
    stopped.interrupt()
    assert stopped.engine is not other.engine
    assert instances[1]["add"](1, 1) == 2
    assert instances[2]["add"](2, 2) == 4


# -- the command line ---------------------------------------------------------------------


def test_cli_cache_dir_and_no_cache(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "default"))
    monkeypatch.delenv(OFF_VAR, raising=False)
    source = tmp_path / "c.wat"
    source.write_text("""(component
      (core module $M (func (export "y") (result i32) i32.const 4004))
      (core instance $i (instantiate $M))
      (func (export "y") (result u32) (canon lift (core func $i "y"))))""")
    assert main(["run", str(source), "--no-cache", "--invoke", "y()"]) == 0
    assert capsys.readouterr().out == "4004\n"
    assert not (tmp_path / "default").exists()
    assert os.environ.get(OFF_VAR) is None  # restored after the command
    assert main(["run", str(source), "--cache-dir", str(tmp_path / "dir"),
                 "--invoke", "y()"]) == 0
    assert capsys.readouterr().out == "4004\n"
    assert entries(tmp_path / "dir")
    assert os.environ[ENV_VAR] == str(tmp_path / "default")
    assert not (tmp_path / "default").exists()


# -- exports looked up lazily ---------------------------------------------------------------


def test_core_exports_fetch_by_name_and_keep_identity():
    engine = fibers.make_engine()
    module = wasmtime.Module(engine, core_module(5005))
    store = wasmtime.Store(engine)
    instance = wasmtime.Instance(store, module, [])
    exports = CoreExports(store, module, instance)
    assert list(exports) == ["f", "g"] and len(exports) == 2
    assert "f" in exports and "h" not in exports
    assert exports["f"] is exports["f"]
    assert exports["f"](store) == 5005
    with pytest.raises(KeyError):
        exports["h"]
    assert exports.get("h") is None


# -- asyncified modules --------------------------------------------------------------------


def test_asyncified_modules_are_kept_on_disk(tmp_path, monkeypatch):
    from callback_abi.asyncify import asyncify, transform

    data = bytes(wasmtime.wat2wasm("""(module
      (import "env" "block" (func $block (param i32) (result i32)))
      (memory (export "memory") 1)
      (func (export "run") (param i32) (result i32)
        (i32.add (call $block (local.get 0)) (i32.const 6006))))"""))
    cache = DiskCache(tmp_path)
    first = asyncify(data, what="t", relocatable=True, cache=cache)
    (path,) = entries(tmp_path / transform.CACHE_KIND)
    runs = []
    real = transform._run_wasm_opt

    def counted(*args, **kwargs):
        runs.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(transform, "_run_wasm_opt", counted)
    transform.clear_cache()  # a new process, as far as the transform can tell
    assert asyncify(data, what="t", relocatable=True, cache=cache) == first
    assert runs == []
    assert asyncify(data, what="t", relocatable=False, cache=cache) != first  # other options
    assert len(runs) == 1
    damaged = bytearray(path.read_bytes())
    damaged[-1] ^= 0xFF
    path.write_bytes(damaged)
    transform.clear_cache()
    assert asyncify(data, what="t", relocatable=True, cache=cache) == first
    assert len(runs) == 2 and cache.rejected == 1
