"""Which language a short text is in, offline, and its English reading.

Two signals, because each alone misreads short queries (bench/language_detection.py):
py3langid (a byte n-gram naive Bayes model shipped in its wheel) ranks the configured
languages; unless it ranks English first, Apertium's dictionaries then judge its best
few: the language whose analyser knows the largest share of the words wins, ties going
to the preferred languages (English, Spanish), then to langid's order. "a pet cat" looks
Catalan to the n-grams, but English knows all three words and Catalan not "cat"; "una
jirafa" looks Icelandic, but only Spanish knows both words. A language without an
installed pair wins unless a readable language knows most of the words.

langid's English was right on every labelled query, so English queries ask Apertium
nothing; the others ask a few analysers and one translation, each a process kept running
between queries (``translate.Resident``); answers are cached. Apertium's English analyser
(``english_mode``) must be installed."""

from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from py3langid.langid import MODEL_DIR, MODEL_FILE, LanguageIdentifier
from py3langid.modelio import _to_array

from sceneseek.config import LanguageConfig
from sceneseek.language.translate import ENGLISH, Translator

CANDIDATES = 3  # langid's best languages that Apertium then judges
FOREIGN = 0.5  # a text with more than this share of unknown words is not in that language


@dataclass(frozen=True)
class Reading:
    """A text's language, and its English translation when it is not English."""

    language: str
    english: str | None = None  # None: English, or no installed pair for the language


@lru_cache(maxsize=4)
def ngram_identifier(
    languages: tuple[str, ...], cache_dir: Path | None = None
) -> LanguageIdentifier:
    """py3langid's model (shipped in its wheel), choosing among ``languages`` only. The
    wheel's copy is LZMA-packed: unpacking it takes ~0.4 s, most of a cold `sceneseek
    search`; so the unpacked model, cut to ``languages``, is kept in ``cache_dir``, one
    ``.npy`` per array. Its 39 MB byte-transition table is memory-mapped, not read: a
    query walks a few dozen of its entries, and reading it all took a cold search ~50 ms."""
    if cache_dir is None:
        return _from_wheel(languages)
    model = (MODEL_DIR / MODEL_FILE).stat()
    key = "\n".join([*languages, str(model.st_size), str(model.st_mtime_ns)])
    folder = cache_dir / f"langid-{hashlib.sha256(key.encode()).hexdigest()[:16]}"
    try:
        return _unpacked(folder)
    except (OSError, ValueError):  # not cached yet (or damaged): unpack again
        pass
    identifier = _from_wheel(languages)
    partial = folder.with_name(f"{folder.name}.{os.getpid()}.partial")
    partial.mkdir(parents=True, exist_ok=True)
    arrays = {
        "ptc": identifier.nb_ptc,
        "pc": identifier.nb_pc,
        "classes": np.array(identifier.nb_classes),
        "nextmove": np.asarray(identifier.tk_nextmove),
        "nextmove_row": np.asarray(identifier.tk_row),
        "out_feat": np.asarray(identifier.tk_output, dtype=np.int32),
    }
    for name, values in arrays.items():
        np.save(partial / f"{name}.npy", values)
    shutil.rmtree(folder, ignore_errors=True)  # a damaged copy
    try:
        partial.rename(folder)
    except OSError:  # another process unpacked it first
        shutil.rmtree(partial, ignore_errors=True)
    return identifier


def _unpacked(folder: Path) -> LanguageIdentifier:
    def load(name: str) -> np.ndarray:
        return np.load(folder / f"{name}.npy", mmap_mode="r" if name == "nextmove" else None)

    return LanguageIdentifier(
        load("ptc"),
        load("pc"),
        load("classes").tolist(),
        memoryview(load("nextmove").data),  # indexed like the wheel's array.array
        memoryview(load("out_feat").data),  # and like its list
        tk_row=_to_array(load("nextmove_row")),
    )


def _from_wheel(languages: tuple[str, ...]) -> LanguageIdentifier:
    identifier = LanguageIdentifier.from_model_file(MODEL_FILE)
    identifier.set_languages(list(languages))
    return identifier


class LanguageDetector:
    """Chooses among ``languages``; the ``preferred`` ones are judged for every text and
    win ties, in order (Galician's dictionary knows most Spanish query words)."""

    def __init__(
        self,
        languages: list[str],
        translator: Translator,
        preferred: list[str],
        cache_dir: Path | None = None,
    ) -> None:
        self.preferred = list(dict.fromkeys([ENGLISH, *preferred]))
        self.languages = tuple(sorted({*self.preferred, *languages}))
        self.translator = translator
        self.cache_dir = cache_dir  # where the unpacked n-gram model is kept

    def read(self, texts: list[str]) -> list[Reading]:
        """Language and English translation of each text: one analyser process per
        language in play and one translation process per language found, for all the
        texts at once."""
        texts = [" ".join(t.split()) for t in texts]
        identifier = ngram_identifier(self.languages, self.cache_dir)
        ranked = [[lang for lang, _ in identifier.rank(t)][:CANDIDATES] for t in texts]
        jobs: dict[str, list[str]] = {}
        for text, candidates in zip(texts, ranked, strict=True):
            if candidates[0] == ENGLISH:
                continue  # langid's English was right on every labelled query: no judge
            for language in {*self.preferred, *candidates}:
                jobs.setdefault(language, []).append(text)
        unknown = self.translator.unknown(jobs)
        languages = []
        for text, candidates in zip(texts, ranked, strict=True):
            if candidates[0] == ENGLISH:
                languages.append(ENGLISH)
                continue
            order = list(dict.fromkeys([*self.preferred, *candidates]))
            judged = [c for c in order if (c, text) in unknown]
            best = min(
                judged, key=lambda c: (unknown[(c, text)], order.index(c)), default=candidates[0]
            )
            if candidates[0] not in judged and not _knows_most(best, unknown.get((best, text))):
                best = candidates[0]  # the n-grams' choice, which no dictionary reads
            languages.append(best)
        english: dict[tuple[str, str], str | None] = {}
        for language in set(languages) - {ENGLISH}:
            mine = [t for t, lang in zip(texts, languages, strict=True) if lang == language]
            translated = self.translator.to_english(mine, language)
            english.update(zip([(language, t) for t in mine], translated, strict=True))
        return [
            Reading(lang, english.get((lang, t))) for t, lang in zip(texts, languages, strict=True)
        ]


def _knows_most(language: str, unknown: float | None) -> bool:
    """Whether ``language``'s analyser knew most of the words (English, the language
    of the labels and the default, also keeps an even split)."""
    if unknown is None:
        return False
    return unknown < FOREIGN or (language == ENGLISH and unknown == FOREIGN)


def configured(config: LanguageConfig, cache_dir: Path | None = None) -> LanguageDetector:
    """The detector and translator ``config`` describes."""
    translator = Translator(
        config.pairs, config.english_mode, config.keep_apertium_running, config.one_shot_modes
    )
    languages = [*config.pairs, *config.detect]
    return LanguageDetector(languages, translator, config.preferred, cache_dir)
