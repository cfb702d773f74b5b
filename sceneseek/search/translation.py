"""A query's language and its English translation, searched beside the query as typed."""

from __future__ import annotations

from sceneseek.ingest import Encoders
from sceneseek.language.translate import ENGLISH, TranslationError
from sceneseek.search.engine import QueryTranslation


def query_translation(query: str, encoders: Encoders) -> QueryTranslation | None:
    """The query's language and English translation; None for English, for a
    translation that changes nothing (a name, a word both languages share), and when
    ``language.translate_queries`` is off."""
    if not encoders.config.language.translate_queries:
        return None
    try:
        reading = encoders.language.read([" ".join(query.split())])[0]
    except TranslationError as exc:  # search as typed rather than fail
        return QueryTranslation("und", None, f"no translation: {exc}")
    if reading.language == ENGLISH:
        return None
    if reading.english is None:
        note = f"no offline translation for {reading.language}; searched as typed"
        return QueryTranslation(reading.language, None, note)
    if reading.english.casefold() == query.casefold():
        return None
    return QueryTranslation(reading.language, reading.english)
