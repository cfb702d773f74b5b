"""Filter columns: what filters read (video, camera, zone, wall time, time of day and
weekday of every segment) as numpy arrays indexed by segment id, so a filter becomes a
bitmap of the allowed segments in a few vectorised passes, milliseconds even at ten
million segments. The SQL they replace returned every allowed id and grew with the
library: 80 ms of a 92 ms search for 500 000 ids at 1M segments.

They are derived from the catalogue (the source of truth) and follow it as the vector
files do, so they can lag it but never disagree with it:

* **Following.** Segment ids only grow (AUTOINCREMENT), a segment's fields never
  change, and a video is replaced by deleting it and inserting a new one. So catching
  up is reading the segments past the highest id seen and blanking those of videos that
  are gone, both in one read snapshot, whenever SQLite's ``data_version`` moved (one
  pragma per filter otherwise), whichever process wrote.
* **File.** ``<db>/columns/columns.npz`` holds the arrays with the highest id, the
  videos and the library token they reflect; it is written under another name and
  renamed (atomic), at close and whenever a tenth of the rows are not in it. A file of
  another library, or ahead of the catalogue (restored from a backup), is ignored and
  everything is read from SQLite again; a lagging one is caught up. A crash at any
  moment costs the next open a catch-up, nothing more; an index from before the
  columns reads them from SQLite once.
* **Nulls.** Untimed segments hold NaN times and weekday -1, missing cameras and zones
  code -1, and segments of removed videos all of these and video 0, so every condition
  is false for them, as SQL's comparisons with NULL are.

Memory: 25 B per segment id (about 240 MiB at ten million), in the process.
"""

from __future__ import annotations

import fcntl
import logging
import operator
import os
import sqlite3
import threading
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from sceneseek.faults import crash_point
from sceneseek.index.base import Condition, SegmentFilter

log = logging.getLogger(__name__)
COLUMNS_FILE = "columns.npz"
NULLS: dict[str, tuple[type, float]] = {  # field → (dtype, value of "no value")
    "video": (np.int32, 0),
    "camera": (np.int32, -1),
    "zone": (np.int32, -1),
    "day_seconds": (np.float32, np.nan),  # whole seconds: exact in float32
    "wall_time": (np.float64, np.nan),
    "weekday": (np.int8, -1),
}
NAMED = ("camera", "zone")  # strings stored as codes into a per-field dictionary
OPERATORS: dict[str, Callable[[np.ndarray, Any], np.ndarray]] = {
    "==": operator.eq,
    ">=": operator.ge,
    "<": operator.lt,
    "in": np.isin,
}
READ_BATCH = 500_000  # segment rows fetched per query while catching up


class FilterColumns:
    """The filter fields of one catalogue on a connection of their own (see the module
    docstring); thread-safe."""

    save_rows = 20_000  # unsaved rows (or a tenth of all) that make close or a filter save

    def __init__(
        self, directory: Path, db: sqlite3.Connection, token: str, load: bool = True
    ) -> None:
        self.directory = directory
        self._db = db
        self._token = token
        self._lock = threading.RLock()
        self._version = -1
        self._clear()
        self.loaded = load and self._load()  # whether the file was usable

    def _clear(self) -> None:
        self.columns: dict[str, np.ndarray] = {
            f: np.full(0, null, dtype) for f, (dtype, null) in NULLS.items()
        }
        self.top = 0  # highest segment id reflected; the columns have top + 1 rows
        self.videos = np.zeros(0, np.int64)  # live video ids reflected, sorted
        self.codes: dict[str, dict[str, int]] = {field: {} for field in NAMED}
        self._video_codes: dict[int, tuple[int, ...]] = {}  # video id → camera, zone codes
        self.saved_top = -1  # top of the file on disk, -1 when there is none

    # -- filters ------------------------------------------------------------------------
    def allowed(self, where: SegmentFilter) -> np.ndarray:
        """Bitmap of the segments ``where`` allows: mask[segment id]; ids past its end
        are not allowed."""
        with self._lock:
            self.follow()
            mask: np.ndarray | None = None
            for alternatives in where.clauses():
                either = self._holds(alternatives[0])
                for condition in alternatives[1:]:
                    either |= self._holds(condition)
                mask = either if mask is None else np.logical_and(mask, either, out=mask)
            return mask if mask is not None else self.columns["video"] > 0

    def _holds(self, condition: Condition) -> np.ndarray:
        column = self.columns[condition.field]
        value: Any = condition.value
        if condition.field in NAMED:
            value = self.codes[condition.field].get(value, -2)  # -2: matches nothing
        elif condition.field == "video":
            row = self._db.execute("SELECT id FROM videos WHERE path = ?", (value,)).fetchone()
            value = row[0] if row else -2
        return np.asarray(OPERATORS[condition.op](column, value))

    # -- following the catalogue ----------------------------------------------------------
    def follow(self) -> None:
        """Catch up with what any connection committed since the last look."""
        with self._lock:
            if self._catch_up():
                self.checkpoint(self.save_rows)

    def _catch_up(self) -> bool:
        """Read what changed since the last look; False when nothing was committed."""
        with self._lock:
            version = self._db.execute("PRAGMA data_version").fetchone()[0]
            if version == self._version:
                return False
            self._db.execute("BEGIN")  # one snapshot: the videos and segments agree
            try:
                self._version = version
                (issued,) = self._db.execute(  # AUTOINCREMENT's high mark: never goes back
                    "SELECT ifnull(max(seq), 0) FROM sqlite_sequence WHERE name = 'segments'"
                ).fetchone()
                if issued < self.top:  # a file ahead of the catalogue (restored): start again
                    self._clear()
                    self.loaded = False
                videos = self._db.execute("SELECT id, camera, zone FROM videos ORDER BY id")
                self._follow_videos(videos.fetchall())
                while issued > self.top:
                    rows = self._db.execute(
                        "SELECT id, video_id, ifnull(day_seconds, -1), ifnull(wall_time, -1),"
                        " ifnull(weekday, -1) FROM segments WHERE id > ? ORDER BY id LIMIT ?",
                        (self.top, READ_BATCH),
                    ).fetchall()
                    if rows:
                        self._append(rows)
                    if len(rows) < READ_BATCH:  # the newest were removed: nothing to read
                        self._grow(issued + 1)
                        self.top = issued
            finally:
                self._db.commit()
            return True

    def _follow_videos(self, rows: list[tuple[int, str | None, str | None]]) -> None:
        """Blank the segments of videos that are gone; note the live ones and the codes
        of their cameras and zones (a video's fields never change)."""
        live = np.fromiter((r[0] for r in rows), np.int64, len(rows))
        gone = np.setdiff1d(self.videos, live, assume_unique=True)
        if len(gone):  # the file keeps them until the next save; a load blanks them again
            self._blank(np.isin(self.columns["video"], gone))
        self.videos = live
        self._video_codes = {
            video_id: (self._code("camera", camera), self._code("zone", zone))
            for video_id, camera, zone in rows
        }

    def _code(self, field: str, name: str | None) -> int:
        if name is None:
            return -1
        return self.codes[field].setdefault(name, len(self.codes[field]))

    def _append(self, rows: list[tuple[int, int, float, float, int]]) -> None:
        """Add segments read from the catalogue (id order, past ``top``)."""
        data = np.array(rows, np.float64).reshape(-1, 5)
        ids, videos = data[:, 0].astype(np.int64), data[:, 1].astype(np.int64)
        self._grow(int(ids[-1]) + 1)
        unique, where = np.unique(videos, return_inverse=True)
        codes = np.array([self._video_codes.get(v, (-1, -1)) for v in unique.tolist()], np.int32)
        live = np.isin(unique, self.videos)[where]  # orphans (damage) stay blank
        ids = ids[live]
        timed = data[live, 4] >= 0
        self.columns["video"][ids] = videos[live]
        for position, field in enumerate(NAMED):
            self.columns[field][ids] = codes[where[live], position]
        self.columns["day_seconds"][ids] = np.where(timed, data[live, 2], np.nan)
        self.columns["wall_time"][ids] = np.where(timed, data[live, 3], np.nan)
        self.columns["weekday"][ids] = data[live, 4]
        self.top = int(data[-1, 0])

    def _grow(self, rows: int) -> None:
        for field, column in self.columns.items():
            if rows > len(column):
                dtype, null = NULLS[field]
                grown: np.ndarray = np.full(max(rows, 2 * len(column)), null, dtype)
                grown[: len(column)] = column
                self.columns[field] = grown

    def _blank(self, rows: np.ndarray) -> None:
        for field, column in self.columns.items():
            column[rows] = NULLS[field][1]

    # -- check --------------------------------------------------------------------------
    def verify(self) -> list[str]:
        """How these columns (a saved file caught up, as filters read them) differ from
        columns read afresh from the catalogue, one line (empty when they agree): for
        ``sceneseek check``. Camera and zone codes are compared by the names they mean."""
        with self._lock:
            self.follow()
            fresh = FilterColumns(self.directory, self._db, self._token, load=False)
            fresh._catch_up()  # never saved: the check only reads
            if fresh.top != self.top:
                return [f"filter columns end at segment {self.top}, the catalogue at {fresh.top}"]
            rows = self.top + 1
            differing = np.zeros(rows, bool)
            fields = []
            for field in NULLS:
                mine, theirs = self.columns[field][:rows], fresh.columns[field][:rows]
                if field in NAMED:  # fresh codes → this object's codes; -1 stays -1
                    names = fresh.codes[field]
                    translate = [self.codes[field].get(name, -2) for name in names]
                    theirs = np.array([*translate, -1], np.int32)[theirs]
                wrong = ~((mine == theirs) | (np.isnan(mine) & np.isnan(theirs)))
                if wrong.any():
                    differing |= wrong
                    fields.append(field)
            if not fields:
                return []
            return [
                f"filter columns disagree with the catalogue for {int(differing.sum())} "
                f"segments ({', '.join(fields)})"
            ]

    def rebuild(self) -> str:
        """Read every column from the catalogue again and save them (``check --repair``)."""
        with self._lock:
            self._clear()
            self._version = -1
            self.follow()
            self.checkpoint()
        return "read the filter columns from the catalogue again"

    # -- the file -----------------------------------------------------------------------
    def checkpoint(self, unsaved_rows: int = 0) -> None:
        """Save when at least ``unsaved_rows`` and a tenth of all rows are not in the
        file (removals are cheap to catch up with). A failed save (read-only or full
        disk) only costs the next open a longer catch-up."""
        with self._lock:
            if self.top - self.saved_top < max(unsaved_rows, self.top // 10, 1):
                return
            try:
                self._save()
            except OSError as exc:
                log.warning("%s: filter columns not saved (%s)", self.directory, exc)

    def _save(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / COLUMNS_FILE
        temporary = path.with_name(path.name + ".tmp")
        with open(self.directory / ".lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # one writer of the temporary file at a time
            arrays: dict[str, Any] = {
                "token": np.array(self._token),
                "top": np.array(self.top),
                "videos": self.videos,
                **{f"{field}_names": np.array(list(self.codes[field]), str) for field in NAMED},
                **{field: column[: self.top + 1] for field, column in self.columns.items()},
            }
            with open(temporary, "wb") as handle:
                np.savez(handle, **arrays)
                handle.flush()
                os.fsync(handle.fileno())
            crash_point("columns-write")
            os.replace(temporary, path)
            directory = os.open(self.directory, os.O_RDONLY)
            try:
                os.fsync(directory)
            finally:
                os.close(directory)
        self.saved_top = self.top

    def _load(self) -> bool:
        """The saved columns, when the file is whole and this library's."""
        try:
            with np.load(self.directory / COLUMNS_FILE, allow_pickle=False) as saved:
                if str(saved["token"]) != self._token:
                    return False
                columns = {field: saved[field].astype(dtype) for field, (dtype, _) in NULLS.items()}
                top = int(saved["top"])
                if any(len(column) != top + 1 for column in columns.values()):
                    return False
                codes = {field: list(saved[f"{field}_names"]) for field in NAMED}
                videos = saved["videos"].astype(np.int64)
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
            return False  # missing or damaged: the catalogue has everything
        self.columns, self.top, self.videos = columns, top, videos
        self.codes = {field: {str(n): i for i, n in enumerate(codes[field])} for field in NAMED}
        self.saved_top = top
        return True

    def close(self) -> None:
        with self._lock:
            self.follow()
            self.checkpoint(self.save_rows)
            self._db.close()
