"""Which language a short text is in, offline, and its English reading.

Two signals, because each alone misreads short queries (bench/language_detection.py):
py3langid (a byte n-gram naive Bayes model shipped in its wheel) ranks the configured
languages; unless it ranks English first, Apertium's dictionaries then judge its best
few: the language whose analyser knows the largest share of the words wins, ties going
to the preferred languages (English, Spanish), then to langid's order. "a pet cat" looks
Catalan to the n-grams, but English knows all three words and Catalan not "cat"; "una
jirafa" looks Icelandic, but only Spanish knows both words. A language without an
installed pair wins unless a readable language knows most of the words.

langid's English was right on every labelled query, so English queries start no
Apertium process; the others start a few in parallel (about 0.2 s on an idle machine,
once: readings are cached). Apertium's English analyser (``english_mode``) must be
installed."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from py3langid.langid import MODEL_FILE, LanguageIdentifier

from sceneseek.config import LanguageConfig
from sceneseek.language.translate import ENGLISH, Rendering, Translator

CANDIDATES = 3  # langid's best languages that Apertium then judges
FOREIGN = 0.5  # a text with more than this share of unknown words is not in that language


@dataclass(frozen=True)
class Reading:
    """A text's language, and its English translation when it is not English."""

    language: str
    english: str | None = None  # None: English, or no installed pair for the language


@lru_cache(maxsize=4)
def ngram_identifier(languages: tuple[str, ...]) -> LanguageIdentifier:
    """py3langid's model (shipped in its wheel), choosing among ``languages`` only."""
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
        identifier = ngram_identifier(self.languages)
        ranked = [[lang for lang, _ in identifier.rank(t)][:CANDIDATES] for t in texts]
        jobs: dict[str, list[str]] = {}
        for text, candidates in zip(texts, ranked, strict=True):
            if candidates[0] == ENGLISH:
                continue  # langid's English is not wrong on the labelled queries: no judge
            for language in {*self.preferred, *candidates}:
                jobs.setdefault(language, []).append(text)
        rendered = self.translator.render(jobs)
        readings = []
        for text, candidates in zip(texts, ranked, strict=True):
            if candidates[0] == ENGLISH:
                readings.append(Reading(ENGLISH))
                continue
            order = list(dict.fromkeys([*self.preferred, *candidates]))
            judged = [c for c in order if (c, text) in rendered]
            best = min(
                judged,
                key=lambda c: (rendered[(c, text)].unknown, order.index(c)),
                default=candidates[0],
            )
            rendering = rendered.get((best, text))
            if candidates[0] not in judged and not _knows_most(best, rendering):
                best, rendering = candidates[0], None  # the n-grams' choice: not readable
            english = rendering.text if rendering and best != ENGLISH else None
            readings.append(Reading(best, english))
        return readings


def _knows_most(language: str, rendering: Rendering | None) -> bool:
    """Whether ``language``'s analyser knew most of the words (English, the language
    of the labels and the default, also keeps an even split)."""
    if rendering is None:
        return False
    return rendering.unknown < FOREIGN or (language == ENGLISH and rendering.unknown == FOREIGN)


def configured(config: LanguageConfig) -> LanguageDetector:
    """The detector and translator ``config`` describes."""
    translator = Translator(config.pairs, config.english_mode)
    return LanguageDetector([*config.pairs, *config.detect], translator, config.preferred)
