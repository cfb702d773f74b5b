"""sceneseek: semantic video search that runs fully offline."""

from sceneseek.config import Config
from sceneseek.library import Library

__version__ = "0.1.0"
__all__ = ["Config", "Library", "__version__"]
