"""A store: the catalogue (SQLite: segments, their text, operators' data), keyword search
(BM25) and a vector store (``vectors/``), combined behind the ``Index`` protocol that
search and the library use. The backend names a combination: ``embedded`` keeps its
vectors in Faiss over the catalogue's own copy, ``milvus`` in Milvus.

Writes go through the vector store's ``writing``, which wraps the catalogue transaction
in whatever order makes that store crash-safe; filters are always the catalogue's
(allowed segment ids), which the vector store only searches within.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sceneseek.config import CameraConfig, IndexConfig
from sceneseek.errors import SceneseekError, reporting_damage
from sceneseek.faults import crash_point
from sceneseek.index.alerts import Alert, AlertEvent
from sceneseek.index.base import (
    Index,
    Mark,
    SegmentFilter,
    SegmentRecord,
    StoredFusion,
    StoredSegment,
    StoredVideo,
    VideoRecord,
    backends,
)
from sceneseek.index.catalogue import Catalogue, has_index
from sceneseek.index.keyword import CatalogueBM25
from sceneseek.index.vectors import faiss, milvus
from sceneseek.index.vectors.base import VectorReader, VectorStore

REFERENCE_SAMPLE = 2048
KeywordSearch = Callable[[str, int, SegmentFilter, tuple[str, ...]], list[tuple[int, float]]]


class Store:
    """One index: catalogue + keyword search + vector store (see the module docstring)."""

    def __init__(
        self,
        catalogue: Catalogue,
        vector_store: VectorStore,
        keyword: KeywordSearch | None = None,
    ) -> None:
        self.directory = catalogue.directory
        self.catalogue = catalogue
        self.vector_store = vector_store
        self._keyword = keyword or CatalogueBM25(catalogue).search

    # -- content ------------------------------------------------------------------------
    def encoder_versions(self) -> dict[str, str]:
        return self.catalogue.encoder_versions()

    def set_encoder_versions(self, versions: dict[str, str]) -> None:
        self.catalogue.set_encoder_versions(versions)

    def video_hash(self, path: str) -> str | None:
        """None for a video whose last write did not reach the vector store, so the next
        ``index`` writes it again."""
        return None if self.vector_store.unfinished(path) else self.catalogue.video_hash(path)

    def replace_video(self, video: VideoRecord, segments: list[SegmentRecord]) -> None:
        with self.vector_store.writing(video.path) as changes:
            db = self.catalogue.writer
            changes.remove(self.catalogue.delete_video(db, video.path) or [])
            ids = self.catalogue.insert_video(db, video, segments)
            for segment_id, segment in zip(ids, segments, strict=True):
                for modality, vector in segment.vectors.items():
                    changes.add(modality, segment_id, vector)
            crash_point("before-commit")
        # The vector store follows only after the commit (crash point "after-commit").

    def remove_video(self, path: str) -> bool:
        with self.vector_store.writing(path) as changes:
            removed = self.catalogue.delete_video(self.catalogue.writer, path)
            changes.remove(removed or [])
        return removed is not None

    def record_failure(self, path: str, error: str) -> None:
        self.catalogue.record_failure(path, error)

    def failures(self) -> list[tuple[str, str]]:
        return self.catalogue.failures()

    # -- search -------------------------------------------------------------------------
    def knn(
        self, modality: str, query: np.ndarray, k: int, where: SegmentFilter
    ) -> list[tuple[int, float]]:
        allowed = None if where.is_empty else self.catalogue.allowed_ids(where)
        if allowed is not None and not len(allowed):
            return []
        return self.vector_store.search(modality, query, k, where, allowed)

    def reference_vectors(self, modality: str) -> np.ndarray:
        """A sample of the stored vectors (cached by the vector store until a write)."""
        return self.vector_store.sample(modality, REFERENCE_SAMPLE)

    def keyword(
        self, text: str, k: int, where: SegmentFilter, fields: tuple[str, ...]
    ) -> list[tuple[int, float]]:
        return self._keyword(text, k, where, fields)

    def segments(self, ids: list[int]) -> dict[int, StoredSegment]:
        return self.catalogue.segments(ids)

    def all_segments(self) -> list[StoredSegment]:
        return self.catalogue.all_segments()

    def segment_vectors(self, segment_id: int) -> dict[str, np.ndarray]:
        return {m: v for _, m, v in self.vector_store.fetch([segment_id]) if v is not None}

    def videos(self) -> list[StoredVideo]:
        return self.catalogue.videos()

    def cameras_and_zones(self) -> tuple[list[str], list[str]]:
        return self.catalogue.cameras_and_zones()

    # -- operators' data ----------------------------------------------------------------
    def add_mark(
        self,
        query: str,
        segment_id: int,
        relevant: bool,
        scores: dict[str, float] | None = None,
        encoders: dict[str, str] | None = None,
        fusion: str | None = None,
    ) -> Mark:
        return self.catalogue.add_mark(query, segment_id, relevant, scores, encoders, fusion)

    def marks(self) -> list[Mark]:
        return self.catalogue.marks()

    def add_fusion(
        self, version: str, weights: dict[str, float], summary: dict[str, Any], adopted: bool
    ) -> StoredFusion:
        return self.catalogue.add_fusion(version, weights, summary, adopted)

    def fusions(self) -> list[StoredFusion]:
        return self.catalogue.fusions()

    def set_camera(self, camera_id: str, camera: CameraConfig) -> None:
        self.catalogue.set_camera(camera_id, camera)

    def cameras(self) -> dict[str, CameraConfig]:
        return self.catalogue.cameras()

    # Saved queries and their events live in the catalogue too (``AlertStore``).
    def add_alert(
        self,
        query: str,
        threshold: float,
        camera: str | None,
        zone: str | None,
        time_of_day: str | None,
        webhook: str | None,
    ) -> int:
        return self.catalogue.add_alert(query, threshold, camera, zone, time_of_day, webhook)

    def alerts(self) -> list[Alert]:
        return self.catalogue.alerts()

    def remove_alert(self, alert_id: int) -> bool:
        return self.catalogue.remove_alert(alert_id)

    def add_alert_events(self, events: list[AlertEvent]) -> list[AlertEvent]:
        return self.catalogue.add_alert_events(events)

    def alert_events(self, alert_id: int | None = None, limit: int = 1000) -> list[AlertEvent]:
        return self.catalogue.alert_events(alert_id, limit)

    # -- maintenance --------------------------------------------------------------------
    def stats(self) -> dict[str, int]:
        counts = self.catalogue.stats()
        counts.update({f"vectors.{m}": n for m, n in self.vector_store.counts().items()})
        return counts

    def utterance_languages(self) -> dict[str, int]:
        return self.catalogue.utterance_languages()

    def verify_vectors(self) -> list[str]:
        return self.vector_store.verify()

    def rebuild_vectors(self) -> str:
        return self.vector_store.rebuild()

    def held_vectors(self) -> dict[int, set[str]]:
        held: dict[int, set[str]] = {}
        ids = self.catalogue.segment_ids()
        for segment_id, modality, _ in self.vector_store.fetch(ids, with_vectors=False):
            held.setdefault(segment_id, set()).add(modality)
        return held

    def close(self) -> None:
        self.vector_store.close()
        self.catalogue.close()


# -- backends: which vector store an index directory uses --------------------------------
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

    def __init__(self, directory: Path, policy: faiss.IndexPolicy | None = None) -> None:
        catalogue = Catalogue(directory)
        try:
            vector_store = faiss.FaissStore(directory / "vectors", catalogue, policy)
        except BaseException:
            catalogue.close()
            raise
        super().__init__(catalogue, vector_store)
        self.vector_store: faiss.FaissStore = vector_store


class MilvusIndex(Store):
    """The catalogue in the directory, the vectors (and optionally BM25) in Milvus."""

    def __init__(self, directory: Path, settings: IndexConfig) -> None:
        refuse_other_backend(directory, "milvus")
        milvus.claim_directory(directory)
        catalogue = Catalogue(directory)
        try:
            vector_store = milvus.MilvusStore(directory, catalogue, settings)
        except BaseException:
            catalogue.close()
            raise
        keyword = vector_store.keyword if vector_store.keyword_search else None
        super().__init__(catalogue, vector_store, keyword)
        self.vector_store: milvus.MilvusStore = vector_store


@backends.register("embedded")
def _embedded(path: Path, settings: IndexConfig | None = None) -> Index:
    """Every backend factory takes the directory and ``IndexConfig``; this one reads
    when to switch from exact to quantised search."""
    policy = faiss.IndexPolicy(ann_threshold=settings.ann_threshold) if settings else None
    return EmbeddedIndex(path, policy)


@backends.register("milvus")
def _milvus(path: Path, settings: IndexConfig | None = None) -> Index:
    return MilvusIndex(path, settings or IndexConfig(backend="milvus"))


@dataclass
class IndexReader:
    """An existing index opened for reading its size and contents (the monitor): the
    catalogue, and the vectors without what search needs loaded."""

    catalogue: Catalogue
    vectors: VectorReader


@contextmanager
def reading(directory: Path) -> Iterator[IndexReader]:
    """The index in ``directory`` for reading; it never creates one, and damage found
    in the catalogue raises ``DamagedIndexError``."""
    catalogue = Catalogue(directory, create=False)
    vectors: VectorReader = faiss.CatalogueVectors(catalogue)
    try:
        with reporting_damage(catalogue.database):
            if recorded_backend(directory) == "milvus":
                vectors = milvus.MilvusStore(directory, catalogue, IndexConfig(backend="milvus"))
            yield IndexReader(catalogue, vectors)
    finally:
        vectors.close()
        catalogue.close()


def discard_index(directory: Path, settings: IndexConfig) -> None:
    """Before ``directory`` is deleted: drop what its index keeps outside it (a Milvus
    index's collections on their server)."""
    if recorded_backend(directory) == "milvus":
        milvus.drop_collections(directory, settings)


def adopt_imported_vectors(directory: Path, settings: IndexConfig) -> None:
    """Hand the vectors an imported snapshot left in the catalogue to the configured
    backend's vector store (Milvus moves them to its server; Faiss reads them there)."""
    if settings.backend == "milvus":
        milvus.claim_directory(directory)  # from now on it reads as Milvus
    with closing(backends.create(settings.backend, directory, settings)) as store:
        assert isinstance(store, Store)
        store.vector_store.adopt_catalogue_vectors()
