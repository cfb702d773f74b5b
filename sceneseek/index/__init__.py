"""Index stage: the catalogue (SQLite), keyword search and a vector store, combined by a
store behind one protocol."""

from sceneseek.index.base import Index
from sceneseek.index.store import backends  # the "embedded" and "milvus" stores

__all__ = ["Index", "backends"]
