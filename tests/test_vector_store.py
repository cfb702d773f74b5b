"""The embedded backend's vector store (sceneseek/index/vectors.py) on a real SQLite
index with a small switch-over threshold: exact → IVF-SQ8, recall against exact search,
filters, incremental writes, the mapped lists and the changes kept beside them, and the
persisted files' reuse and rebuilds. About 20 s."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import faiss
import numpy as np
import pytest

from sceneseek.config import FaissConfig, IndexConfig
from sceneseek.index.base import SegmentFilter, SegmentRecord, VideoRecord
from sceneseek.index.store import EmbeddedIndex, backends
from sceneseek.index.vectors import faiss as faiss_store
from sceneseek.index.vectors import ivf
from sceneseek.index.vectors.faiss import IndexPolicy

DIM, PER_VIDEO, VIDEOS = 384, 100, 30
POLICY = IndexPolicy(ann_threshold=2000, exact_filter_rows=300)


def clustered(count: int, seed: int) -> np.ndarray:
    """Unit vectors in 40 clusters around a shared direction, like e5's anisotropy."""
    rng = np.random.default_rng(seed)
    common = rng.standard_normal(DIM)
    centres = common + 0.6 * rng.standard_normal((40, DIM))
    x = centres[rng.integers(0, 40, count)] + 0.35 * rng.standard_normal((count, DIM))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


DATA = clustered(PER_VIDEO * VIDEOS, seed=1)
QUERIES = clustered(40, seed=2)


def add_video(
    index: EmbeddedIndex,
    number: int,
    vectors: np.ndarray,
    content: str = "a",
    camera: str | None = None,
) -> None:
    segments = [
        SegmentRecord(start=j, end=j + 1, vectors={"visual": v}) for j, v in enumerate(vectors)
    ]
    video = VideoRecord(
        f"v{number:03d}.mp4",
        content,
        float(len(vectors)),
        camera=camera or f"cam{number % 10}",
        start_time=datetime(2026, 11, 2, tzinfo=UTC),
    )
    index.replace_video(video, segments)


def exact_ids(query: np.ndarray, k: int, allowed: np.ndarray | None = None) -> list[int]:
    rows = np.arange(len(DATA)) if allowed is None else allowed
    scores = DATA[rows] @ query
    return [int(rows[i]) + 1 for i in np.argsort(-scores)[:k]]  # ids = insertion order


def mean_recall(index: EmbeddedIndex) -> float:
    """recall@10 of the store's answers against exact search, over ``QUERIES``."""
    recalls = []
    for query in QUERIES:
        found = {i for i, _ in index.knn("visual", query, 10, SegmentFilter())}
        recalls.append(len(found & set(exact_ids(query, 10))) / 10)
    return float(np.mean(recalls))


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("vectors-lib")
    index = EmbeddedIndex(directory, POLICY)
    for number in range(VIDEOS):
        add_video(index, number, DATA[number * PER_VIDEO : (number + 1) * PER_VIDEO])
    index.vector_store.wait_for_training()
    index.close()
    return directory


def test_exact_below_threshold_then_quantised_with_high_recall(built: Path) -> None:
    index = EmbeddedIndex(built, POLICY)
    try:
        assert index.vector_store.kind("visual").startswith("ivf")
        assert mean_recall(index) >= 0.95
        hits = index.knn("visual", QUERIES[0], 5, SegmentFilter())  # exact re-ranked scores
        assert [s for _, s in hits] == pytest.approx([DATA[i - 1] @ QUERIES[0] for i, _ in hits])
    finally:
        index.close()
    small = EmbeddedIndex(built.parent / "small", POLICY)
    add_video(small, 0, DATA[:PER_VIDEO])
    assert small.vector_store.kind("visual") == "exact"
    assert [i for i, _ in small.knn("visual", QUERIES[0], 10, SegmentFilter())] == exact_ids(
        QUERIES[0], 10, np.arange(PER_VIDEO)
    )
    small.close()


def test_filters_return_only_allowed_ids(built: Path) -> None:
    index = EmbeddedIndex(built, POLICY)
    try:
        camera_rows = np.flatnonzero((np.arange(len(DATA)) // PER_VIDEO) % 10 == 3)
        for query in QUERIES[:10]:
            # 10 % selectivity, 300 rows: gathered and scanned exactly.
            hits = index.knn("visual", query, 10, SegmentFilter(camera="cam3"))
            assert [i for i, _ in hits] == exact_ids(query, 10, camera_rows)
        window = SegmentFilter(time_of_day=(0, 60))  # first 60 segments of every video
        allowed = np.flatnonzero(np.arange(len(DATA)) % PER_VIDEO < 60)
        recalls = []
        for query in QUERIES:  # 60 %, above exact_filter_rows: IVF with an id selector
            found = [i for i, _ in index.knn("visual", query, 10, window)]
            assert set(found) <= set((allowed + 1).tolist())
            recalls.append(len(set(found) & set(exact_ids(query, 10, allowed))) / 10)
        assert np.mean(recalls) >= 0.95
        assert index.knn("visual", QUERIES[0], 10, SegmentFilter(camera="nobody")) == []
    finally:
        index.close()


@pytest.fixture
def copy(built: Path, tmp_path: Path) -> Path:
    """A private copy of the built library, for tests that write or damage it."""
    return Path(shutil.copytree(built, tmp_path / "lib"))


def test_incremental_writes_reach_the_live_index(copy: Path) -> None:
    index = EmbeddedIndex(copy, POLICY)
    try:
        fresh = clustered(PER_VIDEO, seed=3)
        add_video(index, 99, fresh)
        assert index.vector_store.kind("visual").startswith("ivf")  # no rebuild, no retrain
        top = index.knn("visual", fresh[7], 1, SegmentFilter())[0]
        assert top[1] == pytest.approx(1.0, abs=1e-5)
        add_video(index, 5, clustered(PER_VIDEO, seed=4), content="changed")  # replaced
        old_ids = set(range(5 * PER_VIDEO + 1, 6 * PER_VIDEO + 1))
        found = {
            i
            for q in DATA[5 * PER_VIDEO : 5 * PER_VIDEO + 20]
            for i, _ in index.knn("visual", q, 10, SegmentFilter())
        }
        assert not found & old_ids
        assert index.remove_video("v099.mp4")
        assert index.verify_vectors() == []
        assert index.stats()["vectors.visual"] == len(DATA)
    finally:
        index.close()
    reopened = EmbeddedIndex(copy, POLICY)
    assert not reopened.vector_store.rebuilt and reopened.verify_vectors() == []
    reopened.close()


CRASHING_WRITE = """
import sys, numpy as np
from pathlib import Path
sys.path.insert(0, {tests!r})
from test_vector_store import POLICY, add_video, clustered
from sceneseek.index.store import EmbeddedIndex
add_video(EmbeddedIndex(Path({directory!r}), POLICY), 77, clustered(50, {seed}), {content!r})
"""


def test_files_reused_on_reopen_and_rebuilt_when_stale_missing_or_corrupt(copy: Path) -> None:
    vectors = copy / "vectors"

    def reopen() -> EmbeddedIndex:
        index = EmbeddedIndex(copy, POLICY)
        assert index.verify_vectors() == []
        index.vector_store.wait_for_training()  # retrained when the quantiser was lost
        assert index.vector_store.kind("visual").startswith("ivf")
        return index

    index = reopen()
    assert not index.vector_store.rebuilt
    index.close()

    # kill -9 after SQLite committed a video, before the vector files followed: the
    # open re-reads the segments the log names. The second write replaces the newest
    # video, so SQLite hands its new segments the ids the old ones had.
    for seed, content in ((5, "a"), (6, "b")):
        code = CRASHING_WRITE.format(
            tests=str(Path(__file__).parent), directory=str(copy), seed=seed, content=content
        )
        env = {**os.environ, "SCENESEEK_CRASH_AT": "after-commit"}
        crashed = subprocess.run([sys.executable, "-c", code], env=env, check=False)
        assert crashed.returncode == -9
        index = reopen()  # verify_vectors() == [] compares every vector with SQLite's
        assert not index.vector_store.rebuilt and index.vector_store.caught_up >= 50
        assert index.stats()["vectors.visual"] == len(DATA) + 50
        index.close()
    index = reopen()
    assert index.remove_video("v077.mp4")
    index.close()

    for damage in ("missing ann", "corrupt ann", "short vectors", "corrupt manifest"):
        ann = next(vectors.glob("visual.ann.*"))
        if damage == "missing ann":
            ann.unlink()
        elif damage == "corrupt ann":
            ann.write_bytes(b"not an index")
        elif damage == "short vectors":
            rows = next(vectors.glob("visual.vectors.*"))
            rows.write_bytes(rows.read_bytes()[: DIM * 4 * 10])
        else:
            (vectors / "manifest.json").write_text("{")
        index = reopen()
        assert index.vector_store.rebuilt, damage
        assert mean_recall(index) >= 0.95
        index.close()


def test_an_ivf_pq_index_of_before_is_retrained_into_sq8(copy: Path) -> None:
    """An index saved when the ANN files held IVF-PQ codes (no ``ann_kind`` in the
    manifest) opens with exact search and is retrained into IVF-SQ8 in the background."""
    vectors = copy / "vectors"
    manifest = json.loads((vectors / "manifest.json").read_text())
    entry = manifest["modalities"]["visual"]
    quantiser = faiss.IndexFlatIP(DIM)
    old = faiss.IndexIVFPQ(quantiser, DIM, 32, 48, 8, faiss.METRIC_INNER_PRODUCT)
    old.train(DATA)
    old.add_with_ids(DATA, np.arange(1, len(DATA) + 1))
    faiss.write_index(old, str(vectors / entry["ann"]))
    del entry["ann_kind"]
    (vectors / "manifest.json").write_text(json.dumps(manifest))

    index = EmbeddedIndex(copy, POLICY)
    try:
        assert not index.vector_store.rebuilt  # the vectors are reused, only the ANN is not
        assert index.knn("visual", QUERIES[0], 10, SegmentFilter())  # exact meanwhile
        index.vector_store.wait_for_training()
        assert ",sq8" in index.vector_store.kind("visual")
        assert mean_recall(index) >= 0.95
    finally:
        index.close()
    saved = json.loads((vectors / "manifest.json").read_text())["modalities"]["visual"]
    assert saved["ann_kind"] == "ivf-sq8"
    mapped = ivf.read(vectors, saved["ann"], saved["ann_data"])
    assert isinstance(mapped, faiss.IndexIVFScalarQuantizer) and mapped.ntotal == len(DATA)


def test_an_sq8_index_saved_in_one_file_is_mapped_from_its_first_open(copy: Path) -> None:
    """Before lists files, the SQ8 index was saved whole (and read whole): such an index
    is used as it is, and rewritten as a mapped lists file when opened."""
    vectors = copy / "vectors"
    manifest = json.loads((vectors / "manifest.json").read_text())
    entry = manifest["modalities"]["visual"]
    whole = ivf.empty_like(ivf.read(vectors, entry["ann"], entry["ann_data"]))
    whole.add_with_ids(DATA, np.arange(1, len(DATA) + 1))
    faiss.write_index(whole, str(vectors / entry["ann"]))
    for key in ("ann_data", "ann_rows", "ann_recent", "ann_stale"):
        entry.pop(key, None)
    (vectors / "manifest.json").write_text(json.dumps(manifest))

    index = EmbeddedIndex(copy, POLICY)
    try:
        assert not index.vector_store.rebuilt
        assert index.vector_store.kind("visual").endswith(" mapped")
        assert mean_recall(index) >= 0.95
    finally:
        index.close()
    assert ann_entry(copy)["ann_data"]


def ann_entry(library: Path) -> dict[str, str | None]:
    manifest = json.loads((library / "vectors" / "manifest.json").read_text())
    entry: dict[str, str | None] = manifest["modalities"]["visual"]
    return entry


def test_saved_codes_are_mapped_and_changes_wait_beside_them_until_merged(copy: Path) -> None:
    """The saved IVF lists are memory-mapped, not read into memory. Later writes go to
    a small in-memory index beside them and removals to a stale-id bitmap, both saved
    as small files; the lists are rewritten only once the changes reach
    ``merge_fraction`` of them. Compacting the vector file renumbers its rows, not the
    lists."""
    patient = IndexPolicy(ann_threshold=2000, exact_filter_rows=300, merge_fraction=0.25)
    index = EmbeddedIndex(copy, patient)
    first = ann_entry(copy)
    fresh, replacement = clustered(PER_VIDEO, seed=3), clustered(PER_VIDEO, seed=4)
    old_ids = set(range(5 * PER_VIDEO + 1, 6 * PER_VIDEO + 1))

    def answers_follow_the_writes(index: EmbeddedIndex) -> None:
        assert index.knn("visual", fresh[7], 1, SegmentFilter())[0][1] == pytest.approx(
            1.0, abs=1e-5
        )
        assert index.knn("visual", replacement[3], 1, SegmentFilter())[0][1] == pytest.approx(
            1.0, abs=1e-5
        )
        for query in DATA[5 * PER_VIDEO : 5 * PER_VIDEO + 20]:  # the replaced video
            assert not {i for i, _ in index.knn("visual", query, 10, SegmentFilter())} & old_ids
            window = SegmentFilter(time_of_day=(0, 60))  # through the IVF with a bitmap
            assert not {i for i, _ in index.knn("visual", query, 10, window)} & old_ids
        assert index.verify_vectors() == []

    try:
        assert index.vector_store.kind("visual").endswith(" mapped")
        add_video(index, 99, fresh)
        add_video(index, 5, replacement, content="changed")  # SQLite reuses no id here
        answers_follow_the_writes(index)
        assert index.vector_store.checkpoint()
        beside = ann_entry(copy)
        assert beside["ann_data"] == first["ann_data"]  # under a quarter: not rewritten
        assert beside["ann_recent"] and beside["ann_stale"]
    finally:
        index.close()
    index = EmbeddedIndex(copy, patient)
    try:
        assert not index.vector_store.rebuilt
        assert index.vector_store.kind("visual").endswith(" mapped")
        answers_follow_the_writes(index)
        for number in range(10, 15):  # 500 more removed: over a quarter, merged
            assert index.remove_video(f"v{number:03d}.mp4")
        assert index.vector_store.checkpoint()
        merged = ann_entry(copy)
        assert merged["ann_data"] != first["ann_data"]
        assert merged["ann_recent"] is None and merged["ann_stale"] is None
        answers_follow_the_writes(index)
    finally:
        index.close()
    # Compacting the vector file renumbers its rows without rewriting the lists.
    never_merging = IndexPolicy(ann_threshold=2000, exact_filter_rows=300, merge_fraction=100)
    index = EmbeddedIndex(copy, never_merging)
    try:
        for number in range(15, 27):  # 1 200 rows removed: the vector file is compacted
            assert index.remove_video(f"v{number:03d}.mp4")
        add_video(index, 98, clustered(PER_VIDEO, seed=9))
        assert index.vector_store.checkpoint()
        assert ann_entry(copy)["ann_data"] == merged["ann_data"]
        assert ann_entry(copy)["vectors"] != merged["vectors"]
        answers_follow_the_writes(index)
    finally:
        index.close()
    for policy in (never_merging, patient):
        index = EmbeddedIndex(copy, policy)
        assert not index.vector_store.rebuilt
        answers_follow_the_writes(index)
        assert index.knn("visual", clustered(PER_VIDEO, seed=9)[1], 1, SegmentFilter())[0][
            1
        ] == pytest.approx(1.0, abs=1e-5)
        index.close()


def test_writes_while_the_quantiser_trains_reach_the_index_it_swaps_in(tmp_path: Path) -> None:
    """Training snapshots the rows, writes the new lists file outside the lock and
    swaps it in: videos written or removed meanwhile must be in it, or stale in it."""
    index = EmbeddedIndex(tmp_path, POLICY)
    try:
        for number in range(VIDEOS):
            add_video(index, number, DATA[number * PER_VIDEO : (number + 1) * PER_VIDEO])
            if number >= 20:  # past the threshold: training runs in the background
                assert index.remove_video(f"v{number - 10:03d}.mp4")
        index.vector_store.wait_for_training()
        assert index.vector_store.kind("visual").startswith("ivf")
        assert index.verify_vectors() == []
        removed = {
            i
            for video in range(10, 20)
            for i in range(video * PER_VIDEO + 1, (video + 1) * PER_VIDEO + 1)
        }
        for query in DATA[10 * PER_VIDEO : 10 * PER_VIDEO + 20]:
            assert not {i for i, _ in index.knn("visual", query, 10, SegmentFilter())} & removed
        newest = DATA[-3]
        assert index.knn("visual", newest, 1, SegmentFilter())[0][1] == pytest.approx(1.0, abs=1e-5)
    finally:
        index.close()
    reopened = EmbeddedIndex(tmp_path, POLICY)
    assert not reopened.vector_store.rebuilt and reopened.verify_vectors() == []
    reopened.close()


WRITER = """
import sys
from pathlib import Path
sys.path.insert(0, {tests!r})
from test_vector_store import POLICY, add_video, clustered
from sceneseek.index.store import EmbeddedIndex
index = EmbeddedIndex(Path({directory!r}), POLICY)
add_video(index, 80, clustered(50, 7))
index.vector_store.checkpoint()  # its next write drops the log this checkpoint covers
add_video(index, 81, clustered(50, 8), camera="dock")
index.close()
"""


def test_an_open_index_follows_what_another_process_writes(copy: Path) -> None:
    reader = EmbeddedIndex(copy, POLICY)  # a server, open before the writers start
    try:
        assert reader.stats()["vectors.visual"] == len(DATA)
        # A writer killed right after its commit: the log still names its segments.
        code = CRASHING_WRITE.format(
            tests=str(Path(__file__).parent), directory=str(copy), seed=5, content="a"
        )
        env = {**os.environ, "SCENESEEK_CRASH_AT": "after-commit"}
        assert subprocess.run([sys.executable, "-c", code], env=env).returncode == -9
        hit = reader.knn("visual", clustered(50, 5)[3], 1, SegmentFilter())[0]
        assert hit[0] > PER_VIDEO * VIDEOS and hit[1] == pytest.approx(1.0, abs=1e-5)
        assert reader.vector_store.caught_up == 50  # only the logged segments were read
        assert reader.stats()["vectors.visual"] == len(DATA) + 50
        reader.knn("visual", QUERIES[0], 5, SegmentFilter())
        assert reader.vector_store.caught_up == 50  # nothing new: nothing read again

        # A writer that saved its files and trimmed the log meanwhile: its files are loaded.
        code = WRITER.format(tests=str(Path(__file__).parent), directory=str(copy))
        assert subprocess.run([sys.executable, "-c", code]).returncode == 0
        dock = SegmentFilter(camera="dock")
        hit = reader.knn("visual", clustered(50, 8)[9], 1, dock)[0]
        assert hit[1] == pytest.approx(1.0, abs=1e-5)
        assert reader.stats()["vectors.visual"] == len(DATA) + 150
        assert reader.verify_vectors() == []
        assert reader.vector_store.kind("visual").startswith("ivf")
    finally:
        reader.close()  # the files are the writer's: the reader never saves over them
    reopened = EmbeddedIndex(copy, POLICY)
    assert not reopened.vector_store.rebuilt and reopened.verify_vectors() == []
    reopened.close()


def test_verify_names_disagreements_and_rebuild_repairs_them(
    copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The rebuild writes rows to the file every 256 MiB; here every 500 rows, so that
    # the file is appended to several times before the lists are built from it.
    monkeypatch.setattr(faiss_store, "SPILL_BYTES", 500 * DIM * 4)
    index = EmbeddedIndex(copy, POLICY)
    try:
        with sqlite3.connect(copy / "index.sqlite") as db:  # behind the store's back
            db.execute(
                "UPDATE vectors SET vector = ? WHERE segment_id = 3", (QUERIES[0].tobytes(),)
            )
            db.execute("DELETE FROM vectors WHERE segment_id = 4")
        problems = index.verify_vectors()
        assert any("differ" in p for p in problems)
        assert any("1 in the store but not in SQLite" in p for p in problems)
        index.rebuild_vectors()
        assert index.verify_vectors() == []
        assert index.knn("visual", QUERIES[0], 1, SegmentFilter())[0][0] == 3
        assert index.vector_store.kind("visual").endswith(" mapped")
        hit = index.knn("visual", DATA[2500], 1, SegmentFilter(time_of_day=(0, 60)))[0]
        assert hit[0] == 2501 and hit[1] == pytest.approx(1.0, abs=1e-5)  # through the lists
    finally:
        index.close()
    reopened = EmbeddedIndex(copy, POLICY)
    assert not reopened.vector_store.rebuilt and reopened.verify_vectors() == []
    reopened.close()


def test_threshold_comes_from_the_config(tmp_path: Path) -> None:
    index = backends.create("embedded", tmp_path, IndexConfig(faiss=FaissConfig(ann_threshold=123)))
    try:
        assert isinstance(index, EmbeddedIndex)
        assert index.vector_store.policy.ann_threshold == 123
    finally:
        index.close()
