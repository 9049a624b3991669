"""An async export that awaits a host call and a WASI 0.3 sleep at the same time.

    work(key, delay-ms) -> "KEY-ANSWER; slept DELAY ms alongside: yes; T ms in all"
    describe() -> "Python 3.x.y (wasi)"

componentize-py lifts an ``async def`` export with a callback and runs it on its own
asyncio loop inside the guest: ``asyncio.gather`` starts both async imports (two
subtasks), and the guest returns WAIT to the runtime until both have returned. The sleep
is ``wasi:clocks/monotonic-clock@0.3.0``'s ``wait-for``, an async function of WASI 0.3
(``asyncio.sleep`` would need timers, which componentize-py's loop does not have).
"""

import asyncio
import sys

from wit_world import WitWorld as World
from wit_world.imports import host, monotonic_clock


class WitWorld(World):
    async def work(self, key: str, delay_ms: int) -> str:
        start = monotonic_clock.now()
        answer, _ = await asyncio.gather(host.fetch(key),
                                         monotonic_clock.wait_for(delay_ms * 1_000_000))
        elapsed_ms = (monotonic_clock.now() - start) // 1_000_000
        waited = "yes" if elapsed_ms >= delay_ms else "no"
        return f"{answer}; slept {delay_ms} ms alongside: {waited}; {elapsed_ms} ms in all"

    def describe(self) -> str:
        return f"Python {sys.version.split()[0]} ({sys.platform})"
