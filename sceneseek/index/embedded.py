"""Zero-setup backend: one directory with a SQLite database (WAL) holding videos,
segments, text (FTS5 for BM25) and vectors, plus in-memory Faiss indexes built from it.

SQLite is the single source of truth, so Faiss can never disagree with it after a
crash: the Faiss side is rebuilt from the stored vectors when the index is opened.
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from sceneseek.config import TEXT_MODALITIES, CameraConfig
from sceneseek.encoders.base import Observation
from sceneseek.errors import SceneseekError
from sceneseek.index.alerts import Alert, AlertEvent
from sceneseek.index.base import (
    STOPWORDS,
    Mark,
    SegmentFilter,
    SegmentRecord,
    StoredSegment,
    StoredVideo,
    VideoRecord,
    backends,
    observation_text,
)

SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE videos (
    id INTEGER PRIMARY KEY,
    path TEXT NOT NULL UNIQUE,
    content_hash TEXT NOT NULL,
    duration REAL NOT NULL,
    camera TEXT,
    zone TEXT,
    start_time TEXT,
    language TEXT,
    indexed_at TEXT NOT NULL
);
CREATE TABLE segments (
    id INTEGER PRIMARY KEY,
    video_id INTEGER NOT NULL REFERENCES videos(id) ON DELETE CASCADE,
    start REAL NOT NULL,
    end REAL NOT NULL,
    keyframe REAL NOT NULL,
    observations TEXT NOT NULL,
    labels TEXT NOT NULL,
    day_seconds REAL,
    wall_time REAL,
    weekday INTEGER
);
CREATE INDEX segments_video ON segments(video_id, start);
CREATE TABLE vectors (
    segment_id INTEGER NOT NULL REFERENCES segments(id) ON DELETE CASCADE,
    modality TEXT NOT NULL,
    vector BLOB NOT NULL,
    PRIMARY KEY (segment_id, modality)
) WITHOUT ROWID;
CREATE VIRTUAL TABLE segment_text USING fts5(
    speech, ocr, sound, people, labels, tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TABLE marks (
    id INTEGER PRIMARY KEY,
    query TEXT NOT NULL,
    segment_id INTEGER NOT NULL,
    relevant INTEGER NOT NULL,
    created TEXT NOT NULL
);
CREATE TABLE alerts (
    id INTEGER PRIMARY KEY,
    query TEXT NOT NULL,
    threshold REAL NOT NULL,
    camera TEXT,
    zone TEXT,
    time_of_day TEXT,
    webhook TEXT,
    created TEXT NOT NULL
);
CREATE TABLE alert_events (
    id INTEGER PRIMARY KEY,
    alert_id INTEGER NOT NULL REFERENCES alerts(id) ON DELETE CASCADE,
    query TEXT NOT NULL,
    video TEXT NOT NULL,
    start REAL NOT NULL,
    end REAL NOT NULL,
    score REAL NOT NULL,
    wall_time TEXT,
    created TEXT NOT NULL,
    UNIQUE (alert_id, video, start)
);

CREATE TABLE cameras (
    id TEXT PRIMARY KEY, name TEXT, zone TEXT, timezone TEXT NOT NULL
);
CREATE TABLE failures (
    path TEXT PRIMARY KEY, error TEXT NOT NULL, at TEXT NOT NULL
);
"""

SCHEMA_VERSION = 6
REFERENCE_SAMPLE = 2048
TEXT_FIELDS = (*TEXT_MODALITIES, "labels")
FTS_TOKEN = re.compile(r"\w+", re.UNICODE)


class EmbeddedIndex:
    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self._db = sqlite3.connect(directory / "index.sqlite", check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._check_schema()
        self._lock = threading.RLock()
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._faiss: dict[str, faiss.IndexIDMap2] = {}
        self._references: dict[str, np.ndarray] = {}  # reference_vectors() cache
        self._load_vectors()

    def _reader(self) -> sqlite3.Connection:
        """This thread's read connection. Under WAL, readers run beside the writer and
        only ever see committed videos, never one half-way through ``replace_video``."""
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            connection = sqlite3.connect(self.directory / "index.sqlite", check_same_thread=False)
            self._local.connection = connection
            with self._lock:
                self._readers.append(connection)
        return connection

    def _check_schema(self) -> None:
        """Create the schema in a new index; refuse an index written by another layout
        rather than misreading it."""
        has_tables = self._db.execute(
            "SELECT count(*) FROM sqlite_master WHERE name = 'segments'"
        ).fetchone()[0]
        if not has_tables:
            with self._db:
                self._db.executescript(SCHEMA)
                self._db.execute(
                    "INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
                )
            return
        row = self._db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        if row is None or int(row[0]) != SCHEMA_VERSION:
            found = row[0] if row else "unversioned"
            raise SceneseekError(
                f"{self.directory}: index format {found}, this sceneseek reads format "
                f"{SCHEMA_VERSION}; index the videos again into a new --db"
            )

    # -- encoders -----------------------------------------------------------------------
    def encoder_versions(self) -> dict[str, str]:
        row = self._reader().execute("SELECT value FROM meta WHERE key = 'encoders'").fetchone()
        return dict(json.loads(row[0])) if row else {}

    def set_encoder_versions(self, versions: dict[str, str]) -> None:
        with self._lock, self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO meta VALUES ('encoders', ?)", (json.dumps(versions),)
            )

    # -- writes -------------------------------------------------------------------------
    def video_hash(self, path: str) -> str | None:
        row = (
            self._reader()
            .execute("SELECT content_hash FROM videos WHERE path = ?", (path,))
            .fetchone()
        )
        return row[0] if row else None

    def replace_video(self, video: VideoRecord, segments: list[SegmentRecord]) -> None:
        with self._lock:
            with self._db:
                old_ids = self._delete_video(video.path)
                cursor = self._db.execute(
                    "INSERT INTO videos (path, content_hash, duration, camera, zone, start_time,"
                    " language, indexed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        video.path,
                        video.content_hash,
                        video.duration,
                        video.camera,
                        video.zone,
                        video.start_time.isoformat() if video.start_time else None,
                        video.language,
                        datetime.now().astimezone().isoformat(),
                    ),
                )
                video_id = cursor.lastrowid
                added: dict[str, list[tuple[int, np.ndarray]]] = {}
                for segment in segments:
                    segment_id = self._insert_segment(video_id, video.start_time, segment)
                    for modality, vector in segment.vectors.items():
                        added.setdefault(modality, []).append((segment_id, vector))
                self._db.execute("DELETE FROM failures WHERE path = ?", (video.path,))
            # Only after the commit: memory follows what is durable.
            self._drop_from_faiss(old_ids)
            for modality, rows in added.items():
                self._add_to_faiss(modality, rows)

    def _delete_video(self, path: str) -> list[int]:
        ids = [
            r[0]
            for r in self._db.execute(
                "SELECT s.id FROM segments s JOIN videos v ON v.id = s.video_id WHERE v.path = ?",
                (path,),
            )
        ]
        self._db.executemany("DELETE FROM segment_text WHERE rowid = ?", [(i,) for i in ids])
        self._db.execute("DELETE FROM videos WHERE path = ?", (path,))
        return ids

    def _insert_segment(
        self, video_id: int | None, start_time: datetime | None, segment: SegmentRecord
    ) -> int:
        day_seconds = wall_time = weekday = None
        if start_time is not None:  # local to the camera: start_time carries its offset
            middle = start_time + timedelta(seconds=(segment.start + segment.end) / 2)
            day_seconds = middle.hour * 3600 + middle.minute * 60 + middle.second
            wall_time, weekday = middle.timestamp(), middle.weekday()
        label_text = ", ".join(name for name, _ in segment.labels)
        cursor = self._db.execute(
            "INSERT INTO segments (video_id, start, end, keyframe, observations, labels,"
            " day_seconds, wall_time, weekday) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                video_id,
                segment.start,
                segment.end,
                segment.keyframe,
                json.dumps(
                    {
                        m: [[o.start, o.end, o.text, o.score] for o in items]
                        for m, items in segment.observations.items()
                    }
                ),
                json.dumps(segment.labels),
                day_seconds,
                wall_time,
                weekday,
            ),
        )
        segment_id = int(cursor.lastrowid or 0)
        self._db.execute(
            f"INSERT INTO segment_text (rowid, {', '.join(TEXT_FIELDS)}) VALUES (?, ?, ?, ?, ?, ?)",
            (
                segment_id,
                *(observation_text(segment.observations.get(f, [])) for f in TEXT_MODALITIES),
                label_text,
            ),
        )
        self._db.executemany(
            "INSERT INTO vectors VALUES (?, ?, ?)",
            [
                (segment_id, modality, np.asarray(v, np.float32).tobytes())
                for modality, v in segment.vectors.items()
            ],
        )
        return segment_id

    def record_failure(self, path: str, error: str) -> None:
        with self._lock, self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO failures VALUES (?, ?, ?)",
                (path, error, datetime.now().astimezone().isoformat()),
            )

    # -- vectors ------------------------------------------------------------------------
    def _load_vectors(self) -> None:
        rows: dict[str, list[tuple[int, np.ndarray]]] = {}
        for segment_id, modality, blob in self._db.execute(
            "SELECT segment_id, modality, vector FROM vectors"
        ):
            rows.setdefault(modality, []).append((segment_id, np.frombuffer(blob, np.float32)))
        for modality, pairs in rows.items():
            self._add_to_faiss(modality, pairs)

    def _drop_from_faiss(self, segment_ids: list[int]) -> None:
        for index in self._faiss.values():
            index.remove_ids(faiss.IDSelectorBatch(np.asarray(segment_ids, dtype=np.int64)))
        self._references.clear()

    def _add_to_faiss(self, modality: str, rows: list[tuple[int, np.ndarray]]) -> None:
        if not rows:
            return
        self._references.pop(modality, None)
        matrix = np.stack([v for _, v in rows]).astype(np.float32)
        if modality not in self._faiss:
            self._faiss[modality] = faiss.IndexIDMap2(faiss.IndexFlatIP(matrix.shape[1]))
        self._faiss[modality].add_with_ids(matrix, np.asarray([i for i, _ in rows], np.int64))

    def knn(
        self, modality: str, query: np.ndarray, k: int, where: SegmentFilter
    ) -> list[tuple[int, float]]:
        index = self._faiss.get(modality)
        if index is None or index.ntotal == 0:
            return []
        params = None
        if not where.is_empty:
            allowed = self._allowed_ids(where)
            if not allowed:
                return []
            selector = faiss.IDSelectorBatch(np.asarray(allowed, "int64"))  # must outlive search
            params = faiss.SearchParameters()
            params.sel = selector
        with self._lock:
            scores, ids = index.search(
                np.asarray(query, np.float32).reshape(1, -1), min(k, index.ntotal), params=params
            )
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]

    def reference_vectors(self, modality: str) -> np.ndarray:
        """An even sample of the stored vectors, kept until the next write: every query
        reads it, and rebuilding it costs thousands of Faiss reconstructions."""
        with self._lock:
            if modality not in self._references:
                index = self._faiss.get(modality)
                if index is None or index.ntotal == 0:
                    return np.zeros((0, 0), np.float32)
                step = max(1, index.ntotal // REFERENCE_SAMPLE)
                ids = faiss.vector_to_array(index.id_map)[::step][:REFERENCE_SAMPLE]
                self._references[modality] = np.stack([index.reconstruct(int(i)) for i in ids])
            return self._references[modality]

    # -- text ---------------------------------------------------------------------------
    def keyword(
        self, text: str, k: int, where: SegmentFilter, fields: tuple[str, ...]
    ) -> list[tuple[int, float]]:
        tokens = [t for t in FTS_TOKEN.findall(text.lower()) if t not in STOPWORDS]
        columns = [f for f in fields if f in TEXT_FIELDS]
        if not tokens or not columns:
            return []
        terms = " OR ".join(f'"{t}"' for t in dict.fromkeys(tokens))
        match = f"{{{' '.join(columns)}}} : ({terms})"
        clause, args = self._filter_sql(where)
        rows = (
            self._reader()
            .execute(
                "SELECT t.rowid, -bm25(segment_text) AS score FROM segment_text t"
                " JOIN segments s ON s.id = t.rowid JOIN videos v ON v.id = s.video_id"
                f" WHERE segment_text MATCH ? {clause} ORDER BY score DESC LIMIT ?",
                (match, *args, k),
            )
            .fetchall()
        )
        return [(int(i), float(s)) for i, s in rows]

    # -- filters ------------------------------------------------------------------------
    @staticmethod
    def _filter_sql(where: SegmentFilter) -> tuple[str, list[object]]:
        clauses: list[str] = []
        args: list[object] = []
        if where.camera is not None:
            clauses.append("v.camera = ?")
            args.append(where.camera)
        if where.zone is not None:
            clauses.append("v.zone = ?")
            args.append(where.zone)
        if where.time_of_day is not None:
            start, end = where.time_of_day
            joiner = "AND" if start <= end else "OR"
            clauses.append(f"(s.day_seconds >= ? {joiner} s.day_seconds < ?)")
            args.extend([start, end])
        if where.after is not None:
            clauses.append("s.wall_time >= ?")
            args.append(where.after.timestamp())
        if where.before is not None:
            clauses.append("s.wall_time < ?")
            args.append(where.before.timestamp())
        if where.weekdays is not None:
            clauses.append(f"s.weekday IN ({','.join('?' * len(where.weekdays))})")
            args.extend(sorted(where.weekdays))
        if where.video is not None:
            clauses.append("v.path = ?")
            args.append(where.video)
        return "".join(f" AND {c}" for c in clauses), args

    def _allowed_ids(self, where: SegmentFilter) -> list[int]:
        clause, args = self._filter_sql(where)
        return [
            r[0]
            for r in self._reader().execute(
                f"SELECT s.id FROM segments s JOIN videos v ON v.id = s.video_id WHERE 1 {clause}",
                args,
            )
        ]

    # -- reads --------------------------------------------------------------------------
    SEGMENT_COLUMNS = (
        "SELECT s.id, v.id, v.path, s.start, s.end, s.observations, s.labels, s.keyframe,"
        " v.camera, v.zone, v.start_time FROM segments s JOIN videos v ON v.id = s.video_id"
    )

    def segments(self, ids: list[int]) -> dict[int, StoredSegment]:
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        rows = self._reader().execute(f"{self.SEGMENT_COLUMNS} WHERE s.id IN ({marks})", ids)
        return {segment.id: segment for segment in map(self._stored, rows)}

    def all_segments(self) -> list[StoredSegment]:
        rows = self._reader().execute(f"{self.SEGMENT_COLUMNS} ORDER BY v.id, s.start")
        return [self._stored(r) for r in rows]

    @staticmethod
    def _stored(r: tuple[Any, ...]) -> StoredSegment:
        return StoredSegment(
            id=r[0],
            video_id=r[1],
            video=r[2],
            start=r[3],
            end=r[4],
            observations={
                m: [Observation(*item) for item in items] for m, items in json.loads(r[5]).items()
            },
            labels=[(name, p) for name, p in json.loads(r[6])],
            keyframe=r[7],
            camera=r[8],
            zone=r[9],
            wall_start=datetime.fromisoformat(r[10]) if r[10] else None,
        )

    def segment_vectors(self, segment_id: int) -> dict[str, np.ndarray]:
        rows = self._reader().execute(
            "SELECT modality, vector FROM vectors WHERE segment_id = ?", (segment_id,)
        )
        return {m: np.frombuffer(blob, np.float32) for m, blob in rows}

    def videos(self) -> list[StoredVideo]:
        rows = self._reader().execute(
            "SELECT v.id, v.path, v.duration, v.camera, v.zone, v.start_time, v.language,"
            " count(s.id) FROM videos v LEFT JOIN segments s ON s.video_id = v.id"
            " GROUP BY v.id ORDER BY v.id"
        )
        return [
            StoredVideo(
                r[0],
                r[1],
                r[2],
                r[3],
                r[4],
                datetime.fromisoformat(r[5]) if r[5] else None,
                r[6],
                r[7],
            )
            for r in rows
        ]

    def cameras_and_zones(self) -> tuple[list[str], list[str]]:
        def distinct(column: str) -> list[str]:
            sql = f"SELECT DISTINCT {column} FROM videos WHERE {column} IS NOT NULL ORDER BY 1"
            return [r[0] for r in self._reader().execute(sql)]

        return distinct("camera"), distinct("zone")

    def set_camera(self, camera_id: str, camera: CameraConfig) -> None:
        with self._lock, self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO cameras VALUES (?, ?, ?, ?)",
                (camera_id, camera.name, camera.zone, camera.timezone),
            )

    def cameras(self) -> dict[str, CameraConfig]:
        rows = self._reader().execute("SELECT id, name, zone, timezone FROM cameras ORDER BY id")
        return {r[0]: CameraConfig(name=r[1], zone=r[2], timezone=r[3]) for r in rows}

    def add_mark(self, query: str, segment_id: int, relevant: bool) -> None:
        with self._lock, self._db:
            self._db.execute(
                "INSERT INTO marks (query, segment_id, relevant, created) VALUES (?, ?, ?, ?)",
                (query, segment_id, int(relevant), datetime.now().astimezone().isoformat()),
            )

    def marks(self) -> list[Mark]:
        rows = self._reader().execute("SELECT id, query, segment_id, relevant, created FROM marks")
        return [Mark(r[0], r[1], r[2], bool(r[3]), datetime.fromisoformat(r[4])) for r in rows]

    def failures(self) -> list[tuple[str, str]]:
        return [(r[0], r[1]) for r in self._reader().execute("SELECT path, error FROM failures")]

    def stats(self) -> dict[str, int]:
        counts = {
            "videos": self._reader().execute("SELECT count(*) FROM videos").fetchone()[0],
            "segments": self._reader().execute("SELECT count(*) FROM segments").fetchone()[0],
            "failures": self._reader().execute("SELECT count(*) FROM failures").fetchone()[0],
        }
        counts.update({f"vectors.{m}": idx.ntotal for m, idx in self._faiss.items()})
        return counts

    # == alerts and live recording (sceneseek.live) =====================================
    # Saved queries and their events live in the same index.sqlite (tables in SCHEMA).

    def add_alert(
        self,
        query: str,
        threshold: float,
        camera: str | None,
        zone: str | None,
        time_of_day: str | None,
        webhook: str | None,
    ) -> int:
        with self._lock, self._db:
            cursor = self._db.execute(
                "INSERT INTO alerts (query, threshold, camera, zone, time_of_day, webhook,"
                " created) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    query,
                    threshold,
                    camera,
                    zone,
                    time_of_day,
                    webhook,
                    datetime.now().astimezone().isoformat(),
                ),
            )
            return int(cursor.lastrowid or 0)

    def alerts(self) -> list[Alert]:
        rows = self._reader().execute(
            "SELECT id, query, threshold, camera, zone, time_of_day, webhook, created"
            " FROM alerts ORDER BY id"
        )
        return [
            Alert(r[0], r[1], r[2], r[3], r[4], r[5], r[6], datetime.fromisoformat(r[7]))
            for r in rows
        ]

    def remove_alert(self, alert_id: int) -> bool:
        with self._lock, self._db:
            self._db.execute("DELETE FROM alert_events WHERE alert_id = ?", (alert_id,))
            return self._db.execute("DELETE FROM alerts WHERE id = ?", (alert_id,)).rowcount > 0

    def add_alert_events(self, events: list[AlertEvent]) -> list[AlertEvent]:
        stored: list[AlertEvent] = []
        with self._lock, self._db:
            for event in events:
                cursor = self._db.execute(
                    "INSERT OR IGNORE INTO alert_events (alert_id, query, video, start, end,"
                    " score, wall_time, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        event.alert_id,
                        event.query,
                        event.video,
                        event.start,
                        event.end,
                        event.score,
                        event.wall_time.isoformat() if event.wall_time else None,
                        event.created.isoformat(),
                    ),
                )
                if cursor.rowcount:
                    stored.append(replace(event, id=int(cursor.lastrowid or 0)))
        return stored

    def alert_events(self, alert_id: int | None = None, limit: int = 1000) -> list[AlertEvent]:
        clause, args = ("WHERE alert_id = ?", [alert_id]) if alert_id is not None else ("", [])
        rows = self._reader().execute(
            "SELECT id, alert_id, query, video, start, end, score, wall_time, created"
            f" FROM alert_events {clause} ORDER BY id DESC LIMIT ?",
            (*args, limit),
        )
        return [
            AlertEvent(
                r[0],
                r[1],
                r[2],
                r[3],
                r[4],
                r[5],
                r[6],
                datetime.fromisoformat(r[7]) if r[7] else None,
                datetime.fromisoformat(r[8]),
            )
            for r in rows
        ]

    def remove_video(self, path: str) -> bool:
        with self._lock:
            with self._db:
                known = self._db.execute("SELECT 1 FROM videos WHERE path = ?", (path,)).fetchone()
                old_ids = self._delete_video(path)
            self._drop_from_faiss(old_ids)
        return known is not None

    # == end of alerts and live recording ===============================================

    def close(self) -> None:
        with self._lock:
            for connection in [*self._readers, self._db]:
                connection.close()


@backends.register("embedded")
def _embedded(path: Path) -> EmbeddedIndex:
    return EmbeddedIndex(path)
