"""Milvus backend: the embedded catalogue (videos, segments, texts, marks, alerts,
cameras, failures) with the vectors in Milvus, so k-NN scales out to a cluster.

Why this split: everything but the vectors is small, transactional and already right in
the embedded index, so this backend *is* that index (a subclass) whose vectors go to
Milvus instead of SQLite and Faiss. One collection per modality (Milvus 2.3 allows one
vector field per collection, and dimensions differ: 384 for text-space vectors, 1280 for
image features), keyed by segment id, with the segment's camera, zone, video path and
wall-clock fields as scalar fields: a ``SegmentFilter`` becomes a Milvus boolean
expression evaluated inside the vector search, never a filter applied afterwards. HNSW
visits fewer allowed nodes the narrower the filter, so its ``ef`` grows with the
selectivity the catalogue counts, and very selective filters are scored exactly.

The URI picks the server: a file path (``lib/milvus.db``, the default) runs milvus-lite
in-process; ``http://host:19530`` a Milvus standalone or cluster. Keyword search is the
catalogue's BM25 (FTS5) and fusion happens in the client, exactly as in the embedded
index; with ``keyword = "milvus"`` (Milvus ≥ 2.5 or milvus-lite) BM25 runs inside Milvus
instead: one BM25 sparse field per text field, summed by ``hybrid_search``.

Two stores cannot commit together, so writes are ordered to be repairable: the video's
path is marked pending (``milvus.sqlite``), the catalogue commits, the video's old rows
are deleted from Milvus by path and the new ones inserted, and only then is the mark
cleared. A crash in between leaves the path pending, which makes ``video_hash`` report
it as not indexed so the next ``index`` run writes it again; k-NN hits on stale rows
have no catalogue segment and search drops them.
"""

from __future__ import annotations

import json
import math
import sqlite3
import threading
import uuid
from collections.abc import Iterator
from contextlib import closing
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from sceneseek.config import IndexConfig
from sceneseek.errors import SceneseekError
from sceneseek.index.base import STOPWORDS, SegmentFilter, SegmentRecord, VideoRecord, backends
from sceneseek.index.embedded import (
    FTS_TOKEN,
    REFERENCE_SAMPLE,
    TEXT_FIELDS,
    EmbeddedIndex,
)

STATE_FILE = "milvus.sqlite"  # binding to a server and collections; pending writes
MAX_TOP_K = 16384  # Milvus refuses larger limits
INSERT_BATCH = 512  # rows per insert call, far below gRPC's message limit
ID_BATCH = 4096  # ids per `id in [...]` lookup of ``held_vectors``
HNSW_EF = 64  # HNSW candidate list of an unfiltered search (at least k)
MAX_EF = 32768  # the largest ef Milvus accepts
EXACT_FILTER_ROWS = 2_000  # filters allowing at most this many segments are scored exactly
MAX_TEXT_BYTES = 65535  # Milvus VARCHAR limit
SCALAR_FIELDS = ("video", "camera", "zone", "has_time", "day_seconds", "wall_time", "weekday")


def recorded_backend(directory: Path) -> str | None:
    """The backend an existing index was written with (it wins over the configured one,
    which only chooses for new indexes); None for a new directory."""
    if (directory / STATE_FILE).exists():
        return "milvus"
    return "embedded" if (directory / "index.sqlite").exists() else None


def refuse_other_backend(directory: Path, backend: str) -> None:
    """Opening an index with another backend than it was written with would search
    nothing by meaning (the vectors are in the other store): say so instead."""
    recorded = recorded_backend(directory)
    if recorded is not None and recorded != backend:
        raise SceneseekError(
            f"{directory}: this index was written with the {recorded} backend, not {backend}"
        )


class MilvusIndex(EmbeddedIndex):
    def __init__(self, directory: Path, settings: IndexConfig) -> None:
        from pymilvus import MilvusClient  # optional dependency: `pip install sceneseek[milvus]`

        refuse_other_backend(directory, "milvus")
        directory.mkdir(parents=True, exist_ok=True)
        # The state file first: from then on the directory reads as a Milvus index.
        self._state = sqlite3.connect(directory / STATE_FILE, check_same_thread=False)
        self._state_lock = threading.Lock()
        uri, prefix = self._bind(directory, settings)
        super().__init__(directory)
        self._prefix = prefix
        self._server_keyword = settings.keyword == "milvus"
        self._index_type = settings.milvus_index
        self._collections: set[str] = set()
        self._segment_count: int | None = None  # catalogue segments, until the next write
        self.exact_filter_rows = EXACT_FILTER_ROWS
        try:
            self._client = MilvusClient(uri=uri, token=settings.milvus_token or "")
            self._list_collections()
        except Exception as exc:  # noqa: BLE001 - pymilvus raises many kinds; name the server
            raise SceneseekError(f"{directory}: cannot reach Milvus at {uri}: {exc}") from None
        for modality in self._collections:
            self._client.load_collection(self._name(modality))
        self._milvus_references: dict[str, np.ndarray] = {}
        self._finish_pending_removals()

    # -- binding ------------------------------------------------------------------------
    def _bind(self, directory: Path, settings: IndexConfig) -> tuple[str, str]:
        """The URI and collection prefix of this index, recorded at creation so that later
        commands need no settings. The prefix is random unless configured: two indexes on
        one server (or a reindex's staging copy) never share collections. Like the
        backend, a configured prefix only names a new index's collections (the index a
        reindex swaps in has a fresh one). A configured URI replaces the recorded one
        (the cluster moved); none at all means milvus-lite in the index directory, which
        moves with it."""
        recorded = self._settings()
        prefix = recorded.get("prefix") or settings.collection_prefix
        prefix = prefix or f"sceneseek_{uuid.uuid4().hex[:12]}"
        uri = settings.milvus_uri or recorded.get("uri")
        with self._state_lock, self._state:
            self._state.executemany(
                "INSERT OR REPLACE INTO settings VALUES (?, ?)",
                [("prefix", prefix), *([("uri", uri)] if uri else [])],
            )
        return uri or str(directory / "milvus.db"), prefix

    def _settings(self) -> dict[str, str]:
        with self._state_lock, self._state:
            self._state.execute("CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value)")
            self._state.execute("CREATE TABLE IF NOT EXISTS pending (path TEXT PRIMARY KEY)")
            return dict(self._state.execute("SELECT key, value FROM settings").fetchall())

    def settings_beside(self, settings: IndexConfig) -> IndexConfig:
        """Settings for a new index on the same Milvus as this one (``reindex`` stages
        there): this index's URI, the configured token, a fresh collection prefix. An
        index in milvus-lite inside its directory gets its own, inside its directory."""
        uri = settings.milvus_uri or self._settings().get("uri")
        return settings.model_copy(update={"milvus_uri": uri, "collection_prefix": None})

    def _name(self, modality: str) -> str:
        return f"{self._prefix}_{modality}"

    def _list_collections(self) -> None:
        self._collections = {
            name.removeprefix(f"{self._prefix}_")
            for name in self._client.list_collections()
            if name.startswith(f"{self._prefix}_")
        }

    # -- writes -------------------------------------------------------------------------
    def video_hash(self, path: str) -> str | None:
        """None for a path whose last write did not reach Milvus, so it is indexed again."""
        with self._state_lock:
            pending = self._state.execute(
                "SELECT 1 FROM pending WHERE path = ?", (path,)
            ).fetchone()
        return None if pending else super().video_hash(path)

    def replace_video(self, video: VideoRecord, segments: list[SegmentRecord]) -> None:
        with self._lock:
            self._segment_count = None
            self._set_pending(video.path, True)
            super().replace_video(video, [replace(s, vectors={}) for s in segments])
            self._delete_rows(video.path)
            self._write_rows(video.path, [s.vectors for s in segments])
            self._set_pending(video.path, False)

    def _write_rows(self, path: str, vectors: list[dict[str, np.ndarray]]) -> None:
        """Insert the Milvus rows of ``path``'s segments, whose vectors are given in
        segment id (= insertion) order."""
        scalars = self._scalar_rows(path)
        rows: dict[str, list[dict[str, Any]]] = {}
        for (segment_id, fields, texts), segment in zip(scalars, vectors, strict=True):
            for modality, vector in segment.items():
                vector = np.asarray(vector, np.float32)
                rows.setdefault(modality, []).append(
                    {"id": segment_id, **fields, "vector": vector.tolist()}
                )
            if self._server_keyword:
                rows.setdefault(KEYWORD, []).append({"id": segment_id, **fields, **texts})
        for modality, modality_rows in rows.items():
            self._insert(modality, modality_rows)

    def remove_video(self, path: str) -> bool:
        with self._lock:
            self._segment_count = None
            self._set_pending(path, True)
            known = super().remove_video(path)
            self._delete_rows(path)
            self._set_pending(path, False)
        return known

    def _set_pending(self, path: str, pending: bool) -> None:
        sql = (
            "INSERT OR IGNORE INTO pending VALUES (?)"
            if pending
            else ("DELETE FROM pending WHERE path = ?")
        )
        with self._state_lock, self._state:
            self._state.execute(sql, (path,))

    def _finish_pending_removals(self) -> None:
        """Pending paths the catalogue no longer holds were being removed: drop their
        Milvus rows now. Pending paths it holds wait for the next ``index`` run."""
        with self._state_lock:
            pending = [r[0] for r in self._state.execute("SELECT path FROM pending")]
        for path in pending:
            if super().video_hash(path) is None:
                self._delete_rows(path)
                self._set_pending(path, False)

    def _scalar_rows(self, path: str) -> list[tuple[int, dict[str, Any], dict[str, str]]]:
        """Per new segment of ``path``, in insertion order: its id, its filterable fields
        and its keyword texts, read back from the catalogue that computed them."""
        rows = self._reader().execute(
            "SELECT s.id, v.camera, v.zone, s.day_seconds, s.wall_time, s.weekday,"
            f" {', '.join('t.' + f for f in TEXT_FIELDS)} FROM segments s"
            " JOIN videos v ON v.id = s.video_id JOIN segment_text t ON t.rowid = s.id"
            " WHERE v.path = ? ORDER BY s.id",
            (path,),
        )
        out = []
        for segment_id, camera, zone, day_seconds, wall_time, weekday, *texts in rows:
            fields = {
                "video": path,
                # Milvus 2.3 has no NULL: "" and has_time=False stand for it, and every
                # time condition is guarded by has_time (as NULL fails them in SQL).
                "camera": camera or "",
                "zone": zone or "",
                "has_time": wall_time is not None,
                "day_seconds": float(day_seconds or 0.0),
                "wall_time": float(wall_time or 0.0),
                "weekday": int(weekday if weekday is not None else -1),
            }
            out.append((segment_id, fields, dict(zip(TEXT_FIELDS, map(_clip, texts), strict=True))))
        return out

    def _insert(self, collection: str, rows: list[dict[str, Any]]) -> None:
        dim = len(rows[0]["vector"]) if "vector" in rows[0] else 0
        self._ensure_collection(collection, dim)
        for start in range(0, len(rows), INSERT_BATCH):
            self._client.insert(self._name(collection), rows[start : start + INSERT_BATCH])
        self._milvus_references.pop(collection, None)

    def _delete_rows(self, path: str) -> None:
        """Delete ``path``'s rows from every collection, including any that another
        process created since this one looked."""
        self._list_collections()
        for collection in self._collections:
            self._client.delete(self._name(collection), filter=f"video == {_literal(path)}")
        self._milvus_references.clear()

    def _ensure_collection(self, collection: str, dim: int) -> None:
        """Create a modality's collection on first use: scalar fields for filters, and
        either the vector (HNSW or as configured, inner product on unit vectors = cosine)
        or, for "keyword", one analysed text field per keyword field with its BM25."""
        if self._exists(collection):
            return
        from pymilvus import DataType, Function, FunctionType, MilvusClient, MilvusException

        schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("id", DataType.INT64, is_primary=True)
        for name in ("video", "camera", "zone"):
            schema.add_field(name, DataType.VARCHAR, max_length=MAX_TEXT_BYTES)
        schema.add_field("has_time", DataType.BOOL)
        schema.add_field("day_seconds", DataType.DOUBLE)
        schema.add_field("wall_time", DataType.DOUBLE)
        schema.add_field("weekday", DataType.INT8)
        index = self._client.prepare_index_params()
        if collection == KEYWORD:
            for name in TEXT_FIELDS:
                schema.add_field(
                    name, DataType.VARCHAR, max_length=MAX_TEXT_BYTES, enable_analyzer=True
                )
                schema.add_field(f"{name}_bm25", DataType.SPARSE_FLOAT_VECTOR)
                schema.add_function(
                    Function(
                        name=f"{name}_bm25",
                        function_type=FunctionType.BM25,
                        input_field_names=[name],
                        output_field_names=[f"{name}_bm25"],
                    )
                )
                index.add_index(
                    field_name=f"{name}_bm25",
                    index_type="SPARSE_INVERTED_INDEX",
                    metric_type="BM25",
                )
        else:
            schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
            params = {"M": 16, "efConstruction": 200} if self._index_type == "HNSW" else {}
            index.add_index(
                field_name="vector", index_type=self._index_type, metric_type="IP", params=params
            )
        try:
            self._client.create_collection(
                self._name(collection),
                schema=schema,
                index_params=index,
                consistency_level="Strong",  # a search sees every write before it
            )
        except MilvusException as exc:
            hint = (
                ' (BM25 needs Milvus ≥ 2.5 or milvus-lite; set index.keyword = "catalogue")'
                if collection == KEYWORD
                else ""
            )
            raise SceneseekError(
                f"cannot create Milvus collection {self._name(collection)}: {exc.message}{hint}"
            ) from None
        self._collections.add(collection)

    # -- search -------------------------------------------------------------------------
    def _exists(self, collection: str) -> bool:
        """Whether the collection exists, asking the server about one this process has
        not seen: another process (``watch`` beside ``serve``) may have created it."""
        if collection not in self._collections and self._client.has_collection(
            self._name(collection)
        ):
            self._collections.add(collection)
        return collection in self._collections

    def knn(
        self, modality: str, query: np.ndarray, k: int, where: SegmentFilter
    ) -> list[tuple[int, float]]:
        """HNSW under a filter only keeps the allowed nodes of the candidates it visits, so
        ``ef`` grows as the filter narrows (the catalogue counts the allowed segments,
        cached as for the embedded index); a filter allowing a few thousand segments at
        most is scored exactly on their vectors, fetched from Milvus by id (faster than by
        the filter in milvus-lite: 120 ms against 310 ms for 1 000 of 100k)."""
        if modality == KEYWORD or not self._exists(modality):
            return []
        query = np.asarray(query, np.float32)
        expression = filter_expression(where)
        ef = max(k, HNSW_EF)
        if not where.is_empty:
            allowed = self._allowed_ids(where)
            if not len(allowed):
                return []
            if len(allowed) <= self.exact_filter_rows:
                return self._exact(modality, query, k, allowed)
            ef = ef_for(k, len(allowed) / max(len(allowed), self._segments()))
        hits = self._client.search(
            self._name(modality),
            data=[query.tolist()],
            anns_field="vector",
            limit=min(k, MAX_TOP_K),
            filter=expression,
            output_fields=[],
            search_params={"metric_type": "IP", "params": {"ef": ef}},
        )
        return [(int(hit["id"]), float(hit["distance"])) for hit in hits[0]]

    def _exact(
        self, modality: str, query: np.ndarray, k: int, ids: np.ndarray
    ) -> list[tuple[int, float]]:
        """Cosine with the vectors of segments ``ids``, best first."""
        rows = self._client.query(self._name(modality), ids=ids.tolist(), output_fields=["vector"])
        if not rows:
            return []
        ids = np.fromiter((row["id"] for row in rows), np.int64, len(rows))
        scores = np.asarray([row["vector"] for row in rows], np.float32) @ query
        best = np.argsort(-scores, kind="stable")[:k]
        return [(int(ids[i]), float(scores[i])) for i in best]

    def _follow_catalogue(self) -> None:
        """Forget what was cached from the catalogue and Milvus whenever the catalogue
        changed, by this process or another (SQLite's data_version): Milvus shows other
        processes' writes at once, so a stale id list would hide their segments and a
        stale sample would set the scale of their scores."""
        version = self._reader().execute("PRAGMA data_version").fetchone()[0]
        if getattr(self._local, "catalogue_version", None) != version:
            self._local.catalogue_version = version
            with self._lock:
                self._allowed_cache.clear()
                self._segment_count = None
                self._milvus_references.clear()

    def _allowed_ids(self, where: SegmentFilter) -> np.ndarray:
        """The embedded index's cached allowed ids (see ``_follow_catalogue``)."""
        self._follow_catalogue()
        return super()._allowed_ids(where)

    def _segments(self) -> int:
        """Segments in the catalogue (the denominator of a filter's selectivity)."""
        if self._segment_count is None:
            row = self._reader().execute("SELECT count(*) FROM segments").fetchone()
            self._segment_count = int(row[0])
        return self._segment_count

    def keyword(
        self, text: str, k: int, where: SegmentFilter, fields: tuple[str, ...]
    ) -> list[tuple[int, float]]:
        """The catalogue's BM25, or with ``keyword = "milvus"`` Milvus's: one BM25
        request per field, their scores summed server-side by ``hybrid_search``."""
        if not self._server_keyword:
            return super().keyword(text, k, where, fields)
        from pymilvus import AnnSearchRequest, WeightedRanker

        tokens = [t for t in FTS_TOKEN.findall(text.lower()) if t not in STOPWORDS]
        columns = [f for f in fields if f in TEXT_FIELDS]
        if not tokens or not columns or not self._exists(KEYWORD):
            return []
        expression = filter_expression(where)
        requests = [
            AnnSearchRequest(
                data=[" ".join(dict.fromkeys(tokens))],
                anns_field=f"{column}_bm25",
                param={"metric_type": "BM25"},
                limit=min(k, MAX_TOP_K),
                expr=expression,
            )
            for column in columns
        ]
        hits = self._client.hybrid_search(
            self._name(KEYWORD),
            requests,
            WeightedRanker(*[1.0] * len(columns), norm_score=False),
            limit=min(k, MAX_TOP_K),
            output_fields=[],
        )
        return [(int(hit["id"]), float(hit["distance"])) for hit in hits[0] if hit["distance"] > 0]

    def reference_vectors(self, modality: str) -> np.ndarray:
        """Up to REFERENCE_SAMPLE stored vectors, kept until the next write (by any
        process). Milvus 2.3
        cannot sample evenly by id, so a large library's sample is the first rows Milvus
        returns; it only sets the scale of one modality's similarities."""
        self._follow_catalogue()
        with self._lock:
            if modality not in self._milvus_references:
                if modality == KEYWORD or not self._exists(modality):
                    return np.zeros((0, 0), np.float32)
                rows = self._client.query(
                    self._name(modality),
                    filter="id >= 0",
                    output_fields=["vector"],
                    limit=REFERENCE_SAMPLE,
                )
                if not rows:
                    return np.zeros((0, 0), np.float32)
                self._milvus_references[modality] = np.asarray(
                    [row["vector"] for row in rows], np.float32
                )
            return self._milvus_references[modality]

    def segment_vectors(self, segment_id: int) -> dict[str, np.ndarray]:
        vectors = {}
        for modality in sorted(self._collections - {KEYWORD}):
            rows = self._client.query(
                self._name(modality), ids=[segment_id], output_fields=["vector"]
            )
            if rows:
                vectors[modality] = np.asarray(rows[0]["vector"], np.float32)
        return vectors

    # -- consistency and housekeeping ---------------------------------------------------
    def verify_vectors(self) -> list[str]:
        """Videos whose last write may not have reached Milvus (``index`` them again)."""
        with self._state_lock:
            pending = [r[0] for r in self._state.execute("SELECT path FROM pending ORDER BY 1")]
        problems = [
            f"{path}: vectors may be missing from Milvus; index it again" for path in pending
        ]
        return super().verify_vectors() + problems

    def held_vectors(self) -> dict[int, set[str]]:
        """Per catalogue segment, the modalities Milvus holds a vector of."""
        ids = [r[0] for r in self._reader().execute("SELECT id FROM segments ORDER BY id")]
        held: dict[int, set[str]] = {}
        for segment_id, modality, _ in self.stored_vectors(ids, with_vectors=False):
            held.setdefault(segment_id, set()).add(modality)
        return held

    def stored_vectors(
        self, ids: list[int], with_vectors: bool = True
    ) -> Iterator[tuple[int, str, np.ndarray | None]]:
        """(segment id, modality, vector) of every vector Milvus holds for ``ids``, asked
        in batches of ids (Milvus 2.3 cannot page through a collection in id order)."""
        self._list_collections()
        for modality in sorted(self._collections - {KEYWORD}):
            for start in range(0, len(ids), ID_BATCH):
                rows = self._client.query(
                    self._name(modality),
                    ids=ids[start : start + ID_BATCH],
                    output_fields=["vector"] if with_vectors else ["id"],
                )
                for row in rows:
                    vector = np.asarray(row["vector"], np.float32) if with_vectors else None
                    yield int(row["id"]), modality, vector

    def adopt_catalogue_vectors(self) -> None:
        """Move the vectors the catalogue holds (a snapshot just imported into this
        directory) into Milvus, one video at a time as ``replace_video`` writes them, then
        empty the catalogue's ``vectors`` table."""
        for (path,) in self._reader().execute("SELECT path FROM videos ORDER BY id").fetchall():
            held: dict[int, dict[str, np.ndarray]] = {}
            for segment_id, modality, blob in self._reader().execute(
                "SELECT s.id, x.modality, x.vector FROM segments s"
                " JOIN videos v ON v.id = s.video_id LEFT JOIN vectors x ON x.segment_id = s.id"
                " WHERE v.path = ?",
                (path,),
            ):
                vectors = held.setdefault(segment_id, {})
                if modality is not None:
                    vectors[modality] = np.frombuffer(blob, np.float32)
            self._set_pending(path, True)
            self._write_rows(path, [held[i] for i in sorted(held)])
            self._set_pending(path, False)
        with self._lock, self.vector_store.transaction(self._db) as changes:
            changes.remove([r[0] for r in self._db.execute("SELECT segment_id FROM vectors")])
            self._db.execute("DELETE FROM vectors")

    def rebuild_vectors(self) -> str:
        """Milvus holds the only copy of the vectors, so there is nothing to rebuild them
        from: drop the rows of removals a crash interrupted (re-indexing fixes the rest)."""
        self._finish_pending_removals()
        return (
            "dropped the Milvus rows of interrupted removals; videos whose write did not "
            "reach Milvus are written again by the next `sceneseek index`"
        )

    def stats(self) -> dict[str, int]:
        counts = super().stats()
        self._list_collections()  # another process may have created one
        for modality in sorted(self._collections - {KEYWORD}):
            rows = self._client.query(self._name(modality), filter="", output_fields=["count(*)"])
            counts[f"vectors.{modality}"] = int(rows[0]["count(*)"])
        return counts

    def close(self) -> None:
        self._client.close()
        self._state.close()
        super().close()


KEYWORD = "keyword"  # the collection holding BM25 fields (keyword = "milvus")


def ef_for(k: int, selectivity: float) -> int:
    """HNSW ``ef`` for a filter letting ``selectivity`` of the segments through: only the
    allowed share of the candidates counts, so the list grows as 1/selectivity (measured
    on milvus-lite at 100k e5-like vectors, 10 %: ef 360 gave recall@10 0.993, 640
    0.997, 1 280 1.0; 1 %: 2 024 gave 0.98, 6 400 1.0, all at the same latency)."""
    return int(min(MAX_EF, math.ceil(max(k, HNSW_EF) / selectivity)))


def import_catalogue_vectors(directory: Path, settings: IndexConfig) -> None:
    """Turn the index in ``directory``, whose vectors are in its catalogue (an imported
    snapshot), into a Milvus index on the configured server (milvus-lite by default)."""
    sqlite3.connect(directory / STATE_FILE).close()  # from now on it reads as Milvus
    index = MilvusIndex(directory, settings)
    try:
        index.adopt_catalogue_vectors()
    finally:
        index.close()


def drop_collections(directory: Path, settings: IndexConfig) -> None:
    """Drop the Milvus collections of the index in ``directory`` from their server, before
    the directory is deleted (``reindex`` replacing ``DB.previous/``). An index in
    milvus-lite inside its directory goes with it; nothing to do without a state file."""
    if not (directory / STATE_FILE).exists():
        return
    from pymilvus import MilvusClient

    with closing(sqlite3.connect(directory / STATE_FILE)) as state:
        recorded = dict(state.execute("SELECT key, value FROM settings").fetchall())
    uri, prefix = recorded.get("uri"), recorded.get("prefix")
    if not uri or not prefix or Path(uri).resolve().is_relative_to(directory.resolve()):
        return
    try:
        client = MilvusClient(uri=uri, token=settings.milvus_token or "")
        for name in client.list_collections():
            if name.startswith(f"{prefix}_"):
                client.drop_collection(name)
        client.close()
    except Exception as exc:  # noqa: BLE001 - pymilvus raises many kinds; name the server
        raise SceneseekError(
            f"{directory}: cannot drop its Milvus collections {prefix}_* at {uri} ({exc}); "
            "drop them there, or run this again when the server answers"
        ) from None


def filter_expression(where: SegmentFilter) -> str:
    """``where`` as a Milvus boolean expression over the scalar fields (the same
    conditions as the catalogue's SQL; time conditions only hold for timed segments)."""
    clauses: list[str] = []
    for field in ("camera", "zone", "video"):
        value = getattr(where, field)
        if value is not None:
            clauses.append(f"{field} == {_literal(value)}")
    timed: list[str] = []
    if where.time_of_day is not None:
        start, end = where.time_of_day
        joiner = "and" if start <= end else "or"
        timed.append(f"(day_seconds >= {start} {joiner} day_seconds < {end})")
    if where.after is not None:
        timed.append(f"wall_time >= {where.after.timestamp()!r}")
    if where.before is not None:
        timed.append(f"wall_time < {where.before.timestamp()!r}")
    if where.weekdays is not None:
        timed.append(f"weekday in {sorted(where.weekdays)}")
    if timed:
        clauses.extend(["has_time == true", *timed])
    return " and ".join(clauses)


def _literal(value: str) -> str:
    """A Milvus string literal: double-quoted, with quotes and backslashes escaped."""
    return json.dumps(value, ensure_ascii=False)


def _clip(text: str) -> str:
    """Cut to Milvus's VARCHAR limit (in bytes) without splitting a character."""
    return text.encode()[:MAX_TEXT_BYTES].decode(errors="ignore")


@backends.register("milvus")
def _milvus(path: Path, settings: IndexConfig | None = None) -> MilvusIndex:
    return MilvusIndex(path, settings or IndexConfig(backend="milvus"))
