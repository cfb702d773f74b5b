"""Speech encoders on real espeak-ng speech with the real Whisper models: the multilingual
base model must detect the language of each speech island (a Spanish sentence between two
English ones), get its words and place them in time; tiny.en must keep working for
English."""

from __future__ import annotations

import subprocess
import unicodedata
from pathlib import Path

import numpy as np
import pytest

from sceneseek.encoders import speech_encoders
from sceneseek.encoders.base import SpeechEncoder
from sceneseek.encoders.speech_whisper import (
    LanguageGuess,
    WhisperBase,
    island_languages,
)
from sceneseek.errors import SceneseekError
from sceneseek.eval.assets import AssetCache, espeak

pytestmark = pytest.mark.slow

RATE = 16_000
LEAD_IN = 2.0  # seconds of silence before the speech
PAUSE = 1.5  # seconds of silence between the sentences of the mixed fixture
MIXED = [
    ("en", "the delivery truck arrived late at the warehouse"),
    ("es", "recuerda tirar de la cadena y lavarte las manos"),
    ("en", "the meeting starts at nine in the morning"),
]


def _pcm(path: Path) -> np.ndarray:
    """A sound file as 16 kHz mono float32."""
    cmd = ["ffmpeg", "-nostdin", "-v", "error", "-i", str(path)]
    cmd += ["-ac", "1", "-ar", str(RATE), "-f", "f32le", "-"]
    return np.frombuffer(subprocess.run(cmd, capture_output=True, check=True).stdout, "<f4")


def _voice(text: str, lang: str, wav: Path) -> np.ndarray:
    """espeak-ng speech as 16 kHz mono float32."""
    return _pcm(espeak(text, lang, wav))


def _spoken(text: str, lang: str, tmp: Path) -> np.ndarray:
    """espeak-ng speech after LEAD_IN seconds of silence."""
    voice = _voice(text, lang, tmp / f"{lang}.wav")
    return np.concatenate([np.zeros(int(LEAD_IN * RATE), np.float32), voice])


def _silence(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * RATE), np.float32)


def _words(text: str) -> list[str]:
    """Lowercase words without accents, so "envio" still counts as "envío"."""
    plain = unicodedata.normalize("NFKD", text.lower()).encode("ascii", "ignore").decode()
    return "".join(c if c.isalnum() else " " for c in plain).split()


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cache")


def test_whisper_base_detects_and_transcribes_spanish(cache_dir: Path) -> None:
    """A real Mexican Spanish voice (an Asterisk prompt with its published transcript)."""
    encoder = speech_encoders.create("whisper-base", threads=2, cache_dir=cache_dir)
    assert isinstance(encoder, WhisperBase)
    assert not (cache_dir / "models").exists()  # joined lazily, on first transcribe
    prompt = AssetCache().asterisk_prompts(["followme/sorry"], "es")["followme/sorry"]
    assert "no logre encontrar a la persona" in (prompt.description or "")
    audio = np.concatenate([_silence(LEAD_IN), _pcm(prompt.path)])

    transcript = encoder.transcribe(audio)

    assert transcript.language == "es"
    words = _words(" ".join(u.text for u in transcript.utterances))
    assert {"siento", "encontrar", "persona"} <= set(words), transcript
    assert transcript.utterances[0].start == pytest.approx(LEAD_IN, abs=1.0)
    model = encoder.model_dir() / "model.bin"
    assert model.stat().st_size == 145_217_607  # both parts, as listed in their RECORDs
    assert [p.name for p in model.parent.parent.iterdir()] == [model.parent.name]  # no temp
    version = encoder.info.version
    assert version.startswith("islands-1+faster-whisper-")
    assert version.endswith("+model-1.0.0+1.0.0")


def test_whisper_base_gives_each_island_its_own_language_and_times(
    cache_dir: Path, tmp_path: Path
) -> None:
    """English, a pause, Spanish, a pause, English again: before, the file's one detected
    language (English) turned the Spanish sentence into English nonsense or dropped it."""
    encoder = speech_encoders.create("whisper-base", threads=2, cache_dir=cache_dir)
    pieces, islands, at = [_silence(LEAD_IN)], [], LEAD_IN
    for index, (lang, text) in enumerate(MIXED):
        voice = _voice(text, lang, tmp_path / f"{index}.wav")
        islands.append((lang, at, at + len(voice) / RATE))
        pieces += [voice, _silence(PAUSE)]
        at += len(voice) / RATE + PAUSE

    transcript = encoder.transcribe(np.concatenate(pieces))

    assert transcript.language == "en"  # spoken for the most seconds
    for lang, start, end in islands:
        said = [u for u in transcript.utterances if u.start < end and u.end > start]
        assert said and all(u.language == lang for u in said), (lang, transcript)
        # within its own island: no utterance spans a pause
        assert all(start - 0.3 <= u.start and u.end <= end + 0.3 for u in said), transcript
    spanish = _words(" ".join(u.text for u in transcript.utterances if u.language == "es"))
    assert {"lavarte", "manos"} <= set(spanish), transcript


def test_unsure_islands_lean_on_the_files_language_mix() -> None:
    """A short, unclear island takes, among its own candidates, the one the rest of the
    file speaks; a sure guess stands even against the mix."""
    guesses = [
        LanguageGuess(6.0, {"en": 0.9, "es": 0.05, "pt": 0.01}),
        LanguageGuess(4.0, {"es": 0.95, "en": 0.02, "pt": 0.02}),
        LanguageGuess(1.0, {"pt": 0.47, "es": 0.40, "en": 0.01}),  # es: heard elsewhere
        LanguageGuess(2.0, {"en": 0.42, "pt": 0.30, "es": 0.01}),  # en: its own best too
        LanguageGuess(0.5, {"it": 0.89, "es": 0.1, "en": 0.01}),  # sure: stands
    ]

    assert island_languages(guesses) == [
        ("en", 0.9),
        ("es", 0.95),
        ("es", 0.40),
        ("en", 0.42),
        ("it", 0.89),
    ]


def test_an_unsure_island_alone_keeps_its_best_guess() -> None:
    assert island_languages([LanguageGuess(0.6, {"es": 0.4, "en": 0.3})]) == [("es", 0.4)]
    assert island_languages([]) == []


def test_whisper_base_guesses_among_the_librarys_languages_only(
    cache_dir: Path, tmp_path: Path
) -> None:
    """espeak-ng's Spanish is heard as Italian (0.52) by the unrestricted guess; told that
    the library speaks English and Spanish, the island is Spanish and so are its words.
    The restriction changes transcripts, so it is part of the encoder's version."""
    encoder = speech_encoders.create(
        "whisper-base", threads=2, cache_dir=cache_dir, languages=["es", "en"]
    )
    assert encoder.info.version.endswith("+languages-en-es")
    audio = _spoken("la mujer dice que el envío llega tarde", "es", tmp_path)

    transcript = encoder.transcribe(audio)

    assert [u.language for u in transcript.utterances] == ["es"], transcript
    assert {"mujer", "dice"} <= set(_words(transcript.utterances[0].text)), transcript


def test_an_unknown_speech_language_is_refused_when_the_model_loads(
    cache_dir: Path, tmp_path: Path
) -> None:
    """Made for its version alone (a search), the encoder loads and checks nothing;
    the check comes before the model first hears speech."""
    encoder = speech_encoders.create("whisper-base", cache_dir=cache_dir, languages=["es", "xx"])
    assert encoder.info.version.endswith("+languages-es-xx")
    with pytest.raises(SceneseekError, match="Whisper knows no language 'xx'"):
        encoder.transcribe(_spoken("hola a todos", "es", tmp_path))


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
    assert [u.language for u in transcript.utterances] == ["en"]
    assert {"delivery", "truck", "warehouse"} <= set(_words(transcript.utterances[0].text))
    assert transcript.utterances[0].start == pytest.approx(LEAD_IN, abs=1.0)
