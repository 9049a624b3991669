"""The slice of wasmtime's C API we call through ctypes, declared in one place.

wasmtime-py declares most of these functions too, but with pointer-typed
arguments that cost a conversion per call, and its function objects are
shared with the rest of wasmtime-py. Here every function is a separate
ctypes object (``dll[name]``, not ``dll.name``) declared with plain
``c_void_p``/``c_size_t`` arguments, so hot paths pass integer addresses and
nothing we set leaks into wasmtime-py.

Layouts and signatures are those of wasmtime 50.0.1's ``wasmtime/async.h``,
``wasmtime/func.h``, ``wasmtime/linker.h``, ``wasmtime/memory.h`` and
``wasmtime/val.h``; they change between releases, hence the pin checked at
import.

wasmtime 50 has no ``wasmtime_config_async_support_set``: async support is
always compiled in and a store switches to "async required" by itself once
it holds an async host function.
"""

from __future__ import annotations

import ctypes
from ctypes import CFUNCTYPE, c_bool, c_char_p, c_size_t, c_uint64, c_void_p
from importlib import metadata
from typing import Any

EXPECTED_WASMTIME = "50.0.1"


def _check_version() -> None:
    try:
        found = metadata.version("wasmtime")
    except metadata.PackageNotFoundError:
        found = None
    if found != EXPECTED_WASMTIME:
        raise ImportError(
            f"stackswitch.wasm needs wasmtime=={EXPECTED_WASMTIME} (it reaches the C API "
            f"through ctypes with that release's layouts), but found {found or 'none'}; "
            f"install it with: pip install wasmtime=={EXPECTED_WASMTIME}"
        )


_check_version()

from wasmtime import _ffi  # noqa: E402  (only once the version is known to match)

dll = _ffi.dll


def _fn(name: str, restype: Any, *argtypes: Any) -> Any:
    f = dll[name]  # a fresh function object, unlike attribute access
    f.restype = restype
    f.argtypes = list(argtypes)
    return f


# -- values ------------------------------------------------------------------

I32, I64, F32, F64 = 0, 1, 2, 3
"""``wasmtime_valkind_t`` codes of the four numeric core types."""

VAL_SIZE = 32
"""``sizeof(wasmtime_val_t)``: a kind byte, padding, then a 24-byte union."""

VAL_PAYLOAD = 8
"""Offset of the value union inside a ``wasmtime_val_t``."""

assert ctypes.sizeof(_ffi.wasmtime_val_t) == VAL_SIZE

InstanceStruct = _ffi.wasmtime_instance_t
"""``wasmtime_instance_t``, what ``wasmtime.Instance._from_raw`` takes."""

# -- callbacks ---------------------------------------------------------------

ASYNC_CALLBACK = CFUNCTYPE(
    None,
    c_void_p,  # env
    c_void_p,  # wasmtime_caller_t *caller
    c_void_p,  # const wasmtime_val_t *args
    c_size_t,  # nargs
    c_void_p,  # wasmtime_val_t *results
    c_size_t,  # nresults
    c_void_p,  # wasm_trap_t **trap_ret
    c_void_p,  # wasmtime_async_continuation_t *continuation_ret
)
"""``wasmtime_func_async_callback_t``: must always fill in the continuation."""

SYNC_CALLBACK = CFUNCTYPE(
    c_size_t,  # wasm_trap_t * (NULL for success), as an integer
    c_void_p,  # env
    c_void_p,  # wasmtime_caller_t *caller
    c_void_p,  # const wasmtime_val_t *args
    c_size_t,  # nargs
    c_void_p,  # wasmtime_val_t *results
    c_size_t,  # nresults
)
"""``wasmtime_func_callback_t``."""

FINALIZER = CFUNCTYPE(None, c_void_p)


def _read_flag() -> int:
    """The address of C's ``strlen``, used as a continuation callback that reads a flag.

    wasmtime calls a continuation's ``callback(env)`` and reads its ``bool``
    result. ``env`` pointing at two bytes, a flag (0 or 1) then a NUL, makes
    ``strlen(env)`` exactly that flag, in native code: no Python callback
    per poll. (``strlen`` returns a ``size_t``; on the C ABIs wasmtime runs
    on, a ``bool`` result is its low byte, 0 or 1 here.)
    """
    return ctypes.cast(ctypes.CDLL(None).strlen, c_void_p).value or 0


READ_FLAG = _read_flag()
"""A native ``bool callback(void *env)`` that answers the flag at ``env`` (see :func:`_read_flag`)."""


class ByteVec(ctypes.Structure):
    """``wasm_byte_vec_t`` (also ``wasm_message_t`` / ``wasm_name_t``)."""

    _fields_ = [("size", c_size_t), ("data", c_void_p)]


# -- linking and instantiating -------------------------------------------------

global_set = _fn("wasmtime_global_set", None, c_void_p, c_void_p, c_char_p)
"""(context, const wasmtime_global_t *, const wasmtime_val_t *): set a mutable global."""

valtype_equal = _fn("wasmtime_wasm_valtype_equal", c_bool, c_void_p, c_void_p)
"""Compares two ``wasm_valtype_t``s; unlike ``wasm_valtype_kind`` (which wasmtime-py's
``str(ValType)`` calls) it does not abort the process on a GC reference type."""

linker_define_async_func = _fn(
    "wasmtime_linker_define_async_func", c_void_p,
    c_void_p, c_char_p, c_size_t, c_char_p, c_size_t, c_void_p,
    ASYNC_CALLBACK, c_void_p, FINALIZER,
)
"""(linker, module, module_len, name, name_len, functype, cb, env, finalizer) -> error*"""

linker_define_func = _fn(
    "wasmtime_linker_define_func", c_void_p,
    c_void_p, c_char_p, c_size_t, c_char_p, c_size_t, c_void_p,
    SYNC_CALLBACK, c_void_p, FINALIZER,
)
"""(linker, module, module_len, name, name_len, functype, cb, env, finalizer) -> error*"""

linker_instantiate_async = _fn(
    "wasmtime_linker_instantiate_async", c_void_p,
    c_void_p, c_void_p, c_void_p, c_void_p, c_void_p, c_void_p,
)
"""(linker, context, module, instance_out, trap_ret, error_ret) -> future*"""

# -- modules -----------------------------------------------------------------

module_new = _fn("wasmtime_module_new", c_void_p, c_void_p, c_void_p, c_size_t, c_void_p)
"""(engine, const uint8_t *wasm, len, wasmtime_module_t **ret) -> error*: compile."""

module_serialize = _fn("wasmtime_module_serialize", c_void_p, c_void_p, c_void_p)
"""(module, wasm_byte_vec_t *ret) -> error*: the compiled artifact (free ret with byte_vec_delete)."""

module_deserialize = _fn("wasmtime_module_deserialize", c_void_p,
                         c_void_p, c_void_p, c_size_t, c_void_p)
"""(engine, const uint8_t *bytes, len, wasmtime_module_t **ret) -> error*: load an artifact
``module_serialize`` made. wasmtime checks the version and the engine's settings, not the
code: bytes from anywhere but a trusted cache are unsafe."""

instance_export_get = _fn("wasmtime_instance_export_get", c_bool,
                          c_void_p, c_void_p, c_char_p, c_size_t, c_void_p)
"""(context, const wasmtime_instance_t *, name, name_len, wasmtime_extern_t *out) -> found"""

ExternStruct = _ffi.wasmtime_extern_t
"""``wasmtime_extern_t``, what ``wasmtime._extern.wrap_extern`` takes."""

# -- calls -------------------------------------------------------------------

func_call_async = _fn(
    "wasmtime_func_call_async", c_void_p,
    c_void_p, c_void_p, c_void_p, c_size_t, c_void_p, c_size_t, c_void_p, c_void_p,
)
"""(context, func, args, nargs, results, nresults, trap_ret, error_ret) -> future*"""

func_call_unchecked = _fn(
    "wasmtime_func_call_unchecked", c_void_p,
    c_void_p, c_void_p, c_void_p, c_size_t, c_void_p,
)
"""(context, func, args_and_results, len, trap_ret) -> error*: a plain call that trusts the
caller for the arguments' types. ``args_and_results`` is one array of ``wasmtime_val_raw_t``
(:data:`RAW_SIZE` bytes each, no kind tag), the arguments in, the results out."""

RAW_SIZE = 16
"""``sizeof(wasmtime_val_raw_t)``: a union of the value types, no kind tag."""

assert ctypes.sizeof(_ffi.wasmtime_val_raw_t) == RAW_SIZE

call_future_poll = _fn("wasmtime_call_future_poll", c_bool, c_void_p)
"""(future) -> done: runs the fiber until it finishes or a continuation says "not yet"."""

call_future_delete = _fn("wasmtime_call_future_delete", None, c_void_p)
"""(future): frees it; on an unfinished future this first unwinds the fiber."""

caller_context = _fn("wasmtime_caller_context", c_void_p, c_void_p)
"""(caller) -> context"""

# -- memories ----------------------------------------------------------------

memory_data = _fn("wasmtime_memory_data", c_void_p, c_void_p, c_void_p)
"""(context, memory) -> base address (moves when the memory grows)"""

memory_data_size = _fn("wasmtime_memory_data_size", c_size_t, c_void_p, c_void_p)
"""(context, memory) -> size in bytes"""

memory_grow = _fn("wasmtime_memory_grow", c_void_p, c_void_p, c_void_p, c_uint64, c_void_p)
"""(context, memory, delta_pages, uint64_t *prev_pages) -> error*"""

memory_type = _fn("wasmtime_memory_type", c_void_p, c_void_p, c_void_p)
"""(context, memory) -> owned wasm_memorytype_t*"""

memorytype_is64 = _fn("wasmtime_memorytype_is64", c_bool, c_void_p)
memorytype_delete = _fn("wasm_memorytype_delete", None, c_void_p)

# -- configuration -----------------------------------------------------------

config_async_stack_size_set = _fn("wasmtime_config_async_stack_size_set", None, c_void_p, c_size_t)
"""(config, bytes): the size of each fiber stack (default 2 MiB)."""

config_max_wasm_stack_set = _fn("wasmtime_config_max_wasm_stack_set", None, c_void_p, c_size_t)
"""(config, bytes): how much of it wasm may use (default 512 KiB)."""

# -- traps and errors --------------------------------------------------------

trap_new = _fn("wasmtime_trap_new", c_void_p, c_char_p, c_size_t)
"""(message, len) -> owned wasm_trap_t*"""

trap_message = _fn("wasm_trap_message", None, c_void_p, c_void_p)
trap_delete = _fn("wasm_trap_delete", None, c_void_p)
error_message = _fn("wasmtime_error_message", None, c_void_p, c_void_p)
error_delete = _fn("wasmtime_error_delete", None, c_void_p)
byte_vec_delete = _fn("wasm_byte_vec_delete", None, c_void_p)


# -- raw host memory ------------------------------------------------------------

HOST = memoryview((ctypes.c_char * (1 << 62)).from_address(0)).cast("B")
"""A byte view of the whole address space, for ``struct.unpack_from(fmt, HOST, addr)``.

Reading and writing through it costs ~60 ns where ``ctypes.string_at`` /
``memmove`` cost ~340 ns, which matters on every import call. Index it only
with addresses wasmtime handed over for this purpose (argument and result
arrays, trap slots) or after a bounds check against a wasm memory: anything
else reads or corrupts arbitrary host memory. Never iterate, copy or print
it whole.
"""


def address(obj: Any) -> int:
    """The address behind a wasmtime-py pointer (``x.ptr()``, ``store._context()``)."""
    return ctypes.cast(obj, c_void_p).value or 0


def new_trap(message: str) -> int:
    """A fresh ``wasm_trap_t*`` whose ownership passes to whoever receives it."""
    data = message.encode("utf-8", "replace")
    return trap_new(data, len(data)) or 0


def _take_message(get: Any, delete: Any, ptr: int) -> str:
    vec = ByteVec()
    get(ptr, ctypes.addressof(vec))
    text = ctypes.string_at(vec.data, vec.size) if vec.size else b""
    byte_vec_delete(ctypes.addressof(vec))
    delete(ptr)
    # wasm_trap_message counts a trailing NUL, wasmtime_error_message does not.
    return text.rstrip(b"\0").decode("utf-8", "replace")


def take_trap_message(trap: int) -> str:
    """The text of an owned ``wasm_trap_t*``, which is freed."""
    return _take_message(trap_message, trap_delete, trap)


def take_error_message(error: int) -> str:
    """The text of an owned ``wasmtime_error_t*``, which is freed."""
    return _take_message(error_message, error_delete, error)
