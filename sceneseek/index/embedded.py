"""Zero-setup backend: one directory with a SQLite database (WAL) holding videos,
segments, text (FTS5 for BM25) and vectors, plus the vector store search reads
(``vectors.py``: exact or IVF-PQ Faiss indexes over memory-mapped copies, in
``vectors/``).

SQLite is the single source of truth: the vector store records which write generation
its files reflect and rebuilds itself from SQLite when they lag (a crash between the
commit and the save), so it can never disagree with SQLite.
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

import numpy as np

from sceneseek.config import TEXT_MODALITIES, CameraConfig, IndexConfig
from sceneseek.encoders.base import Observation
from sceneseek.errors import DamagedIndexError, SceneseekError, reporting_damage
from sceneseek.faults import crash_point
from sceneseek.index.alerts import Alert, AlertEvent
from sceneseek.index.base import (
    STOPWORDS,
    Mark,
    SegmentFilter,
    SegmentRecord,
    StoredFusion,
    StoredSegment,
    StoredVideo,
    VideoRecord,
    backends,
    keyword_text,
    label_text,
)
from sceneseek.index.vectors import IndexPolicy, VectorStore

SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
-- AUTOINCREMENT: ids are never reused after a delete, so a mark, a cached thumbnail
-- or a bookmarked URL can never silently point at a different video or segment.
CREATE TABLE videos (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
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
    id INTEGER PRIMARY KEY AUTOINCREMENT,
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
-- covers the time filters, so turning them into segment ids never reads the wide rows
CREATE INDEX segments_when ON segments(day_seconds, wall_time, weekday);
CREATE TABLE vectors (
    segment_id INTEGER NOT NULL REFERENCES segments(id) ON DELETE CASCADE,
    modality TEXT NOT NULL,
    vector BLOB NOT NULL,
    PRIMARY KEY (segment_id, modality)
) WITHOUT ROWID;
-- segments each vector write touched, kept until the vector files reflect it (vectors.py)
CREATE TABLE vector_log (generation INTEGER NOT NULL, segment_id INTEGER NOT NULL);
CREATE INDEX vector_log_generation ON vector_log(generation);
CREATE VIRTUAL TABLE segment_text USING fts5(
    speech, ocr, sound, people, attributes, labels, tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TABLE marks (
    id INTEGER PRIMARY KEY,
    query TEXT NOT NULL,
    segment_id INTEGER NOT NULL,
    relevant INTEGER NOT NULL,
    created TEXT NOT NULL,
    scores TEXT NOT NULL DEFAULT '{}',  -- per-modality evidence for this query (JSON)
    encoders TEXT NOT NULL DEFAULT '{}',  -- encoder name@version per role when marked
    fusion TEXT  -- fusion version that ranked the results when marked
);
CREATE TABLE fusions (
    id INTEGER PRIMARY KEY,
    version TEXT NOT NULL UNIQUE,
    weights TEXT NOT NULL,  -- per-modality weights (JSON)
    summary TEXT NOT NULL,  -- training data and cross-validation scores (JSON)
    adopted INTEGER NOT NULL,
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
CREATE TABLE api_keys (
    id TEXT PRIMARY KEY, role TEXT NOT NULL, name TEXT, salt BLOB NOT NULL,
    hash BLOB NOT NULL, created TEXT NOT NULL
);
"""

SCHEMA_VERSION = 8
TABLES = frozenset(re.findall(r"CREATE (?:VIRTUAL )?TABLE (\w+)", SCHEMA))
REFERENCE_SAMPLE = 2048
ALLOWED_CACHE = 8  # filters whose allowed segment ids are kept (see _allowed_ids)
TEXT_FIELDS = (*TEXT_MODALITIES, "labels")
FTS_TOKEN = re.compile(r"\w+", re.UNICODE)


def text_row(
    observations: dict[str, list[Observation]], labels: list[tuple[str, float]]
) -> tuple[str, ...]:
    """A segment's keyword-search row, in ``TEXT_FIELDS`` order (``check`` rebuilds
    missing rows with it)."""
    texts = (keyword_text(observations.get(m, [])) for m in TEXT_MODALITIES)
    return (*texts, label_text(labels))


def check_schema(db: sqlite3.Connection, database: Path, create: bool = False) -> None:
    """Create the schema in an empty database when ``create``; refuse one written by
    another layout, or that is no sceneseek index at all (never write into another
    program's database), rather than misreading it."""
    tables = _tables(db)
    if not tables and create:
        _create_schema(db)
        tables = _tables(db)
    if "meta" not in tables:
        held = f"its tables: {', '.join(sorted(tables)[:5])}" if tables else "it has no tables"
        raise DamagedIndexError(database, f"not a sceneseek index, {held}")
    row = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    if row is None or row[0] != str(SCHEMA_VERSION):
        found = row[0] if row else "unversioned"
        raise SceneseekError(
            f"{database.parent}: index format {found}, this sceneseek reads format "
            f"{SCHEMA_VERSION}; index the videos again into a new --db"
        )
    missing = TABLES - tables
    if missing:
        raise DamagedIndexError(database, f"tables missing: {', '.join(sorted(missing))}")


def _tables(db: sqlite3.Connection) -> set[str]:
    return {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def _create_schema(db: sqlite3.Connection) -> None:
    """Every table in one write transaction: another process opening the index meanwhile
    sees all of them or none (never a half-made, seemingly damaged index), and of two
    processes creating it at once, the second finds it made."""
    statements, pending = [], ""
    for piece in SCHEMA.split(";"):
        pending += piece + ";"
        if sqlite3.complete_statement(pending):
            statements.append(pending)
            pending = ""
    db.execute("BEGIN IMMEDIATE")
    try:
        if not _tables(db):
            for statement in statements:
                db.execute(statement)
            db.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise


class EmbeddedIndex:
    def __init__(self, directory: Path, vector_policy: IndexPolicy | None = None) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        database = directory / "index.sqlite"
        self._db = sqlite3.connect(database, check_same_thread=False)
        try:
            with reporting_damage(database):
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA foreign_keys=ON")
                check_schema(self._db, database, create=True)
                self.vector_store = VectorStore(directory / "vectors", database, vector_policy)
        except BaseException:
            self._db.close()
            raise
        self._lock = threading.RLock()
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._allowed_cache: dict[tuple[SegmentFilter, int], np.ndarray] = {}

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
        with self._lock, self.vector_store.transaction(self._db) as changes:
            old_ids = self._delete_video(video.path)
            changes.remove(old_ids)
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
            for segment in segments:
                segment_id = self._insert_segment(video_id, video.start_time, segment)
                for modality, vector in segment.vectors.items():
                    changes.add(modality, segment_id, vector)
            self._db.execute("DELETE FROM failures WHERE path = ?", (video.path,))
            crash_point("before-commit")
        # The vector store follows only after the commit (crash point "after-commit").
        self._allowed_cache.clear()  # segments changed, whether or not any vector did

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
                        m: [[o.start, o.end, o.text, o.score, o.language, o.english] for o in items]
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
            f"INSERT INTO segment_text (rowid, {', '.join(TEXT_FIELDS)})"
            f" VALUES (?{', ?' * len(TEXT_FIELDS)})",
            (segment_id, *text_row(segment.observations, segment.labels)),
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
    def knn(
        self, modality: str, query: np.ndarray, k: int, where: SegmentFilter
    ) -> list[tuple[int, float]]:
        self.vector_store.follow()  # first: another process's segments change the allowed ids
        allowed = None if where.is_empty else self._allowed_ids(where)
        if allowed is not None and not len(allowed):
            return []
        return self.vector_store.search(modality, query, k, allowed)

    def reference_vectors(self, modality: str) -> np.ndarray:
        """An even sample of the stored vectors (cached by the store until the next write)."""
        return self.vector_store.sample(modality, REFERENCE_SAMPLE)

    # -- consistency (sceneseek.index.check) --------------------------------------------
    def verify_vectors(self) -> list[str]:
        """Differences between the vectors search reads and SQLite's, one line each."""
        return self.vector_store.verify()

    def rebuild_vectors(self) -> str:
        """Load the search-side vectors again from SQLite, the source of truth."""
        self.vector_store.rebuild()
        return "rebuilt the vector store from SQLite"

    def held_vectors(self) -> dict[int, set[str]]:
        """Per segment, the modalities SQLite holds a vector of."""
        held: dict[int, set[str]] = {}
        for segment_id, modality in self._reader().execute(
            "SELECT segment_id, modality FROM vectors"
        ):
            held.setdefault(segment_id, set()).add(modality)
        return held

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

    def _allowed_ids(self, where: SegmentFilter) -> np.ndarray:
        """Segment ids matching ``where``. One search asks once per modality with the
        same filter, and at a million segments the SQL costs more than the k-NN, so the
        last few answers are kept until the vectors next change."""
        key = (where, self.vector_store.generation)
        with self._lock:
            cached = self._allowed_cache.get(key)
        if cached is not None:
            return cached
        clause, args = self._filter_sql(where)
        join = " JOIN videos v ON v.id = s.video_id" if "v." in clause else ""  # if needed
        # One concatenated string parsed by numpy: fetching row by row costs ~2 µs a
        # row in Python, seconds for half of a million segments.
        (text,) = (
            self._reader()
            .execute(f"SELECT group_concat(s.id) FROM segments s{join} WHERE 1 {clause}", args)
            .fetchone()
        )
        ids = np.fromstring(text, np.int64, sep=",") if text else np.zeros(0, np.int64)
        with self._lock:
            if len(self._allowed_cache) >= ALLOWED_CACHE:
                self._allowed_cache.pop(next(iter(self._allowed_cache)))
            self._allowed_cache[key] = ids
        return ids

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

    def add_mark(
        self,
        query: str,
        segment_id: int,
        relevant: bool,
        scores: dict[str, float] | None = None,
        encoders: dict[str, str] | None = None,
        fusion: str | None = None,
    ) -> Mark:
        created = datetime.now().astimezone()
        with self._lock, self._db:
            cursor = self._db.execute(
                "INSERT INTO marks (query, segment_id, relevant, created, scores, encoders,"
                " fusion) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    query,
                    segment_id,
                    int(relevant),
                    created.isoformat(),
                    json.dumps(scores or {}),
                    json.dumps(encoders or {}),
                    fusion,
                ),
            )
        mark_id = int(cursor.lastrowid or 0)
        return Mark(
            mark_id, query, segment_id, relevant, created, scores or {}, encoders or {}, fusion
        )

    def marks(self) -> list[Mark]:
        rows = self._reader().execute(
            "SELECT id, query, segment_id, relevant, created, scores, encoders, fusion"
            " FROM marks ORDER BY id"
        )
        return [
            Mark(
                r[0],
                r[1],
                r[2],
                bool(r[3]),
                datetime.fromisoformat(r[4]),
                json.loads(r[5]),
                json.loads(r[6]),
                r[7],
            )
            for r in rows
        ]

    def add_fusion(
        self, version: str, weights: dict[str, float], summary: dict[str, Any], adopted: bool
    ) -> StoredFusion:
        created = datetime.now().astimezone()
        with self._lock, self._db:
            cursor = self._db.execute(
                "INSERT INTO fusions (version, weights, summary, adopted, created)"
                " VALUES (?, ?, ?, ?, ?)",
                (
                    version,
                    json.dumps(weights),
                    json.dumps(summary),
                    int(adopted),
                    created.isoformat(),
                ),
            )
        return StoredFusion(int(cursor.lastrowid or 0), version, weights, summary, adopted, created)

    def fusions(self) -> list[StoredFusion]:
        rows = self._reader().execute(
            "SELECT id, version, weights, summary, adopted, created FROM fusions ORDER BY id"
        )
        return [
            StoredFusion(
                r[0],
                r[1],
                json.loads(r[2]),
                json.loads(r[3]),
                bool(r[4]),
                datetime.fromisoformat(r[5]),
            )
            for r in rows
        ]

    def failures(self) -> list[tuple[str, str]]:
        return [(r[0], r[1]) for r in self._reader().execute("SELECT path, error FROM failures")]

    def stats(self) -> dict[str, int]:
        counts = {
            "videos": self._reader().execute("SELECT count(*) FROM videos").fetchone()[0],
            "segments": self._reader().execute("SELECT count(*) FROM segments").fetchone()[0],
            "failures": self._reader().execute("SELECT count(*) FROM failures").fetchone()[0],
        }
        counts.update({f"vectors.{m}": n for m, n in self.vector_store.modalities().items()})
        return counts

    def utterance_languages(self) -> dict[str, int]:
        # A scan of every segment's observations: kept out of ``stats``, which health
        # checks and the web UI call often.
        spoken = self._reader().execute(
            "SELECT language, count(*) FROM (SELECT DISTINCT s.video_id,"
            " json_extract(u.value, '$[0]'), json_extract(u.value, '$[4]') AS language"
            " FROM segments s, json_each(s.observations, '$.speech') u) GROUP BY language"
        )
        return {language or "unknown": n for language, n in spoken}

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
        with self._lock, self.vector_store.transaction(self._db) as changes:
            known = self._db.execute("SELECT 1 FROM videos WHERE path = ?", (path,)).fetchone()
            changes.remove(self._delete_video(path))
        self._allowed_cache.clear()
        return known is not None

    # == end of alerts and live recording ===============================================

    def close(self) -> None:
        with self._lock:
            self.vector_store.close()
            for connection in [*self._readers, self._db]:
                connection.close()


@backends.register("embedded")
def _embedded(path: Path, settings: IndexConfig | None = None) -> EmbeddedIndex:
    """Every backend factory takes the directory and ``IndexConfig``; this one reads
    when to switch from exact to quantised search."""
    policy = IndexPolicy(ann_threshold=settings.ann_threshold) if settings else None
    return EmbeddedIndex(path, policy)
