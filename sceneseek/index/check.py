"""``sceneseek check``: verify that an index agrees with itself, and repair what can be.

SQLite is the source of truth; everything else is derived from it and can be rebuilt:
the keyword rows (FTS5) from the stored observations and labels, the vector store that
search reads from the ``vectors`` table, the filter columns that filters read from the
segments and videos. What cannot be derived (a segment without the vectors of its
modalities, duplicated segments) is repaired by marking the video for re-analysis, so
the next ``sceneseek index`` of it starts afresh.

Where the vectors are is the vector store's business: which segments have which vectors
(``held_vectors``), whether search reads what is stored (``verify_vectors``), how many
there are (``stats``) and the repair (``rebuild_vectors``) go through the index, so the
same check serves the embedded index (vectors in SQLite) and Milvus (vectors on the
server). The catalogue's tables are read through a connection ``catalogue`` opens.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from sceneseek.config import TEXT_MODALITIES
from sceneseek.encoders.base import Observation
from sceneseek.errors import DamagedIndexError
from sceneseek.index.catalogue import check_schema, connect, database_path
from sceneseek.index.keyword import TEXT_FIELDS, text_row


class CheckedStore(Protocol):
    """What ``check`` needs from the index it verifies."""

    def held_vectors(self) -> dict[int, set[str]]: ...

    def stats(self) -> dict[str, int]: ...

    def verify_vectors(self) -> list[str]: ...

    def rebuild_vectors(self) -> str: ...

    def verify_filter_columns(self) -> list[str]: ...

    def rebuild_filter_columns(self) -> str: ...


@dataclass
class CheckReport:
    problems: list[str] = field(default_factory=list)  # inconsistencies found
    repaired: list[str] = field(default_factory=list)  # what --repair did about them
    unrepairable: list[str] = field(default_factory=list)  # found, and --repair cannot fix
    notes: list[str] = field(default_factory=list)  # worth knowing, not inconsistent
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def consistent(self) -> bool:
        """True when nothing was wrong, or everything wrong was repaired."""
        return not self.problems or (bool(self.repaired) and not self.unrepairable)

    def to_dict(self) -> dict[str, object]:
        return {"consistent": self.consistent, **asdict(self)}


def check_index(
    directory: Path, open_store: Callable[[], CheckedStore], repair: bool
) -> CheckReport:
    """Verify the index in ``directory``; with ``repair``, fix what can be fixed. The
    store is opened only after SQLite itself passed its integrity check."""
    report = CheckReport()
    db = connect(directory, timeout=30)
    try:
        try:
            damage = [r[0] for r in db.execute("PRAGMA integrity_check")]
        except sqlite3.DatabaseError as exc:
            damage = [str(exc)]
        if damage != ["ok"]:
            report.problems.append(f"SQLite integrity check failed: {'; '.join(damage[:5])}")
            report.unrepairable.append(
                "the database file itself is damaged: restore a snapshot (`sceneseek "
                "snapshot import`) or index the videos again into a new --db"
            )
            return report
        try:
            check_schema(db, database_path(directory))
        except DamagedIndexError as exc:
            report.problems.append(exc.cause)
            report.unrepairable.append(
                "this is no sceneseek index: index the videos again into a new --db, or "
                "import a snapshot"
            )
            return report
        with db:  # one transaction: a crash during repair leaves the index as it was
            _check_orphans(db, report, repair)
            _check_keyword_rows(db, report, repair)
            stale = _check_stored_vectors(db, report)
        _note_files_and_failures(db, directory, report, repair)
        report.counts = {
            table: db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in ("videos", "segments", "vectors", "failures")
        }
        # After the SQLite repairs committed, so a rebuilt store reflects them.
        try:
            store: CheckedStore | None = open_store()
        except (ValueError, RuntimeError, sqlite3.DatabaseError) as exc:
            report.problems.append(f"the vector store cannot be loaded ({exc})")
            if repair:
                report.unrepairable.append("the vector store cannot be rebuilt from SQLite")
            store = None
        if store is not None:
            stale |= _check_missing_vectors(db, store.held_vectors(), report)
            held = store.stats()  # the vector store's count: Milvus's are on the server
            report.counts["vectors"] = sum(n for k, n in held.items() if k.startswith("vectors."))
        if stale and repair:
            with db:
                _mark_for_reindex(db, stale, report)
        if store is not None:
            _check_vector_store(store, report, repair)
            _check_filter_columns(store, report, repair)
    finally:
        db.close()
    return report


def _check_orphans(db: sqlite3.Connection, report: CheckReport, repair: bool) -> None:
    """Rows whose parent is gone (a foreign key the schema states but SQLite only
    enforces on connections that ask for it)."""
    orphans = {
        "segments without a video": "DELETE FROM segments WHERE video_id NOT IN"
        " (SELECT id FROM videos)",
        "vectors without a segment": "DELETE FROM vectors WHERE segment_id NOT IN"
        " (SELECT id FROM segments)",
        "keyword rows without a segment": "DELETE FROM segment_text WHERE rowid NOT IN"
        " (SELECT id FROM segments)",
    }
    for what, delete in orphans.items():
        count = db.execute(delete.replace("DELETE", "SELECT count(*)", 1)).fetchone()[0]
        if count:
            report.problems.append(f"{count} {what}")
            if repair:
                db.execute(delete)
                report.repaired.append(f"deleted {count} {what}")


def _check_keyword_rows(db: sqlite3.Connection, report: CheckReport, repair: bool) -> None:
    """Every segment has exactly the keyword row its observations and labels give."""
    try:
        db.execute("INSERT INTO segment_text(segment_text) VALUES ('integrity-check')")
    except sqlite3.DatabaseError as exc:
        report.problems.append(f"keyword index is damaged ({exc})")
        if repair:
            db.execute("INSERT INTO segment_text(segment_text) VALUES ('rebuild')")
            report.repaired.append("rebuilt the keyword index")
    stored = {
        r[0]: tuple(r[1:])
        for r in db.execute(f"SELECT rowid, {', '.join(TEXT_FIELDS)} FROM segment_text")
    }
    wrong = []
    for segment_id, observations, labels in db.execute(
        "SELECT id, observations, labels FROM segments"
    ):
        expected = text_row(
            {m: [Observation(*o) for o in items] for m, items in json.loads(observations).items()},
            [(name, p) for name, p in json.loads(labels)],
        )
        if stored.get(segment_id) != expected:
            wrong.append((segment_id, expected))
    if not wrong:
        return
    report.problems.append(f"{len(wrong)} segments with a missing or outdated keyword row")
    if repair:
        db.executemany("DELETE FROM segment_text WHERE rowid = ?", [(i,) for i, _ in wrong])
        db.executemany(
            f"INSERT INTO segment_text (rowid, {', '.join(TEXT_FIELDS)})"
            f" VALUES (?{', ?' * len(TEXT_FIELDS)})",
            [(i, *row) for i, row in wrong],
        )
        report.repaired.append(f"rebuilt {len(wrong)} keyword rows")


def _check_missing_vectors(
    db: sqlite3.Connection, held: dict[int, set[str]], report: CheckReport
) -> set[str]:
    """Paths of videos with a segment that lacks a vector it must have, given what the
    backend holds: every segment has a fused vector, visual and image come together,
    and each text modality with observations has its vector."""
    stale: set[str] = set()
    missing = 0
    for segment_id, path, observations in db.execute(
        "SELECT s.id, v.path, s.observations FROM segments s JOIN videos v ON v.id = s.video_id"
    ):
        have = held.get(segment_id, set())
        needed = {"fused"} | {m for m, items in json.loads(observations).items() if items}
        needed &= {"fused", *TEXT_MODALITIES}
        if not needed <= have or ("visual" in have) != ("image" in have):
            missing += 1
            stale.add(path)
    if missing:
        report.problems.append(f"{missing} segments lack vectors of their modalities")
    return stale


def _check_stored_vectors(db: sqlite3.Connection, report: CheckReport) -> set[str]:
    """Paths of videos with malformed vectors in SQLite's ``vectors`` table, or with
    duplicated segments (a backend keeping its vectors elsewhere has none there)."""
    sizes: dict[str, set[int]] = {}
    stale: set[str] = set()
    bad_blobs = set()
    for segment_id, path, modality, blob in db.execute(
        "SELECT s.id, v.path, x.modality, x.vector FROM vectors x"
        " JOIN segments s ON s.id = x.segment_id JOIN videos v ON v.id = s.video_id"
    ):
        sizes.setdefault(modality, set()).add(len(blob))
        if (
            len(blob) % 4
            or not np.isfinite(np.frombuffer(blob[: len(blob) // 4 * 4], np.float32)).all()
        ):
            bad_blobs.add(segment_id)
            stale.add(path)
    if bad_blobs:
        report.problems.append(f"{len(bad_blobs)} segments have malformed (non-finite) vectors")
    for modality, lengths in sizes.items():
        if len(lengths) > 1:
            report.problems.append(f"{modality} vectors of {len(lengths)} different sizes")
            report.unrepairable.append(
                f"{modality}: vectors of different encoders are mixed; index again into a new --db"
            )
    duplicated = db.execute(
        "SELECT DISTINCT v.path FROM segments s JOIN videos v ON v.id = s.video_id"
        " GROUP BY s.video_id, s.start, s.end HAVING count(*) > 1"
    ).fetchall()
    if duplicated:
        report.problems.append(f"{len(duplicated)} videos with duplicated segments")
        stale.update(r[0] for r in duplicated)
    return stale


def _mark_for_reindex(db: sqlite3.Connection, paths: set[str], report: CheckReport) -> None:
    """Forget the content hash, so the next ``sceneseek index`` analyses these again
    (their current segments stay searchable until then)."""
    db.executemany("UPDATE videos SET content_hash = '' WHERE path = ?", [(p,) for p in paths])
    listed = ", ".join(sorted(paths))
    report.repaired.append(
        f"marked {len(paths)} videos for re-analysis; run `sceneseek index` on them: {listed}"
    )


def _note_files_and_failures(
    db: sqlite3.Connection, directory: Path, report: CheckReport, repair: bool
) -> None:
    """Report (never delete) indexed videos whose file is gone, and the files whose last
    indexing attempt failed; drop cached thumbnails of segments that no longer exist."""
    gone = [
        r[0] for r in db.execute("SELECT path FROM videos ORDER BY path") if not Path(r[0]).exists()
    ]
    if gone:
        report.notes.append(f"{len(gone)} indexed videos whose file is gone: {', '.join(gone)}")
    for path, error in db.execute("SELECT path, error FROM failures ORDER BY path"):
        report.notes.append(f"failed last time: {path}: {error}")
    thumbnails = directory / "thumbnails"
    if not thumbnails.is_dir():
        return
    ids = {r[0] for r in db.execute("SELECT id FROM segments")}
    stale = [f for f in thumbnails.glob("*.jpg") if not f.stem.isdigit() or int(f.stem) not in ids]
    if stale:
        report.problems.append(f"{len(stale)} cached thumbnails of segments that no longer exist")
        if repair:
            for file in stale:
                file.unlink(missing_ok=True)
            report.repaired.append(f"deleted {len(stale)} stale thumbnails")


def _check_filter_columns(store: CheckedStore, report: CheckReport, repair: bool) -> None:
    """Filters read the columns derived from the catalogue: they must say what it says."""
    differ = store.verify_filter_columns()
    if differ:
        report.problems.append("; ".join(differ))
        if repair:
            report.repaired.append(store.rebuild_filter_columns())


def _check_vector_store(store: CheckedStore, report: CheckReport, repair: bool) -> None:
    """The vectors search reads are exactly the ones SQLite holds: same ids, same values."""
    differ = store.verify_vectors()
    if not differ:
        return
    report.problems.append(f"vector store disagrees with SQLite: {'; '.join(differ)}")
    if repair:
        report.repaired.append(store.rebuild_vectors())
