"""Distributed ingest on a local Ray cluster (2 workers) gives the same index as the
single-process path, and fails bad files one by one. Costs ~30 s on 2 cores, up to
~90 s when they are busy (starting Ray, loading the models in both workers), plus the
shared ``indexed`` fixture."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from sceneseek import Config, Library
from sceneseek.cli import app
from sceneseek.eval.samples import SampleSet
from sceneseek.ingest_ray import RayCluster, connect
from sceneseek.library import IndexReport

# Not imported here: sceneseek must import ray itself to keep a local cluster on loopback.
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="needs ray"),
]

QUERIES = ["a cat", "una taza de café", "the shipment will be late", "a rocket launch"]


def damaged_copy(good: Path, out: Path) -> Path:
    """A file that probes fine (intact header) but cannot be decoded past 2 s, so it
    fails inside a Ray worker rather than in the driver."""
    data = bytearray(good.read_bytes())
    begin, end = len(data) // 5, len(data) * 9 // 10
    data[begin:end] = bytes(i * 37 % 251 for i in range(end - begin))
    out.write_bytes(bytes(data))
    return out


def videos(library: Library) -> list[tuple[object, ...]]:
    """What the index knows of each video, in path order (workers finish in any order)."""
    return sorted((v.path, v.duration, v.camera, v.zone, v.language) for v in library.videos())


def snapshot(library: Library) -> dict[str, list[tuple[object, ...]]]:
    """Per video: each segment's boundaries, keyframe, observation texts and labels."""
    found: dict[str, list[tuple[object, ...]]] = {}
    for segment in sorted(library.index_store.all_segments(), key=lambda s: (s.video, s.start)):
        texts = {m: [o.text for o in items] for m, items in segment.observations.items()}
        labels = [label for label, _ in segment.labels]
        found.setdefault(segment.video, []).append(
            (round(segment.start, 3), round(segment.end, 3), segment.keyframe, texts, labels)
        )
    return found


def vectors_by_time(library: Library) -> dict[tuple[str, float], dict[str, np.ndarray]]:
    return {
        (s.video, round(s.start, 3)): library.index_store.segment_vectors(s.id)
        for s in library.index_store.all_segments()
    }


def test_ray_ingest_matches_single_process(
    indexed: tuple[Path, IndexReport],
    samples: SampleSet,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    damaged = damaged_copy(samples.silent, tmp_path / "damaged.mp4")
    db = tmp_path / "ray-lib"
    monkeypatch.chdir(samples.root.parent)  # a relative path must reach the workers intact
    args = ["index", samples.root.name, str(damaged), "--db", str(db)]
    args += ["--camera", "cam-01", "--zone", "lobby", "--ray", "--ray-workers", "2"]
    ray, started = connect(RayCluster())  # the CLI below reuses it: one start-up, not two
    try:
        assert started
        assert {node["NodeManagerAddress"] for node in ray.nodes()} == {"127.0.0.1"}
        result = CliRunner().invoke(app, args)
    finally:
        ray.shutdown()

    # Bad files fail one by one, with their cause, wherever they failed: the corrupt
    # and empty samples in the driver (probe), the damaged copy inside a worker (decode).
    assert result.exit_code == 1, result.output
    assert "indexed 3, unchanged 0, failed 3" in result.stdout
    assert f"{damaged.resolve()}: video is damaged at" in result.stderr
    assert f"{samples.empty.resolve()}: file is empty" in result.stderr

    single_db, _ = indexed
    single, distributed = Library(single_db, Config()), Library(db, Config())
    try:
        assert videos(distributed) == videos(single)
        assert snapshot(distributed) == snapshot(single)
        ours, theirs = vectors_by_time(distributed), vectors_by_time(single)
        assert ours.keys() == theirs.keys()
        for where, vectors in theirs.items():
            assert ours[where].keys() == vectors.keys(), where
            for modality, vector in vectors.items():
                np.testing.assert_allclose(ours[where][modality], vector, atol=1e-4)
        for query in QUERIES:
            got, want = distributed.search(query, top_k=5), single.search(query, top_k=5)
            assert [(m.video, m.start, m.end) for m in got.results] == [
                (m.video, m.start, m.end) for m in want.results
            ], query
            np.testing.assert_allclose(
                [m.score for m in got.results], [m.score for m in want.results], atol=1e-3
            )
    finally:
        single.close()
        distributed.close()

    # Nothing changed: a second run is a no-op (and starts no Ray cluster).
    library = Library(db, Config())
    again = library.index([samples.root], ray=RayCluster(workers=2))
    library.close()
    assert again.indexed == [] and len(again.unchanged) == 3
