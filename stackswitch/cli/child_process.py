"""The environment of a child Python that must import this very copy of stackswitch.

``compare`` measures each strategy in a process of its own and ``profile`` runs
the command under py-spy; both start ``sys.executable``, which must find the
same ``stackswitch`` and ``callback_abi`` as this process, installed or not.
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
"""The directory that holds ``stackswitch/`` and ``callback_abi/``."""


def child_env() -> dict[str, str]:
    """This process's environment with :data:`ROOT` first on ``PYTHONPATH``."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env
