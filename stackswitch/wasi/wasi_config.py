"""What a WASI guest is given: arguments, environment, preopened directories, stdio, network.

Nothing is granted by default: no directory, no environment variable, no
network. ``--dir``, ``--env``, ``--inherit-env`` and ``--allow-network`` on
``stackswitch run`` (and :func:`~stackswitch.wasi.add_wasi`'s keywords) fill
a :class:`WasiConfig`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import BinaryIO


class WasiConfigError(ValueError):
    """A malformed ``--dir`` or ``--env`` option, or a directory that cannot be granted."""


@dataclass
class WasiConfig:
    """The capabilities a WASI guest gets.

    ``args`` is the whole argument list, program name first (as
    ``get-arguments`` returns it); ``dirs`` pairs a host directory with the
    guest path it appears as; ``stdin`` is bytes to read or a binary file
    with a descriptor (``sys.stdin.buffer`` for the process's own, which is
    what ``stackswitch run`` gives); None reads as empty. ``stdout`` /
    ``stderr`` are binary files (None: the process's own).
    """

    args: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    dirs: list[tuple[str, str]] = field(default_factory=list)
    stdin: bytes | BinaryIO | None = None
    stdout: BinaryIO | None = None
    stderr: BinaryIO | None = None
    allow_network: bool = False

    @classmethod
    def build(cls, args: Iterable[str] = (), *, dirs: Iterable[str | tuple[str, str]] = (),
              env: Iterable[str] | Mapping[str, str] = (), inherit_env: bool = False,
              allow_network: bool = False, stdin: bytes | BinaryIO | None = None,
              stdout: BinaryIO | None = None, stderr: BinaryIO | None = None) -> WasiConfig:
        """A config from command-line-shaped options: ``dirs`` as ``HOST[::GUEST]``, ``env`` as
        ``NAME=VAL`` or ``NAME`` (the host's value), or a mapping; checks every directory."""
        environment = dict(os.environ) if inherit_env else {}
        if isinstance(env, Mapping):
            environment.update(env)
        else:
            for item in env:
                environment.update([parse_env(item)])
        pairs = [parse_dir(d) if isinstance(d, str) else d for d in dirs]
        for host, _ in pairs:
            if not os.path.isdir(host):
                raise WasiConfigError(f"--dir {host}: not a directory")
        return cls(list(args), environment, pairs, stdin, stdout, stderr, allow_network)


def parse_dir(spec: str) -> tuple[str, str]:
    """``HOST[::GUEST]`` as (host, guest); the guest path defaults to the host path, as in
    ``wasmtime run --dir``."""
    host, sep, guest = spec.partition("::")
    if not host or (sep and not guest):
        raise WasiConfigError(f"--dir {spec!r}: expected HOST or HOST::GUEST")
    return host, guest if sep else host


def parse_env(spec: str) -> tuple[str, str]:
    """``NAME=VAL``, or ``NAME`` for the host's value of NAME."""
    name, sep, value = spec.partition("=")
    if not name:
        raise WasiConfigError(f"--env {spec!r}: expected NAME=VALUE or NAME")
    if not sep:
        if name not in os.environ:
            raise WasiConfigError(f"--env {name}: not set in the host's environment")
        value = os.environ[name]
    return name, value
