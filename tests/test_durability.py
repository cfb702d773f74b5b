"""Durability under kill -9, and ``sceneseek check``.

``sceneseek index`` runs as a real subprocess over three short real videos and is
SIGKILLed at each named crash point (``sceneseek.faults``) in turn, and once at a random
moment from outside; every run resumes what the previous one left. After each kill the
videos committed before it must be untouched; after a last clean run the index must
pass ``sceneseek check`` and hold exactly what an index built without crashes holds.
About 60 s (a dozen subprocesses, each loading the visual and speech models).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sceneseek import Config, Library
from sceneseek.eval.samples import SampleSet
from sceneseek.faults import CRASH_ENV

MODALITIES = "visual,speech"  # both kinds of vector (frames, timed text) at a modest cost
QUERIES = ["a man talking on the phone in a car", "a cat", "the shipment will arrive late"]
Snapshot = dict[str, dict[str, Any]]  # video path -> hash, segments with their vectors


def run_cli(*args: str, crash: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != CRASH_ENV}
    if crash:
        env[CRASH_ENV] = crash
    return subprocess.run(
        [sys.executable, "-m", "sceneseek.cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )


def index(db: Path, folder: Path, crash: str | None = None) -> subprocess.CompletedProcess[str]:
    return run_cli("index", str(folder), "--db", str(db), "--modalities", MODALITIES, crash=crash)


def snapshot(db: Path) -> Snapshot:
    """What SQLite holds, read-only (opening a Library would already repair things)."""
    connection = sqlite3.connect(f"file:{db / 'index.sqlite'}?mode=ro", uri=True)
    try:
        videos: Snapshot = {}
        for video_id, path, digest in connection.execute(
            "SELECT id, path, content_hash FROM videos"
        ):
            segments = connection.execute(
                "SELECT id, start, end, keyframe, observations, labels FROM segments"
                " WHERE video_id = ? ORDER BY start",
                (video_id,),
            ).fetchall()
            vectors = {
                (segment_id, modality): blob
                for segment_id, modality, blob in connection.execute(
                    "SELECT s.id, x.modality, x.vector FROM vectors x"
                    " JOIN segments s ON s.id = x.segment_id WHERE s.video_id = ?",
                    (video_id,),
                )
            }
            videos[path] = {"hash": digest, "segments": segments, "vectors": vectors}
        return videos
    finally:
        connection.close()


def assert_kept(before: Snapshot, after: Snapshot) -> None:
    """Every video committed before a crash is still there, byte for byte, same ids."""
    for path, video in before.items():
        assert after.get(path) == video, f"{path} changed across a crash"


def assert_same_content(crashed: Snapshot, clean: Snapshot) -> None:
    """Same videos and segments as the clean build; vectors equal up to float noise
    (the crashed index was encoded in other processes)."""
    assert sorted(crashed) == sorted(clean)
    for path, video in clean.items():
        mine = crashed[path]
        assert [s[1:] for s in mine["segments"]] == [s[1:] for s in video["segments"]], path
        order = {s[0]: n for n, s in enumerate(video["segments"])}
        mine_order = {s[0]: n for n, s in enumerate(mine["segments"])}
        expected = {(order[i], m): v for (i, m), v in video["vectors"].items()}
        got = {(mine_order[i], m): v for (i, m), v in mine["vectors"].items()}
        assert sorted(got) == sorted(expected), path
        for key, blob in expected.items():
            assert np.allclose(
                np.frombuffer(got[key], np.float32), np.frombuffer(blob, np.float32), atol=1e-5
            ), (path, key)


def problems_on_opening(db: Path, scratch: Path) -> list[str]:
    """What ``check`` finds in a copy of ``db`` (the crash left as it is for the next run)."""
    shutil.copytree(db, scratch)
    library = Library(scratch)
    try:
        return library.check().problems
    finally:
        library.close()


def search_results(db: Path) -> list[list[tuple[str, float, float, float]]]:
    library = Library(db, Config(modalities=MODALITIES.split(",")))
    try:
        return [
            [
                (Path(m.video).name, m.start, m.end, m.score)
                for m in library.search(q, top_k=5).results
            ]
            for q in QUERIES
        ]
    finally:
        library.close()


def assert_same_results(*dbs: Path) -> None:
    """The same moments in the same order from each index, scores equal up to float
    noise (vectors can differ in their last bits, and rounding to a fixed number of
    places would turn that noise into a difference at a rounding boundary)."""
    first, *others = (search_results(db) for db in dbs)
    for other in others:
        assert [[m[:3] for m in q] for q in other] == [[m[:3] for m in q] for q in first]
        scores = [m[3] for q in other for m in q]
        assert scores == pytest.approx([m[3] for q in first for m in q], rel=1e-4, abs=1e-5)


@pytest.fixture(scope="module")
def footage(samples: SampleSet, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three short videos: silent street traffic, speech, and the first 12 s of photos."""
    folder = tmp_path_factory.mktemp("footage")
    shutil.copy(samples.silent, folder / "a-silent.mp4")
    shutil.copy(samples.speech, folder / "b-speech.mp4")
    subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(samples.photos), "-t", "12", "-c", "copy"]
        + [str(folder / "c-photos.mp4")],
        check=True,
    )
    return folder


@pytest.fixture(scope="module")
def clean(footage: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("clean") / "lib"
    done = index(db, footage)
    assert done.returncode == 0, done.stderr
    return db


# Each run resumes the previous one's leftovers, then dies at its point. ``n`` counts
# arrivals at the point in that run: "after-commit:2" dies once the second video of the
# run is committed. The comments say what each run must find when it starts.
CRASH_RUNS = [
    "after-commit:1",  # empty index
    "before-commit:1",  # a-silent committed, the vector files never written
    "decoded:1",  # b-speech was rolled back inside its transaction
    "encoded:1",  # b-speech analysed but never written
    "between-videos:1",  # b-speech is next; it will be completed
    "after-commit:1",  # a, b committed; c-photos is next
    "vector-write:1",  # all committed, vector files behind SQLite: die bringing them up
]


def test_kill_9_at_every_point_then_resume(footage: Path, clean: Path, tmp_path: Path) -> None:
    db = tmp_path / "lib"
    committed: Snapshot = {}
    for run, crash in enumerate(CRASH_RUNS):
        done = index(db, footage, crash=crash)
        assert done.returncode == -signal.SIGKILL, f"{crash} did not fire: {done.stderr[-2000:]}"
        now = snapshot(db)
        assert_kept(committed, now)
        committed = now
        assert problems_on_opening(db, tmp_path / f"opened-{run}") == [], crash
    assert len(committed) == 3  # the last crash was in the vector files, not SQLite
    # A kill from outside, at a random moment of a run on a new index.
    seed = random.randrange(2**32)
    outside = tmp_path / "outside"
    process = subprocess.Popen(
        [sys.executable, "-m", "sceneseek.cli", "index", str(footage), "--db", str(outside)]
        + ["--modalities", MODALITIES],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(random.Random(seed).uniform(1.0, 8.0))
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=60)
    partial = snapshot(outside)
    for db_dir, before in ((db, committed), (outside, partial)):
        done = index(db_dir, footage)
        assert done.returncode == 0, f"seed {seed}: {done.stderr[-2000:]}"
        after = snapshot(db_dir)
        assert_kept(before, after)
        assert_same_content(after, snapshot(clean))
        checked = run_cli("check", "--db", str(db_dir), "--json")
        assert checked.returncode == 0, f"seed {seed}: {checked.stdout} {checked.stderr}"
        assert json.loads(checked.stdout)["problems"] == []
    assert_same_results(clean, db, outside)


def test_check_finds_and_repairs_damage(clean: Path, tmp_path: Path, footage: Path) -> None:
    db = tmp_path / "lib"
    shutil.copytree(clean, db)
    with sqlite3.connect(db / "index.sqlite") as connection:
        first, second = (r[0] for r in connection.execute("SELECT id FROM segments LIMIT 2"))
        connection.execute("DELETE FROM segment_text WHERE rowid = ?", (first,))
        connection.execute("UPDATE segment_text SET labels = 'wrong' WHERE rowid = ?", (second,))
        connection.execute("INSERT INTO vectors VALUES (999999, 'fused', zeroblob(1536))")
        connection.execute("INSERT INTO segment_text (rowid, labels) VALUES (999999, 'ghost')")
    (db / "thumbnails").mkdir()
    (db / "thumbnails" / "999999.jpg").write_bytes(b"\xff\xd8")
    (db / "thumbnails" / f"{first}.jpg").write_bytes(b"\xff\xd8")

    found = run_cli("check", "--db", str(db))
    assert found.returncode == 1 and "INCONSISTENT" in found.stdout
    for words in ("1 vectors without a segment", "1 keyword rows without a segment"):
        assert words in found.stderr
    assert "2 segments with a missing or outdated keyword row" in found.stderr
    assert "1 cached thumbnails" in found.stderr
    repaired = run_cli("check", "--db", str(db), "--repair")
    assert repaired.returncode == 0, repaired.stderr
    assert "rebuilt 2 keyword rows" in repaired.stderr and "consistent" in repaired.stdout
    again = run_cli("check", "--db", str(db), "--json")
    assert again.returncode == 0 and json.loads(again.stdout)["problems"] == []
    assert (db / "thumbnails" / f"{first}.jpg").exists()
    assert not (db / "thumbnails" / "999999.jpg").exists()
    assert_same_results(clean, db)


def test_check_marks_what_it_cannot_rebuild_for_reindexing(
    clean: Path, tmp_path: Path, footage: Path
) -> None:
    db = tmp_path / "lib"
    shutil.copytree(clean, db)
    with sqlite3.connect(db / "index.sqlite") as connection:
        segment, path = connection.execute(
            "SELECT s.id, v.path FROM segments s JOIN videos v ON v.id = s.video_id"
            " WHERE v.path LIKE '%b-speech.mp4' LIMIT 1"
        ).fetchone()
        connection.execute(
            "DELETE FROM vectors WHERE segment_id = ? AND modality = 'fused'", (segment,)
        )
    library = Library(db, Config(modalities=MODALITIES.split(",")))
    try:
        report = library.check()
        assert not report.consistent
        assert any("1 segments lack vectors" in p for p in report.problems)
        report = library.check(repair=True)
        assert any(path in line for line in report.repaired)
        assert library.index([footage]).indexed == [path]  # re-analysed, the rest unchanged
        assert library.check().problems == []
    finally:
        library.close()
    assert_same_content(snapshot(db), snapshot(clean))


def test_check_refuses_a_damaged_database(tmp_path: Path) -> None:
    db = tmp_path / "lib"
    db.mkdir()
    (db / "index.sqlite").write_bytes(b"SQLite format 3\x00" + bytes(range(256)) * 16)
    done = run_cli("check", "--db", str(db))
    assert done.returncode == 1
    assert "damaged" in done.stderr or "not a database" in done.stderr, done.stderr
