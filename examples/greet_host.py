"""Host imports for examples/greet.wat: every public function here is an import."""


def exclaim(s: str) -> str:
    return f"hello, {s}!"
