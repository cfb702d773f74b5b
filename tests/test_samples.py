"""The sample set's ground truth must agree with what ffprobe/ffmpeg find in the real files."""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

import pytest

from sceneseek.eval.compose import probe_duration, stream_types
from sceneseek.eval.samples import PHRASE, SampleSet, build_sample_media


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> SampleSet:
    return build_sample_media(tmp_path_factory.mktemp("samples"))


def _max_volume(path: Path, start: float, seconds: float) -> float:
    """Peak level in dB of a stretch of the file's audio."""
    cmd = ["ffmpeg", "-nostdin", "-ss", str(start), "-t", str(seconds), "-i", str(path)]
    cmd += ["-af", "volumedetect", "-vn", "-f", "null", "-"]
    log = subprocess.run(cmd, capture_output=True, text=True, check=True).stderr
    match = re.search(r"max_volume: (-?[\d.]+|-inf) dB", log)
    assert match, log[-500:]
    return float(match.group(1))


def test_visual_timeline_matches_probed_duration(samples: SampleSet) -> None:
    for name in ("photos.mp4", "speech.mp4", "silent.mp4"):
        visuals = [p for p in samples.truth[name] if p.kind in ("photo", "clip", "card")]
        assert visuals[0].start == 0.0
        for before, after in zip(visuals, visuals[1:], strict=False):
            assert after.start == pytest.approx(before.end)
        assert probe_duration(samples.root / name) == pytest.approx(visuals[-1].end, abs=0.1)


def test_photo_intervals(samples: SampleSet) -> None:
    for label in ("cat", "coffee", "rocket"):
        photo = samples.find("photos.mp4", label)
        assert photo.kind == "photo"
        assert photo.end - photo.start == pytest.approx(8.0)


def test_speech_ground_truth_comes_from_probed_audio(samples: SampleSet) -> None:
    phrase = samples.find("speech.mp4", "phrase")
    assert phrase.text == PHRASE
    assert phrase.start == 9.0
    prompt = samples.find("speech.mp4", "tt-weasels")
    assert prompt.text == "Weasels have eaten our phone system"
    for item in (phrase, prompt):
        assert item.end - item.start == pytest.approx(probe_duration(item.source), abs=1e-3)
    speech = samples.speech
    assert _max_volume(speech, phrase.start + 0.3, 1.5) > -30
    assert _max_volume(speech, 1.0, phrase.start - 2.0) < -60  # silence before the phrase


def test_stream_layout_and_broken_files(samples: SampleSet) -> None:
    assert stream_types(samples.photos) == ["video", "audio"]
    assert stream_types(samples.speech) == ["video", "audio"]
    assert stream_types(samples.silent) == ["video"]
    assert samples.empty.stat().st_size == 0
    assert 0 < samples.corrupt.stat().st_size < samples.photos.stat().st_size


def test_rebuild_is_skipped_when_spec_unchanged(samples: SampleSet) -> None:
    mtime = samples.photos.stat().st_mtime_ns
    started = time.monotonic()
    again = build_sample_media(samples.root)
    assert time.monotonic() - started < 2.0
    assert again.truth == samples.truth
    assert samples.photos.stat().st_mtime_ns == mtime
