"""Keyword search: how text is tokenised, what each segment's keyword row holds, and
BM25 over the catalogue's FTS5 table. Written once: the Milvus store's server-side
BM25 (``keyword = "milvus"``) tokenises queries with ``query_tokens`` too."""

from __future__ import annotations

import re
from collections.abc import Callable

from sceneseek.config import TEXT_MODALITIES
from sceneseek.encoders.base import Observation
from sceneseek.index.base import STOPWORDS, SegmentFilter, keyword_text, label_text

# The catalogue's FTS5 query: (match expression, k, filter) → (segment id, BM25 score).
MatchText = Callable[[str, int, SegmentFilter], list[tuple[int, float]]]

TEXT_FIELDS = (*TEXT_MODALITIES, "labels")
FTS_TOKEN = re.compile(r"\w+", re.UNICODE)


def text_row(
    observations: dict[str, list[Observation]], labels: list[tuple[str, float]]
) -> tuple[str, ...]:
    """A segment's keyword-search row, in ``TEXT_FIELDS`` order (``check`` rebuilds
    missing rows with it)."""
    # (a modality without observations costs nothing: bulk builds write millions of rows)
    texts = (keyword_text(observations[m]) if m in observations else "" for m in TEXT_MODALITIES)
    return (*texts, label_text(labels))


def query_tokens(text: str) -> list[str]:
    """The words of a query that say something, each once, in order."""
    return list(dict.fromkeys(t for t in FTS_TOKEN.findall(text.lower()) if t not in STOPWORDS))


def searched_fields(fields: tuple[str, ...]) -> list[str]:
    """The keyword fields among ``fields`` (others have no keyword row)."""
    return [f for f in fields if f in TEXT_FIELDS]


class CatalogueBM25:
    """BM25 over the catalogue's FTS5 table, filtered inside the same query."""

    def __init__(self, match_text: MatchText) -> None:
        self.match_text = match_text

    def search(
        self, text: str, k: int, where: SegmentFilter, fields: tuple[str, ...]
    ) -> list[tuple[int, float]]:
        tokens, columns = query_tokens(text), searched_fields(fields)
        if not tokens or not columns:
            return []
        terms = " OR ".join(f'"{t}"' for t in tokens)
        return self.match_text(f"{{{' '.join(columns)}}} : ({terms})", k, where)
