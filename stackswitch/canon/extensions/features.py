"""The extensions' names and how a store enables them.

With no feature enabled the runtime is exactly the spec's: every extension
built-in traps (Python guests) or fails to link (binaries) with a message
that names the feature to enable.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ...errors import Trap

FEATURES = ("forward", "splice", "skip", "stream-end", "park")

default: frozenset[str] = frozenset()
"""What a store made without ``features=`` enables: none, unless the command line's
``--features`` set it for the command it runs (``cli.main`` restores it after)."""


def parse_features(features: Iterable[str] | str | None) -> frozenset[str]:
    """``"forward,splice"`` or an iterable of names; ``"all"`` enables every one;
    ``None``: :data:`default`."""
    if features is None:
        return default
    names = features.split(",") if isinstance(features, str) else list(features)
    found = {n.strip() for n in names if n.strip()}
    if "all" in found:
        return frozenset(FEATURES)
    unknown = sorted(found - set(FEATURES))
    if unknown:
        raise ValueError(f"unknown feature {', '.join(map(repr, unknown))}: "
                         f"the extensions are {', '.join(FEATURES)} (or all)")
    return frozenset(found)


def not_enabled(feature: str) -> str:
    return (f"the `{feature}` extension is not enabled "
            f"(Linker(features=[{feature!r}]) or --features {feature})")


def require(store: Any, feature: str) -> None:
    """Trap unless ``store`` enabled ``feature``."""
    if feature not in store.features:
        raise Trap(not_enabled(feature))
