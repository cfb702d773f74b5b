"""A store: the catalogue (SQLite: segments, their text, operators' data), keyword search
(BM25) and a vector store (``vectors/``), combined behind the ``Index`` protocol that
search and the library use. The backend names a combination: ``embedded`` keeps its
vectors in Faiss over the catalogue's own copy, ``milvus`` in Milvus.

Writes go through the vector store's ``writing``, which wraps the catalogue transaction
in whatever order makes that store crash-safe; filters are always the catalogue's
(allowed segment ids), which the vector store only searches within.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sceneseek.config import IndexConfig
from sceneseek.encoders.tracks import PeopleFindings
from sceneseek.errors import SceneseekError, reporting_damage
from sceneseek.faults import crash_point
from sceneseek.index.base import SegmentFilter, SegmentRecord, VideoRecord
from sceneseek.index.catalogue import Catalogue, has_index
from sceneseek.index.keyword import CatalogueBM25
from sceneseek.index.vectors import faiss, milvus
from sceneseek.index.vectors.base import Allowed, VectorReader, VectorStore
from sceneseek.registry import Registry

REFERENCE_SAMPLE = 2048
KeywordSearch = Callable[[str, int, SegmentFilter, tuple[str, ...]], list[tuple[int, float]]]


class Store(Catalogue):
    """One index: the catalogue (whose content and operators' data it serves as is),
    keyword search, and a vector store (see the module docstring)."""

    def __init__(self, directory: Path, open_vectors: Callable[[Catalogue], VectorStore]) -> None:
        super().__init__(directory)
        try:
            self.vector_store = open_vectors(self)
        except BaseException:
            super().close()
            raise
        self._keyword: KeywordSearch = CatalogueBM25(self.match_text).search

    # -- content ------------------------------------------------------------------------
    def video_hash(self, path: str) -> str | None:
        """None for a video whose last write did not reach the vector store, so the next
        ``index`` writes it again."""
        return None if self.vector_store.unfinished(path) else self.stored_hash(path)

    def replace_video(
        self,
        video: VideoRecord,
        segments: list[SegmentRecord],
        people: PeopleFindings | None = None,
    ) -> None:
        """Atomically swap in this video's segments and tracked people (a crash leaves
        the old ones)."""
        self.replace_videos([(video, segments)], {video.path: people} if people else None)

    def replace_videos(
        self,
        batch: list[tuple[VideoRecord, list[SegmentRecord]]],
        people: Mapping[str, PeopleFindings] | None = None,
    ) -> None:
        """Atomically swap in the segments of several videos (and the people tracked in
        them, by video path), in one transaction: a bulk build (``bench/scale.py``)
        commits thousands of segments at a time."""
        tracked = people or {}
        with self.vector_store.writing(*(video.path for video, _ in batch)) as changes:
            for video, segments in batch:
                changes.remove(self.delete_video(self.writer, video.path) or [])
                ids = self.insert_video(self.writer, video, segments, tracked.get(video.path))
                for segment_id, segment in zip(ids, segments, strict=True):
                    for modality, vector in segment.vectors.items():
                        changes.add(modality, segment_id, vector)
            crash_point("before-commit")
        # The vector store follows only after the commit (crash point "after-commit").

    def remove_video(self, path: str) -> bool:
        """Forget a video and its segments; False if it was not indexed."""
        with self.vector_store.writing(path) as changes:
            removed = self.delete_video(self.writer, path)
            changes.remove(removed or [])
        return removed is not None

    # -- search -------------------------------------------------------------------------
    def knn(
        self, modality: str, query: np.ndarray, k: int, where: SegmentFilter
    ) -> list[tuple[int, float]]:
        within = None if where.is_empty else Allowed(where, self.allowed(where))
        if within is not None and not within.count:
            return []
        return self.vector_store.search(modality, query, k, within)

    def reference_vectors(self, modality: str) -> np.ndarray:
        """A sample of the stored vectors (cached by the vector store until a write)."""
        return self.vector_store.sample(modality, REFERENCE_SAMPLE)

    def keyword(
        self, text: str, k: int, where: SegmentFilter, fields: tuple[str, ...]
    ) -> list[tuple[int, float]]:
        return self._keyword(text, k, where, fields)

    def segment_vectors(self, segment_id: int) -> dict[str, np.ndarray]:
        return {m: v for _, m, v in self.vector_store.fetch([segment_id]) if v is not None}

    # -- maintenance --------------------------------------------------------------------
    def stats(self) -> dict[str, int]:
        counts = super().stats()
        counts.update({f"vectors.{m}": n for m, n in self.vector_store.counts().items()})
        return counts

    def verify_vectors(self) -> list[str]:
        """Where the vectors search reads differ from the stored ones, one line each
        (empty when they agree; for ``check`` and the crash tests)."""
        return self.vector_store.verify()

    def rebuild_vectors(self) -> str:
        """Rebuild what search reads from the stored vectors (``check --repair``); says
        what was done."""
        return self.vector_store.rebuild()

    def held_vectors(self) -> dict[int, set[str]]:
        """Segment id → the modalities the vector store holds a vector of (``check``
        finds segments lacking one)."""
        held: dict[int, set[str]] = {}
        for segment_id, modality, _ in self.vector_store.fetch(self.segment_ids(), False):
            held.setdefault(segment_id, set()).add(modality)
        return held

    def close(self) -> None:
        self.vector_store.close()
        super().close()


# -- backends: which vector store an index directory uses --------------------------------
backends: Registry[Store] = Registry("index backend")


def recorded_backend(directory: Path) -> str | None:
    """The backend an existing index was written with (it wins over the configured one,
    which only chooses for new indexes); None for a new directory."""
    if (directory / milvus.STATE_FILE).exists():
        return "milvus"
    return "embedded" if has_index(directory) else None


def refuse_other_backend(directory: Path, backend: str) -> None:
    """Opening an index with another backend than it was written with would search
    nothing by meaning (the vectors are in the other store): say so instead."""
    recorded = recorded_backend(directory)
    if recorded is not None and recorded != backend:
        raise SceneseekError(
            f"{directory}: this index was written with the {recorded} backend, not {backend}"
        )


class EmbeddedIndex(Store):
    """Zero setup: the catalogue and Faiss over its copy of the vectors, in one directory."""

    vector_store: faiss.FaissStore

    def __init__(self, directory: Path, policy: faiss.IndexPolicy | None = None) -> None:
        super().__init__(
            directory, lambda catalogue: faiss.FaissStore(directory / "vectors", catalogue, policy)
        )


class MilvusIndex(Store):
    """The catalogue in the directory, the vectors (and optionally BM25) in Milvus."""

    vector_store: milvus.MilvusStore

    def __init__(self, directory: Path, settings: IndexConfig) -> None:
        refuse_other_backend(directory, "milvus")
        milvus.claim_directory(directory)
        super().__init__(
            directory, lambda catalogue: milvus.MilvusStore(directory, catalogue, settings.milvus)
        )
        if self.vector_store.keyword_search:
            self._keyword = self.vector_store.keyword


@backends.register("embedded")
def _embedded(path: Path, settings: IndexConfig | None = None) -> Store:
    """Every backend factory takes the directory and ``IndexConfig``; this one reads
    when to switch from exact to quantised search."""
    policy = faiss.IndexPolicy(ann_threshold=settings.faiss.ann_threshold) if settings else None
    return EmbeddedIndex(path, policy)


@backends.register("milvus")
def _milvus(path: Path, settings: IndexConfig | None = None) -> Store:
    return MilvusIndex(path, settings or IndexConfig(backend="milvus"))


@dataclass
class IndexReader:
    """An existing index opened for reading its size and contents (the monitor): the
    catalogue, and the vectors without what search needs loaded."""

    catalogue: Catalogue
    vectors: VectorReader


@contextmanager
def reading(directory: Path, settings: IndexConfig | None = None) -> Iterator[IndexReader]:
    """The index in ``directory`` for reading; it never creates one, and damage found
    in the catalogue raises ``DamagedIndexError``. ``settings``: a Milvus token, say (the
    server is the one the index recorded)."""
    catalogue = Catalogue(directory, create=False)
    vectors: VectorReader = faiss.CatalogueVectors(catalogue)
    try:
        with reporting_damage(catalogue.database):
            if recorded_backend(directory) == "milvus":
                found = (settings or IndexConfig()).milvus
                vectors = milvus.MilvusStore(directory, catalogue, found)
            yield IndexReader(catalogue, vectors)
    finally:
        vectors.close()
        catalogue.close()


def discard_index(directory: Path, settings: IndexConfig) -> None:
    """Before ``directory`` is deleted: drop what its index keeps outside it (a Milvus
    index's collections on their server)."""
    if recorded_backend(directory) == "milvus":
        milvus.drop_collections(directory, settings.milvus)


def adopt_imported_vectors(directory: Path, settings: IndexConfig) -> None:
    """Hand the vectors an imported snapshot left in the catalogue to the configured
    backend's vector store (Milvus moves them to its server; Faiss reads them there)."""
    if settings.backend == "milvus":
        milvus.claim_directory(directory)  # from now on it reads as Milvus
    store = backends.create(settings.backend, directory, settings)
    try:
        store.vector_store.adopt_catalogue_vectors()
    finally:
        store.close()
