"""Host imports for examples/python/async_app.py (the ``stackswitch:guests/host`` interface).

    python examples/build_toolchain_guests.py --out build
    stackswitch run build/async_app.wasm --host examples/python/async_host.py \
        --invoke 'work("key", 50)'

``fetch`` is an ``async func`` import, so its host function may block: it sleeps
``FETCH_SECONDS`` on the event loop's timer before answering, while the guest's own WASI
sleep is pending beside it (so ``work("key", 300)`` takes about 300 ms, not 600).
"""

from stackswitch.embed.host import sleep

FETCH_SECONDS = 0.3


def _fetch(key: str) -> str:
    sleep(FETCH_SECONDS)
    return f"{key.upper()}-ANSWER"


IMPORTS = {"stackswitch:guests/host": {"fetch": _fetch}}
