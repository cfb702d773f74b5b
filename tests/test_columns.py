"""The filter columns (sceneseek/index/columns.py) against the catalogue's SQL for every
kind of filter, after removals and replacements, across processes, across reopenings
with a saved, lagging, foreign, damaged or missing file, and after a kill -9 at every
point of a write and of the columns' own save; a batch of videos is one transaction. Small real
indexes; about 10 s."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest

from sceneseek.faults import CRASH_ENV
from sceneseek.index.base import SegmentFilter, SegmentRecord, VideoRecord
from sceneseek.index.catalogue import COLUMNS_DIRECTORY, Catalogue
from sceneseek.index.check import check_index
from sceneseek.index.columns import COLUMNS_FILE, FilterColumns
from sceneseek.index.store import EmbeddedIndex

NEW_YORK, TOKYO = timezone(timedelta(hours=-5)), timezone(timedelta(hours=9))
# (camera, zone, start): timed videos start across midnight, weekdays and time zones
VIDEOS = [
    ("gate", "north", datetime(2026, 11, 2, 23, 50, tzinfo=UTC)),  # Monday, over midnight
    ("gate", "north", datetime(2026, 11, 7, 11, 55, tzinfo=NEW_YORK)),  # Saturday
    ("dock", "south", datetime(2026, 11, 8, 5, 58, tzinfo=TOKYO)),  # Sunday
    ("dock", None, None),  # untimed: no time filter may match it
    (None, "south", datetime(2026, 11, 4, 0, 0, tzinfo=UTC)),
]
SEGMENTS, LENGTH = 40, 30.0  # 20 minutes per video

FILTERS = [
    SegmentFilter(camera="gate"),
    SegmentFilter(camera="dock"),
    SegmentFilter(camera="nobody"),
    SegmentFilter(zone="south"),
    SegmentFilter(camera="dock", zone="south"),
    SegmentFilter(video="v1.mp4"),
    SegmentFilter(video="missing.mp4"),
    SegmentFilter(time_of_day=(23 * 3600 + 55 * 60, 5 * 60)),  # across midnight
    SegmentFilter(time_of_day=(12 * 3600, 12 * 3600 + 600)),
    SegmentFilter(time_of_day=(6 * 3600, 6 * 3600 + 30)),
    SegmentFilter(after=datetime(2026, 11, 7, 17, 0, tzinfo=UTC)),
    SegmentFilter(before=datetime(2026, 11, 3, 0, 0, tzinfo=UTC)),
    SegmentFilter(
        after=datetime(2026, 11, 2, 23, 55, tzinfo=UTC),
        before=datetime(2026, 11, 4, 0, 7, 30, tzinfo=UTC),
    ),
    SegmentFilter(weekdays=frozenset({0})),
    SegmentFilter(weekdays=frozenset({5, 6}), zone="north"),
    SegmentFilter(weekdays=frozenset({1}), time_of_day=(0, 120)),
]


def add_video(index: EmbeddedIndex, number: int, content: str = "a") -> None:
    camera, zone, start = VIDEOS[number % len(VIDEOS)]
    rng = np.random.default_rng(number)
    vectors = rng.standard_normal((SEGMENTS, 8)).astype(np.float32)
    segments = [
        SegmentRecord(j * LENGTH, (j + 1) * LENGTH, vectors={"visual": v / np.linalg.norm(v)})
        for j, v in enumerate(vectors)
    ]
    record = VideoRecord(f"v{number}.mp4", content, SEGMENTS * LENGTH, camera, zone, start)
    index.replace_video(record, segments)


def sql_ids(catalogue: Catalogue, where: SegmentFilter) -> list[int]:
    """The catalogue's SQL for the filter (what filters used before the columns)."""
    clause, args = catalogue.filter_sql(where)
    rows = catalogue.reader().execute(
        f"SELECT s.id FROM segments s JOIN videos v ON v.id = s.video_id WHERE 1 {clause}"
        " ORDER BY s.id",
        args,
    )
    return [r[0] for r in rows]


def assert_columns_agree(catalogue: Catalogue) -> None:
    for where in FILTERS:
        expected = sql_ids(catalogue, where)
        assert np.flatnonzero(catalogue.allowed(where)).tolist() == expected, where


@pytest.fixture
def library(tmp_path: Path) -> Path:
    index = EmbeddedIndex(tmp_path / "lib")
    for number in range(len(VIDEOS)):
        add_video(index, number)
    index.close()
    return tmp_path / "lib"


def test_every_filter_kind_matches_the_sql(library: Path) -> None:
    index = EmbeddedIndex(library)
    try:
        assert_columns_agree(index)
        assert all(sql_ids(index, where) for where in FILTERS[:2] + FILTERS[3:6] + FILTERS[7:])
        # and search only returns allowed segments
        hits = index.knn("visual", np.ones(8, np.float32) / 8**0.5, 50, FILTERS[7])
        assert {i for i, _ in hits} == set(sql_ids(index, FILTERS[7]))
    finally:
        index.close()


def test_removal_replacement_and_other_processes_keep_them_in_step(library: Path) -> None:
    index = EmbeddedIndex(library)
    try:
        assert_columns_agree(index)
        assert index.remove_video("v1.mp4")
        add_video(index, 2, content="changed")  # replaced: new segment ids
        add_video(index, 5)
        assert_columns_agree(index)
        writer = f"""
import sys
sys.path.insert(0, {str(Path(__file__).parent)!r})
from pathlib import Path
from test_columns import add_video
from sceneseek.index.store import EmbeddedIndex
index = EmbeddedIndex(Path({str(library)!r}))
index.remove_video("v0.mp4")
add_video(index, 6)
index.close()
"""
        subprocess.run([sys.executable, "-c", writer], check=True)
        assert_columns_agree(index)  # this process follows the other one's writes
        assert not sql_ids(index, SegmentFilter(video="v0.mp4"))
    finally:
        index.close()


def reopened_columns(library: Path) -> tuple[bool, EmbeddedIndex]:
    """Open the index and its columns: whether the saved file was used."""
    index = EmbeddedIndex(library)
    assert_columns_agree(index)
    return index.filter_columns().loaded, index


def test_saved_file_is_reused_caught_up_or_ignored(
    library: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(FilterColumns, "save_rows", 1)  # save these small indexes too
    saved = library / COLUMNS_DIRECTORY / COLUMNS_FILE
    assert not saved.exists()  # too small to save before
    loaded, index = reopened_columns(library)  # an index without a file: read from SQLite
    assert not loaded
    index.close()
    loaded, index = reopened_columns(library)
    assert loaded
    index.close()
    # lagging: another index object writes and removes while the file stays as it was
    before = saved.read_bytes()
    index = EmbeddedIndex(library)
    index.remove_video("v3.mp4")
    add_video(index, 7)
    index.close()
    saved.write_bytes(before)
    loaded, index = reopened_columns(library)
    assert loaded
    index.close()
    # another library's file, a damaged one, and one ahead of a restored catalogue
    other = tmp_path / "other"
    EmbeddedIndex(other).close()
    shutil.copytree(library, other, dirs_exist_ok=True, ignore=shutil.ignore_patterns("*.sqlite*"))
    assert not reopened_columns(other)[0]
    saved.write_bytes(before[: len(before) // 2])
    loaded, index = reopened_columns(library)
    assert not loaded
    index.close()
    restored = tmp_path / "restored"  # the catalogue as it was, then a backup of it back
    shutil.copytree(library, restored, ignore=shutil.ignore_patterns(COLUMNS_DIRECTORY))
    index = EmbeddedIndex(library)
    add_video(index, 8)
    index.close()
    for database in restored.glob("index.sqlite*"):
        shutil.copy(database, library)
    loaded, index = reopened_columns(library)  # names segments the catalogue never had
    assert not loaded
    index.close()


CRASHING_WRITE = """
import sys
sys.path.insert(0, {tests!r})
from pathlib import Path
from test_columns import add_video
from sceneseek.index.columns import FilterColumns
from sceneseek.index.store import EmbeddedIndex
FilterColumns.save_rows = 1
index = EmbeddedIndex(Path({library!r}))
index.remove_video("v1.mp4")
add_video(index, 9)
index.close()
"""


@pytest.mark.parametrize(
    ("point", "committed"),
    [
        ("before-commit", False),  # the removal committed, the new video not
        ("after-commit:2", True),  # both committed, the vector files not saved
        ("vector-write", True),  # at close
        ("columns-write", True),  # at close, after the vector files
    ],
)
def test_kill_9_while_writing_leaves_columns_that_agree(
    library: Path, point: str, committed: bool
) -> None:
    script = CRASHING_WRITE.format(tests=str(Path(__file__).parent), library=str(library))
    done = subprocess.run(
        [sys.executable, "-c", script], env={**os.environ, CRASH_ENV: point}, check=False
    )
    assert done.returncode == -signal.SIGKILL
    index = EmbeddedIndex(library)
    try:
        assert_columns_agree(index)
        assert bool(sql_ids(index, SegmentFilter(video="v9.mp4"))) == committed
        assert not sql_ids(index, SegmentFilter(video="v1.mp4"))
    finally:
        index.close()


BATCH_WRITE = """
import sys
sys.path.insert(0, {tests!r})
from pathlib import Path
from test_columns import segment_batch
from sceneseek.index.store import EmbeddedIndex
index = EmbeddedIndex(Path({library!r}))
index.replace_videos([segment_batch(10), segment_batch(11)])
index.close()
"""


def segment_batch(number: int) -> tuple[VideoRecord, list[SegmentRecord]]:
    vectors = np.eye(SEGMENTS, 8, k=number % 8, dtype=np.float32)
    segments = [SegmentRecord(j, j + 1, vectors={"visual": v}) for j, v in enumerate(vectors)]
    return VideoRecord(f"v{number}.mp4", "b", SEGMENTS, "gate", "north"), segments


def test_a_batch_of_videos_is_written_in_one_transaction(library: Path) -> None:
    script = BATCH_WRITE.format(tests=str(Path(__file__).parent), library=str(library))
    for crash, stored in ((True, False), (False, True)):
        env = {**os.environ, CRASH_ENV: "before-commit"} if crash else os.environ
        done = subprocess.run([sys.executable, "-c", script], env=env, check=False)
        assert done.returncode == (-signal.SIGKILL if crash else 0)
        index = EmbeddedIndex(library)
        try:
            assert_columns_agree(index)
            for path in ("v10.mp4", "v11.mp4"):
                assert bool(sql_ids(index, SegmentFilter(video=path))) == stored
            assert index.verify_vectors() == []
        finally:
            index.close()


def test_check_finds_columns_that_disagree_and_repair_reads_them_again(
    library: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(FilterColumns, "save_rows", 1)  # save these small indexes too
    index = EmbeddedIndex(library)
    index.filter_columns()  # read from SQLite, saved at close
    index.close()
    saved = library / COLUMNS_DIRECTORY / COLUMNS_FILE
    with np.load(saved) as columns:
        arrays = dict(columns)
    arrays["camera"][1 : SEGMENTS + 1] = arrays["camera"][-1]  # v0's gate became v4's none
    arrays["day_seconds"][5] += 60
    with open(saved, "wb") as handle:  # whole, this library's, just wrong
        np.savez(handle, **arrays)
    index = EmbeddedIndex(library)
    try:
        disagreement = (
            f"filter columns disagree with the catalogue for {SEGMENTS} segments"
            " (camera, day_seconds)"
        )
        assert index.verify_filter_columns() == [disagreement]
        report = check_index(library, lambda: index, repair=True)
        assert disagreement in report.problems  # beside the fused vectors these lack
        assert "read the filter columns from the catalogue again" in report.repaired
        assert index.verify_filter_columns() == []
        assert_columns_agree(index)
    finally:
        index.close()
    reopened = EmbeddedIndex(library)  # the repaired columns were saved
    assert reopened.filter_columns().loaded and reopened.verify_filter_columns() == []
    reopened.close()
