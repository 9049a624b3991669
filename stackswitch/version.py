"""The distribution's version, read once from its metadata (pyproject.toml states it).

Here, in the lowest layer, so that the package (``stackswitch.__version__``) and
the command line (``stackswitch --version``), which may not import the package
above it, say the same thing, installed or not.
"""

from __future__ import annotations

from importlib import metadata

NOT_INSTALLED = "0+unknown"
"""What a checkout that was never installed says (a valid PEP 440 version)."""


def _installed() -> str:
    try:
        return metadata.version("stackswitch")
    except metadata.PackageNotFoundError:
        return NOT_INSTALLED


VERSION: str = _installed()
