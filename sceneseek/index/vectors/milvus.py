"""The Milvus vector store: the catalogue (videos, segments, texts, marks, alerts,
cameras, failures) stays in the index directory, the vectors go to Milvus, so k-NN
scales out to a cluster.

Why this split: everything but the vectors is small, transactional and already right in
the catalogue, so only the vectors go to Milvus instead of SQLite and Faiss. One
collection per modality (Milvus 2.3 allows one
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

import contextlib
import json
import math
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import numpy as np

from sceneseek.config import IndexConfig, MilvusConfig
from sceneseek.errors import SceneseekError
from sceneseek.faults import crash_point
from sceneseek.index.base import SegmentFilter
from sceneseek.index.catalogue import Catalogue
from sceneseek.index.keyword import TEXT_FIELDS, query_tokens, searched_fields
from sceneseek.index.vectors.base import (
    Allowed,
    StoredVectors,
    VectorChanges,
    VectorSource,
)

STATE_FILE = "milvus.sqlite"  # binding to a server and collections; pending writes
MAX_TOP_K = 16384  # Milvus refuses larger limits
INSERT_BATCH = 512  # rows per insert call, far below gRPC's message limit
ID_BATCH = 4096  # ids per `id in [...]` lookup of ``fetch``
HNSW_EF = 64  # HNSW candidate list of an unfiltered search (at least k)
MAX_EF = 32768  # the largest ef Milvus accepts
EXACT_FILTER_ROWS = 2_000  # filters allowing at most this many segments are scored exactly
MAX_TEXT_BYTES = 65535  # Milvus VARCHAR limit
KEYWORD = "keyword"  # the collection holding BM25 fields (keyword = "milvus")
SCALAR_FIELDS = ("video", "camera", "zone", "has_time", "day_seconds", "wall_time", "weekday")


def claim_directory(directory: Path) -> None:
    """Create the state file before anything else: from then on the directory reads as
    a Milvus index (``store.recorded_backend``)."""
    directory.mkdir(parents=True, exist_ok=True)
    sqlite3.connect(directory / STATE_FILE).close()


class MilvusStore:
    def __init__(self, directory: Path, catalogue: Catalogue, settings: MilvusConfig) -> None:
        from pymilvus import MilvusClient  # optional dependency: `pip install sceneseek[milvus]`

        self._catalogue = catalogue
        self._state = sqlite3.connect(directory / STATE_FILE, check_same_thread=False)
        self._state_lock = threading.Lock()
        uri, prefix = self._bind(directory, settings)
        self._prefix = prefix
        self._server_keyword = settings.keyword == "milvus"
        self._index_type = settings.index
        self._lock = threading.RLock()
        self._local = threading.local()
        self._collections: set[str] = set()
        self._segment_count: int | None = None  # catalogue segments, until the next write
        self.exact_filter_rows = EXACT_FILTER_ROWS
        try:
            self._client = MilvusClient(uri=uri, token=settings.token or "")
            self._list_collections()
        except Exception as exc:  # noqa: BLE001 - pymilvus raises many kinds; name the server
            self._state.close()
            raise SceneseekError(f"{directory}: cannot reach Milvus at {uri}: {exc}") from None
        for modality in self._collections:
            self._client.load_collection(self._name(modality))
        self._references: dict[str, np.ndarray] = {}
        self._finish_pending_removals()

    # -- binding ------------------------------------------------------------------------
    def _bind(self, directory: Path, settings: MilvusConfig) -> tuple[str, str]:
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
        uri = settings.uri or recorded.get("uri")
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
        uri = settings.milvus.uri or self._settings().get("uri")
        beside = settings.milvus.model_copy(update={"uri": uri, "collection_prefix": None})
        return settings.model_copy(update={"milvus": beside})

    def _name(self, modality: str) -> str:
        return f"{self._prefix}_{modality}"

    def _list_collections(self) -> None:
        self._collections = {
            name.removeprefix(f"{self._prefix}_")
            for name in self._client.list_collections()
            if name.startswith(f"{self._prefix}_")
        }

    # -- writes -------------------------------------------------------------------------
    def unfinished(self, video: str) -> bool:
        """True for a path whose last write did not reach Milvus, so it is indexed again."""
        with self._state_lock:
            pending = self._state.execute(
                "SELECT 1 FROM pending WHERE path = ?", (video,)
            ).fetchone()
        return pending is not None

    @contextlib.contextmanager
    def writing(self, *videos: str) -> Iterator[VectorChanges]:
        """The paths are marked pending, the catalogue commits, the paths' old rows are
        deleted from Milvus and the new ones inserted, and the marks are cleared (see the
        module docstring)."""
        with self._lock:
            self._segment_count = None
            for video in videos:
                self._set_pending(video, True)
            changes = VectorChanges()
            with self._catalogue.transaction():
                yield changes
            crash_point("after-commit")
            for video in videos:
                self._delete_rows(video)
            self._write_rows(videos, changes.added)
            for video in videos:
                self._set_pending(video, False)

    def _write_rows(
        self, paths: tuple[str, ...], added: dict[str, list[tuple[int, np.ndarray]]]
    ) -> None:
        """Insert the Milvus rows of the segments of ``paths``: their vectors, and with
        ``keyword = "milvus"`` their keyword texts."""
        scalars = [row for path in paths for row in self._scalar_rows(path)]
        rows: dict[str, list[dict[str, Any]]] = {}
        fields_of = {segment_id: fields for segment_id, fields, _ in scalars}
        for modality, pairs in added.items():
            rows[modality] = [
                {"id": i, **fields_of[i], "vector": np.asarray(v, np.float32).tolist()}
                for i, v in pairs
            ]
        if self._server_keyword and scalars:
            rows[KEYWORD] = [{"id": i, **fields, **texts} for i, fields, texts in scalars]
        for modality, modality_rows in rows.items():
            self._insert(modality, modality_rows)

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
            if self._catalogue.stored_hash(path) is None:
                self._delete_rows(path)
                self._set_pending(path, False)

    def _scalar_rows(self, path: str) -> list[tuple[int, dict[str, Any], dict[str, str]]]:
        """Per new segment of ``path``, in insertion order: its id, its filterable fields
        and its keyword texts, read back from the catalogue that computed them."""
        out = []
        for row in self._catalogue.segment_fields(path):
            segment_id, camera, zone, day_seconds, wall_time, weekday, *texts = row
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
        self._references.pop(collection, None)

    def _delete_rows(self, path: str) -> None:
        """Delete ``path``'s rows from every collection, including any that another
        process created since this one looked."""
        self._list_collections()
        for collection in self._collections:
            self._client.delete(self._name(collection), filter=f"video == {_value(path)}")
        self._references.clear()

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

    def search(
        self, modality: str, query: np.ndarray, k: int, within: Allowed | None
    ) -> list[tuple[int, float]]:
        """HNSW under a filter only keeps the allowed nodes of the candidates it visits, so
        ``ef`` grows as the filter narrows (by the share of the catalogue's segments it
        allows); a filter allowing a few thousand segments at most is scored exactly on
        their vectors, fetched from Milvus by id (faster than by the filter in
        milvus-lite: 120 ms against 310 ms for 1 000 of 100k)."""
        if modality == KEYWORD or not self._exists(modality):
            return []
        query = np.asarray(query, np.float32)
        ef, expression = max(k, HNSW_EF), ""
        if within is not None:
            if within.count <= self.exact_filter_rows:
                return self._exact(modality, query, k, within.ids)
            ef = ef_for(k, within.count / max(within.count, self._segments()))
            expression = filter_expression(within.where)
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
        changed, by this process or another: Milvus shows other processes' writes at
        once, so a stale count would misjudge a filter and a stale sample would set the
        scale of their scores."""
        if self._catalogue.changed(self._local):
            with self._lock:
                self._segment_count = None
                self._references.clear()

    def _segments(self) -> int:
        """Segments in the catalogue (the denominator of a filter's selectivity)."""
        self._follow_catalogue()
        if self._segment_count is None:
            self._segment_count = self._catalogue.segment_count()
        return self._segment_count

    @property
    def keyword_search(self) -> bool:
        """Whether BM25 runs in Milvus (``keyword = "milvus"``) instead of the catalogue."""
        return self._server_keyword

    def keyword(
        self, text: str, k: int, where: SegmentFilter, fields: tuple[str, ...]
    ) -> list[tuple[int, float]]:
        """Milvus's BM25: one request per field, their scores summed server-side by
        ``hybrid_search``."""
        from pymilvus import AnnSearchRequest, WeightedRanker

        tokens, columns = query_tokens(text), searched_fields(fields)
        if not tokens or not columns or not self._exists(KEYWORD):
            return []
        expression = filter_expression(where)
        requests = [
            AnnSearchRequest(
                data=[" ".join(tokens)],
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

    def sample(self, modality: str, size: int) -> np.ndarray:
        """Up to ``size`` stored vectors, kept until the next write (by any process).
        Milvus 2.3 cannot sample evenly by id, so a large library's sample is the first
        rows Milvus returns; it only sets the scale of one modality's similarities."""
        self._follow_catalogue()
        with self._lock:
            if modality not in self._references:
                if modality == KEYWORD or not self._exists(modality):
                    return np.zeros((0, 0), np.float32)
                rows = self._client.query(
                    self._name(modality), filter="id >= 0", output_fields=["vector"], limit=size
                )
                if not rows:
                    return np.zeros((0, 0), np.float32)
                self._references[modality] = np.asarray([row["vector"] for row in rows], np.float32)
            return self._references[modality]

    def fetch(self, ids: list[int], with_vectors: bool = True) -> StoredVectors:
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

    def counts(self) -> dict[str, int]:
        self._list_collections()  # another process may have created one
        counts = {}
        for modality in sorted(self._collections - {KEYWORD}):
            rows = self._client.query(self._name(modality), filter="", output_fields=["count(*)"])
            counts[modality] = int(rows[0]["count(*)"])
        return counts

    # -- consistency and housekeeping ---------------------------------------------------
    def verify(self) -> list[str]:
        """Videos whose last write may not have reached Milvus (``index`` them again)."""
        with self._state_lock:
            pending = [r[0] for r in self._state.execute("SELECT path FROM pending ORDER BY 1")]
        return [f"{path}: vectors may be missing from Milvus; index it again" for path in pending]

    def exported_vectors(self) -> VectorSource | None:
        return self.fetch

    def adopt_catalogue_vectors(self) -> None:
        """Move the vectors the catalogue holds (a snapshot just imported into this
        directory) into Milvus, one video at a time as ``writing`` does, then empty the
        catalogue's ``vectors`` table."""
        for path in self._catalogue.video_paths():
            ids = [row[0] for row in self._catalogue.segment_fields(path)]
            added: dict[str, list[tuple[int, np.ndarray]]] = {}
            for segment_id, modality, vector in self._catalogue.vectors_of(ids):
                assert vector is not None
                added.setdefault(modality, []).append((segment_id, vector))
            self._set_pending(path, True)
            self._write_rows((path,), added)
            self._set_pending(path, False)
        self._catalogue.clear_vectors()

    def rebuild(self) -> str:
        """Milvus holds the only copy of the vectors, so there is nothing to rebuild them
        from: drop the rows of removals a crash interrupted (re-indexing fixes the rest)."""
        self._finish_pending_removals()
        return (
            "dropped the Milvus rows of interrupted removals; videos whose write did not "
            "reach Milvus are written again by the next `sceneseek index`"
        )

    def wait_for_training(self, poll_s: float = 5.0) -> None:
        """Block until the server has indexed every row of every vector collection: it
        builds indexes in the background and answers by brute force until then (for a
        bulk build's measurements, as ``FaissStore.wait_for_training``)."""
        for collection in sorted(self._collections - {KEYWORD}):
            while True:
                state = self._client.describe_index(self._name(collection), "vector")
                if int(state.get("pending_index_rows", 0)) == 0 and int(
                    state.get("indexed_rows", 0)
                ) >= int(state.get("total_rows", 0)):
                    break
                time.sleep(poll_s)

    def close(self) -> None:
        self._client.close()
        self._state.close()


def ef_for(k: int, selectivity: float) -> int:
    """HNSW ``ef`` for a filter letting ``selectivity`` of the segments through: only the
    allowed share of the candidates counts, so the list grows as 1/selectivity (measured
    on milvus-lite at 100k e5-like vectors, 10 %: ef 360 gave recall@10 0.993, 640
    0.997, 1 280 1.0; 1 %: 2 024 gave 0.98, 6 400 1.0, all at the same latency)."""
    return int(min(MAX_EF, math.ceil(max(k, HNSW_EF) / selectivity)))


def drop_collections(directory: Path, settings: MilvusConfig) -> None:
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
        client = MilvusClient(uri=uri, token=settings.token or "")
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
    """``where`` as a Milvus boolean expression over the scalar fields. Milvus 2.3 has
    no NULL, so time conditions are guarded by has_time (as NULL fails them in SQL)."""
    clauses = where.clauses()
    terms = ["has_time == true"] if any(c.timed for a in clauses for c in a) else []
    for alternatives in clauses:
        rendered = [f"{c.field} {c.op} {_value(c.value)}" for c in alternatives]
        terms.append(rendered[0] if len(rendered) == 1 else f"({' or '.join(rendered)})")
    return " and ".join(terms)


def _value(value: object) -> str:
    """A Milvus literal: strings double-quoted and escaped, numbers and lists as is."""
    return json.dumps(value, ensure_ascii=False) if isinstance(value, str) else repr(value)


def _clip(text: str) -> str:
    """Cut to Milvus's VARCHAR limit (in bytes) without splitting a character."""
    return text.encode()[:MAX_TEXT_BYTES].decode(errors="ignore")
