"""Size and growth of an index, read straight from its SQLite file and directory."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from sceneseek.errors import SceneseekError, reporting_damage
from sceneseek.index.embedded import check_schema

DATABASE_FILES = ("index.sqlite", "index.sqlite-wal", "index.sqlite-shm")


@contextmanager
def index_db(db: Path) -> Iterator[sqlite3.Connection]:
    """A short-lived connection for reading; it never creates an index, and a damaged
    one raises ``DamagedIndexError``."""
    path = db / "index.sqlite"
    if not path.is_file():
        raise SceneseekError(f"{db}: no index here yet; run `sceneseek index` first")
    with closing(sqlite3.connect(path)) as connection, reporting_damage(path):
        check_schema(connection, path)
        yield connection


@dataclass
class IndexSnapshot:
    videos: int = 0
    segments: int = 0
    failures: int = 0
    vectors: dict[str, int] = field(default_factory=dict)  # per modality
    bytes: dict[str, int] = field(default_factory=dict)  # database, thumbnails, recordings, other
    segments_last_hour: int = 0
    embeddings_last_hour: int = 0
    # Per camera, for its newest video with a wall-clock start: seconds from the end of
    # the footage to when it was stored. For `watch` chunks that is the live ingest lag.
    ingest_lag_seconds: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        return {
            "videos": self.videos,
            "segments": self.segments,
            "failures": self.failures,
            "vectors": self.vectors,
            "bytes": self.bytes,
            "segments_last_hour": self.segments_last_hour,
            "embeddings_last_hour": self.embeddings_last_hour,
            "ingest_lag_seconds": self.ingest_lag_seconds,
        }


def disk_usage(db: Path) -> dict[str, int]:
    """Bytes under the index directory by what they are."""
    parts = dict.fromkeys(("database", "thumbnails", "recordings", "other"), 0)
    for folder, _, files in os.walk(db):
        top = Path(folder).relative_to(db).parts[:1]
        for name in files:
            try:
                size = (Path(folder) / name).stat().st_size
            except OSError:  # deleted while walking (retention, WAL checkpoint)
                continue
            if not top and name in DATABASE_FILES:
                parts["database"] += size
            elif top and top[0] in ("thumbnails", "recordings"):
                parts[top[0]] += size
            else:
                parts["other"] += size
    return parts


def read_snapshot(db: Path, now: datetime | None = None) -> IndexSnapshot:
    now = now or datetime.now().astimezone()
    snapshot = IndexSnapshot(bytes=disk_usage(db))
    with index_db(db) as sql:
        snapshot.videos, snapshot.segments, snapshot.failures = (
            sql.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in ("videos", "segments", "failures")
        )
        snapshot.vectors = dict(sql.execute("SELECT modality, count(*) FROM vectors GROUP BY 1"))
        recent = recent_video_ids(sql, now - timedelta(hours=1))
        if recent:
            marks = ",".join("?" * len(recent))
            snapshot.segments_last_hour = sql.execute(
                f"SELECT count(*) FROM segments WHERE video_id IN ({marks})", recent
            ).fetchone()[0]
            snapshot.embeddings_last_hour = sql.execute(
                "SELECT count(*) FROM vectors v JOIN segments s ON s.id = v.segment_id"
                f" WHERE s.video_id IN ({marks})",
                recent,
            ).fetchone()[0]
        newest = sql.execute(
            "SELECT camera, start_time, duration, indexed_at FROM videos WHERE id IN"
            " (SELECT max(id) FROM videos WHERE start_time IS NOT NULL GROUP BY camera)"
        )
        for camera, start, duration, indexed_at in newest:
            footage_end = datetime.fromisoformat(start) + timedelta(seconds=duration)
            lag = (datetime.fromisoformat(indexed_at) - footage_end).total_seconds()
            snapshot.ingest_lag_seconds[camera or ""] = round(lag, 3)
    return snapshot


def recent_video_ids(sql: sqlite3.Connection, since: datetime) -> list[int]:
    """Videos stored at or after ``since``, newest first. Ids grow with time, so the scan
    stops at the first older one instead of reading the whole table."""
    found = []
    for video_id, indexed_at in sql.execute("SELECT id, indexed_at FROM videos ORDER BY id DESC"):
        if datetime.fromisoformat(indexed_at) < since:
            break
        found.append(video_id)
    return found
