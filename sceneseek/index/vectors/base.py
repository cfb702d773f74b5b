"""The protocol every vector store implements, and the changes one write makes.

A store (``sceneseek.index.store``) keeps segments in the catalogue and their vectors in
one of these: Faiss over the catalogue's own copy (``faiss.py``), or Milvus
(``milvus.py``). The catalogue decides which segments a filter allows; the vector store
only ever searches within them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from functools import cached_property
from typing import Protocol

import numpy as np

from sceneseek.config import IndexConfig
from sceneseek.index.base import SegmentFilter

# (segment id, modality, vector or None) of the vectors held for some segment ids.
StoredVectors = Iterator[tuple[int, str, np.ndarray | None]]
VectorSource = Callable[[list[int]], StoredVectors]


@dataclass
class VectorChanges:
    """What one catalogue transaction did to the vectors; the store applies it."""

    removed: list[int] = field(default_factory=list)
    added: dict[str, list[tuple[int, np.ndarray]]] = field(default_factory=dict)

    def remove(self, segment_ids: list[int]) -> None:
        self.removed.extend(segment_ids)

    def add(self, modality: str, segment_id: int, vector: np.ndarray) -> None:
        self.added.setdefault(modality, []).append((segment_id, vector))

    def __bool__(self) -> bool:
        return bool(self.removed or self.added)


@dataclass(frozen=True)
class Allowed:
    """The segments a filter lets through: the filter, and the catalogue's bitmap of
    them (mask[segment id]; ids past its end are not allowed)."""

    where: SegmentFilter
    mask: np.ndarray

    @cached_property
    def count(self) -> int:
        return int(np.count_nonzero(self.mask))

    @cached_property
    def ids(self) -> np.ndarray:
        """The allowed ids (a pass over the whole bitmap: for a few, when ``count`` is small)."""
        return np.flatnonzero(self.mask)


class VectorReader(Protocol):
    """Reading what is stored, without what search needs loaded (the monitor)."""

    def fetch(self, ids: list[int], with_vectors: bool = True) -> StoredVectors:
        """The vectors held for segments ``ids`` (only which, without ``with_vectors``)."""
        ...

    def counts(self) -> dict[str, int]:
        """Vectors held per modality."""
        ...

    def close(self) -> None: ...


class VectorStore(VectorReader, Protocol):
    # -- content ------------------------------------------------------------------------
    def writing(self, *videos: str) -> AbstractContextManager[VectorChanges]:
        """One catalogue transaction rewriting ``videos``: the caller records the vectors
        it removes and adds; the store makes them durable in a crash-safe order."""
        ...

    def search(
        self, modality: str, query: np.ndarray, k: int, within: Allowed | None
    ) -> list[tuple[int, float]]:
        """(segment id, cosine) best first, among the segments a filter allows (None:
        every segment)."""
        ...

    def sample(self, modality: str, size: int) -> np.ndarray:
        """Up to ``size`` stored vectors (calibrates a query's similarity scale)."""
        ...

    # -- upkeep (check, snapshot, reindex) ------------------------------------------------
    def unfinished(self, video: str) -> bool:
        """Whether the last write of ``video`` may not have reached the store (then it
        counts as not indexed, so the next ``index`` writes it again)."""
        ...

    def verify(self) -> list[str]:
        """Where what search reads differs from what is stored, one line each."""
        ...

    def rebuild(self) -> str:
        """Repair what can be repaired; says what was done."""
        ...

    def wait_for_training(self) -> None:
        """Block until the approximate index built in the background covers every
        vector (a bulk build's measurements wait for it)."""
        ...

    def exported_vectors(self) -> VectorSource | None:
        """For a snapshot: where to read the vectors of given segments when the
        catalogue holds no copy of them (None when it does)."""
        ...

    def adopt_catalogue_vectors(self) -> None:
        """Take over the vectors an imported snapshot left in the catalogue."""
        ...

    def settings_beside(self, settings: IndexConfig) -> IndexConfig:
        """Settings for a new index stored beside this one (``reindex`` stages there)."""
        ...
