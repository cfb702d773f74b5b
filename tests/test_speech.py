"""Speech encoders on real espeak-ng speech with the real Whisper models: the multilingual
base model must detect Spanish, get its words and place them in time; tiny.en must keep
working for English."""

from __future__ import annotations

import subprocess
import unicodedata
from pathlib import Path

import numpy as np
import pytest

from sceneseek.encoders import speech_encoders
from sceneseek.encoders.base import SpeechEncoder
from sceneseek.encoders.speech_whisper import WhisperBase
from sceneseek.eval.assets import espeak

pytestmark = pytest.mark.slow

RATE = 16_000
LEAD_IN = 2.0  # seconds of silence before the speech


def _spoken(text: str, lang: str, tmp: Path) -> np.ndarray:
    """espeak-ng speech after LEAD_IN seconds of silence, as 16 kHz mono float32."""
    wav = espeak(text, lang, tmp / f"{lang}.wav")
    cmd = ["ffmpeg", "-nostdin", "-v", "error", "-i", str(wav)]
    cmd += ["-ac", "1", "-ar", str(RATE), "-f", "f32le", "-"]
    raw = subprocess.run(cmd, capture_output=True, check=True).stdout
    return np.concatenate([np.zeros(int(LEAD_IN * RATE), np.float32), np.frombuffer(raw, "<f4")])


def _words(text: str) -> list[str]:
    """Lowercase words without accents, so "envio" still counts as "envío"."""
    plain = unicodedata.normalize("NFKD", text.lower()).encode("ascii", "ignore").decode()
    return "".join(c if c.isalnum() else " " for c in plain).split()


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cache")


def test_whisper_base_detects_and_transcribes_spanish(cache_dir: Path, tmp_path: Path) -> None:
    encoder = speech_encoders.create("whisper-base", threads=2, cache_dir=cache_dir)
    assert isinstance(encoder, WhisperBase)
    assert not (cache_dir / "models").exists()  # joined lazily, on first transcribe
    audio = _spoken("la mujer dice que el envío llega tarde", "es", tmp_path)

    transcript = encoder.transcribe(audio)

    assert transcript.language == "es"
    words = _words(" ".join(u.text for u in transcript.utterances))
    assert {"envio", "tarde"} <= set(words), transcript
    assert transcript.utterances[0].start == pytest.approx(LEAD_IN, abs=1.0)
    model = encoder.model_dir() / "model.bin"
    assert model.stat().st_size == 145_217_607  # both parts, as listed in their RECORDs
    assert [p.name for p in model.parent.parent.iterdir()] == [model.parent.name]  # no temp
    version = encoder.info.version
    assert "faster-whisper-" in version and version.endswith("+model-1.0.0+1.0.0")


def test_whisper_base_says_nothing_for_silence(cache_dir: Path) -> None:
    encoder: SpeechEncoder = speech_encoders.create("whisper-base", threads=2, cache_dir=cache_dir)
    transcript = encoder.transcribe(np.zeros(3 * RATE, np.float32))
    assert transcript.utterances == []
    assert transcript.language == "und"


def test_whisper_tiny_en_still_transcribes_english(cache_dir: Path, tmp_path: Path) -> None:
    encoder = speech_encoders.create("whisper-tiny.en", threads=2, cache_dir=cache_dir)
    audio = _spoken("the delivery truck arrived late at the warehouse", "en", tmp_path)

    transcript = encoder.transcribe(audio)

    assert transcript.language == "en"
    assert {"delivery", "truck", "warehouse"} <= set(_words(transcript.utterances[0].text))
    assert transcript.utterances[0].start == pytest.approx(LEAD_IN, abs=1.0)
