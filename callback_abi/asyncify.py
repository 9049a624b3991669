"""Asyncify: suspend a stackful export without switching stacks (issue 5's "callback" strategy).

A guest written in a synchronous style calls blocking built-ins
(``waitable-set.wait`` ...) deep inside its own frames. The stackful strategy
keeps those frames on a suspended stack. This module lets them be *saved and
dropped* instead: binaryen's ``wasm-opt --asyncify`` rewrites the core module
so that, once the host says so, every frame between the export and the
blocking import writes its locals and its position into a buffer in the
guest's linear memory and returns. Later the host calls the same export again
in "rewind" mode and each frame reloads its state from the buffer until the
blocking import is reached again; this time the import returns the real
result. One task then holds no stack while it waits, only its buffer.

Two parts:

* :func:`asyncify` transforms a module (running ``wasm-opt``, found by
  :func:`find_wasm_opt`), or says why it cannot, naming the export or module;
* :class:`Asyncify` drives one instance of a transformed module: the
  ``asyncify_*`` exports binaryen adds, and the unwind buffers.

The sequence, as a runtime drives it (all calls through
:func:`stackswitch.wasm.fibers.call`; the blocking import is a ``may_block``
import, so its handler runs on the greenlet and may call the instance)::

    buf = a.new_buffer()
    call export(args)        -> import handler decides to block:
                                  a.start_unwind(buf); return a dummy result
                             <- export returns (its results mean nothing)
    a.state() == UNWINDING   -> a.stop_unwind()   (the task is now just buf)
    ... other code runs in the instance, the event arrives ...
    a.start_rewind(buf)
    call export(args) again  -> frames reload their locals; the import is
                                called again: a.state() == REWINDING, so the
                                handler calls a.stop_rewind() and returns the
                                real result; the export carries on
    ... returns normally (or blocks again: same buf) ... a.free_buffer(buf)

Facts about binaryen (checked with Debian's wasm-opt 108, and the npm
package's 132):

* The buffer is ``[i32 current, i32 end]`` then the data area. Unwinding
  pushes each frame's call index and live locals from ``current`` upwards;
  rewinding pops them back down, so a finished rewind leaves ``current`` at
  the start of the data area again.
* Nothing is bounds-checked while unwinding: a stack bigger than the data area
  is written *past* ``end``, and only ``asyncify_stop_unwind`` (and the two
  ``start`` functions) trap with ``unreachable`` when ``current > end``.
  :meth:`Asyncify.stop_unwind` reads the header first and reports
  :class:`UnwindOverflow` with the size that was needed; the bytes after the
  buffer are already overwritten by then, so the instance must be treated as
  trapped.
* ``--pass-arg=asyncify-imports@LIST``: comma-separated ``module.name``
  entries, each matched against the import's module and name joined by one
  ``.``; ``[``, ``]``, ``$``, ``:``, ``/``, ``@`` and dots need no escaping
  (``$root.[waitable-set-wait]``, ``[export]$root.[task-return]run`` and
  ``ns:pkg/iface@0.1.0.[async-lower]f`` all match exactly); ``*`` matches any
  run of characters; a comma splits entries; trailing whitespace is dropped;
  ``@@FILE`` reads the list from a file. An empty list means *every* import.
* Without a memory, wasm-opt 108 silently adds a 1-page, unexported memory
  (useless to the host); with memory64 it emits invalid code; a second memory
  it refuses to read ("Must be exactly 1 memory"). Reference-typed locals and
  tail calls are refused by asyncify itself ("does not yet support").
* At ``-O1`` and above wasm-opt drops imports the module never calls, and at
  every level it may reorder imports: link the result by name, not position.
* ``--all-features`` is not safe for the output: binaryen 132 then writes the
  "compact import section" encoding, which wasmtime 50 refuses. So the
  features are an explicit list (:data:`FEATURES`) that binaryen reads but
  does not introduce on its own, each passed only if the installed
  wasm-opt knows it (108 knows neither ``bulk-memory-opt`` nor
  ``call-indirect-overlong``). A module using anything else (GC, memory64,
  custom page sizes ...) is refused, by the checks here or by wasm-opt.
* asyncify aborts on a ``try`` block in a function it must instrument
  (108: "UNREACHABLE executed at Asyncify.cpp"), and refuses reference-typed
  locals and tail calls.
* Only wasm locals are saved. A C guest's frames in linear memory (its
  shadow stack, below the ``__stack_pointer`` global) stay where they are,
  and the stack pointer is shared by every task of the instance: two tasks
  suspended at once and resumed out of order overwrite each other's stack
  arrays unless each has a shadow stack of its own
  (``tests/test_asyncify.py`` pins this).
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import os
import re
import shlex
import shutil
import struct
import subprocess
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import IntEnum
from pathlib import Path

import wasmtime

from stackswitch.errors import Trap
from stackswitch.wasm import capi, fibers
from stackswitch.wasm.wasmtime_memory import WasmMemory

ENV_VAR = "STACKSWITCH_WASM_OPT"
"""Environment variable naming the wasm-opt to use (a path, or a command such as ``npx wasm-opt``)."""

INSTALL_HINT = (
    "install binaryen: `apt-get install binaryen` (puts wasm-opt on PATH) or "
    "`npm install binaryen` (node_modules/.bin/wasm-opt), or set "
    f"{ENV_VAR} to a wasm-opt executable")

DEFAULT_OPTIMIZE = "-O2"
"""Optimisation run after the transform: asyncify's output is large until optimised."""

OPTIMIZE_LEVELS = ("-O0", "-O1", "-O2", "-O3", "-O4", "-Os", "-Oz")

WASM_OPT_TIMEOUT = 600.0
"""Seconds one wasm-opt run may take before it is given up."""

PAGE_SIZE = 65536
HEADER_SIZE = 8
"""``[i32 current, i32 end]`` at the start of every unwind buffer (wasm32 layout)."""

BUFFER_ALIGN = 16

DEFAULT_DATA_SIZE = 16 * 1024 - HEADER_SIZE
"""Bytes of saved stack per buffer: header and data fill 16 KiB, four buffers to a page."""

FEATURES = ("sign-ext", "mutable-globals", "nontrapping-float-to-int", "bulk-memory",
            "bulk-memory-opt", "call-indirect-overlong", "multivalue", "reference-types", "simd",
            "relaxed-simd", "extended-const", "tail-call", "exception-handling", "threads")
"""wasm-opt features enabled (on top of the MVP) where the installed wasm-opt has them."""

STATE_GLOBAL = ("env", "__asyncify_state")
DATA_GLOBAL = ("env", "__asyncify_data")
"""The imports a ``relocatable`` module takes asyncify's state and buffer pointer from."""

ASYNCIFY_EXPORTS = ("asyncify_start_unwind", "asyncify_stop_unwind", "asyncify_start_rewind",
                    "asyncify_stop_rewind", "asyncify_get_state")

_HEADER = struct.Struct("<II")
_I32 = fibers._Codec(["i32"])  # one wasmtime_val_t holding an i32


class AsyncifyError(Exception):
    """A module cannot be asyncified (or driven): the message names it and says why."""


class UnwindOverflow(Trap):
    """A guest's stack did not fit its unwind buffer; the memory after the buffer is overwritten.

    A :class:`~stackswitch.errors.Trap`: the instance cannot be trusted any
    more (the overflow may have clobbered another task's buffer or guest
    data), so the runtime must poison it as it does for any trap.
    """


class State(IntEnum):
    """Values of binaryen's ``__asyncify_state`` global (``asyncify_get_state``)."""

    NORMAL = 0
    UNWINDING = 1
    REWINDING = 2


# -- finding wasm-opt ------------------------------------------------------------

_PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _search_roots() -> list[Path]:
    """Directories whose ``node_modules/.bin`` may hold an npm-installed wasm-opt."""
    cwd = Path.cwd()
    roots = [cwd, *cwd.parents]
    return roots + ([_PROJECT_ROOT] if _PROJECT_ROOT not in roots else [])


@functools.lru_cache(maxsize=8)
def _npx_has_wasm_opt(npx: str, cwd: str) -> bool:
    """Whether ``npx --no-install wasm-opt`` runs here (cached: npx takes ~0.5 s to start)."""
    try:
        proc = subprocess.run([npx, "--no-install", "wasm-opt", "--version"], cwd=cwd,
                              capture_output=True, text=True, errors="replace",
                              stdin=subprocess.DEVNULL, timeout=120)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return proc.returncode == 0 and "wasm-opt" in proc.stdout


def find_wasm_opt() -> tuple[str, ...]:
    """The command that runs wasm-opt, as an argv prefix; :class:`AsyncifyError` if none.

    Order: ``$STACKSWITCH_WASM_OPT`` (and nothing else when it is set, so a
    wrong value is reported rather than silently bypassed), ``wasm-opt`` on
    PATH, ``node_modules/.bin/wasm-opt`` in the working directory, its
    parents or the project, then ``npx --no-install wasm-opt``.
    """
    override = os.environ.get(ENV_VAR, "").strip()
    if override:
        if Path(override).is_file() and os.access(override, os.X_OK):
            return (override,)
        words = shlex.split(override)
        found = shutil.which(words[0]) if words else None
        if found is None:
            raise AsyncifyError(f"{ENV_VAR}={override!r}: no such executable; {INSTALL_HINT}")
        return (found, *words[1:])
    found = shutil.which("wasm-opt")
    if found is not None:
        return (found,)
    for root in _search_roots():
        candidate = root / "node_modules" / ".bin" / "wasm-opt"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return (str(candidate),)
    npx = shutil.which("npx")
    if npx is not None and _npx_has_wasm_opt(npx, os.getcwd()):
        return (npx, "--no-install", "wasm-opt")
    raise AsyncifyError(f"wasm-opt (binaryen) was not found (not on PATH, no "
                        f"node_modules/.bin/wasm-opt, not via npx); {INSTALL_HINT}")


@functools.lru_cache(maxsize=8)
def wasm_opt_version(command: tuple[str, ...]) -> str:
    """``wasm-opt --version``'s answer (e.g. ``wasm-opt version 108``); checks the tool runs."""
    try:
        proc = subprocess.run([*command, "--version"], capture_output=True, text=True,
                              errors="replace", stdin=subprocess.DEVNULL, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise AsyncifyError(f"cannot run {' '.join(command)}: {e}; {INSTALL_HINT}") from None
    if proc.returncode != 0:
        raise AsyncifyError(f"{' '.join(command)} --version failed (exit status "
                            f"{proc.returncode}): {proc.stderr.strip()}; {INSTALL_HINT}")
    return proc.stdout.strip() or "wasm-opt (unknown version)"


@functools.lru_cache(maxsize=8)
def _feature_flags(command: tuple[str, ...]) -> tuple[str, ...]:
    """``--mvp-features`` plus ``--enable-X`` for each of :data:`FEATURES` this wasm-opt knows."""
    try:
        proc = subprocess.run([*command, "--help"], capture_output=True, text=True,
                              errors="replace", stdin=subprocess.DEVNULL, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise AsyncifyError(f"cannot run {' '.join(command)}: {e}; {INSTALL_HINT}") from None
    known = set(re.findall(r"--enable-([a-z0-9-]+)", proc.stdout))
    return ("--mvp-features", *(f"--enable-{f}" for f in FEATURES if f in known))


# -- reading just enough of a core module ---------------------------------------------


@dataclass
class _Memory:
    imported: bool
    is64: bool
    custom_page_size: bool


@dataclass
class _Shape:
    """What the checks before the transform need to know about a module."""

    memories: list[_Memory] = field(default_factory=list)
    imports: list[tuple[str, str, int]] = field(default_factory=list)
    exports: dict[str, int] = field(default_factory=dict)


class _Reader:
    __slots__ = ("data", "pos")

    def __init__(self, data: bytes, pos: int = 0) -> None:
        self.data, self.pos = data, pos

    def byte(self) -> int:
        b = self.data[self.pos]
        self.pos += 1
        return b

    def uleb(self) -> int:
        result = shift = 0
        while True:
            b = self.byte()
            result |= (b & 0x7F) << shift
            if b < 0x80:
                return result
            shift += 7
            if shift > 63:
                raise ValueError("LEB128 number too long")

    def skip_sleb(self) -> None:
        while self.byte() & 0x80:
            pass

    def name(self) -> str:
        n = self.uleb()
        raw = self.data[self.pos:self.pos + n]
        if len(raw) != n:
            raise IndexError("name runs past the end")
        self.pos += n
        return raw.decode("utf-8", errors="replace")

    def valtype(self) -> None:
        if self.byte() in (0x63, 0x64):  # (ref null? heaptype)
            self.skip_sleb()

    def limits(self) -> tuple[bool, bool]:
        """Skip a limits; (64-bit, custom page size)."""
        flags = self.byte()
        self.uleb()
        if flags & 1:
            self.uleb()
        if flags & 8:
            self.uleb()
        return bool(flags & 4), bool(flags & 8)


_WASM_MAGIC = b"\0asm"
_CORE_VERSION = b"\x01\0\0\0"


def _shape(data: bytes) -> _Shape:
    """Memories, imports and exports of a core module; ``ValueError`` says what is wrong."""
    if data[:4] != _WASM_MAGIC:
        raise ValueError("not a wasm binary (no \\0asm header)")
    if data[4:8] != _CORE_VERSION:
        kind = "a component" if data[4:8] == b"\x0d\0\x01\0" else "not a core module"
        raise ValueError(f"{kind} (version bytes {data[4:8].hex()}); asyncify transforms "
                         "one core module")
    shape = _Shape()
    r = _Reader(data, 8)
    try:
        while r.pos < len(data):
            section, size = r.byte(), r.uleb()
            body = _Reader(data, r.pos)
            r.pos += size
            if r.pos > len(data):
                raise IndexError("section runs past the end")
            if section == 2:
                for _ in range(body.uleb()):
                    module, name, kind = body.name(), body.name(), body.byte()
                    shape.imports.append((module, name, kind))
                    if kind == 0:
                        body.uleb()
                    elif kind == 1:
                        body.valtype()
                        body.limits()
                    elif kind == 2:
                        shape.memories.append(_Memory(True, *body.limits()))
                    elif kind == 3:
                        body.valtype()
                        body.byte()
                    elif kind == 4:
                        body.byte()
                        body.uleb()
                    else:
                        raise ValueError(f"unknown import kind 0x{kind:02x}")
            elif section == 5:
                for _ in range(body.uleb()):
                    shape.memories.append(_Memory(False, *body.limits()))
            elif section == 7:
                for _ in range(body.uleb()):
                    name, kind = body.name(), body.byte()
                    body.uleb()
                    shape.exports[name] = kind
    except (IndexError, ValueError) as e:
        raise ValueError(f"cannot read it as a core module ({e})") from None
    return shape


MEMORY_EXPORT = "stackswitch:unwind-memory"
"""The export name of the memory :func:`with_memory` gives a module that had none."""

# Where each known section goes, in the order the binary format requires
# (the tag section, 13, sits between memory and global; data count, 12,
# before code).
_SECTION_RANK = {1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 13: 6, 6: 7, 7: 8, 8: 9, 9: 10, 12: 11, 10: 12,
                 11: 13}


def _uleb(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _section(section_id: int, body: bytes) -> bytes:
    return bytes([section_id]) + _uleb(len(body)) + body


def needs_memory(module_bytes: bytes) -> bool:
    """Does this core module have no linear memory at all (defined or imported)?"""
    try:
        return not _shape(module_bytes).memories
    except ValueError:
        return False  # asyncify() reports what is wrong with it


def with_memory(module_bytes: bytes) -> bytes:
    """``module_bytes`` plus a one-page memory of its own, exported as :data:`MEMORY_EXPORT`.

    A module with no memory (many hand-written test guests) has nowhere to
    keep unwound stacks; the code never touches this memory, only asyncify's
    instrumentation and the host's unwind buffers do.
    """
    data = bytes(module_bytes)
    if _shape(data).memories:
        raise ValueError("the module already has a memory")
    name = MEMORY_EXPORT.encode()
    entry = _uleb(len(name)) + name + b"\x02" + _uleb(0)
    memory = _section(5, b"\x01\x00\x01")  # one memory, no maximum, 1 page
    out = bytearray(data[:8])
    r = _Reader(data, 8)
    placed_memory = placed_export = False
    while r.pos < len(data):
        start = r.pos
        section, size = r.byte(), r.uleb()
        body = data[r.pos:r.pos + size]
        r.pos += size
        rank = _SECTION_RANK.get(section, 0)
        if rank > _SECTION_RANK[5] and not placed_memory:
            out += memory
            placed_memory = True
        if rank > _SECTION_RANK[7] and not placed_export:
            out += _section(7, b"\x01" + entry)
            placed_export = True
        if section == 7:
            count = _Reader(body)
            n = count.uleb()
            out += _section(7, _uleb(n + 1) + body[count.pos:] + entry)
            placed_export = True
        else:
            out += data[start:r.pos]
    if not placed_memory:
        out += memory
    if not placed_export:
        out += _section(7, b"\x01" + entry)
    return bytes(out)


def _refuse_before_transform(shape: _Shape) -> str | None:
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


def _pass_args(imports: tuple[tuple[str, str], ...] | None, list_file: Path) -> list[str]:
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


def _run_wasm_opt(data: bytes, what: str, imports: tuple[tuple[str, str], ...] | None,
                  optimize: str, relocatable: bool = False) -> bytes:
    command = find_wasm_opt()
    version = wasm_opt_version(command)
    with tempfile.TemporaryDirectory(prefix="stackswitch-asyncify-") as tmp:
        source, target = Path(tmp, "in.wasm"), Path(tmp, "out.wasm")
        source.write_bytes(data)
        argv = [*command, str(source), *_feature_flags(command), "--asyncify",
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


_cache: dict[tuple[bytes, tuple[tuple[str, str], ...] | None, str, bool], bytes] = {}


def clear_cache() -> None:
    """Forget every transformed module (they are kept for the life of the process)."""
    _cache.clear()


def asyncify(module_bytes: bytes, *, what: str, imports: Iterable[tuple[str, str]] | None = None,
             optimize: str = DEFAULT_OPTIMIZE, relocatable: bool = False) -> bytes:
    """``module_bytes`` transformed by ``wasm-opt --asyncify`` then ``optimize``.

    ``imports`` lists the ``(module, name)`` imports that may block (unwind);
    only code that can reach one of them is instrumented. ``None`` means any
    import may, an empty list none. ``what`` names the export or module in
    errors. Results are cached in the process by input bytes, imports and
    level. :class:`AsyncifyError` says why a module cannot be transformed.
    ``relocatable`` makes asyncify's two globals imports (:data:`STATE_GLOBAL`,
    :data:`DATA_GLOBAL`) that the host then sets itself (see :class:`Asyncify`):
    no call into wasm per transition.
    """
    if optimize not in OPTIMIZE_LEVELS:
        raise ValueError(f"optimize must be one of {', '.join(OPTIMIZE_LEVELS)}, not {optimize!r}")
    data = bytes(module_bytes)
    listed = None if imports is None else tuple(sorted({(m, n) for m, n in imports}))
    key = (hashlib.sha256(data).digest(), listed, optimize, relocatable)
    cached = _cache.get(key)
    if cached is not None:
        return cached
    try:
        shape = _shape(data)
    except ValueError as e:
        raise AsyncifyError(f"cannot asyncify {what}: {e}") from None
    reason = _refuse_before_transform(shape)
    if reason is not None:
        raise AsyncifyError(f"cannot asyncify {what}: {reason}")
    result = _run_wasm_opt(data, what, listed, optimize, relocatable)
    try:
        out = _shape(result)
    except ValueError as e:
        raise AsyncifyError(f"cannot asyncify {what}: wasm-opt's output: {e}") from None
    missing = [name for name in (*shape.exports, *ASYNCIFY_EXPORTS) if name not in out.exports]
    if missing:
        raise AsyncifyError(f"cannot asyncify {what}: wasm-opt's output lacks the "
                            f"export(s) {', '.join(missing)}")
    _cache[key] = result
    return result


# -- driving an asyncified instance ------------------------------------------------------


class Asyncify:
    """The unwind/rewind controls and the unwind buffers of one asyncified instance.

    Every call into the instance goes through :func:`fibers.call` (stores
    with async host functions refuse plain calls). :meth:`state` is tracked
    on the host side, without a call: only the four ``start``/``stop``
    exports change binaryen's state, and all of them go through this object
    (:func:`asyncify` refuses modules that drive asyncify themselves).
    :meth:`guest_state` asks the guest.

    **Where the buffers live.** By default the host grows the guest's memory
    by whole pages (``memory.grow`` from outside, as wasmtime's
    ``Memory.grow`` does) and cuts them into buffers of ``8 + data_size``
    bytes (rounded up to 16), kept on a free list: a finished task's buffer
    goes to the next one, and the pages are never given back. The guest never
    learns of these pages. That is safe exactly when the guest's allocator
    takes fresh memory only from what *its own* ``memory.grow`` returns (the
    old size): wasi-libc's ``sbrk`` (and so its malloc), Rust's std
    allocator, zig's wasm page allocator all do, and then a page the host
    grew is simply a gap below the guest's next growth; pages that existed at
    instantiation (data, stack, the initial heap) are never handed out. It is
    **not** safe when the allocator assumes it owns everything up to
    ``memory.size``: e.g. a bump pointer that only grows memory once it
    passes ``memory.size`` (``examples/c/blocking.c``'s ``cabi_realloc``),
    emscripten's ``sbrk``, TinyGo's heap. Such a guest would hand our pages
    out again. For those pass ``allocate``: a function returning the guest
    address of ``n`` fresh bytes from the guest's own allocator (e.g. a call
    of its ``cabi_realloc(0, 0, 16, n)``); buffers from it are never freed,
    only reused. Either way the pages count against the memory's maximum.

    **Overflow.** binaryen does not check bounds while unwinding; a stack
    that does not fit overwrites the memory after the buffer.
    :meth:`stop_unwind` detects it (``current > end``) and raises
    :class:`UnwindOverflow`; from then on this object refuses to work.
    """

    def __init__(self, store: wasmtime.Store, instance: wasmtime.Instance, *,
                 what: str = "the module", memory: wasmtime.Memory | None = None,
                 data_size: int = DEFAULT_DATA_SIZE,
                 allocate: Callable[[int], int] | None = None,
                 globals_: tuple[wasmtime.Global, wasmtime.Global] | None = None) -> None:
        if data_size <= 0 or data_size % 4:
            raise ValueError(f"data_size must be a positive multiple of 4, not {data_size}")
        self.what = what
        self.data_size = data_size
        exports = instance.exports(store)
        missing = [name for name in ASYNCIFY_EXPORTS if name not in exports]
        if missing:
            raise AsyncifyError(f"{what} has no export {', '.join(missing)}: "
                                "was it transformed with asyncify()?")
        self._start_unwind = fibers.export(store, instance, "asyncify_start_unwind")
        self._stop_unwind = fibers.export(store, instance, "asyncify_stop_unwind")
        self._start_rewind = fibers.export(store, instance, "asyncify_start_rewind")
        self._stop_rewind = fibers.export(store, instance, "asyncify_stop_rewind")
        self._get_state = fibers.export(store, instance, "asyncify_get_state")
        if memory is None:
            memory = self._exported_memory(store, instance)
        self.memory = WasmMemory(store, memory)
        if self.memory.ptr_type != "i32":
            raise AsyncifyError(f"{what}'s memory is 64-bit; unwind buffers need a 32-bit one")
        self._allocate = allocate
        self._globals = None
        if globals_ is not None:
            # A relocatable module: its state and data globals are ours to set.
            # Two raw global sets cost about a microsecond; each call of an
            # asyncify_* export is a fresh fiber (2.5 us, and often a new stack).
            context = capi.address(store._context())
            addresses = tuple(ctypes.addressof(g._global) for g in globals_)
            self._globals = (context, *addresses)
            self._keep = (store, globals_)  # the addresses above live as long as these
        self._stride = -(-(HEADER_SIZE + data_size) // BUFFER_ALIGN) * BUFFER_ALIGN
        self._state = State.NORMAL
        self._active: int | None = None  # the buffer being unwound into / rewound from
        self._free: list[int] = []
        self._saved: dict[int, int] = {}  # buffer in use -> bytes of stack it holds
        self._broken: str | None = None

    def _exported_memory(self, store: wasmtime.Store, instance: wasmtime.Instance
                         ) -> wasmtime.Memory:
        exports = instance.exports(store)
        preferred = exports.get("memory")
        if isinstance(preferred, wasmtime.Memory):
            return preferred
        for item in exports.values():
            if isinstance(item, wasmtime.Memory):
                return item
        raise AsyncifyError(f"{self.what} exports no memory: pass the memory it imports "
                            "(Asyncify(..., memory=...))")

    def __repr__(self) -> str:
        return (f"<Asyncify {self.what} {self._state.name} buffers: {len(self._saved)} in use, "
                f"{len(self._free)} free, {self.data_size} data bytes each>")

    # -- state --------------------------------------------------------------------

    def state(self) -> State:
        """NORMAL, UNWINDING or REWINDING, as the host last set it (no call into wasm)."""
        return self._state

    def guest_state(self) -> State:
        """The guest's own ``__asyncify_state`` (a call of ``asyncify_get_state``)."""
        return State(fibers.call(self._get_state)[0])

    def _check(self, expected: State, doing: str) -> None:
        if self._broken is not None:
            raise UnwindOverflow(self._broken)
        if self._state != expected:
            raise AsyncifyError(f"{self.what}: {doing} while {self._state.name.lower()} "
                                f"(needs {expected.name.lower()})")

    def _buffer(self, buf: int, doing: str) -> None:
        if buf not in self._saved:
            raise ValueError(f"{self.what}: {doing}: {buf:#x} is not a buffer in use "
                             "(from new_buffer() and not freed)")

    # -- the four transitions -------------------------------------------------------

    def start_unwind(self, buf: int) -> None:
        """Start unwinding into ``buf``; call it from the blocking import, then return any value."""
        self._check(State.NORMAL, "start_unwind")
        self._buffer(buf, "start_unwind")
        data = buf + HEADER_SIZE
        self.memory.write(buf, _HEADER.pack(data, data + self.data_size))
        self._transition(self._start_unwind, State.UNWINDING, buf)
        self._state, self._active = State.UNWINDING, buf

    def stop_unwind(self) -> int:
        """The export has returned after unwinding: back to normal; the bytes of stack saved.

        Raises :class:`UnwindOverflow` if the stack did not fit, and
        :class:`AsyncifyError` if nothing was saved (the import that started
        the unwind was not instrumented: missing from ``imports``).
        """
        self._check(State.UNWINDING, "stop_unwind")
        buf = self._active
        assert buf is not None
        data = buf + HEADER_SIZE
        current, end = _HEADER.unpack(self.memory.read(buf, HEADER_SIZE))
        used = current - data
        if current > end:
            self._broken = (
                f"{self.what}: unwind buffer overflow: the suspended stack needed {used} bytes "
                f"but the buffer at {buf:#x} holds {self.data_size} (data_size); the "
                f"{used - self.data_size} bytes after it were overwritten, so this instance "
                "can no longer be trusted; use a larger data_size")
            self.memory.write(buf, _HEADER.pack(end, end))  # so the guest's own check passes
            self._transition(self._stop_unwind, State.NORMAL)
            self._state, self._active = State.NORMAL, None
            raise UnwindOverflow(self._broken)
        self._transition(self._stop_unwind, State.NORMAL)
        self._state, self._active = State.NORMAL, None
        if used <= 0:
            raise AsyncifyError(
                f"{self.what}: the unwind saved nothing: no instrumented function was on the "
                "stack, so the import that started it was not among asyncify()'s imports")
        self._saved[buf] = used
        return used

    def start_rewind(self, buf: int) -> None:
        """Rewind from ``buf``; then call the export that unwound, with the same arguments."""
        self._check(State.NORMAL, "start_rewind")
        self._buffer(buf, "start_rewind")
        if not self._saved[buf]:
            raise ValueError(f"{self.what}: start_rewind: buffer {buf:#x} holds no unwound stack")
        self._transition(self._start_rewind, State.REWINDING, buf)
        self._state, self._active = State.REWINDING, buf

    def stop_rewind(self) -> None:
        """The blocking import was reached again: normal execution resumes from here."""
        self._check(State.REWINDING, "stop_rewind")
        buf = self._active
        assert buf is not None
        current, _ = _HEADER.unpack(self.memory.read(buf, HEADER_SIZE))
        self._transition(self._stop_rewind, State.NORMAL)
        self._state, self._active = State.NORMAL, None
        self._saved[buf] = 0
        if current != buf + HEADER_SIZE:
            raise AsyncifyError(
                f"{self.what}: rewind reached the import with {current - buf - HEADER_SIZE} "
                "bytes of saved stack left: the export called to rewind is not the one "
                "that unwound into this buffer")

    def _transition(self, export: fibers.WasmFunc, state: State, buf: int | None = None) -> None:
        """Set binaryen's state (and buffer): by calling its export, or directly if relocatable."""
        if self._globals is None:
            fibers.call(export, () if buf is None else (buf,))
            return
        context, state_global, data_global = self._globals
        if buf is not None:
            capi.global_set(context, data_global, _I32.pack([buf]))
        capi.global_set(context, state_global, _I32.pack([int(state)]))

        # -- buffers --------------------------------------------------------------------

    def new_buffer(self) -> int:
        """A buffer for one task's stack (its guest address): reused if one is free, else new."""
        if not self._free:
            self._free.extend(reversed(self._fresh_buffers()))
        buf = self._free.pop()
        self._saved[buf] = 0
        return buf

    def free_buffer(self, buf: int) -> None:
        """``buf``'s task is done (or dropped, even while suspended): reuse the buffer."""
        self._buffer(buf, "free_buffer")
        if buf == self._active:
            raise AsyncifyError(f"{self.what}: free_buffer: {buf:#x} is being "
                                f"{self._state.name.lower()} right now")
        del self._saved[buf]
        self._free.append(buf)

    def saved_bytes(self, buf: int) -> int:
        """Bytes of stack ``buf`` holds (0 when it holds none)."""
        self._buffer(buf, "saved_bytes")
        return self._saved[buf]

    @property
    def buffers_in_use(self) -> int:
        return len(self._saved)

    @property
    def buffers_free(self) -> int:
        return len(self._free)

    def _fresh_buffers(self) -> list[int]:
        if self._allocate is not None:
            buf = self._allocate(self._stride)
            if buf % 4 or buf < 0 or buf + self._stride > len(self.memory):
                raise AsyncifyError(f"{self.what}: allocate({self._stride}) returned {buf:#x}, "
                                    "not a 4-byte-aligned range inside the memory")
            return [buf]
        pages = -(-self._stride // PAGE_SIZE)
        old = self.memory.grow(pages)
        if old < 0:
            raise AsyncifyError(f"{self.what}: cannot grow the memory by {pages} page(s) for "
                                "an unwind buffer (at its maximum?)")
        base = old * PAGE_SIZE
        return [base + i * self._stride for i in range(pages * PAGE_SIZE // self._stride)]
