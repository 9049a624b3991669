"""The suite leaves ``$HOME`` alone: its module cache is a temporary directory (conftest)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from stackswitch.wasm.disk_cache import ENV_VAR, default_directory

ROOT = Path(__file__).resolve().parent.parent


def test_this_session_caches_modules_in_a_temporary_directory() -> None:
    cache = default_directory()
    assert cache.name.startswith("stackswitch-test-cache-")
    assert not cache.is_relative_to(Path.home())


def test_a_session_writes_nothing_under_home(tmp_path: Path) -> None:
    # A user's environment (no cache directory named), with an empty $HOME: tests that
    # compile modules through Linkers with the default cache, in this process and in
    # the CLI processes they start, must not write there.
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in (ENV_VAR, "XDG_CACHE_HOME")}
    env["HOME"] = str(home)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-x",
         "tests/test_linker.py", "tests/test_cli.py"],
        capture_output=True, text=True, timeout=600, cwd=str(ROOT), env=env)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert sorted(str(p.relative_to(home)) for p in home.rglob("*")) == []
