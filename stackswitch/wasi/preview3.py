"""The WASI 0.3 interfaces (placeholder until implemented: every function traps, naming itself)."""

from __future__ import annotations

from typing import Any

from ..event_loop import EventLoop
from .wasi_config import WasiConfig


class Preview3:
    """The state behind WASI 0.3's interfaces for one guest."""

    def __init__(self, config: WasiConfig, loop: EventLoop, store: Any) -> None:
        self.config = config
        self.loop = loop
        self.store = store

    def interface(self, name: str) -> dict[str, Any] | None:
        return None
