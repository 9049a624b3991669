"""``wasi:filesystem``: preopened directories, descriptors, and capability-safe path resolution.

A guest reaches files only through a descriptor: a preopened directory the
user granted (``--dir HOST::GUEST``) or one opened from it. Every path is
resolved by :func:`resolve_beneath`, one component at a time, within the base
descriptor's directory, as wasi-filesystem's path resolution requires (the
``RESOLVE_BENEATH`` rule): an absolute path, a ``..`` that steps above the
base (even temporarily), or a symbolic link whose target is absolute or leads
above the base all fail with ``error-code::not-permitted``.

Known limit (stated in docs/wasi.md): resolution works on host paths, so a
directory renamed or replaced by a symlink by another process between the
check and the open could race it; the final component is opened with
``O_NOFOLLOW`` unless the guest asked to follow it (and then it was checked).
"""

from __future__ import annotations

import errno as errnos
import os
import stat
from typing import Any

from ..embed.pyvalues import Err, Ok, Variant
from .io_streams import FileSink, FileSource, InputStream, OutputStream, WasiError

MAX_SYMLINKS = 40
"""Symbolic links followed in one resolution before ``error-code::loop`` (Linux's limit)."""

_ERRNO_CODES = {
    errnos.EACCES: "access", errnos.EAGAIN: "would-block", errnos.EALREADY: "already",
    errnos.EBADF: "bad-descriptor", errnos.EBUSY: "busy", errnos.EDEADLK: "deadlock",
    errnos.EDQUOT: "quota", errnos.EEXIST: "exist", errnos.EFBIG: "file-too-large",
    errnos.EILSEQ: "illegal-byte-sequence", errnos.EINPROGRESS: "in-progress",
    errnos.EINTR: "interrupted", errnos.EINVAL: "invalid", errnos.EIO: "io",
    errnos.EISDIR: "is-directory", errnos.ELOOP: "loop", errnos.EMLINK: "too-many-links",
    errnos.EMSGSIZE: "message-size", errnos.ENAMETOOLONG: "name-too-long",
    errnos.ENODEV: "no-device", errnos.ENOENT: "no-entry", errnos.ENOLCK: "no-lock",
    errnos.ENOMEM: "insufficient-memory", errnos.ENOSPC: "insufficient-space",
    errnos.ENOTDIR: "not-directory", errnos.ENOTEMPTY: "not-empty",
    errnos.ENOTRECOVERABLE: "not-recoverable", errnos.ENOTSUP: "unsupported",
    errnos.ENOTTY: "no-tty", errnos.ENXIO: "no-such-device", errnos.EOVERFLOW: "overflow",
    errnos.EPERM: "not-permitted", errnos.EPIPE: "pipe", errnos.EROFS: "read-only",
    errnos.ESPIPE: "invalid-seek", errnos.ETXTBSY: "text-file-busy", errnos.EXDEV: "cross-device",
}


class FsError(Exception):
    """A filesystem operation failed with ``error-code::code``."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def error_code(e: OSError) -> str:
    """The ``error-code`` for a host ``OSError``."""
    return _ERRNO_CODES.get(e.errno or 0, "io")


def filesystem_error_code(err: WasiError) -> str | None:
    """``filesystem-error-code``: the error-code of a stream's ``error``, if it has one."""
    return _ERRNO_CODES.get(err.errno) if err.errno is not None else None


def resolve_beneath(base: str, path: str, follow_final: bool) -> str:
    """The host path ``path`` names relative to directory ``base``, never leaving it.

    Raises FsError ``not-permitted`` for an absolute path or any step (``..``
    or a symbolic link) that leaves ``base``, ``loop`` after
    :data:`MAX_SYMLINKS` links, ``no-entry`` for an empty path; a missing or
    non-directory intermediate component is left for the final system call to
    report.
    """
    if path == "":
        raise FsError("no-entry")
    if path.startswith("/"):
        raise FsError("not-permitted")
    pending = path.split("/")
    pending.reverse()
    below: list[str] = []  # components below base, each an existing name or the last one
    links = 0
    while pending:
        part = pending.pop()
        if part in ("", "."):
            continue
        if part == "..":
            if not below:
                raise FsError("not-permitted")
            below.pop()
            continue
        candidate = os.path.join(base, *below, part)
        is_last = not any(p not in ("", ".") for p in pending)
        if (not is_last or follow_final) and os.path.islink(candidate):
            links += 1
            if links > MAX_SYMLINKS:
                raise FsError("loop")
            target = os.readlink(candidate)
            if target.startswith("/"):
                raise FsError("not-permitted")
            pending.extend(reversed(target.split("/")))
            continue
        below.append(part)
    return os.path.join(base, *below)


def _datetime(ns: int) -> dict[str, int]:
    return {"seconds": ns // 1_000_000_000, "nanoseconds": ns % 1_000_000_000}


def _type_of(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "directory"
    if stat.S_ISREG(mode):
        return "regular-file"
    if stat.S_ISLNK(mode):
        return "symbolic-link"
    if stat.S_ISFIFO(mode):
        return "fifo"
    if stat.S_ISSOCK(mode):
        return "socket"
    if stat.S_ISCHR(mode):
        return "character-device"
    if stat.S_ISBLK(mode):
        return "block-device"
    return "unknown"


def _stat_record(st: os.stat_result) -> dict[str, Any]:
    return {"type": _type_of(st.st_mode), "link-count": st.st_nlink, "size": st.st_size,
            "data-access-timestamp": _datetime(st.st_atime_ns),
            "data-modification-timestamp": _datetime(st.st_mtime_ns),
            "status-change-timestamp": _datetime(st.st_ctime_ns)}


def _fs(fn: Any) -> Any:
    """A descriptor method returning ``result<T, error-code>``: Ok(its value), or Err(code)."""
    def method(*args: Any) -> Any:
        try:
            return Ok(fn(*args))
        except FsError as e:
            return Err(e.code)
        except OSError as e:
            return Err(error_code(e))
    method.__name__ = fn.__name__
    method.__doc__ = fn.__doc__
    return method


def _new_time(value: Any, current_ns: int) -> int:
    """A ``new-timestamp`` variant as nanoseconds."""
    case = value.case if isinstance(value, Variant) else value
    if case == "no-change":
        return current_ns
    if case == "now":
        import time
        return time.time_ns()
    dt = value.value
    return dt["seconds"] * 1_000_000_000 + dt["nanoseconds"]


class Descriptor:
    """``wasi:filesystem/types.descriptor``: an open directory or file of the host.

    ``path`` is the host path (a directory's is the base for its ``*-at``
    functions); ``fd`` the host descriptor; ``flags`` the descriptor-flags the
    guest holds (``mutate-directory`` only if the directory it came from had it).
    """

    def __init__(self, path: str, fd: int, flags: frozenset[str]) -> None:
        self.path = path
        self.fd = fd
        self.flags = flags
        self.is_dir = stat.S_ISDIR(os.fstat(fd).st_mode)

    @classmethod
    def preopen(cls, host_dir: str) -> Descriptor:
        """The descriptor of a directory the user grants."""
        path = os.path.realpath(host_dir)
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
        return cls(path, fd, frozenset({"read", "write", "mutate-directory"}))

    def close(self) -> None:
        os.close(self.fd)

    def _dir(self) -> str:
        if not self.is_dir:
            raise FsError("not-directory")
        return self.path

    def _file(self) -> int:
        if self.is_dir:
            raise FsError("is-directory")
        return self.fd

    def _mutate(self) -> str:
        base = self._dir()
        if "mutate-directory" not in self.flags:
            raise FsError("read-only")
        return base

    def _at(self, path: str, follow: bool = False) -> str:
        return resolve_beneath(self._dir(), path, follow)

    # -- streams ----------------------------------------------------------------------

    @_fs
    def read_via_stream(self, offset: int) -> InputStream:
        return InputStream(FileSource(self._file(), offset), None)

    @_fs
    def write_via_stream(self, offset: int) -> OutputStream:
        self._writable()
        return OutputStream(FileSink(self._file(), offset))

    @_fs
    def append_via_stream(self) -> OutputStream:
        self._writable()
        return OutputStream(FileSink(self._file(), None))

    def _writable(self) -> None:
        if "write" not in self.flags:
            raise FsError("bad-descriptor")

    # -- the descriptor itself --------------------------------------------------------

    @_fs
    def advise(self, offset: int, length: int, advice: str) -> None:
        self._file()

    @_fs
    def sync_data(self) -> None:
        os.fdatasync(self.fd)

    @_fs
    def sync(self) -> None:
        os.fsync(self.fd)

    @_fs
    def get_flags(self) -> frozenset[str]:
        return self.flags

    @_fs
    def get_type(self) -> str:
        return _type_of(os.fstat(self.fd).st_mode)

    @_fs
    def set_size(self, size: int) -> None:
        self._writable()
        os.ftruncate(self._file(), size)

    @_fs
    def set_times(self, atime: Any, mtime: Any) -> None:
        st = os.fstat(self.fd)
        os.utime(self.fd, ns=(_new_time(atime, st.st_atime_ns), _new_time(mtime, st.st_mtime_ns)))

    @_fs
    def read(self, length: int, offset: int) -> tuple[bytes, bool]:
        data = os.pread(self._file(), length, offset)
        return data, len(data) < length

    @_fs
    def write(self, buffer: bytes, offset: int) -> int:
        self._writable()
        return os.pwrite(self._file(), bytes(buffer), offset)

    @_fs
    def read_directory(self) -> DirectoryEntryStream:
        base = self._dir()
        entries = []
        for name in sorted(os.listdir(base)):
            try:
                kind = _type_of(os.lstat(os.path.join(base, name)).st_mode)
            except OSError:
                kind = "unknown"
            entries.append({"type": kind, "name": name})
        return DirectoryEntryStream(entries)

    @_fs
    def stat(self) -> dict[str, Any]:
        return _stat_record(os.fstat(self.fd))

    def is_same_object(self, other: Descriptor) -> bool:
        a, b = os.fstat(self.fd), os.fstat(other.fd)
        return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)

    @_fs
    def metadata_hash(self) -> dict[str, int]:
        return _hash(os.fstat(self.fd))

    # -- paths -------------------------------------------------------------------------

    @_fs
    def create_directory_at(self, path: str) -> None:
        self._mutate()
        os.mkdir(self._at(path))

    @_fs
    def stat_at(self, path_flags: frozenset[str], path: str) -> dict[str, Any]:
        target = self._at(path, "symlink-follow" in path_flags)
        return _stat_record(os.lstat(target))

    @_fs
    def set_times_at(self, path_flags: frozenset[str], path: str, atime: Any, mtime: Any) -> None:
        self._mutate()
        target = self._at(path, "symlink-follow" in path_flags)
        st = os.lstat(target)
        os.utime(target, ns=(_new_time(atime, st.st_atime_ns), _new_time(mtime, st.st_mtime_ns)),
                 follow_symlinks=False)

    @_fs
    def link_at(self, old_flags: frozenset[str], old_path: str, new_descriptor: Descriptor,
                new_path: str) -> None:
        self._mutate()
        new_descriptor._mutate()
        os.link(self._at(old_path, "symlink-follow" in old_flags), new_descriptor._at(new_path),
                follow_symlinks=False)

    @_fs
    def open_at(self, path_flags: frozenset[str], path: str, open_flags: frozenset[str],
                flags: frozenset[str]) -> Descriptor:
        follow = "symlink-follow" in path_flags
        target = self._at(path, follow)
        if ({"create", "truncate"} & open_flags or "write" in flags or "mutate-directory" in flags) \
                and "mutate-directory" not in self.flags:
            raise FsError("read-only")
        mode = os.O_RDWR if "write" in flags and "read" in flags else \
            os.O_WRONLY if "write" in flags else os.O_RDONLY
        if "create" in open_flags:
            mode |= os.O_CREAT
        if "exclusive" in open_flags:
            mode |= os.O_EXCL
        if "truncate" in open_flags:
            mode |= os.O_TRUNC
        if "directory" in open_flags:
            mode |= os.O_DIRECTORY
        if not follow:
            mode |= os.O_NOFOLLOW
        try:
            fd = os.open(target, mode | os.O_CLOEXEC, 0o666)
        except IsADirectoryError:
            if "write" in flags:
                raise
            fd = os.open(target, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
                         | (0 if follow else os.O_NOFOLLOW))
        granted = frozenset(flags - {"mutate-directory"}
                            | ({"mutate-directory"} & self.flags & (flags | {"read"})))
        return Descriptor(target, fd, granted)

    @_fs
    def readlink_at(self, path: str) -> str:
        return os.readlink(self._at(path))

    @_fs
    def remove_directory_at(self, path: str) -> None:
        self._mutate()
        os.rmdir(self._at(path))

    @_fs
    def rename_at(self, old_path: str, new_descriptor: Descriptor, new_path: str) -> None:
        self._mutate()
        new_descriptor._mutate()
        os.rename(self._at(old_path), new_descriptor._at(new_path))

    @_fs
    def symlink_at(self, old_path: str, new_path: str) -> None:
        self._mutate()
        if old_path.startswith("/"):
            raise FsError("not-permitted")
        os.symlink(old_path, self._at(new_path))

    @_fs
    def unlink_file_at(self, path: str) -> None:
        self._mutate()
        target = self._at(path)
        if os.path.isdir(target) and not os.path.islink(target):
            raise FsError("is-directory")
        os.unlink(target)

    @_fs
    def metadata_hash_at(self, path_flags: frozenset[str], path: str) -> dict[str, int]:
        return _hash(os.lstat(self._at(path, "symlink-follow" in path_flags)))


def _hash(st: os.stat_result) -> dict[str, int]:
    return {"lower": st.st_ino & (1 << 64) - 1, "upper": st.st_dev & (1 << 64) - 1}


class DirectoryEntryStream:
    """``directory-entry-stream``: the entries read when it was made, in name order."""

    def __init__(self, entries: list[dict[str, str]]) -> None:
        self.entries = entries
        self.next = 0

    def read_directory_entry(self) -> Any:
        if self.next >= len(self.entries):
            return Ok(None)
        entry = self.entries[self.next]
        self.next += 1
        return Ok(entry)
