"""Versions of what shapes results, and moving an index to other encoders.

Every encoder (name@version per role), the fusion (``config-<hash>`` or ``learned-N``)
and the index format have a version; ``sceneseek models`` lists them. An index records
the encoders that built it, and a config naming others is refused until
``sceneseek reindex`` has re-encoded every video into a new index beside the old one
(``DB.reindex/``). That build is resumable (each video is committed on its own and an
unchanged one is skipped by content hash), and the old index keeps answering clients
that still use the old encoders meanwhile. When every video is done, marks, alerts,
cameras and the other non-content tables are copied over, and the two directories are
exchanged in one atomic rename; the old index stays as ``DB.previous/``. A process
holding the old index notices the exchange at its next search and reopens.

A Milvus index stages on the same server (same URI and token, a fresh collection
prefix). ``DB.previous/`` is the backup, so its collections live exactly as long as it
does: they are dropped when the next swap replaces it.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import fcntl
import os
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Protocol

from sceneseek.config import Config
from sceneseek.errors import SceneseekError
from sceneseek.index.base import StoredFusion
from sceneseek.index.catalogue import (
    DATABASE_FILES,
    SCHEMA_VERSION,
    carry_over,
    count_videos,
    fold_wal,
    has_index,
)
from sceneseek.index.store import Store, discard_index

STAGING_SUFFIX = ".reindex"
PREVIOUS_SUFFIX = ".previous"
LOCK_FILE = "reindex.lock"
RENAME_EXCHANGE = 2  # linux/fs.h
AT_FDCWD = -100


def staging_path(db: Path) -> Path:
    return db.with_name(db.name + STAGING_SUFFIX)


def previous_path(db: Path) -> Path:
    return db.with_name(db.name + PREVIOUS_SUFFIX)


@dataclass(frozen=True)
class RoleVersion:
    role: str
    configured: str | None
    index: str | None

    @property
    def matches(self) -> bool:
        return self.configured is None or self.index is None or self.configured == self.index


@dataclass
class ModelsReport:
    roles: list[RoleVersion]
    fusion: str  # the fusion ranking searches now
    fusions: list[StoredFusion]  # learned ones, oldest first
    index_format: int
    backend: str
    reindex: tuple[int, int] | None  # (videos done, videos in the index) while one is pending


def models(
    db: Path, store: Store, configured: dict[str, str], fusion: str, backend: str
) -> ModelsReport:
    """What ``sceneseek models`` shows for the index ``store`` in ``db``, given the
    configured encoders and the fusion ranking searches now."""
    stored = store.encoder_versions()
    roles = [RoleVersion(r, configured.get(r), stored.get(r)) for r in _roles(configured, stored)]
    return ModelsReport(
        roles=roles,
        fusion=fusion,
        fusions=store.fusions(),
        index_format=SCHEMA_VERSION,
        backend=backend,
        reindex=reindex_progress(db, store),
    )


def _roles(*versions: dict[str, str]) -> list[str]:
    return list(dict.fromkeys(role for v in versions for role in v))


def differing(configured: dict[str, str], stored: dict[str, str]) -> list[str]:
    """Roles the index holds vectors of from another encoder than the configured one (a
    role the index has never seen is not a conflict: it just has no vectors yet)."""
    return [
        f"{role}: index has {stored[role]}, configured {configured[role]}"
        for role in sorted(set(stored) & set(configured))
        if stored[role] != configured[role]
    ]


def reindex_progress(db: Path, store: Store) -> tuple[int, int] | None:
    """(videos done in the staging index, videos in the live one), if a reindex started."""
    staging = staging_path(db)
    if not has_index(staging):
        return None
    return count_videos(staging), store.stats()["videos"]


def mismatch_message(db: Path, store: Store, differ: list[str]) -> str:
    """Why search is refused, and the way out."""
    text = (
        f"{db}: this index was built with different encoders ({'; '.join(differ)}). "
        f"Run `sceneseek reindex --db {db}` to re-encode its videos with the configured "
        "encoders (the old index keeps answering searches that use its encoders until the "
        "new one is complete), or configure the encoders it was built with."
    )
    progress = reindex_progress(db, store)
    if progress is not None:
        text += (
            f" A reindex is under way or was interrupted: {progress[0]} of {progress[1]} "
            f"videos done in {staging_path(db)}; running `sceneseek reindex` again resumes it."
        )
    return text


@dataclass
class ReindexReport:
    reindexed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # already done by an earlier run
    failed: list[tuple[str, str]] = field(default_factory=list)
    carried: dict[str, int] = field(default_factory=dict)  # rows copied per table
    swapped: bool = False
    previous: Path | None = None


ProgressFn = Callable[[str, str], None]


class Indexed(Protocol):
    """What indexing some videos did (the library's ``IndexReport``)."""

    indexed: list[str]
    unchanged: list[str]
    failed: list[tuple[str, str]]


class Staging(Protocol):
    """The staging index, opened by the caller (the library) to index videos into."""

    @property
    def index_store(self) -> Store: ...

    def index(
        self,
        paths: Iterable[str | Path],
        camera: str | None,
        zone: str | None,
        start: datetime | None,
        progress: ProgressFn | None,
    ) -> Indexed: ...

    def close(self) -> None: ...


def reindex(
    db: Path,
    store: Store,
    config: Config,
    current: dict[str, str],
    open_staging: Callable[[Path, Config], Staging],
    progress: ProgressFn | None = None,
    drop_failed: bool = False,
    even_if_current: bool = False,
) -> ReindexReport:
    """Re-encode every video of the index ``store`` in ``db`` with the ``current``
    encoders (``config``'s) into the staging index that ``open_staging`` opens, then
    carry the operators' tables over and swap. Videos that fail are reported and block
    the swap (their segments would be lost) unless ``drop_failed``. An index already
    built with those encoders is refused unless ``even_if_current``: what the encoders
    read besides the footage changed (zones drawn since, for the people reader)."""
    stored = store.encoder_versions()
    if not differing(current, stored) and not even_if_current:
        raise SceneseekError(
            f"{db}: already built with the configured encoders"
            " (--even-if-current re-encodes it anyway, e.g. after drawing zones)"
        )
    left_out = sorted(set(stored) - set(current))
    if left_out:
        raise SceneseekError(
            f"{db}: the index holds {', '.join(left_out)}, which the configured modalities "
            "leave out; reindex with every modality the index has, or they would be lost"
        )
    staging = staging_path(db)
    staging.mkdir(exist_ok=True)
    report = ReindexReport()
    with _exclusive(staging / LOCK_FILE):
        index_settings = store.vector_store.settings_beside(config.index)
        target = open_staging(staging, config.model_copy(update={"index": index_settings}))
        try:
            if target.index_store.encoder_versions() not in ({}, current):
                raise SceneseekError(
                    f"{staging}: an interrupted reindex to other encoders; delete it and rerun"
                )
            for video in store.videos():
                done = target.index(
                    [video.path], video.camera, video.zone, video.start_time, progress
                )
                report.reindexed += done.indexed
                report.skipped += done.unchanged
                report.failed += done.failed
            if report.failed and not drop_failed:
                return report
            report.carried = carry_over(db, staging)
        finally:
            target.close()
        fold_wal(staging)
        _move_other_entries(db, staging)
        previous = previous_path(db)
        if previous.exists():
            discard_index(previous, config.index)
            shutil.rmtree(previous)
        _exchange(staging, db)
        staging.rename(previous)
    (db / LOCK_FILE).unlink(missing_ok=True)
    report.swapped, report.previous = True, previous
    return report


class _exclusive:
    """An advisory lock, so two reindex runs never write the staging index at once."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fd = -1

    def __enter__(self) -> None:
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self.fd)
            raise SceneseekError(f"{self.path.parent}: another reindex is running") from None

    def __exit__(self, *_: object) -> None:
        os.close(self.fd)


def _move_other_entries(old: Path, new: Path) -> None:
    """Recordings and anything else users keep in the index directory follow the index
    (their recorded paths point into it); the old index files and cached thumbnails
    (named by segment ids, which changed) stay behind."""
    for entry in old.iterdir():
        if entry.name in (*DATABASE_FILES, "thumbnails", LOCK_FILE):
            continue
        if not (new / entry.name).exists():
            entry.rename(new / entry.name)


def _exchange(a: Path, b: Path) -> None:
    """Swap two directories in one step (renameat2 RENAME_EXCHANGE), so the index path
    never points at nothing; where the call is missing, two renames in quick succession."""
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is not None:
        result = renameat2(AT_FDCWD, bytes(a), AT_FDCWD, bytes(b), RENAME_EXCHANGE)
        if result == 0:
            return
    parked = b.with_name(b.name + ".swapping")
    b.rename(parked)
    a.rename(b)
    parked.rename(a)
