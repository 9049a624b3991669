"""``error-context`` values: an opaque, immutable debug message.

Guests must not depend on the message for behaviour, so the spec lets a host
drop or transform it. We keep it (a debugging tool should show it); a value
always reports the same message.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(eq=False)
class ErrorContext:
    debug_message: str

    def __repr__(self) -> str:
        return f"<error-context {self.debug_message!r}>"
