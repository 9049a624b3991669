"""Host imports for examples/python/async_app.py (the ``stackswitch:guests/host`` interface).

    python examples/build_toolchain_guests.py --out build
    stackswitch run build/async_app.wasm --host examples/python/async_host.py \
        --invoke 'work("key", 50)'

``fetch`` is an ``async func`` import, so its host function may block: it gives up a few
scheduler turns before answering, while the guest's sleep is pending beside it.
"""

from stackswitch.embed.host import yield_


def _fetch(key: str) -> str:
    for _ in range(3):
        yield_()
    return f"{key.upper()}-ANSWER"


IMPORTS = {"stackswitch:guests/host": {"fetch": _fetch}}
