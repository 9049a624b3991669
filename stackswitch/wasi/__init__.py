"""A WASI 0.2 (and 0.3) host for components: ``linker.add_wasi(...)``, ``stackswitch run``.

:class:`WasiConfig` says what a guest may reach (arguments, environment,
preopened directories, stdio, network); :class:`WasiHost` answers the
component's ``wasi:*`` imports; a guest calling ``wasi:cli/exit`` raises
:class:`WasiExit` out of the call. What is implemented: docs/wasi.md.
"""

from .preview2 import WasiExit
from .wasi_config import WasiConfig, WasiConfigError
from .wasi_host import WasiHost

__all__ = ["WasiConfig", "WasiConfigError", "WasiExit", "WasiHost"]
