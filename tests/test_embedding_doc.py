"""docs/embedding.md's Python examples run as written."""

import contextlib
import io
import os
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_embedding_examples_run_as_written():
    doc = (ROOT / "docs" / "embedding.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", doc, re.S)
    assert blocks
    out = io.StringIO()
    cwd = os.getcwd()
    os.chdir(ROOT)
    namespace: dict = {}
    try:
        with contextlib.redirect_stdout(out):
            for code in blocks:
                exec(compile(code, "docs/embedding.md", "exec"), namespace)
    finally:
        os.chdir(cwd)
    assert out.getvalue().splitlines() == [
        "hello, world!", "42", "{'quotient': 3, 'remainder': 1}", "division by zero",
        "<host stream<u8>>"]
