"""One suite every index backend passes: embedded (SQLite + Faiss), Milvus through
milvus-lite (in-process, with BM25 and hybrid_search), and a real Milvus 2.3.5
standalone server (started in its own network namespace, tests/milvus_server.py).

Synthetic records with known metadata check writes, filters and persistence exactly;
the ``indexed`` sample library, copied vector for vector into each backend, checks
that search ranks the same moments as the embedded index. About 2-3 minutes besides the
shared ``indexed`` fixture: 20-30 s start the server, and each Milvus 2.3 collection
takes about 3 s to create and load.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest
from milvus_server import milvus_server  # noqa: I001  (tests/ is on sys.path)
from pymilvus import MilvusClient
from tiny_clip import build_tiny_clip

from sceneseek import Config, Library
from sceneseek.config import IndexConfig, MilvusConfig, MonitorConfig
from sceneseek.encoders.base import Observation
from sceneseek.errors import EncoderMismatchError, SceneseekError
from sceneseek.eval.samples import SampleSet
from sceneseek.faults import CRASH_ENV
from sceneseek.index import backends
from sceneseek.index.base import SegmentFilter, SegmentRecord, VideoRecord
from sceneseek.index.snapshot import import_snapshot
from sceneseek.index.store import EmbeddedIndex, MilvusIndex, Store
from sceneseek.library import IndexReport
from sceneseek.monitor.drift import measure_drift
from sceneseek.monitor.snapshot import read_snapshot
from sceneseek.versions import previous_path

BACKENDS = ["embedded", "milvus-lite", "milvus-server"]
OpenIndex = Callable[[Path], Store]
CET = timezone(timedelta(hours=1))
DIMS = {"visual": 16, "image": 24}


@pytest.fixture(scope="session")
def server_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with milvus_server(tmp_path_factory.mktemp("milvus-server")) as uri:
        yield uri


def index_config(backend: str, request: pytest.FixtureRequest, **milvus: str) -> IndexConfig:
    if backend == "embedded":
        return IndexConfig()
    if backend == "milvus-lite":  # milvus-lite in <db>/milvus.db
        return IndexConfig(backend="milvus", milvus=MilvusConfig(**milvus))
    # one server; each index gets its own random collection prefix
    uri = request.getfixturevalue("server_uri")
    return IndexConfig(backend="milvus", milvus=MilvusConfig(uri=uri, **milvus))


def test_flat_settings_of_older_configs_still_read() -> None:
    """Backend settings moved into their own sections; the flat keys still mean them."""
    flat = IndexConfig.model_validate(
        {"backend": "milvus", "milvus_uri": "http://x:19530", "keyword": "milvus"}
    )
    assert flat.milvus == MilvusConfig(uri="http://x:19530", keyword="milvus")
    assert IndexConfig.model_validate({"ann_threshold": 7}).faiss.ann_threshold == 7


@pytest.fixture(params=BACKENDS)
def open_index(request: pytest.FixtureRequest) -> OpenIndex:
    settings = index_config(request.param, request)
    return lambda directory: backends.create(settings.backend, directory, settings)


# -- synthetic library ------------------------------------------------------------------
# (path, camera, zone, start): a Friday night at the gate, a Monday morning in the lobby
# (UTC), and a clip with no metadata at all. Four 5-second segments each.
VIDEOS = [
    (
        '/footage/gate "north"/cámara 1.mp4',
        "cam-1",
        "gate",
        datetime(2026, 11, 27, 22, 0, tzinfo=CET),
    ),
    ("/footage/lobby.mp4", "cam-2", "lobby", datetime(2026, 11, 30, 9, 0, tzinfo=UTC)),
    ("/footage/untimed.mp4", None, None, None),
]
SPEECH = ["the shipment is late", "a dog barking at night", "gate closed for the night", "hello"]


def synthetic(video: int, seed: int = 0) -> tuple[VideoRecord, list[SegmentRecord]]:
    path, camera, zone, start = VIDEOS[video]
    rng = np.random.default_rng(seed * 10 + video)
    segments = []
    for i in range(4):
        vectors = {m: rng.standard_normal(d).astype(np.float32) for m, d in DIMS.items()}
        text = SPEECH[(i + video) % 4]
        segments.append(
            SegmentRecord(
                start=5.0 * i,
                end=5.0 * i + 5,
                observations={"speech": [Observation(5.0 * i, 5.0 * i + 2, text, 1.0)]},
                labels=[("tabby cat" if i == video else "street sign", 0.5)],
                keyframe=5.0 * i + 2.5,
                vectors={m: v / np.linalg.norm(v) for m, v in vectors.items()},
            )
        )
    return VideoRecord(path, f"hash-{video}-{seed}", 20.0, camera, zone, start), segments


def fill(index: Store) -> dict[int, tuple[int, SegmentRecord]]:
    """Index the three synthetic videos; segment id → (video number, record)."""
    by_id = {}
    for number in range(len(VIDEOS)):
        video, records = synthetic(number)
        index.replace_video(video, records)
        stored = [s for s in index.all_segments() if s.video == video.path]
        by_id.update({s.id: (number, r) for s, r in zip(stored, records, strict=True)})
    return by_id


def everything(index: Store, modality: str = "visual") -> set[int]:
    return {i for i, _ in index.knn(modality, np.ones(DIMS[modality], np.float32), 100, FILTER_ALL)}


FILTER_ALL = SegmentFilter()


def middle(number: int, record: SegmentRecord) -> datetime | None:
    start = VIDEOS[number][3]
    return start + timedelta(seconds=(record.start + record.end) / 2) if start else None


# Each filter with the predicate it must equal, evaluated here on the known metadata.
FILTERS: list[tuple[SegmentFilter, Callable[[int, SegmentRecord], bool]]] = [
    (SegmentFilter(camera="cam-1"), lambda n, r: n == 0),
    (SegmentFilter(zone="lobby"), lambda n, r: n == 1),
    (SegmentFilter(video=VIDEOS[0][0]), lambda n, r: n == 0),
    (SegmentFilter(video="/footage/none.mp4"), lambda n, r: False),
    # 22:00:00-22:00:10 local at the gate: its first two segments (middles 2.5 s, 7.5 s)
    (SegmentFilter(time_of_day=(22 * 3600, 22 * 3600 + 10)), lambda n, r: n == 0 and r.start < 10),
    # wrapping midnight: 21:00-08:00 holds the gate at night, not the lobby at 09:00
    (SegmentFilter(time_of_day=(21 * 3600, 8 * 3600)), lambda n, r: n == 0),
    (
        SegmentFilter(after=datetime(2026, 11, 28, tzinfo=UTC)),
        lambda n, r: n == 1,
    ),
    (
        SegmentFilter(before=datetime(2026, 11, 27, 21, 0, 10, tzinfo=UTC)),
        lambda n, r: n == 0 and r.start < 10,
    ),
    (SegmentFilter(weekdays=frozenset({4})), lambda n, r: n == 0),  # Friday
    (SegmentFilter(weekdays=frozenset({0, 1, 2})), lambda n, r: n == 1),
    (SegmentFilter(camera="cam-2", weekdays=frozenset({4})), lambda n, r: False),
]


def test_filters_compare_the_intended_times() -> None:
    """The predicates above describe the data they claim to (guards the suite itself)."""
    gate = synthetic(0)[1]
    assert middle(0, gate[1]) == datetime(2026, 11, 27, 22, 0, 7, 500000, tzinfo=CET)
    assert middle(0, gate[0]).weekday() == 4  # type: ignore[union-attr]


@pytest.fixture(scope="module", params=BACKENDS)
def filled(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Store, dict[int, tuple[int, SegmentRecord]]]]:
    """The synthetic library in one backend, shared by the tests that only read it
    (creating Milvus 2.3 collections costs seconds each)."""
    settings = index_config(request.param, request)
    index = backends.create(settings.backend, tmp_path_factory.mktemp("filled"), settings)
    yield index, fill(index)
    index.close()


def test_add_read_and_exact_knn(filled: tuple[Store, dict[int, tuple[int, SegmentRecord]]]) -> None:
    index, by_id = filled
    assert [v.path for v in index.videos()] == [v[0] for v in VIDEOS]
    assert index.stats()["segments"] == 12 and index.stats()["vectors.visual"] == 12
    first = min(by_id)
    number, record = by_id[first]
    stored = index.segments([first])[first]
    assert (stored.video, stored.start, stored.camera) == (
        VIDEOS[number][0],
        0.0,
        VIDEOS[number][1],
    )
    assert stored.observations["speech"][0].text == SPEECH[0]
    for modality in DIMS:
        np.testing.assert_allclose(
            index.segment_vectors(first)[modality], record.vectors[modality], atol=1e-6
        )
    # k-NN is cosine, best first, over every segment: the same ranking numpy computes
    query = by_id[max(by_id)][1].vectors["image"]
    expected = sorted(by_id, key=lambda i: -float(by_id[i][1].vectors["image"] @ query))
    got = index.knn("image", query, 12, FILTER_ALL)
    assert [i for i, _ in got] == expected
    assert got[0][1] == pytest.approx(1.0, abs=1e-5)
    assert len(index.reference_vectors("visual")) == 12
    assert index.knn("sound", np.ones(16, np.float32), 5, FILTER_ALL) == []  # no such vectors


def test_filters_run_inside_knn_and_keyword(
    filled: tuple[Store, dict[int, tuple[int, SegmentRecord]]],
) -> None:
    index, by_id = filled
    query = np.ones(DIMS["visual"], np.float32)
    for case, (where, predicate) in enumerate(FILTERS):
        expected = {i for i, (n, r) in by_id.items() if predicate(n, r)}
        assert {i for i, _ in index.knn("visual", query, 100, where)} == expected, case
        # k smaller than the matches still fills up from inside the filter
        assert len(index.knn("visual", query, 2, where)) == min(2, len(expected)), case
        said = {i for i in expected if "night" in by_id[i][1].observations["speech"][0].text}
        found = index.keyword("night", 100, where, ("speech",))
        assert {i for i, _ in found} == said, case


def test_replace_and_remove(open_index: OpenIndex, tmp_path: Path) -> None:
    index = open_index(tmp_path / "db")
    by_id = fill(index)
    old = {i for i, (n, _) in by_id.items() if n == 0}
    video, records = synthetic(0, seed=1)
    index.replace_video(video, records[:2])
    assert index.video_hash(video.path) == "hash-0-1"
    now = everything(index)
    assert not old & now and len(now) == 10
    assert not old & set(index.segments(sorted(old)))
    new = {s.id for s in index.all_segments() if s.video == video.path}
    assert {i for i, _ in index.knn("visual", records[1].vectors["visual"], 1, FILTER_ALL)} <= new
    assert index.remove_video(video.path)
    assert not index.remove_video(video.path)
    assert everything(index) == now - new and index.video_hash(video.path) is None
    assert not {i for i, _ in index.keyword("shipment late", 100, FILTER_ALL, ("speech",))} & new
    index.close()


def test_persistence_and_encoder_versions(open_index: OpenIndex, tmp_path: Path) -> None:
    index = open_index(tmp_path / "db")
    fill(index)
    index.set_encoder_versions({"text": "e5-small@1", "visual": "effnet@2"})
    query = synthetic(1)[1][2].vectors["visual"]
    before = index.knn("visual", query, 5, SegmentFilter(zone="lobby"))
    keyword = index.keyword("dog barking", 5, FILTER_ALL, ("speech", "labels"))
    index.close()
    # Reopened with no settings at all: the directory records backend, server, collections.
    library = Library(tmp_path / "db", Config())
    index = library.index_store
    assert index.encoder_versions() == {"text": "e5-small@1", "visual": "effnet@2"}
    after = index.knn("visual", query, 5, SegmentFilter(zone="lobby"))
    assert [i for i, _ in after] == [i for i, _ in before]
    assert index.keyword("dog barking", 5, FILTER_ALL, ("speech", "labels")) == keyword
    assert index.stats()["vectors.image"] == 12
    library.close()
    other = "embedded" if library.backend == "milvus" else "milvus"
    with pytest.raises(SceneseekError, match=f"written with the {library.backend} backend"):
        Library(tmp_path / "db", Config(), backend=other).stats()


CRASHING_WRITE = """
import sys
from pathlib import Path
from sceneseek.config import IndexConfig
from sceneseek.index import backends
from test_backends import fill
fill(backends.create("milvus", Path(sys.argv[1]), IndexConfig.model_validate_json(sys.argv[2])))
"""


@pytest.mark.parametrize("backend", BACKENDS[1:])
def test_crash_between_catalogue_and_milvus_is_repaired(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """kill -9 after the catalogue committed the second video, before Milvus has its
    vectors: that video reads as not indexed (so the next run writes it again), the
    check names it, and writing it again leaves a consistent index."""
    settings = index_config(backend, request)
    env = {**os.environ, CRASH_ENV: "after-commit:2", "PYTHONPATH": str(Path(__file__).parent)}
    command = [
        sys.executable,
        "-c",
        CRASHING_WRITE,
        str(tmp_path / "db"),
        settings.model_dump_json(),
    ]
    assert subprocess.run(command, env=env).returncode == -signal.SIGKILL
    index = backends.create("milvus", tmp_path / "db", settings)
    kept, lost = synthetic(0), synthetic(1)
    assert index.video_hash(kept[0].path) == kept[0].content_hash
    assert index.video_hash(lost[0].path) is None
    assert [line for line in index.verify_vectors() if lost[0].path in line]
    index.replace_video(*lost)
    assert index.verify_vectors() == []
    new = {s.id for s in index.all_segments() if s.video == lost[0].path}
    assert {i for i, _ in index.knn("visual", lost[1][0].vectors["visual"], 1, FILTER_ALL)} <= new
    assert index.stats()["vectors.visual"] == 8
    index.close()


# -- real encoder output ----------------------------------------------------------------
QUERIES = ["a cat", "the shipment will be late", "una taza de café", "a dog barking"]


def copy_index(source: Path, target: Store) -> None:
    """Every video, segment and vector of an embedded index, written into ``target``."""
    original = backends.create("embedded", source)
    segments = original.all_segments()
    for video in original.videos():
        records = [
            SegmentRecord(
                s.start, s.end, s.observations, s.labels, s.keyframe, original.segment_vectors(s.id)
            )
            for s in segments
            if s.video_id == video.id
        ]
        content = original.video_hash(video.path) or ""
        record = VideoRecord(
            video.path,
            content,
            video.duration,
            video.camera,
            video.zone,
            video.start_time,
            video.language,
        )
        target.replace_video(record, records)
    target.set_encoder_versions(original.encoder_versions())
    original.close()


@pytest.fixture(scope="module")
def reference_results(
    indexed: tuple[Path, IndexReport],
) -> dict[str, list[tuple[str, float, float]]]:
    library = Library(indexed[0], Config())
    results = {q: moments(library, q) for q in QUERIES}
    library.close()
    return results


def moments(library: Library, query: str) -> list[tuple[str, float, float]]:
    return [(m.video, m.start, m.end) for m in library.search(query, top_k=5).results]


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS[1:])
def test_search_ranks_like_embedded_on_real_vectors(
    backend: str,
    request: pytest.FixtureRequest,
    tmp_path: Path,
    indexed: tuple[Path, IndexReport],
    reference_results: dict[str, list[tuple[str, float, float]]],
) -> None:
    """Same vectors, same catalogue BM25, client-side fusion: the same moments in the
    same order as the embedded index, filters included."""
    settings = index_config(backend, request)
    target = backends.create("milvus", tmp_path / "db", settings)
    copy_index(indexed[0], target)
    target.close()
    library = Library(tmp_path / "db", Config(index=settings))
    for query, expected in reference_results.items():
        assert moments(library, query) == expected, query
    assert library.search("a cat", camera="cam-9").results == []
    library.close()


@pytest.mark.slow
def test_milvus_bm25_and_hybrid_search(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    indexed: tuple[Path, IndexReport],
    reference_results: dict[str, list[tuple[str, float, float]]],
) -> None:
    """keyword = "milvus" (milvus-lite): BM25 inside Milvus, fields summed by
    hybrid_search. Scores differ from FTS5's, yet the best moment stays the same."""
    settings = index_config("milvus-lite", request, keyword="milvus")
    target = backends.create("milvus", tmp_path / "db", settings)
    copy_index(indexed[0], target)
    speech = target.keyword("shipment late", 10, FILTER_ALL, ("speech",))
    assert speech and all(score > 0 for _, score in speech)
    for segment in target.segments([i for i, _ in speech]).values():
        assert "shipment" in " ".join(o.text for o in segment.observations["speech"]).lower()
    assert target.keyword("shipment late", 10, SegmentFilter(camera="cam-9"), ("speech",)) == []
    target.close()
    library = Library(tmp_path / "db", Config(index=settings))
    for query, expected in reference_results.items():
        assert moments(library, query)[:1] == expected[:1], query
    library.close()


def test_server_without_bm25_says_so(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    """Milvus 2.3 has no BM25: asking for it fails on the first write, naming the fix."""
    settings = index_config("milvus-server", request, keyword="milvus")
    index = backends.create("milvus", tmp_path / "db", settings)
    video, records = synthetic(0)
    with pytest.raises(SceneseekError, match='keyword = "catalogue"'):
        index.replace_video(video, records)
    index.close()


@pytest.mark.slow
def test_library_indexes_and_searches_through_milvus(tmp_path: Path, samples: SampleSet) -> None:
    """``Library(..., backend="milvus")`` end to end: index a real video, find it, and
    refuse the wrong backend or other encoders on the same directory."""
    library = Library(tmp_path / "db", Config(), backend="milvus")
    report = library.index([samples.photos])
    assert len(report.indexed) == 1 and not report.failed
    best = library.search("a cat", top_k=1).results[0]
    assert best.video == report.indexed[0] and "visual" in best.evidence
    assert library.stats()["vectors.visual"] == library.stats()["segments"]
    library.close()
    other = Config(encoders={"speech": "whisper-base"})
    with pytest.raises(EncoderMismatchError, match="whisper-base"):
        Library(tmp_path / "db", other).search("a cat")


# -- follow-ups: check, selective filters, snapshots, reindex on Milvus ------------------
def fused_only(video: int) -> tuple[VideoRecord, list[SegmentRecord]]:
    """A synthetic video whose segments have exactly the vectors ``check`` requires of
    them (a fused one, no observations): one collection, cheap on Milvus 2.3."""
    record, segments = synthetic(video)
    return record, [
        replace(s, observations={}, vectors={"fused": s.vectors["visual"]}) for s in segments
    ]


def lose_vectors(index: Store, path: str, modality: str) -> None:
    """Delete one video's vectors of one modality where its backend keeps them (a
    server's rows lost, a catalogue edited by hand)."""
    if isinstance(index, MilvusIndex):
        milvus = index.vector_store
        milvus._client.delete(milvus._name(modality), filter=f"video == {json.dumps(path)}")
        return
    assert isinstance(index, EmbeddedIndex)
    with closing(sqlite3.connect(index.directory / "index.sqlite")) as catalogue, catalogue:
        catalogue.execute(
            "DELETE FROM vectors WHERE modality = ? AND segment_id IN (SELECT s.id FROM"
            " segments s JOIN videos v ON v.id = s.video_id WHERE v.path = ?)",
            (modality, path),
        )


@pytest.mark.parametrize("backend", BACKENDS)
def test_check_finds_lost_vectors(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """A healthy index checks consistent and counts the vector store's vectors; vectors
    lost where the backend keeps them are found, and --repair marks their video for
    re-analysis, after which it checks clean."""
    settings = index_config(backend, request)
    library = Library(tmp_path / "db", Config(index=settings), backend=settings.backend)
    index = library.index_store
    for video in range(len(VIDEOS)):
        index.replace_video(*fused_only(video))
    report = library.check()
    assert report.problems == [] and report.counts["vectors"] == 12
    lost = fused_only(1)
    lose_vectors(index, lost[0].path, "fused")
    assert "4 segments lack vectors of their modalities" in library.check().problems
    report = library.check(repair=True)
    assert report.consistent and any(lost[0].path in line for line in report.repaired)
    assert index.video_hash(lost[0].path) != lost[0].content_hash  # will be analysed again
    index.replace_video(*lost)
    assert library.check().problems == []
    library.close()


@pytest.mark.parametrize("backend", BACKENDS)
def test_monitor_and_drift_read_the_vector_store(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """``sceneseek stats`` reads the vectors where the backend keeps them: the counts,
    the last hour's embeddings, and drift between the first and the newest segments,
    equal to what numpy computes from the vectors written."""
    settings = index_config(backend, request)
    index = backends.create(settings.backend, tmp_path / "db", settings)
    by_id = fill(index)
    index.close()
    snapshot = read_snapshot(tmp_path / "db")
    assert snapshot.vectors == {"image": 12, "visual": 12} and snapshot.segments == 12
    assert snapshot.segments_last_hour == 12 and snapshot.embeddings_last_hour == 24
    windows = MonitorConfig(
        drift_reference_segments=4, drift_recent_segments=4, drift_min_segments=1
    )
    report = measure_drift(tmp_path / "db", windows)
    assert (report.reference_segments, report.recent_segments) == (4, 4)
    assert sorted(report.modalities) == ["image", "visual"]
    for modality, drift in report.modalities.items():
        first, last = (
            np.stack([r.vectors[modality] for n, r in by_id.values() if n == video]).astype(
                np.float64
            )
            for video in (0, 2)
        )
        shift = np.linalg.norm(last.mean(0) - first.mean(0))
        spread = np.sqrt(np.mean(np.sum((first - first.mean(0)) ** 2, axis=1)))
        assert (drift.reference, drift.recent) == (4, 4)
        assert drift.centroid_shift == pytest.approx(shift / spread, abs=2e-4), modality


@pytest.mark.parametrize("backend", BACKENDS)
def test_selective_filter_returns_the_exact_top_k(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """A filter letting 1 % of 2 000 segments through returns exactly the best k of them:
    scored exactly below the exact-scan threshold, and on milvus-lite also through its
    HNSW with ``ef`` raised for the selectivity (the former fixed ef 64 missed most)."""
    settings = index_config(backend, request)
    index = backends.create(settings.backend, tmp_path / "db", settings)
    rng = np.random.default_rng(5)
    vectors = rng.standard_normal((2000, DIMS["visual"])).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    start = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)
    segments = [SegmentRecord(i, i + 1.0, vectors={"visual": v}) for i, v in enumerate(vectors)]
    index.replace_video(VideoRecord("/footage/day.mp4", "day", 2000.0, start_time=start), segments)
    ids = np.array([s.id for s in index.all_segments()])
    window = SegmentFilter(  # segment middles 1 000.5 … 1 019.5 s: 20 segments
        after=start + timedelta(seconds=1000), before=start + timedelta(seconds=1020)
    )
    queries = rng.standard_normal((5, DIMS["visual"])).astype(np.float32)
    expected = [ids[1000 + np.argsort(-(vectors[1000:1020] @ q))[:10]].tolist() for q in queries]

    def found() -> list[list[int]]:
        return [[i for i, _ in index.knn("visual", q, 10, window)] for q in queries]

    assert found() == expected
    if backend == "milvus-lite":
        assert isinstance(index, MilvusIndex)
        milvus = index.vector_store
        name = milvus._name("visual")
        milvus._client.flush(name)  # a sealed segment, whose HNSW graph a load builds
        milvus._client.release_collection(name)
        milvus._client.load_collection(name)
        milvus.exact_filter_rows = 0  # search through HNSW (ef 64 found 3 of 10 here)
        assert found() == expected
    index.close()


def test_filtered_search_sees_another_writers_videos(open_index: OpenIndex, tmp_path: Path) -> None:
    """The catalogue's cached allowed ids must not hide segments another writer
    (``watch`` beside ``serve``) committed since: Milvus shows their vectors at once,
    Faiss as soon as it follows the other writer."""
    serving = open_index(tmp_path / "db")
    serving.replace_video(*synthetic(0))
    lobby, query = SegmentFilter(zone="lobby"), synthetic(1)[1][0].vectors["visual"]
    assert serving.knn("visual", query, 5, lobby) == []
    writing = open_index(tmp_path / "db")
    writing.replace_video(*synthetic(1))
    assert len(serving.knn("visual", query, 5, lobby)) == 4
    writing.close()
    serving.close()


def test_an_open_index_sees_another_writers_vectors(open_index: OpenIndex, tmp_path: Path) -> None:
    """``serve`` keeps its index open while ``index`` or ``watch`` writes to it: its
    searches, reference samples and counts include the other writer's vectors at once."""
    serving = open_index(tmp_path / "db")
    serving.replace_video(*synthetic(0))
    assert len(serving.reference_vectors("image")) == 4
    writing = open_index(tmp_path / "db")
    video, records = synthetic(1)
    writing.replace_video(video, records)
    writing.close()
    assert serving.stats()["vectors.visual"] == serving.stats()["vectors.image"] == 8
    assert len(serving.reference_vectors("image")) == 8
    new = {s.id for s in serving.all_segments() if s.video == video.path}
    hit = serving.knn("image", records[2].vectors["image"], 1, FILTER_ALL)[0]
    assert hit[0] in new and hit[1] == pytest.approx(1.0, abs=1e-4)
    assert everything(serving) == everything(serving, "image") and len(everything(serving)) == 8
    serving.close()


@pytest.mark.parametrize("backend", BACKENDS)
def test_snapshot_carries_the_vectors(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """The vectors go into the archive wherever the backend keeps them (exported from
    Milvus): imported plainly it is an embedded index, imported with the Milvus backend
    they go into Milvus; both search like the original and check consistent."""
    settings = index_config(backend, request)
    library = Library(tmp_path / "db", Config(index=settings), backend=settings.backend)
    for video in range(len(VIDEOS)):
        library.index_store.replace_video(*fused_only(video))
    query = fused_only(1)[1][2].vectors["fused"]
    expected = library.index_store.knn("fused", query, 12, FILTER_ALL)
    archive = tmp_path / "snap.tar.gz"
    snapshot = library.export_snapshot(archive)
    assert snapshot.manifest["counts"]["vectors"] == 12
    assert snapshot.manifest["vectors_from"] == ("sqlite" if backend == "embedded" else "milvus")
    library.close()
    into_milvus = settings if settings.backend == "milvus" else index_config("milvus-lite", request)
    for target, imported in (("embedded", None), ("milvus", into_milvus)):
        import_snapshot(archive, tmp_path / target, imported)
        copy = Library(tmp_path / target, Config(index=imported or IndexConfig()))
        assert copy.backend == target
        found = copy.index_store.knn("fused", query, 12, FILTER_ALL)
        assert [i for i, _ in found] == [i for i, _ in expected]
        np.testing.assert_allclose([s for _, s in found], [s for _, s in expected], atol=1e-5)
        assert copy.check().problems == [] and copy.stats()["vectors.fused"] == 12
        copy.close()
    with sqlite3.connect(tmp_path / "milvus" / "index.sqlite") as catalogue:
        assert catalogue.execute("SELECT count(*) FROM vectors").fetchone()[0] == 0


def prefix_of(db: Path) -> str:
    with closing(sqlite3.connect(db / "milvus.sqlite")) as state:
        return str(state.execute("SELECT value FROM settings WHERE key = 'prefix'").fetchone()[0])


@pytest.mark.slow
def test_reindex_stays_on_the_server_and_drops_the_replaced_backup(
    tmp_path: Path, samples: SampleSet
) -> None:
    """A Milvus index whose URI is only recorded in its directory is re-encoded there
    (not into milvus-lite in the new directory) under a fresh prefix; the old index, now
    DB.previous/, keeps its collections, and the backup it replaced has them dropped.
    The "server" is a milvus-lite file outside the index (a URI like any other; the
    2.3.5 server would add ~10 s of creating collections for the same calls)."""
    settings = IndexConfig(backend="milvus", milvus=MilvusConfig(uri=str(tmp_path / "server.db")))
    clip = build_tiny_clip(tmp_path / "tiny-clip")
    db = tmp_path / "lib"
    first = Library(
        db,
        Config(
            modalities=["visual"],
            encoders={"visual": "clip", "clip_model": str(clip)},  # type: ignore[arg-type]
            index=settings,
        ),
    )
    assert first.index([samples.photos]).indexed
    first.close()
    backup = backends.create("milvus", previous_path(db), settings)  # an earlier reindex's
    backup.replace_video(*fused_only(0))
    backup.close()
    old, replaced = prefix_of(db), prefix_of(previous_path(db))

    library = Library(db, Config(modalities=["visual"]))  # no Milvus settings at all
    assert library.reindex().swapped and library.search("a cat", top_k=1).results
    library.close()
    assert not (db / "milvus.db").exists()  # on the server, not in a milvus-lite of its own
    new = prefix_of(db)
    assert prefix_of(previous_path(db)) == old and new not in (old, replaced)
    server = MilvusClient(uri=settings.milvus.uri or "")
    alive = {name.rsplit("_", 1)[0] for name in server.list_collections()}
    server.close()
    assert replaced not in alive and {old, new} <= alive
