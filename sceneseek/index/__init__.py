"""Index stage: segments, text and vectors with their metadata, behind one protocol."""

from sceneseek.index import (
    embedded,  # noqa: F401  (registers the "embedded" backend)
    milvus,  # noqa: F401  (registers "milvus"; pymilvus is imported on use)
)
from sceneseek.index.base import Index, backends

__all__ = ["Index", "backends"]
