"""Index stage: the catalogue (SQLite), keyword search and a vector store, combined by a
store behind one protocol."""

from sceneseek.index import store  # noqa: F401  (registers the "embedded" and "milvus" backends)
from sceneseek.index.base import Index, backends

__all__ = ["Index", "backends"]
