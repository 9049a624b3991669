"""docs/embedding.md's example runs as written."""

import contextlib
import io
import os
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_embedding_example_runs_as_written():
    doc = (ROOT / "docs" / "embedding.md").read_text()
    [code] = re.findall(r"```python\n(.*?)```", doc, re.S)
    out = io.StringIO()
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        with contextlib.redirect_stdout(out):
            exec(compile(code, "docs/embedding.md", "exec"), {})
    finally:
        os.chdir(cwd)
    assert out.getvalue().splitlines() == [
        "['hello, world!']", "[42]", "{'quotient': 3, 'remainder': 1}", "division by zero",
        "<host stream<u8>>"]
