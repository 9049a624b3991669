"""The transform: a core module through ``wasm-opt --asyncify``, or the reason it cannot be.

:func:`asyncify` first refuses, with a reason, what binaryen would mishandle
(checked on the module's shape, :mod:`.core_module`), then runs wasm-opt
(found by :mod:`.wasm_opt`) and checks that the output exports what the
runtime controls (:mod:`.controls`) need. Results are cached for the process.

Facts about binaryen (checked with Debian's wasm-opt 108, and the npm
package's 132):

* ``--pass-arg=asyncify-imports@LIST``: comma-separated ``module.name``
  entries, each matched against the import's module and name joined by one
  ``.``; ``[``, ``]``, ``$``, ``:``, ``/``, ``@`` and dots need no escaping
  (``$root.[waitable-set-wait]``, ``[export]$root.[task-return]run`` and
  ``ns:pkg/iface@0.1.0.[async-lower]f`` all match exactly); ``*`` matches any
  run of characters; a comma splits entries; trailing whitespace is dropped;
  ``@@FILE`` reads the list from a file. An empty list means *every* import.
* Without a memory, wasm-opt 108 silently adds a 1-page, unexported memory
  (useless to the host); with memory64 it emits invalid code; a second memory
  it refuses to read ("Must be exactly 1 memory").
* asyncify aborts on a ``try`` block in a function it must instrument
  (108: "UNREACHABLE executed at Asyncify.cpp"), and refuses reference-typed
  locals and tail calls ("does not yet support").
* At ``-O1`` and above wasm-opt drops imports the module never calls, and at
  every level it may reorder imports: link the result by name, not position.
"""

from __future__ import annotations

import hashlib
import shlex
import subprocess
import tempfile
from collections.abc import Iterable
from pathlib import Path

from stackswitch.wasm.disk_cache import DiskCache, key_digest

from .conventions import ASYNCIFY_EXPORTS, AsyncifyError
from .core_module import ModuleShape, read_shape
from .wasm_opt import FEATURES, INSTALL_HINT, feature_flags, find_wasm_opt, wasm_opt_version

DEFAULT_OPTIMIZE = "-O2"
"""Optimisation run after the transform: asyncify's output is large until optimised."""

OPTIMIZE_LEVELS = ("-O0", "-O1", "-O2", "-O3", "-O4", "-Os", "-Oz")

WASM_OPT_TIMEOUT = 600.0
"""Seconds one wasm-opt run may take before it is given up."""

STATE_GLOBAL = ("env", "__asyncify_state")
DATA_GLOBAL = ("env", "__asyncify_data")
"""The imports a ``relocatable`` module takes asyncify's state and buffer pointer from."""

Imports = tuple[tuple[str, str], ...]


def _refuse_before_transform(shape: ModuleShape) -> str | None:
    """Why this module cannot be asyncified here, or ``None``."""
    if not shape.memories:
        return ("it has no linear memory; asyncify keeps each suspended stack in a buffer in "
                "the module's own memory (wasm-opt would add an unexported one-page memory "
                "the host cannot use)")
    if len(shape.memories) > 1:
        return (f"it has {len(shape.memories)} memories; binaryen 108 reads modules with "
                "exactly one, and the unwind buffers here live in that one")
    memory = shape.memories[0]
    if memory.is64:
        return ("its memory is a 64-bit memory (memory64): the unwind buffers here are laid "
                "out for 32-bit pointers, and binaryen 108's asyncify emits invalid code for it")
    if memory.custom_page_size:
        return "its memory has a custom page size; unwind buffers are allocated in 64 KiB pages"
    if any(module == "asyncify" for module, _, _ in shape.imports):
        return ("it imports from module `asyncify`, i.e. it drives asyncify itself, which "
                "would fight the host over the unwind state")
    already = [name for name in ASYNCIFY_EXPORTS if name in shape.exports]
    if already:
        return f"it already exports {', '.join(already)} (transformed twice?)"
    return None


# -- running wasm-opt -------------------------------------------------------------

_WIDEN = str.maketrans({c: "*" for c in ",\n\r\t\v\f"})


def import_pattern(module: str, name: str) -> str:
    """The asyncify-imports entry that matches import ``module``.``name``.

    binaryen joins module and name with ``.`` and matches the whole; ``*``
    matches any characters. A comma would split the entry and edge whitespace
    would be trimmed, so those become ``*``: the pattern may then match a
    few more imports, which only instruments a little more code (matching
    fewer would break the guest).
    """
    full = f"{module}.{name}".translate(_WIDEN)
    core = full.strip(" ")
    if core != full:
        core = ("*" if full[0] == " " else "") + core + ("*" if full[-1] == " " else "")
    return core or "*"


def _pass_args(imports: Imports | None, list_file: Path) -> list[str]:
    if imports is None:
        return []  # binaryen's default: any import may unwind
    if not imports:
        return ["--pass-arg=asyncify-ignore-imports"]
    list_file.write_text(",".join(import_pattern(m, n) for m, n in imports), encoding="utf-8")
    return [f"--pass-arg=asyncify-imports@@{list_file}"]


def _explain_failure(what: str, command: tuple[str, ...], proc: subprocess.CompletedProcess[str],
                     version: str) -> str:
    # (npm's wasm-opt is JavaScript: a crash prints its minified source, one huge line)
    lines = [line if len(line) <= 300 else line[:300] + " ..."
             for line in proc.stderr.strip().splitlines()]
    stderr = "\n".join(lines)
    if len(stderr) > 4000:
        stderr = stderr[:4000] + " ..."
    if proc.returncode < 0 or "UNREACHABLE executed" in stderr:
        why = (f"{version} crashed on it (exit status {proc.returncode}); binaryen's asyncify "
               "cannot handle something the module uses (e.g. a try block in a function it "
               "must instrument)")
    elif "parse exception" in stderr or "should be allowed" in stderr or "disabled" in stderr:
        why = (f"{version} could not read the module: it uses a wasm feature this binaryen "
               f"does not support, or one not enabled here ({', '.join(FEATURES)})")
    elif "not yet support" in stderr:
        why = "binaryen's asyncify does not support something the module uses"
    elif "validator error" in stderr:
        why = f"{version} produced or read code that does not validate"
    else:
        why = f"wasm-opt failed (exit status {proc.returncode})"
    return f"cannot asyncify {what}: {why}:\n  $ {shlex.join(command)} ...\n{stderr}"


def _run_wasm_opt(data: bytes, what: str, imports: Imports | None, optimize: str,
                  relocatable: bool = False) -> bytes:
    command = find_wasm_opt()
    version = wasm_opt_version(command)
    with tempfile.TemporaryDirectory(prefix="stackswitch-asyncify-") as tmp:
        source, target = Path(tmp, "in.wasm"), Path(tmp, "out.wasm")
        source.write_bytes(data)
        argv = [*command, str(source), *feature_flags(command), "--asyncify",
                *_pass_args(imports, Path(tmp, "imports")), optimize, "-o", str(target)]
        if relocatable:
            argv.insert(argv.index("--asyncify") + 1, "--pass-arg=asyncify-relocatable")
        try:
            proc = subprocess.run(argv, capture_output=True, text=True, errors="replace",
                                  stdin=subprocess.DEVNULL, timeout=WASM_OPT_TIMEOUT)
        except subprocess.TimeoutExpired:
            raise AsyncifyError(f"cannot asyncify {what}: wasm-opt took more than "
                                f"{WASM_OPT_TIMEOUT:.0f} s") from None
        except OSError as e:
            raise AsyncifyError(f"cannot asyncify {what}: cannot run {command[0]}: {e}; "
                                f"{INSTALL_HINT}") from None
        if proc.returncode != 0 or not target.is_file():
            raise AsyncifyError(_explain_failure(what, command, proc, version))
        return target.read_bytes()


# -- the transform, cached ------------------------------------------------------------

_cache: dict[tuple[bytes, Imports | None, str, bool], bytes] = {}


def clear_cache() -> None:
    """Forget every transformed module (they are kept for the life of the process)."""
    _cache.clear()


def _shape_of(data: bytes, what: str, whose: str = "") -> ModuleShape:
    """``data``'s shape, or :class:`AsyncifyError` naming ``what`` (and ``whose`` bytes)."""
    try:
        return read_shape(data)
    except ValueError as e:
        raise AsyncifyError(f"cannot asyncify {what}: {whose}{e}") from None


CACHE_KIND = "asyncified"
"""The disk cache's subdirectory for transformed modules."""


def _disk_key(digest: bytes, listed: Imports | None, optimize: str, relocatable: bool) -> bytes:
    """What a transformed module depends on: its input, the options, and the wasm-opt
    that would run (its version and the features it is told to accept)."""
    command = find_wasm_opt()
    return key_digest(CACHE_KIND, digest, repr(listed), optimize, repr(relocatable),
                      wasm_opt_version(command), " ".join(feature_flags(command)))


def asyncify(module_bytes: bytes, *, what: str, imports: Iterable[tuple[str, str]] | None = None,
             optimize: str = DEFAULT_OPTIMIZE, relocatable: bool = False,
             cache: DiskCache | None = None) -> bytes:
    """``module_bytes`` transformed by ``wasm-opt --asyncify`` then ``optimize``.

    ``imports`` lists the ``(module, name)`` imports that may block (unwind);
    only code that can reach one of them is instrumented. ``None`` means any
    import may, an empty list none. ``what`` names the export or module in
    errors. Results are cached in the process by input bytes, imports and
    level. :class:`AsyncifyError` says why a module cannot be transformed.
    ``relocatable`` makes asyncify's two globals imports (:data:`STATE_GLOBAL`,
    :data:`DATA_GLOBAL`) that the host then sets itself (see
    :class:`~callback_abi.asyncify.Asyncify`): no call into wasm per transition.
    With a ``cache``, results are also kept there across processes (keyed by the
    above and the wasm-opt version), so wasm-opt runs once per module and machine.
    """
    if optimize not in OPTIMIZE_LEVELS:
        raise ValueError(f"optimize must be one of {', '.join(OPTIMIZE_LEVELS)}, not {optimize!r}")
    data = bytes(module_bytes)
    listed = None if imports is None else tuple(sorted({(m, n) for m, n in imports}))
    key = (hashlib.sha256(data).digest(), listed, optimize, relocatable)
    cached = _cache.get(key)
    if cached is not None:
        return cached
    shape = _shape_of(data, what)
    reason = _refuse_before_transform(shape)
    if reason is not None:
        raise AsyncifyError(f"cannot asyncify {what}: {reason}")
    disk_key = _disk_key(key[0], listed, optimize, relocatable) if cache is not None else b""
    if cache is not None:
        stored = cache.get(CACHE_KIND, disk_key)
        if stored is not None:
            _cache[key] = result = bytes(stored)
            return result
    result = _run_wasm_opt(data, what, listed, optimize, relocatable)
    out = _shape_of(result, what, "wasm-opt's output: ")
    missing = [name for name in (*shape.exports, *ASYNCIFY_EXPORTS) if name not in out.exports]
    if missing:
        raise AsyncifyError(f"cannot asyncify {what}: wasm-opt's output lacks the "
                            f"export(s) {', '.join(missing)}")
    _cache[key] = result
    if cache is not None:
        cache.put(CACHE_KIND, disk_key, result)
    return result
