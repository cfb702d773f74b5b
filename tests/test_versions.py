"""Versions and moving an index to other encoders (issue #7): a mismatched encoder is
refused with a message naming `reindex`; `reindex` can be SIGKILLed and resumed while
search keeps answering from the old index; snapshots round-trip and refuse damage.
Real models and a real CLI subprocess; about 90 s in all (the reindex test ~60 s)."""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tarfile
import time
from contextlib import closing
from pathlib import Path

import pytest
from tiny_clip import build_tiny_clip  # noqa: I001  (tests/ is on sys.path)

from sceneseek import Config, Library
from sceneseek.errors import EncoderMismatchError, SceneseekError
from sceneseek.eval.samples import SampleSet
from sceneseek.index.snapshot import import_snapshot
from sceneseek.versions import previous_path, staging_path

SCENESEEK = [sys.executable, "-m", "sceneseek.cli"]


def test_mismatched_encoder_is_refused_naming_reindex(indexed_copy: Path) -> None:
    other = Library(indexed_copy, Config(encoders={"speech": "whisper-base"}))  # type: ignore[arg-type]
    with pytest.raises(EncoderMismatchError, match=r"speech: index has whisper-tiny") as refused:
        other.search("a cat")
    assert f"sceneseek reindex --db {indexed_copy}" in str(refused.value)
    with pytest.raises(EncoderMismatchError, match="reindex"):
        other.index([indexed_copy / "nothing.mp4"])
    models = other.models()
    speech = next(r for r in models.roles if r.role == "speech")
    assert not speech.matches and speech.configured and "whisper-base" in speech.configured
    assert models.fusion.startswith("config-") and models.index_format == 8
    assert models.backend == "embedded" and models.reindex is None


def staged_videos(db: Path) -> int:
    staged = staging_path(db) / "index.sqlite"
    if not staged.exists():
        return 0
    try:
        with closing(sqlite3.connect(f"file:{staged}?mode=ro", uri=True, timeout=1)) as con:
            return int(con.execute("SELECT count(*) FROM videos").fetchone()[0])
    except sqlite3.Error:
        return 0


def test_reindex_is_killed_resumed_and_swapped_while_search_answers(
    tmp_path: Path, samples: SampleSet
) -> None:
    clip = build_tiny_clip(tmp_path / "tiny-clip")
    old = Config(  # type: ignore[arg-type]
        modalities=["visual"], encoders={"visual": "clip", "clip_model": str(clip)}
    )
    new = Config(modalities=["visual"])  # the default visual encoder
    videos = tmp_path / "videos"
    videos.mkdir()
    for n in range(5):
        shutil.copy(samples.photos, videos / f"cam0{n}.mp4")
    db = tmp_path / "lib"
    serving = Library(db, old)  # e.g. a server started before the config changed
    assert len(serving.index([videos]).indexed) == 5
    marked = serving.search("a street", top_k=1).results[0].segments[0]
    serving.mark("a street", marked.id, relevant=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCENESEEK_")}
    command = [*SCENESEEK, "reindex", "--db", str(db), "--modalities", "visual"]

    first = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while staged_videos(db) < 1:
        assert first.poll() is None, first.communicate()
        assert serving.search("a street", top_k=3).results  # the old index keeps answering
        assert time.monotonic() < deadline, "reindex made no progress"
        time.sleep(0.1)
    first.send_signal(signal.SIGKILL)
    first.wait()
    done = staged_videos(db)
    assert 1 <= done < 5, f"killed too late to test resuming ({done} done)"
    assert serving.search("a street", top_k=3).results
    with pytest.raises(EncoderMismatchError) as refused:
        Library(db, new).search("a street")
    assert "sceneseek reindex" in str(refused.value) and f"{done} of 5" in str(refused.value)

    second = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert second.returncode == 0, second.stderr
    assert f"reindexed {5 - done}, already done {done}" in second.stdout
    assert "swapped in" in second.stdout and (previous_path(db) / "index.sqlite").exists()
    assert not staging_path(db).exists()
    fresh = Library(db, new)
    assert fresh.search("a street", top_k=3).results
    assert fresh.models().roles[1].index == fresh.encoders.versions()["visual"]
    [mark] = fresh.marks()  # carried over, pointing at the same moment in the new index
    moved = fresh.segment(mark.segment_id)
    assert (moved.video, moved.start) == (marked.video, marked.start)
    assert fresh.learn(dry_run=True).marks == 1  # its evidence scored again by the new encoder
    # The process still holding the old index notices the swap and refuses, not mixes.
    with pytest.raises(EncoderMismatchError, match="reindex"):
        serving.search("a street")
    with pytest.raises(SceneseekError, match="already built"):
        fresh.reindex()


def test_snapshot_round_trip_and_refusals(indexed_copy: Path, tmp_path: Path) -> None:
    library = Library(indexed_copy)
    cat = library.search("a cat", top_k=1).results[0]
    library.mark("a cat", cat.segments[0].id, relevant=True)
    archive = tmp_path / "snap.tar.gz"
    snapshot = library.export_snapshot(archive)  # while the index is open
    marks = [(m.query, m.segment_id, m.relevant) for m in library.marks()]
    assert snapshot.manifest["counts"]["marks"] == len(marks) and snapshot.manifest["format"] == 8
    restored = tmp_path / "restored"
    import_snapshot(archive, restored)
    copy = Library(restored)
    again = copy.search("a cat", top_k=1).results[0]
    assert (again.video, again.start) == (cat.video, cat.start)
    assert again.score == pytest.approx(cat.score, rel=1e-5)  # vectors re-laid out: float noise
    assert [(m.query, m.segment_id, m.relevant) for m in copy.marks()] == marks
    assert copy.stats()["segments"] == library.stats()["segments"]

    with pytest.raises(SceneseekError, match="not empty"):
        import_snapshot(archive, restored)
    damaged = tmp_path / "damaged.tar.gz"
    data = bytearray(archive.read_bytes())
    data[len(data) // 2] ^= 0xFF
    damaged.write_bytes(bytes(data))
    with pytest.raises(SceneseekError, match="damaged|not a readable"):
        import_snapshot(damaged, tmp_path / "d")
    old_format = tmp_path / "old.tar.gz"
    with tarfile.open(old_format, "w:gz") as tar:
        manifest = json.dumps({**snapshot.manifest, "format": 6}).encode()
        info = tarfile.TarInfo("manifest.json")
        info.size = len(manifest)
        tar.addfile(info, io.BytesIO(manifest))
    with pytest.raises(SceneseekError, match="format 6"):
        import_snapshot(old_format, tmp_path / "o")
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())
