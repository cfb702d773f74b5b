"""Size and growth of an index, read from its catalogue, its vector store and its
directory (without loading what search needs)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from sceneseek.config import IndexConfig
from sceneseek.index.catalogue import DATABASE_FILES
from sceneseek.index.store import reading


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


def read_snapshot(
    db: Path, now: datetime | None = None, settings: IndexConfig | None = None
) -> IndexSnapshot:
    """``settings``: how to reach the vector store (a Milvus token, say)."""
    now = now or datetime.now().astimezone()
    snapshot = IndexSnapshot(bytes=disk_usage(db))
    with reading(db, settings) as index:
        counts = index.catalogue.stats()
        snapshot.videos, snapshot.segments = counts["videos"], counts["segments"]
        snapshot.failures = counts["failures"]
        snapshot.vectors = index.vectors.counts()
        recent = index.catalogue.videos_stored_since(now - timedelta(hours=1))
        if recent:
            segments = index.catalogue.segment_ids_of(recent)
            snapshot.segments_last_hour = len(segments)
            held = index.vectors.fetch(segments, with_vectors=False)
            snapshot.embeddings_last_hour = sum(1 for _ in held)
        for camera, start, duration, stored in index.catalogue.newest_timed_videos():
            lag = (stored - (start + timedelta(seconds=duration))).total_seconds()
            snapshot.ingest_lag_seconds[camera or ""] = round(lag, 3)
    return snapshot
