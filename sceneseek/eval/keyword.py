"""The legacy keyword baseline: BM25 over filenames and metadata only.

This reproduces the search users have today, so the evaluation can report how much semantic
search gains over it. It never looks at pixels, speech or sound: each segment's document is
its video's filename tokens plus the camera and zone labels. All segments of a video therefore
score the same, and ties fall back to video order then segment start, as a legacy tool that
returns a file (which the user then scrubs from the beginning) would.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import PurePath

from sceneseek.eval.metrics import Interval

BM25_K1 = 1.2
BM25_B = 0.75

_TOKEN = re.compile(r"[^\W_]+")  # letters and digits of any script; "_" and "-" split tokens


def tokenize(text: str) -> list[str]:
    """Lowercase, accent-free word tokens, so "Cámara" matches "camara" in any language."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _TOKEN.findall(stripped)


@dataclass(frozen=True)
class SegmentMeta:
    """What the legacy tool knows about a segment: where it is and the video's labels."""

    video: str
    start: float
    end: float
    camera: str | None
    zone: str | None


class KeywordBaseline:
    """Okapi BM25 (k1=1.2, b=0.75) with one document per segment."""

    def __init__(self, segments: Iterable[SegmentMeta]) -> None:
        self._segments = list(segments)
        video_order: dict[str, int] = {}
        for seg in self._segments:
            video_order.setdefault(seg.video, len(video_order))
        self._video_order = video_order
        self._docs = [Counter(self._document(seg)) for seg in self._segments]
        self._lengths = [sum(doc.values()) for doc in self._docs]
        self._avg_length = sum(self._lengths) / len(self._docs) if self._docs else 0.0
        doc_freq: Counter[str] = Counter()
        for doc in self._docs:
            doc_freq.update(doc.keys())
        n = len(self._docs)
        # Lucene's non-negative idf: a term present in most documents still scores >= 0.
        self._idf = {t: math.log(1.0 + (n - df + 0.5) / (df + 0.5)) for t, df in doc_freq.items()}

    @staticmethod
    def _document(seg: SegmentMeta) -> list[str]:
        parts = [PurePath(seg.video).stem, seg.camera or "", seg.zone or ""]
        return [token for part in parts for token in tokenize(part)]

    def _score(self, index: int, query_terms: list[str]) -> float:
        doc = self._docs[index]
        norm = BM25_K1 * (1.0 - BM25_B + BM25_B * self._lengths[index] / self._avg_length)
        score = 0.0
        for term in query_terms:
            tf = doc.get(term, 0)
            if tf:
                score += self._idf[term] * tf * (BM25_K1 + 1.0) / (tf + norm)
        return score

    def search(
        self, query: str, top_k: int, camera: str | None = None, zone: str | None = None
    ) -> list[Interval]:
        """Segments matching at least one query term, best first; ``camera`` and ``zone``
        keep only segments with exactly that label. No keyword match means no result, as
        with the legacy tool."""
        terms = tokenize(query)
        scored: list[tuple[float, int, float, int]] = []
        for i, seg in enumerate(self._segments):
            if camera is not None and seg.camera != camera:
                continue
            if zone is not None and seg.zone != zone:
                continue
            score = self._score(i, terms)
            if score > 0.0:
                scored.append((-score, self._video_order[seg.video], seg.start, i))
        scored.sort()
        hits = (self._segments[i] for *_, i in scored[:top_k])
        return [Interval(seg.video, seg.start, seg.end) for seg in hits]
