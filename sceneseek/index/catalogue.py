"""The catalogue: the index directory's SQLite database (WAL) and every table in it:
videos, segments, their keyword rows (FTS5), the vectors of the stores that keep their
durable copy here (Faiss), marks, fusions, cameras and their zones, failures, alerts and
API keys.

It is the only module that names the database file: ``check``, ``keys``, ``snapshot``,
the monitor and ``reindex`` reach it through ``has_index``, ``connect`` and ``reading``
below, and the store (``store.py``) through a ``Catalogue``. Where a backend keeps its
vectors is the vector store's business (``vectors/``); the catalogue only holds the
segments they belong to, and answers which segments a filter allows.
"""

from __future__ import annotations

import json
import re
import secrets
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import closing, contextmanager
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from sceneseek.config import CameraConfig, ZoneConfig
from sceneseek.encoders.base import Observation
from sceneseek.encoders.tracks import Box, PeopleFindings, TrackedPerson
from sceneseek.errors import DamagedIndexError, SceneseekError, reporting_damage
from sceneseek.index.alerts import Alert, AlertEvent
from sceneseek.index.base import (
    EventConditions,
    Mark,
    SegmentFilter,
    SegmentRecord,
    StoredEvent,
    StoredFusion,
    StoredSegment,
    StoredVideo,
    VideoRecord,
)
from sceneseek.index.columns import FilterColumns
from sceneseek.index.keyword import TEXT_FIELDS, text_row

DATABASE = "index.sqlite"
DATABASE_FILES = (DATABASE, f"{DATABASE}-wal", f"{DATABASE}-shm")
PAGE_SIZE = 8192
COLUMNS_DIRECTORY = "columns"  # the filter columns, derived from the segments

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
    event_id INTEGER  -- the people event it fired for (events.id), if it was one
);
-- an alert fires once per moment of a video, and once per people event
CREATE UNIQUE INDEX alert_events_once
    ON alert_events(alert_id, video, start, coalesce(event_id, -1));

CREATE TABLE cameras (
    id TEXT PRIMARY KEY, name TEXT, zone TEXT, timezone TEXT NOT NULL
);
-- zones drawn on the picture of a camera (config.ZoneConfig), registered above or not
CREATE TABLE camera_zones (
    camera TEXT NOT NULL,
    name TEXT NOT NULL,
    points TEXT NOT NULL,  -- [[x, y], ...] in frame fractions (JSON)
    PRIMARY KEY (camera, name)
);
CREATE TABLE failures (
    path TEXT PRIMARY KEY, error TEXT NOT NULL, at TEXT NOT NULL
);
CREATE TABLE api_keys (
    id TEXT PRIMARY KEY, role TEXT NOT NULL, name TEXT, salt BLOB NOT NULL,
    hash BLOB NOT NULL, created TEXT NOT NULL
);
"""

# People tracks and events (``sceneseek.encoders.tracks``): created in an index written
# before they existed too (``_add_event_tables``), which is why they are not in ``SCHEMA``:
# such an index stays readable, and its videos get tracks once indexed again.
EVENT_SCHEMA = """
CREATE TABLE IF NOT EXISTS tracks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    video_id INTEGER NOT NULL REFERENCES videos(id) ON DELETE CASCADE,
    number INTEGER NOT NULL,  -- within the video, as events name it
    start REAL NOT NULL,
    end REAL NOT NULL,
    direction TEXT,
    boxes TEXT NOT NULL,  -- JSON [[time, x, y, width, height], ...] in frame fractions
    UNIQUE (video_id, number)
);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused: alerts fire once per id
    video_id INTEGER NOT NULL REFERENCES videos(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    zone TEXT,
    start REAL NOT NULL,
    end REAL NOT NULL,
    dwell REAL,
    count INTEGER NOT NULL,
    direction TEXT,
    text TEXT NOT NULL,
    tracks TEXT NOT NULL,  -- JSON list of track numbers
    day_seconds REAL,  -- of the event's start, as segments have them of their middle
    wall_time REAL,
    weekday INTEGER
);
CREATE INDEX IF NOT EXISTS events_video ON events(video_id, start);
CREATE INDEX IF NOT EXISTS events_zone ON events(zone, dwell, count);
"""
EVENT_TABLES = ("tracks", "events")

SCHEMA_VERSION = 8
TABLES = frozenset(re.findall(r"CREATE (?:VIRTUAL )?TABLE (\w+)", SCHEMA))
ALLOWED_CACHE = 8  # filters whose allowed segment ids are kept (see allowed)
ID_BATCH = 500  # ids per `IN (...)` (SQLite's variable limit)
FILTER_COLUMNS = {  # SegmentFilter condition fields
    "camera": "v.camera",
    "zone": "v.zone",
    "video": "v.path",
    "day_seconds": "s.day_seconds",
    "wall_time": "s.wall_time",
    "weekday": "s.weekday",
}


# Tables that hold what the videos were encoded into; every other table (marks, alerts,
# cameras, fusions, whatever later features add) is the operators' and is carried over.
CONTENT_TABLES = (
    "meta",
    "videos",
    "segments",
    "vectors",
    "vector_log",  # the vector store's write log: copying the old one would misdate it
    "failures",
    "segment_text",
    *EVENT_TABLES,
)


def database_path(directory: Path) -> Path:
    """The catalogue's file in an index directory (for messages naming it)."""
    return directory / DATABASE


def has_index(directory: Path) -> bool:
    """Whether an index was ever written in ``directory``."""
    return database_path(directory).exists()


def require_index(directory: Path) -> None:
    """Commands that only read an index say so plainly when there is none yet."""
    if not has_index(directory):
        raise SceneseekError(f"{directory}: no index here yet; run `sceneseek index` first")


def connect(directory: Path, timeout: float = 5.0, read_only: bool = False) -> sqlite3.Connection:
    """A connection of its own to the catalogue of ``directory``, for the tools that work
    on the tables as a whole (``check``, ``reindex``, ``snapshot``); ``read_only`` never
    creates the file."""
    path = database_path(directory)
    if read_only:
        return sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=timeout)
    return sqlite3.connect(path, timeout=timeout, check_same_thread=False)


@contextmanager
def reading(directory: Path) -> Iterator[sqlite3.Connection]:
    """A short-lived connection for reading; it never creates an index, and a damaged
    one raises ``DamagedIndexError``."""
    require_index(directory)
    path = database_path(directory)
    with closing(sqlite3.connect(path)) as connection, reporting_damage(path):
        check_schema(connection, path)
        yield connection


# -- tools over whole indexes (reindex) -----------------------------------------------
def count_videos(directory: Path) -> int:
    """Videos in the index in ``directory``, read-only (0 for one created but not yet
    written: ``reindex`` progress)."""
    with closing(connect(directory, read_only=True)) as db:
        try:
            return int(db.execute("SELECT count(*) FROM videos").fetchone()[0])
        except sqlite3.Error:
            return 0


def carry_over(old: Path, new: Path) -> dict[str, int]:
    """Copy every non-content table from the old index in ``old`` into the new one in
    ``new``, in one transaction (replacing what an interrupted run copied). Marks are
    re-pointed at the new segment covering the old one's middle (segmentation does not
    depend on encoders); learned fusions come along as history, not adopted: they
    weighed the old encoders."""
    carried: dict[str, int] = {}
    db = connect(new)
    try:
        db.execute("ATTACH DATABASE ? AS old", (str(database_path(old)),))  # only read
        tables = [
            r[0]
            for r in db.execute(
                "SELECT name FROM old.sqlite_master WHERE type = 'table' AND name IN"
                " (SELECT name FROM main.sqlite_master WHERE type = 'table')"
            )
            if r[0] not in CONTENT_TABLES and not r[0].startswith(("sqlite_", "segment_text_"))
        ]
        with db:
            for table in tables:
                db.execute(f'DELETE FROM main."{table}"')
            for table in tables:
                if table == "marks":
                    cursor = db.execute(
                        "INSERT INTO main.marks (id, query, segment_id, relevant, created,"
                        " scores, encoders, fusion) SELECT m.id, m.query, ns.id, m.relevant,"
                        " m.created, m.scores, m.encoders, m.fusion FROM old.marks m"
                        " JOIN old.segments os ON os.id = m.segment_id"
                        " JOIN old.videos ov ON ov.id = os.video_id"
                        " JOIN main.videos nv ON nv.path = ov.path"
                        " JOIN main.segments ns ON ns.video_id = nv.id"
                        " AND ns.start <= (os.start + os.end) / 2"
                        " AND (os.start + os.end) / 2 < ns.end"
                    )
                elif table == "fusions":
                    cursor = db.execute(
                        "INSERT INTO main.fusions SELECT id, version, weights, summary, 0,"
                        " created FROM old.fusions"
                    )
                else:
                    cursor = db.execute(f'INSERT INTO main."{table}" SELECT * FROM old."{table}"')
                carried[table] = cursor.rowcount
    finally:
        db.close()
    return carried


def fold_wal(directory: Path) -> None:
    """Fold the WAL into the database file so the directory can move as a whole."""
    with closing(connect(directory)) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def backup(
    directory: Path,
    target: Path,
    vectors: Callable[[list[int]], Iterable[tuple[int, str, np.ndarray | None]]] | None = None,
) -> Path:
    """A consistent copy of the catalogue in ``directory`` as one self-contained file in
    ``target`` (SQLite's online backup: readers and writers carry on); with ``vectors``
    (of a store keeping them elsewhere), those of the copy's segments go into its
    ``vectors`` table. The copy's path."""
    with closing(connect(directory)) as live, closing(connect(target)) as out:
        live.backup(out)
        if vectors is not None:
            ids = [r[0] for r in out.execute("SELECT id FROM segments ORDER BY id")]
            with out:
                held = vectors(ids)
                Catalogue.put_vectors(out, ((i, m, v) for i, m, v in held if v is not None))
        out.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
    return database_path(target)


def describe(directory: Path, tables: Iterable[str]) -> tuple[dict[str, str], dict[str, int]]:
    """The ``meta`` entries of the catalogue in ``directory`` and the rows of ``tables``."""
    with closing(connect(directory)) as db:
        meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
        counts = {t: db.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables}
    return meta, counts


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
    if missing and missing <= ADDED_TABLES:
        _add_tables(db, missing)
    elif missing:
        raise DamagedIndexError(database, f"tables missing: {', '.join(sorted(missing))}")


def _tables(db: sqlite3.Connection) -> set[str]:
    return {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def _statements(schema: str) -> list[str]:
    statements, pending = [], ""
    for piece in schema.split(";"):
        pending += piece + ";"
        if sqlite3.complete_statement(pending):
            statements.append(pending)
            pending = ""
    return statements


def _create_schema(db: sqlite3.Connection) -> None:
    """Every table in one write transaction: another process opening the index meanwhile
    sees all of them or none (never a half-made, seemingly damaged index), and of two
    processes creating it at once, the second finds it made."""
    db.execute("BEGIN IMMEDIATE")
    try:
        if not _tables(db):
            for statement in _statements(SCHEMA):
                db.execute(statement)
            db.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise


# Operators' tables added to the format after indexes of it were written: such an index
# gains them, empty, when opened (nothing in them is derived from the videos, so no
# re-index, and an older sceneseek reading the index just ignores them).
ADDED_TABLES = frozenset({"camera_zones"})


def _add_tables(db: sqlite3.Connection, names: Iterable[str]) -> None:
    """Create ``ADDED_TABLES`` an index written before them lacks, in one write
    transaction (of two processes opening it at once, the second finds them made)."""
    db.execute("BEGIN IMMEDIATE")
    try:
        absent = set(names) - _tables(db)
        for statement in _statements(SCHEMA):
            made = re.search(r"CREATE (?:TABLE|INDEX) (\w+)(?: ON (\w+))?", statement)
            if made and (made[2] or made[1]) in absent:
                db.execute(statement)
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise


class VectorLog:
    """The catalogue's record of vector writes, for a vector store that keeps files
    derived from the ``vectors`` table (Faiss, ``vectors/faiss.py``): a generation bumped
    by every vector write, the segments each generation touched (``vector_log``) and a
    token telling this library's files from another's, read on one connection of the
    store's own (``db``) or, inside a write, on the writer's."""

    GENERATION = "vector_generation"
    TOKEN = "vector_store_token"

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def data_version(self) -> int:
        """Moves whenever another connection commits (one pragma)."""
        return int(self.db.execute("PRAGMA data_version").fetchone()[0])

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """One read snapshot: the generation and its log agree."""
        self.db.execute("BEGIN")
        try:
            yield
        finally:
            self.db.commit()

    def generation(self, db: sqlite3.Connection | None = None) -> int:
        row = (
            (db or self.db)
            .execute("SELECT value FROM meta WHERE key = ?", (self.GENERATION,))
            .fetchone()
        )
        return int(row[0]) if row else 0

    def record(self, db: sqlite3.Connection, touched: set[int], saved: int) -> int:
        """Inside the write on ``db``: bump the generation and log the segments it
        touched; entries the saved files (generation ``saved``) reflect are dropped here,
        on the writer's connection, which never waits for a lock. The new generation."""
        db.execute(
            "INSERT INTO meta VALUES (?, '1') ON CONFLICT(key) DO UPDATE"
            " SET value = CAST(value AS INTEGER) + 1",
            (self.GENERATION,),
        )
        generation = self.generation(db)
        db.execute("DELETE FROM vector_log WHERE generation <= ?", (saved,))
        db.executemany(
            "INSERT INTO vector_log VALUES (?, ?)", [(generation, i) for i in sorted(touched)]
        )
        return generation

    def logged_generations(self, after: int) -> int:
        """How many generations after ``after`` the log holds."""
        (logged,) = self.db.execute(
            "SELECT count(DISTINCT generation) FROM vector_log WHERE generation > ?", (after,)
        ).fetchone()
        return int(logged)

    def touched_since(self, after: int) -> list[int]:
        """Segments the generations after ``after`` touched."""
        rows = self.db.execute(
            "SELECT DISTINCT segment_id FROM vector_log WHERE generation > ?", (after,)
        )
        return [r[0] for r in rows]

    def vectors_of(self, ids: list[int]) -> Iterator[tuple[int, str, np.ndarray]]:
        """(segment id, modality, vector) stored for ``ids``."""
        for batch in batches(ids):
            marks = ",".join("?" * len(batch))
            for segment_id, modality, blob in self.db.execute(
                f"SELECT segment_id, modality, vector FROM vectors WHERE segment_id IN ({marks})",
                batch,
            ):
                yield segment_id, modality, np.frombuffer(blob, np.float32)

    def every_vector(self) -> Iterator[tuple[int, str, bytes]]:
        """Every stored vector, by segment id then modality."""
        return iter(
            self.db.execute(
                "SELECT segment_id, modality, vector FROM vectors ORDER BY segment_id, modality"
            )
        )

    def token(self) -> str:
        """This library's random token, created on first use (read-only afterwards: an
        open must not wait for another process's write lock)."""
        query = "SELECT value FROM meta WHERE key = ?"
        row = self.db.execute(query, (self.TOKEN,)).fetchone()
        if row is None:
            with self.db:
                self.db.execute(
                    "INSERT OR IGNORE INTO meta VALUES (?, ?)", (self.TOKEN, secrets.token_hex(8))
                )
            row = self.db.execute(query, (self.TOKEN,)).fetchone()
        return str(row[0])

    def close(self) -> None:
        self.db.close()


def _when(start_time: datetime | None, seconds: float) -> tuple[float | None, ...]:
    """(seconds after local midnight, POSIX time, weekday) of ``seconds`` into a video
    that started at ``start_time`` (local to the camera: it carries its offset), or
    Nones for a video without one: what the time filters compare."""
    if start_time is None:
        return None, None, None
    moment = start_time + timedelta(seconds=seconds)
    day_seconds = moment.hour * 3600 + moment.minute * 60 + moment.second
    return day_seconds, moment.timestamp(), moment.weekday()


def _box(values: list[float]) -> Box:
    time, x, y, width, height = values
    return time, x, y, width, height


def batches(ids: list[int], size: int = ID_BATCH) -> Iterator[list[int]]:
    return (ids[i : i + size] for i in range(0, len(ids), size))


class Catalogue:
    """The open catalogue of one index: one writer connection (its writes serialised by
    a lock) and one read connection per thread."""

    def __init__(self, directory: Path, create: bool = True) -> None:
        """``create``: make the directory and the schema of a new index; without it, an
        index that is not there yet is refused."""
        if create:
            directory.mkdir(parents=True, exist_ok=True)
        else:
            require_index(directory)
        self.directory = directory
        self.database = database_path(directory)
        self._db = sqlite3.connect(self.database, check_same_thread=False)
        try:
            with reporting_damage(self.database):
                # Only a new database takes it (before WAL): a 384-d vector (1 536 B) then
                # fits in its B-tree page; with 4 KiB pages each one spilled into an
                # overflow page of its own, 4.5 GB of catalogue per million segments.
                self._db.execute(f"PRAGMA page_size={PAGE_SIZE}")
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA foreign_keys=ON")
                check_schema(self._db, self.database, create=create)
        except BaseException:
            self._db.close()
            raise
        self.lock = threading.RLock()
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._allowed_cache: dict[SegmentFilter, np.ndarray] = {}
        self._columns: FilterColumns | None = None
        self._wrote = False  # a writer leaves the filter columns up to date at close
        self._add_event_tables()

    def _add_event_tables(self) -> None:
        """Create the people tables, and the event an alert fired for, in an index written
        before they existed (in one write, re-checked under the write lock: two processes
        may open it at once); an index that has them is only read. The alert events are
        copied into a table without the old one-per-start constraint: two people events
        of one video may start at the same instant and each fires."""

        def fired_without_event() -> bool:
            fired = {r[1] for r in self._db.execute("PRAGMA table_info(alert_events)")}
            return "event_id" not in fired

        def missing() -> bool:
            return not set(EVENT_TABLES) <= _tables(self._db) or fired_without_event()

        if not missing():
            return
        with self.lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for statement in _statements(EVENT_SCHEMA):
                    self._db.execute(statement)
                if fired_without_event():
                    self._db.execute("ALTER TABLE alert_events RENAME TO alert_events_old")
                    for statement in _statements(SCHEMA):
                        if "alert_events" in statement.split("(")[0]:
                            self._db.execute(statement)
                    self._db.execute(
                        "INSERT INTO alert_events SELECT *, NULL FROM alert_events_old"
                    )
                    self._db.execute("DROP TABLE alert_events_old")
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def connect(self) -> sqlite3.Connection:
        """A connection of its own (a reader's)."""
        return connect(self.directory)

    def vector_log(self) -> VectorLog:
        """The vector write log on a connection of its own (a vector store's, which
        reads while others write)."""
        return VectorLog(self.connect())

    def reader(self) -> sqlite3.Connection:
        """This thread's read connection. Under WAL, readers run beside the writer and
        only ever see committed videos, never one half-way through a write."""
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            connection = self.connect()
            self._local.connection = connection
            with self.lock:
                self._readers.append(connection)
        return connection

    @property
    def writer(self) -> sqlite3.Connection:
        """The writer connection, for the catalogue's own methods inside ``transaction``."""
        return self._db

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """The writer connection inside one transaction (committed when the block ends)."""
        with self.lock, self._db:
            self._wrote = True
            yield self._db

    def changed(self, state: threading.local) -> bool:
        """Whether the catalogue changed (by any connection, in any process) since this
        thread last asked with ``state``: SQLite's data_version, one pragma."""
        version = self.reader().execute("PRAGMA data_version").fetchone()[0]
        if getattr(state, "catalogue_version", None) == version:
            return False
        state.catalogue_version = version
        return True

    # -- encoders -----------------------------------------------------------------------
    def encoder_versions(self) -> dict[str, str]:
        """Encoder name@version per role, as recorded when the index was first written."""
        row = self.reader().execute("SELECT value FROM meta WHERE key = 'encoders'").fetchone()
        return dict(json.loads(row[0])) if row else {}

    def set_encoder_versions(self, versions: dict[str, str]) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO meta VALUES ('encoders', ?)", (json.dumps(versions),)
            )

    # -- videos and segments --------------------------------------------------------------
    def stored_hash(self, path: str) -> str | None:
        """The content hash stored for ``path``; None if it is not indexed."""
        row = (
            self.reader().execute("SELECT content_hash FROM videos WHERE path = ?", (path,))
        ).fetchone()
        return row[0] if row else None

    def delete_video(self, db: sqlite3.Connection, path: str) -> list[int] | None:
        """Inside a transaction: forget ``path`` and its segments; their ids, or None if
        it was not indexed."""
        if db.execute("SELECT 1 FROM videos WHERE path = ?", (path,)).fetchone() is None:
            return None
        ids = [
            r[0]
            for r in db.execute(
                "SELECT s.id FROM segments s JOIN videos v ON v.id = s.video_id WHERE v.path = ?",
                (path,),
            )
        ]
        db.executemany("DELETE FROM segment_text WHERE rowid = ?", [(i,) for i in ids])
        db.execute("DELETE FROM videos WHERE path = ?", (path,))
        return ids

    def insert_video(
        self,
        db: sqlite3.Connection,
        video: VideoRecord,
        segments: list[SegmentRecord],
        people: PeopleFindings | None = None,
    ) -> list[int]:
        """Inside a transaction: store a video, its segments (not their vectors: the
        vector store's) and the people tracked in it; the new segment ids, in order.
        Clears a recorded failure. The tracks and events go with the video row (deleting
        it deletes them), in the same transaction as the segments."""
        cursor = db.execute(
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
        # executemany, not a statement per segment: bulk builds write millions of rows.
        db.executemany(
            "INSERT INTO segments (video_id, start, end, keyframe, observations, labels,"
            " day_seconds, wall_time, weekday) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (self._segment_row(video_id, video.start_time, s) for s in segments),
        )
        ids = [  # in insertion order: AUTOINCREMENT ids grow
            r[0]
            for r in db.execute(
                "SELECT id FROM segments WHERE video_id = ? ORDER BY id", (video_id,)
            )
        ]
        db.executemany(
            f"INSERT INTO segment_text (rowid, {', '.join(TEXT_FIELDS)})"
            f" VALUES (?{', ?' * len(TEXT_FIELDS)})",
            ((i, *text_row(s.observations, s.labels)) for i, s in zip(ids, segments, strict=True)),
        )
        if people is not None:
            self._insert_people(db, video_id, video.start_time, people)
        db.execute("DELETE FROM failures WHERE path = ?", (video.path,))
        return ids

    @staticmethod
    def _segment_row(
        video_id: int | None, start_time: datetime | None, segment: SegmentRecord
    ) -> tuple[Any, ...]:
        """A ``segments`` row, timed at the segment's wall-clock middle (``_when``)."""
        day_seconds, wall_time, weekday = _when(start_time, (segment.start + segment.end) / 2)
        observations = {
            m: [[o.start, o.end, o.text, o.score, o.language, o.english] for o in items]
            for m, items in segment.observations.items()
        }
        return (
            video_id,
            segment.start,
            segment.end,
            segment.keyframe,
            json.dumps(observations),
            json.dumps(segment.labels),
            day_seconds,
            wall_time,
            weekday,
        )

    @staticmethod
    def _insert_people(
        db: sqlite3.Connection,
        video_id: int | None,
        start_time: datetime | None,
        people: PeopleFindings,
    ) -> None:
        db.executemany(
            "INSERT INTO tracks (video_id, number, start, end, direction, boxes)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            [
                (
                    video_id,
                    t.number,
                    t.start,
                    t.end,
                    t.direction,
                    json.dumps([[round(v, 4) for v in box] for box in t.boxes]),
                )
                for t in people.tracks
            ],
        )
        db.executemany(
            "INSERT INTO events (video_id, kind, zone, start, end, dwell, count, direction,"
            " text, tracks, day_seconds, wall_time, weekday)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    video_id,
                    e.kind,
                    e.zone,
                    e.start,
                    e.end,
                    e.dwell,
                    e.count,
                    e.direction,
                    e.text,
                    json.dumps(list(e.tracks)),
                    *_when(start_time, e.start),
                )
                for e in people.events
            ],
        )

    def record_failure(self, path: str, error: str) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO failures VALUES (?, ?, ?)",
                (path, error, datetime.now().astimezone().isoformat()),
            )

    def failures(self) -> list[tuple[str, str]]:
        """(path, error) of files whose last indexing attempt failed."""
        return [(r[0], r[1]) for r in self.reader().execute("SELECT path, error FROM failures")]

    def segment_ids(self) -> list[int]:
        return [r[0] for r in self.reader().execute("SELECT id FROM segments ORDER BY id")]

    def segment_count(self) -> int:
        return int(self.reader().execute("SELECT count(*) FROM segments").fetchone()[0])

    def video_paths(self) -> list[str]:
        return [r[0] for r in self.reader().execute("SELECT path FROM videos ORDER BY id")]

    def segment_fields(self, path: str) -> list[tuple[Any, ...]]:
        """Per segment of ``path`` in id order: id, camera, zone, day_seconds, wall_time,
        weekday and its keyword row (what a vector store filters and matches on)."""
        return (
            self.reader()
            .execute(
                "SELECT s.id, v.camera, v.zone, s.day_seconds, s.wall_time, s.weekday,"
                f" {', '.join('t.' + f for f in TEXT_FIELDS)} FROM segments s"
                " JOIN videos v ON v.id = s.video_id JOIN segment_text t ON t.rowid = s.id"
                " WHERE v.path = ? ORDER BY s.id",
                (path,),
            )
            .fetchall()
        )

    # -- growth (the monitor) -----------------------------------------------------------
    def first_segment_ids(self, limit: int) -> list[int]:
        """The ``limit`` oldest segments (ids grow with time)."""
        rows = self.reader().execute("SELECT id FROM segments ORDER BY id LIMIT ?", (limit,))
        return [r[0] for r in rows]

    def latest_segment_ids(self, after: int, limit: int, first_video: int = 0) -> list[int]:
        """The ``limit`` newest segments after segment ``after``, of videos from
        ``first_video`` on, newest first."""
        rows = self.reader().execute(
            "SELECT id FROM segments WHERE id > ? AND video_id >= ? ORDER BY id DESC LIMIT ?",
            (after, first_video, limit),
        )
        return [r[0] for r in rows]

    def videos_stored_since(self, since: datetime) -> list[int]:
        """Videos stored at or after ``since``, newest first. Ids grow with time, so the
        scan stops at the first older one instead of reading the whole table."""
        found = []
        for video_id, indexed_at in self.reader().execute(
            "SELECT id, indexed_at FROM videos ORDER BY id DESC"
        ):
            if datetime.fromisoformat(indexed_at) < since:
                break
            found.append(video_id)
        return found

    def segment_ids_of(self, video_ids: list[int]) -> list[int]:
        ids: list[int] = []
        for batch in batches(video_ids):
            marks = ",".join("?" * len(batch))
            rows = self.reader().execute(
                f"SELECT id FROM segments WHERE video_id IN ({marks}) ORDER BY id", batch
            )
            ids.extend(r[0] for r in rows)
        return ids

    def newest_timed_videos(self) -> list[tuple[str | None, datetime, float, datetime]]:
        """Per camera, its newest video with a wall-clock start: (camera, start,
        duration, when it was stored)."""
        rows = self.reader().execute(
            "SELECT camera, start_time, duration, indexed_at FROM videos WHERE id IN"
            " (SELECT max(id) FROM videos WHERE start_time IS NOT NULL GROUP BY camera)"
        )
        return [
            (camera, datetime.fromisoformat(start), duration, datetime.fromisoformat(stored))
            for camera, start, duration, stored in rows
        ]

    # -- vectors kept here (the Faiss store's durable copy; a snapshot's) ----------------
    @staticmethod
    def put_vectors(db: sqlite3.Connection, rows: Iterable[tuple[int, str, np.ndarray]]) -> None:
        """Inside a transaction: store (segment id, modality, vector) rows."""
        db.executemany(
            "INSERT OR REPLACE INTO vectors VALUES (?, ?, ?)",
            ((i, m, np.asarray(v, np.float32).tobytes()) for i, m, v in rows),
        )

    def vectors_of(
        self, ids: list[int], with_vectors: bool = True
    ) -> Iterator[tuple[int, str, np.ndarray | None]]:
        """(segment id, modality, vector) of the stored vectors of ``ids``, by segment
        id then modality."""
        column = "vector" if with_vectors else "NULL"
        for batch in batches(ids):
            marks = ",".join("?" * len(batch))
            for segment_id, modality, blob in self.reader().execute(
                f"SELECT segment_id, modality, {column} FROM vectors"
                f" WHERE segment_id IN ({marks}) ORDER BY segment_id, modality",
                batch,
            ):
                yield (
                    segment_id,
                    modality,
                    np.frombuffer(blob, np.float32) if with_vectors else None,
                )

    def vector_counts(self) -> dict[str, int]:
        return dict(self.reader().execute("SELECT modality, count(*) FROM vectors GROUP BY 1"))

    def clear_vectors(self) -> None:
        """Forget every stored vector (they moved to a store outside the catalogue)."""
        with self.transaction() as db:
            db.execute("DELETE FROM vectors")

    # -- filters ------------------------------------------------------------------------
    @staticmethod
    def filter_sql(where: SegmentFilter) -> tuple[str, list[object]]:
        """``where`` as SQL conditions on segments ``s`` and videos ``v``."""
        clauses: list[str] = []
        args: list[object] = []
        for alternatives in where.clauses():
            terms = []
            for condition in alternatives:
                column = FILTER_COLUMNS[condition.field]
                if condition.op == "in":
                    terms.append(f"{column} IN ({','.join('?' * len(condition.value))})")
                    args.extend(condition.value)
                else:
                    terms.append(f"{column} {'=' if condition.op == '==' else condition.op} ?")
                    args.append(condition.value)
            clauses.append(terms[0] if len(terms) == 1 else f"({' OR '.join(terms)})")
        return "".join(f" AND {c}" for c in clauses), args

    def allowed(self, where: SegmentFilter) -> np.ndarray:
        """Bitmap of the segments matching ``where`` (mask[segment id]), from the filter
        columns. One search asks once per modality with the same filter, so the last
        few answers are kept until the catalogue next changes (in any process)."""
        if self.changed(self._local):
            with self.lock:
                self._allowed_cache.clear()
        with self.lock:
            cached = self._allowed_cache.get(where)
        if cached is not None:
            return cached
        mask = self.filter_columns().allowed(where)
        with self.lock:
            if len(self._allowed_cache) >= ALLOWED_CACHE:
                self._allowed_cache.pop(next(iter(self._allowed_cache)))
            self._allowed_cache[where] = mask
        return mask

    def filter_columns(self) -> FilterColumns:
        """The filter fields as columns (``columns.py``), read when first needed."""
        with self.lock:
            if self._columns is None:
                db = self.connect()
                self._columns = FilterColumns(
                    self.directory / COLUMNS_DIRECTORY, db, VectorLog(db).token()
                )
            return self._columns

    def verify_filter_columns(self) -> list[str]:
        """Where the filter columns differ from the catalogue (``sceneseek check``)."""
        return self.filter_columns().verify()

    def rebuild_filter_columns(self) -> str:
        """Read the filter columns from the catalogue again (``check --repair``)."""
        with self.lock:
            self._allowed_cache.clear()
        return self.filter_columns().rebuild()

    def match_text(self, match: str, k: int, where: SegmentFilter) -> list[tuple[int, float]]:
        """(segment id, BM25 score, higher is better) of an FTS5 ``match`` expression."""
        clause, args = self.filter_sql(where)
        rows = (
            self.reader()
            .execute(
                "SELECT t.rowid, -bm25(segment_text) AS score FROM segment_text t"
                " JOIN segments s ON s.id = t.rowid JOIN videos v ON v.id = s.video_id"
                f" WHERE segment_text MATCH ? {clause} ORDER BY score DESC LIMIT ?",
                (match, *args, k),
            )
            .fetchall()
        )
        return [(int(i), float(s)) for i, s in rows]

    # -- people tracks and events -------------------------------------------------------
    EVENT_COLUMNS = (
        "SELECT s.id, s.video_id, v.path, s.kind, s.zone, s.start, s.end, s.dwell, s.count,"
        " s.direction, s.text, s.tracks, v.camera, v.start_time"
        " FROM events s JOIN videos v ON v.id = s.video_id"
    )

    def events(
        self,
        where: SegmentFilter,
        stated: EventConditions,
        text: str | None = None,
        limit: int = -1,
    ) -> list[StoredEvent]:
        """Events matching the filter (on the time of their start, as segments on their
        middle's) and the conditions a query stated (and said as ``text``, if given), in
        time order per video; at most ``limit`` (-1: all)."""
        clause, args = self._event_sql(where, stated)
        if text is not None:
            clause += " AND s.text = ?"
            args.append(text)
        rows = self.reader().execute(
            f"{self.EVENT_COLUMNS} WHERE 1 {clause} ORDER BY s.video_id, s.start LIMIT ?",
            (*args, limit),
        )
        return [self._event(r) for r in rows]

    def event_texts(self, where: SegmentFilter, stated: EventConditions) -> list[str]:
        """The distinct sentences of the events ``events`` would return: a query ranks
        these (few: they are templates) rather than every event."""
        clause, args = self._event_sql(where, stated)
        rows = self.reader().execute(
            f"SELECT DISTINCT s.text FROM events s JOIN videos v ON v.id = s.video_id"
            f" WHERE 1 {clause} ORDER BY 1",
            args,
        )
        return [r[0] for r in rows]

    def _event_sql(self, where: SegmentFilter, stated: EventConditions) -> tuple[str, list[object]]:
        clause, args = self.filter_sql(where)
        for column, op, value in (
            ("s.zone", "=", stated.zone),
            ("s.dwell", ">=", stated.min_dwell),
            ("s.count", ">=", stated.min_count),
        ):
            if value is not None:
                clause += f" AND {column} {op} ?"
                args.append(value)
        return clause, args

    def event(self, event_id: int) -> StoredEvent | None:
        row = self.reader().execute(f"{self.EVENT_COLUMNS} WHERE s.id = ?", (event_id,)).fetchone()
        return self._event(row) if row else None

    @staticmethod
    def _event(r: tuple[Any, ...]) -> StoredEvent:
        return StoredEvent(
            id=r[0],
            video_id=r[1],
            video=r[2],
            kind=r[3],
            zone=r[4],
            start=r[5],
            end=r[6],
            dwell=r[7],
            count=r[8],
            direction=r[9],
            text=r[10],
            tracks=tuple(json.loads(r[11])),
            camera=r[12],
            wall_start=datetime.fromisoformat(r[13]) if r[13] else None,
        )

    def tracks(self, video_id: int, numbers: Iterable[int] | None = None) -> list[TrackedPerson]:
        """The tracked people of one video (only ``numbers``, if given), by number."""
        rows = self.reader().execute(
            "SELECT number, boxes, direction FROM tracks WHERE video_id = ? ORDER BY number",
            (video_id,),
        )
        wanted = None if numbers is None else set(numbers)
        return [
            TrackedPerson(number, tuple(_box(b) for b in json.loads(boxes)), direction)
            for number, boxes, direction in rows
            if wanted is None or number in wanted
        ]

    def segments_during(self, video_id: int, start: float, end: float) -> list[StoredSegment]:
        """The segments of a video overlapping [start, end), in time order (at least the
        one holding ``start``)."""
        rows = self.reader().execute(
            f"{self.SEGMENT_COLUMNS} WHERE s.video_id = ? AND s.end > ? AND s.start <= ?"
            " ORDER BY s.start",
            (video_id, start, max(start, end - 1e-6)),
        )
        return [self._stored(r) for r in rows]

    # -- reads --------------------------------------------------------------------------
    SEGMENT_COLUMNS = (
        "SELECT s.id, v.id, v.path, s.start, s.end, s.observations, s.labels, s.keyframe,"
        " v.camera, v.zone, v.start_time FROM segments s JOIN videos v ON v.id = s.video_id"
    )

    def segments(self, ids: list[int]) -> dict[int, StoredSegment]:
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        rows = self.reader().execute(f"{self.SEGMENT_COLUMNS} WHERE s.id IN ({marks})", ids)
        return {segment.id: segment for segment in map(self._stored, rows)}

    def all_segments(self) -> list[StoredSegment]:
        """Every segment, by video then start time."""
        rows = self.reader().execute(f"{self.SEGMENT_COLUMNS} ORDER BY v.id, s.start")
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

    def videos(self) -> list[StoredVideo]:
        rows = self.reader().execute(
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
        """Distinct camera ids and zones of indexed videos (cheap: read per query)."""

        def distinct(column: str) -> list[str]:
            sql = f"SELECT DISTINCT {column} FROM videos WHERE {column} IS NOT NULL ORDER BY 1"
            return [r[0] for r in self.reader().execute(sql)]

        return distinct("camera"), distinct("zone")

    def stats(self) -> dict[str, int]:
        return {
            table: self.reader().execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in ("videos", "segments", "failures")
        }

    def utterance_languages(self) -> dict[str, int]:
        """Utterances per spoken language (each counted once, though stored with every
        segment it overlaps); "unknown" where none was detected."""
        # A scan of every segment's observations: kept out of ``stats``, which health
        # checks and the web UI call often.
        spoken = self.reader().execute(
            "SELECT language, count(*) FROM (SELECT DISTINCT s.video_id,"
            " json_extract(u.value, '$[0]'), json_extract(u.value, '$[4]') AS language"
            " FROM segments s, json_each(s.observations, '$.speech') u) GROUP BY language"
        )
        return {language or "unknown": n for language, n in spoken}

    # -- operators' data ----------------------------------------------------------------
    def _add(self, table: str, row: dict[str, object]) -> int:
        """Insert one row; its id."""
        columns, marks = ", ".join(row), ", ".join("?" * len(row))
        with self.transaction() as db:
            cursor = db.execute(
                f"INSERT INTO {table} ({columns}) VALUES ({marks})", [*row.values()]
            )
        return int(cursor.lastrowid or 0)

    def set_camera(self, camera_id: str, camera: CameraConfig) -> None:
        """Add or replace an entry of the camera registry."""
        with self.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO cameras VALUES (?, ?, ?, ?)",
                (camera_id, camera.name, camera.zone, camera.timezone),
            )

    def cameras(self) -> dict[str, CameraConfig]:
        rows = self.reader().execute("SELECT id, name, zone, timezone FROM cameras ORDER BY id")
        return {r[0]: CameraConfig(name=r[1], zone=r[2], timezone=r[3]) for r in rows}

    def set_zone(self, camera_id: str, name: str, zone: ZoneConfig) -> None:
        """Add or replace a zone drawn on a camera's picture (points in frame fractions)."""
        with self.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO camera_zones VALUES (?, ?, ?)",
                (camera_id, name, json.dumps(zone.points)),
            )

    def remove_zone(self, camera_id: str, name: str) -> bool:
        with self.transaction() as db:
            sql = "DELETE FROM camera_zones WHERE camera = ? AND name = ?"
            return db.execute(sql, (camera_id, name)).rowcount > 0

    def zones(self) -> dict[str, dict[str, ZoneConfig]]:
        """Camera id → zone name → zone, both in name order."""
        rows = self.reader().execute(
            "SELECT camera, name, points FROM camera_zones ORDER BY camera, name"
        )
        found: dict[str, dict[str, ZoneConfig]] = {}
        for camera_id, name, points in rows:
            found.setdefault(camera_id, {})[name] = ZoneConfig(points=json.loads(points))
        return found

    def camera_segment(self, camera_id: str) -> int | None:
        """The middle segment of the camera's newest video (its keyframe shows the
        picture zones are drawn on; a video's first may be a fade); None before the
        camera has footage."""
        row = (
            self.reader()
            .execute(
                "SELECT s.id FROM videos v JOIN segments s ON s.video_id = v.id"
                " WHERE v.camera = ?"
                " ORDER BY v.id DESC, abs(s.start + s.end - v.duration), s.start LIMIT 1",
                (camera_id,),
            )
            .fetchone()
        )
        return int(row[0]) if row else None

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
        mark_id = self._add(
            "marks",
            {
                "query": query,
                "segment_id": segment_id,
                "relevant": int(relevant),
                "created": created.isoformat(),
                "scores": json.dumps(scores or {}),
                "encoders": json.dumps(encoders or {}),
                "fusion": fusion,
            },
        )
        return Mark(
            mark_id, query, segment_id, relevant, created, scores or {}, encoders or {}, fusion
        )

    def marks(self) -> list[Mark]:
        rows = self.reader().execute(
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
        """Record a learned fusion (adopted or not); version must be unique."""
        created = datetime.now().astimezone()
        fusion_id = self._add(
            "fusions",
            {
                "version": version,
                "weights": json.dumps(weights),
                "summary": json.dumps(summary),
                "adopted": int(adopted),
                "created": created.isoformat(),
            },
        )
        return StoredFusion(fusion_id, version, weights, summary, adopted, created)

    def fusions(self) -> list[StoredFusion]:
        """Every learned fusion, oldest first; the newest adopted one ranks searches."""
        rows = self.reader().execute(
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

    # -- alerts and live recording (sceneseek.live) -------------------------------------
    def add_alert(
        self,
        query: str,
        threshold: float,
        camera: str | None,
        zone: str | None,
        time_of_day: str | None,
        webhook: str | None,
    ) -> int:
        return self._add(
            "alerts",
            {
                "query": query,
                "threshold": threshold,
                "camera": camera,
                "zone": zone,
                "time_of_day": time_of_day,
                "webhook": webhook,
                "created": datetime.now().astimezone().isoformat(),
            },
        )

    def alerts(self) -> list[Alert]:
        rows = self.reader().execute(
            "SELECT id, query, threshold, camera, zone, time_of_day, webhook, created"
            " FROM alerts ORDER BY id"
        )
        return [
            Alert(r[0], r[1], r[2], r[3], r[4], r[5], r[6], datetime.fromisoformat(r[7]))
            for r in rows
        ]

    def remove_alert(self, alert_id: int) -> bool:
        with self.transaction() as db:
            db.execute("DELETE FROM alert_events WHERE alert_id = ?", (alert_id,))
            return db.execute("DELETE FROM alerts WHERE id = ?", (alert_id,)).rowcount > 0

    def add_alert_events(self, events: list[AlertEvent]) -> list[AlertEvent]:
        stored: list[AlertEvent] = []
        with self.transaction() as db:
            for event in events:
                cursor = db.execute(
                    "INSERT OR IGNORE INTO alert_events (alert_id, query, video, start, end,"
                    " score, wall_time, created, event_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        event.alert_id,
                        event.query,
                        event.video,
                        event.start,
                        event.end,
                        event.score,
                        event.wall_time.isoformat() if event.wall_time else None,
                        event.created.isoformat(),
                        event.event_id,
                    ),
                )
                if cursor.rowcount:
                    stored.append(replace(event, id=int(cursor.lastrowid or 0)))
        return stored

    def alert_events(self, alert_id: int | None = None, limit: int = 1000) -> list[AlertEvent]:
        clause, args = ("WHERE alert_id = ?", [alert_id]) if alert_id is not None else ("", [])
        rows = self.reader().execute(
            "SELECT id, alert_id, query, video, start, end, score, wall_time, created, event_id"
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
                r[9],
            )
            for r in rows
        ]

    def close(self) -> None:
        with self.lock:
            if self._wrote or self._columns is not None:
                self.filter_columns().close()
            for connection in [*self._readers, self._db]:
                connection.close()
