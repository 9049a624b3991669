"""WASI 0.3's ``wasi:filesystem``: 0.2's descriptors (and path resolution) with 0.3's shapes.

The operations and the capability rules are :mod:`.filesystem`'s; what changes
in 0.3 is the surface: ``error-code`` and ``descriptor-type`` are variants
(``other(option<string>)`` instead of ``unknown``), timestamps are
``instant`` records, most methods are ``async func``, and file contents and
directory listings move through streams: ``read-via-stream`` returns a
``stream<u8>`` served as the guest reads it, ``write-via-stream`` and
``append-via-stream`` take the guest's stream and pump it into the file on a
host task of their own (each chunk written before the next is read), and
``read-directory`` returns a ``stream<directory-entry>``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..canon.host_streams import HostStream
from ..canon.types import (
    CaseType,
    FieldType,
    OptionType,
    RecordType,
    ResultType,
    StringType,
    U8Type,
    Variant,
    VariantType,
)
from ..embed.pyvalues import Err, Ok
from ..event_loop import EventLoop
from . import filesystem as fs
from . import io_streams as io
from .guest_streams import SourceStream, pump, resolved_later, resolved_now

_TYPES = {"block-device", "character-device", "directory", "fifo", "symbolic-link",
          "regular-file", "socket"}


def _type(kind: str) -> Variant:
    return Variant(kind) if kind in _TYPES else Variant("other", None)


def _stat(stat: dict[str, Any]) -> dict[str, Any]:
    return {**stat, "type": _type(stat["type"])}


def _convert(result: Any, value: Callable[[Any], Any] | None = None) -> Any:
    """A 0.2 result as 0.3's: the error-code enum becomes a variant case, ``value`` maps ok."""
    if isinstance(result, Err):
        return Err(_code(result.value))
    if value is not None:
        return Ok(value(result.value))
    return result


ERROR_CODES = (
    "access", "already", "bad-descriptor", "busy", "deadlock", "quota", "exist",
    "file-too-large", "illegal-byte-sequence", "in-progress", "interrupted", "invalid", "io",
    "is-directory", "loop", "too-many-links", "message-size", "name-too-long", "no-device",
    "no-entry", "no-lock", "insufficient-memory", "insufficient-space", "not-directory",
    "not-empty", "not-recoverable", "unsupported", "no-tty", "no-such-device", "overflow",
    "not-permitted", "pipe", "read-only", "invalid-seek", "text-file-busy", "cross-device",
)
"""``wasi:filesystem/types@0.3.0.error-code``'s cases before ``other(option<string>)``."""
ERROR_CODE = VariantType(tuple(CaseType(c) for c in ERROR_CODES)
                         + (CaseType("other", OptionType(StringType())),))
DESCRIPTOR_TYPE = VariantType(tuple(CaseType(c) for c in (
    "block-device", "character-device", "directory", "fifo", "symbolic-link", "regular-file",
    "socket")) + (CaseType("other", OptionType(StringType())),))
DIRECTORY_ENTRY = RecordType((FieldType("type", DESCRIPTOR_TYPE), FieldType("name", StringType())))
FS_RESULT = ResultType(None, ERROR_CODE)
"""``result<_, error-code>``: what the futures of the file streams carry (a host future must
have the type the guest's declaration gives)."""


class Descriptor3:
    """``wasi:filesystem/types@0.3.x.descriptor`` over a 0.2 :class:`~.filesystem.Descriptor`."""

    def __init__(self, inner: fs.Descriptor, store: Any, loop: EventLoop) -> None:
        self.inner = inner
        self.store = store
        self.loop = loop

    def close(self) -> None:
        self.inner.close()

    def _wrap(self, result: Any) -> Any:
        return _convert(result, lambda d: Descriptor3(d, self.store, self.loop))

    # -- streams -------------------------------------------------------------------------

    def read_via_stream(self, offset: int) -> tuple[Any, Any]:
        done = resolved_later(FS_RESULT)
        if self.inner.is_dir or "read" not in self.inner.flags:
            code = "is-directory" if self.inner.is_dir else "bad-descriptor"
            return HostStream(U8Type(), []), resolved_now(FS_RESULT, _error(code))
        return SourceStream(io.FileSource(self.inner.fd, offset), self.loop, done), done

    def write_via_stream(self, data: Any, offset: int | None) -> Any:
        if self.inner.is_dir or "write" not in self.inner.flags:
            data.drop()  # the guest's writes now see DROPPED
            code = "is-directory" if self.inner.is_dir else "bad-descriptor"
            return resolved_now(FS_RESULT, _error(code))
        return pump(self.store, data, _Sink(io.FileSink(self.inner.fd, offset)),
                    "wasi:filesystem write pump", _error("io"), FS_RESULT)

    def append_via_stream(self, data: Any) -> Any:
        return self.write_via_stream(data, None)

    def read_directory(self) -> tuple[Any, Any]:
        listing = self.inner.read_directory()
        if isinstance(listing, Err):
            return HostStream(DIRECTORY_ENTRY, []), resolved_now(FS_RESULT, _error(listing.value))
        entries = [{"type": _type(e["type"]), "name": e["name"]} for e in listing.value.entries]
        return HostStream(DIRECTORY_ENTRY, entries), resolved_now(FS_RESULT, Variant("ok", None))

    # -- the rest: 0.2's, reshaped ------------------------------------------------------

    def advise(self, offset: int, length: int, advice: str) -> Any:
        return _convert(self.inner.advise(offset, length, advice))

    def sync_data(self) -> Any:
        return _convert(self.inner.sync_data())

    def sync(self) -> Any:
        return _convert(self.inner.sync())

    def get_flags(self) -> Any:
        return _convert(self.inner.get_flags())

    def get_type(self) -> Any:
        return _convert(self.inner.get_type(), _type)

    def set_size(self, size: int) -> Any:
        return _convert(self.inner.set_size(size))

    def set_times(self, atime: Any, mtime: Any) -> Any:
        return _convert(self.inner.set_times(atime, mtime))

    def stat(self) -> Any:
        return _convert(self.inner.stat(), _stat)

    def stat_at(self, path_flags: frozenset[str], path: str) -> Any:
        return _convert(self.inner.stat_at(path_flags, path), _stat)

    def set_times_at(self, path_flags: frozenset[str], path: str, atime: Any, mtime: Any) -> Any:
        return _convert(self.inner.set_times_at(path_flags, path, atime, mtime))

    def link_at(self, old_flags: frozenset[str], old_path: str, new: Descriptor3,
                new_path: str) -> Any:
        return _convert(self.inner.link_at(old_flags, old_path, new.inner, new_path))

    def open_at(self, path_flags: frozenset[str], path: str, open_flags: frozenset[str],
                flags: frozenset[str]) -> Any:
        return self._wrap(self.inner.open_at(path_flags, path, open_flags, flags))

    def create_directory_at(self, path: str) -> Any:
        return _convert(self.inner.create_directory_at(path))

    def readlink_at(self, path: str) -> Any:
        return _convert(self.inner.readlink_at(path))

    def remove_directory_at(self, path: str) -> Any:
        return _convert(self.inner.remove_directory_at(path))

    def rename_at(self, old_path: str, new: Descriptor3, new_path: str) -> Any:
        return _convert(self.inner.rename_at(old_path, new.inner, new_path))

    def symlink_at(self, old_path: str, new_path: str) -> Any:
        return _convert(self.inner.symlink_at(old_path, new_path))

    def unlink_file_at(self, path: str) -> Any:
        return _convert(self.inner.unlink_file_at(path))

    def is_same_object(self, other: Descriptor3) -> bool:
        return self.inner.is_same_object(other.inner)

    def metadata_hash(self) -> Any:
        return _convert(self.inner.metadata_hash())

    def metadata_hash_at(self, path_flags: frozenset[str], path: str) -> Any:
        return _convert(self.inner.metadata_hash_at(path_flags, path))


def _code(code: str) -> Variant:
    """0.2's error-code as 0.3's; a code 0.3 dropped (``would-block``) is ``other(code)``."""
    return Variant(code) if code in ERROR_CODES else Variant("other", code)


def _error(code: str) -> Variant:
    return Variant("error", _code(code))


class _Sink:
    """A file sink with the ``flush`` a pump calls."""

    def __init__(self, sink: io.FileSink) -> None:
        self.sink = sink

    def write(self, data: bytes) -> None:
        self.sink.write(data)

    def flush(self) -> None:
        return None


DESCRIPTOR_METHODS = [
    "read-via-stream", "write-via-stream", "append-via-stream", "advise", "sync-data",
    "get-flags", "get-type", "set-size", "set-times", "read-directory", "sync",
    "create-directory-at", "stat", "stat-at", "set-times-at", "link-at", "open-at",
    "readlink-at", "remove-directory-at", "rename-at", "symlink-at", "unlink-file-at",
    "is-same-object", "metadata-hash", "metadata-hash-at",
]

