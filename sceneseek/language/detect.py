"""Which language a short text is in, offline, and its English reading.

Two signals, because each alone misreads short queries (bench/language_detection.py):
py3langid (a byte n-gram naive Bayes model shipped in its wheel) ranks the configured
languages; then Apertium's dictionaries judge the best few: the language whose analyser
knows the largest share of the words wins; ties go to the preferred languages (English,
Spanish), then langid's order. "a pet cat"
looks Catalan to the n-grams, but English knows all three words and Catalan not "cat";
"una jirafa" looks Icelandic, but only Spanish knows both words. A language without an
installed Apertium pair wins only when no readable language knows half of the words.
Apertium's English analyser must be installed (``english_mode``)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from py3langid.langid import MODEL_FILE, LanguageIdentifier

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
def _identifier(languages: tuple[str, ...]) -> LanguageIdentifier:
    identifier = LanguageIdentifier.from_model_file(MODEL_FILE)
    identifier.set_languages(list(languages))
    return identifier


class LanguageDetector:
    """Chooses among ``languages``; the ``preferred`` ones are judged for every text and
    win ties, in order (Galician's dictionary knows most Spanish query words)."""

    def __init__(self, languages: list[str], translator: Translator, preferred: list[str]) -> None:
        self.preferred = list(dict.fromkeys([ENGLISH, *preferred]))
        self.languages = tuple(sorted({*self.preferred, *languages}))
        self.translator = translator

    def read(self, texts: list[str]) -> list[Reading]:
        """Language and English translation of each text (one Apertium process per
        language in play, for all texts at once)."""
        if not texts:
            return []
        identifier = _identifier(self.languages)
        ranked = [[lang for lang, _ in identifier.rank(t)][:CANDIDATES] for t in texts]
        jobs: dict[str, list[str]] = {}
        for text, candidates in zip(texts, ranked, strict=True):
            for language in {*self.preferred, *candidates}:
                jobs.setdefault(language, []).append(text)
        rendered = self.translator.render(jobs)
        readings = []
        for text, candidates in zip(texts, ranked, strict=True):
            order = list(dict.fromkeys([*self.preferred, *candidates]))
            judged = [c for c in order if (c, text) in rendered]
            best = min(
                judged,
                key=lambda c: (rendered[(c, text)].unknown, order.index(c)),
                default=candidates[0],
            )
            rendering = rendered.get((best, text))
            if candidates[0] not in judged and (rendering is None or rendering.unknown > FOREIGN):
                best, rendering = candidates[0], None  # the n-grams' choice: not readable
            english = rendering.text if rendering and best != ENGLISH else None
            readings.append(Reading(best, english))
        return readings


def configured(config: LanguageConfig) -> LanguageDetector:
    """The detector and translator ``config`` describes."""
    translator = Translator(config.pairs, config.english_mode)
    return LanguageDetector([*config.pairs, *config.detect], translator, config.preferred)
