"""An on-disk store of bytes derived from other bytes (compiled modules, asyncified ones).

Each entry is one file, named by the SHA-256 of its key, holding a header
(magic, format version, the key's digest, the payload's length and its
SHA-256) and then the payload. :meth:`DiskCache.get` returns the payload only
if every part of the header checks out, so a truncated, corrupted or foreign
file (another program's, an older format, a different key that happens to
share a name) reads as a miss and is removed; it never reaches wasmtime.
Writes go to a temporary file in the same directory and are renamed into
place, so concurrent processes see either no entry or a whole one.

Failing to read or write the cache (a read-only or full disk, a directory
that cannot be made) never fails the caller: the cache then just misses.

The checksum guards against accidents, not against an attacker who can write
the directory: wasmtime runs compiled code from it as it is, as wasmtime's
own cache does. The directory is made readable by its owner only.
"""

from __future__ import annotations

import hashlib
import os
import struct
import tempfile
import warnings
from pathlib import Path

ENV_VAR = "STACKSWITCH_CACHE_DIR"
"""Environment variable naming the cache directory (default: under ``$XDG_CACHE_HOME``)."""

OFF_VAR = "STACKSWITCH_NO_CACHE"
"""Environment variable that, set to anything but ``""`` or ``0``, turns the default cache off."""

MAGIC = b"stackswitch-cache\0"
FORMAT_VERSION = 1
_HEADER = struct.Struct(f"<{len(MAGIC)}sI32sQ32s")  # magic, version, key digest, length, payload digest


def default_directory() -> Path:
    """``$STACKSWITCH_CACHE_DIR``, else ``$XDG_CACHE_HOME/stackswitch``, else
    ``~/.cache/stackswitch``."""
    named = os.environ.get(ENV_VAR)
    if named:
        return Path(named).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg and Path(xdg).is_absolute() else Path.home() / ".cache"
    return base / "stackswitch"


def default_cache() -> DiskCache | None:
    """The cache the environment asks for: none if ``$STACKSWITCH_NO_CACHE`` is set, else one
    in :func:`default_directory`. (``stackswitch``'s ``--no-cache`` and ``--cache-dir`` set
    these variables for the command, and so for the processes it starts.)"""
    if os.environ.get(OFF_VAR, "") not in ("", "0"):
        return None
    return DiskCache(default_directory())


def key_digest(*parts: bytes | str) -> bytes:
    """One digest for a key made of several parts (each length-prefixed, so no two
    different lists of parts give the same bytes)."""
    h = hashlib.sha256()
    for part in parts:
        data = part.encode("utf-8") if isinstance(part, str) else bytes(part)
        h.update(struct.pack("<Q", len(data)))
        h.update(data)
    return h.digest()


class DiskCache:
    """Payloads by key in ``directory`` (module docs); ``kind`` names a subdirectory."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)
        self.hits = 0
        self.misses = 0
        self.rejected = 0
        """Entries found but refused (corrupt, truncated, foreign): each counts as a miss too."""
        self._warned = False

    def __repr__(self) -> str:
        return f"DiskCache({str(self.directory)!r})"

    def path(self, kind: str, key: bytes) -> Path:
        """Where the entry for ``key`` (a :func:`key_digest`) of ``kind`` lives."""
        name = key.hex()
        return self.directory / kind / name[:2] / f"{name[2:]}.bin"

    def get(self, kind: str, key: bytes) -> memoryview | None:
        """The payload stored for ``key`` (a view of a fresh, writable buffer), or ``None`` if
        there is none or it does not check out."""
        path = self.path(kind, key)
        try:
            with open(path, "rb") as f:
                size = os.fstat(f.fileno()).st_size
                header = f.read(_HEADER.size)
                if not _plausible(header, key, size):
                    data, read = bytearray(), 0  # foreign or damaged: not read any further
                else:
                    data = bytearray(size)
                    data[:_HEADER.size] = header
                    read = _HEADER.size + f.readinto(memoryview(data)[_HEADER.size:])
        except OSError:
            self.misses += 1
            return None
        payload = _check(memoryview(data)[:read], key)
        if payload is None:
            self.rejected += 1
            self.misses += 1
            try:
                path.unlink()
            except OSError:
                pass
            return None
        self.hits += 1
        return payload

    def put(self, kind: str, key: bytes, payload: bytes | bytearray | memoryview) -> bool:
        """Store ``payload`` for ``key``; ``False`` (and one warning per cache) if it could not be."""
        path = self.path(kind, key)
        header = _HEADER.pack(MAGIC, FORMAT_VERSION, key, len(payload),
                              hashlib.sha256(payload).digest())
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd, temp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".bin")
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(header)
                    f.write(payload)
                os.replace(temp, path)
            except BaseException:
                try:
                    os.unlink(temp)
                except OSError:
                    pass
                raise
        except OSError as e:
            if not self._warned:
                self._warned = True
                warnings.warn(f"stackswitch: cannot write to the cache in {self.directory} "
                              f"({e}); going on without it", RuntimeWarning, stacklevel=2)
            return False
        return True


def _plausible(header: bytes, key: bytes, size: int) -> bool:
    """Whether an entry whose first bytes are ``header`` and whose file has ``size`` bytes
    may be ours for ``key`` (checked before reading the rest, which may be large)."""
    if len(header) < _HEADER.size:
        return False
    magic, version, stored_key, length, _ = _HEADER.unpack_from(header)
    return (magic == MAGIC and version == FORMAT_VERSION and stored_key == key
            and size == _HEADER.size + length)


def _check(data: memoryview, key: bytes) -> memoryview | None:
    """The payload of an entry's bytes if its header matches ``key`` and its contents."""
    if len(data) < _HEADER.size:
        return None
    magic, version, stored_key, length, digest = _HEADER.unpack_from(data)
    if magic != MAGIC or version != FORMAT_VERSION or stored_key != key:
        return None
    if len(data) - _HEADER.size != length:
        return None
    payload = data[_HEADER.size:]
    if hashlib.sha256(payload).digest() != digest:
        return None
    return payload
