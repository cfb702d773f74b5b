"""Answering a query: embed it, gather candidates per modality (inside the filter),
fuse, merge into moments, and explain each moment per modality."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sceneseek.config import SearchConfig
from sceneseek.errors import QueryError
from sceneseek.index.base import Index, SegmentFilter, StoredSegment, transcript_text
from sceneseek.ingest import Encoders
from sceneseek.search import fusion
from sceneseek.search.moments import Moment, merge

MAX_QUERY_CHARS = 1000
VECTOR_MODALITIES = ("visual", "speech")
MIN_REFERENCE = 500


@dataclass
class SearchResponse:
    query: str
    took_ms: float
    results: list[Moment] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "query": self.query,
            "took_ms": round(self.took_ms, 2),
            "results": [m.to_dict() for m in self.results],
        }


class Searcher:
    def __init__(self, index: Index, encoders: Encoders, config: SearchConfig) -> None:
        self.index = index
        self.encoders = encoders
        self.config = config

    def search(self, query: str, top_k: int, where: SegmentFilter) -> SearchResponse:
        started = time.perf_counter()
        text = _validate(query)
        if top_k < 1:
            raise QueryError(f"top-k must be at least 1, got {top_k}")
        query_vectors = {
            "speech": self.encoders.text.embed_queries([text])[0],
            "visual": self.encoders.visual.embed_queries([text])[0],
        }
        ranked = {
            m: self.index.knn(m, query_vectors[m], self.config.candidates, where)
            for m in VECTOR_MODALITIES
        }
        ranked["keyword"] = self.index.keyword(text, self.config.candidates, where)
        contributions = self._fuse(ranked, query_vectors)
        scored = sorted(
            ((i, sum(c.values()), c) for i, c in contributions.items()),
            key=lambda item: item[1],
            reverse=True,
        )[: top_k * 8]
        stored = self.index.segments([i for i, _, _ in scored])
        moments = merge(
            [(stored[i], score, c) for i, score, c in scored if i in stored],
            gap=self.config.merge_gap_seconds,
            max_seconds=self.config.max_moment_seconds,
        )[:top_k]
        for moment in moments:
            _explain(moment, ranked)
        took = (time.perf_counter() - started) * 1000
        return SearchResponse(query=query, took_ms=took, results=moments)

    def _fuse(
        self, ranked: dict[str, list[tuple[int, float]]], query_vectors: dict[str, np.ndarray]
    ) -> dict[int, dict[str, float]]:
        weights = self.config.weights
        if self.config.fusion == "rrf":
            return fusion.reciprocal_rank(ranked, weights)
        evidence = {
            m: fusion.standardise(ranked[m], self._reference(m) @ query_vectors[m])
            for m in VECTOR_MODALITIES
            if ranked[m]
        }
        evidence["keyword"] = fusion.keyword_evidence(ranked["keyword"])
        return fusion.weighted(evidence, weights)

    def _reference(self, modality: str) -> np.ndarray:
        """Stored vectors, topped up with the background vocabulary while the library is
        too small for its own score distribution to be a stable reference."""
        stored = self.index.reference_vectors(modality)
        background = self.encoders.background
        if len(stored) >= MIN_REFERENCE or background.shape[1] != stored.shape[1]:
            return stored
        return np.vstack([stored, background])


def _validate(query: str) -> str:
    text = " ".join(query.split())
    if not text:
        raise QueryError("the query is empty")
    if len(text) > MAX_QUERY_CHARS:
        raise QueryError(
            f"the query is {len(text)} characters long; the limit is {MAX_QUERY_CHARS}"
        )
    return text


def _explain(moment: Moment, ranked: dict[str, list[tuple[int, float]]]) -> None:
    """Per-modality evidence from the moment's best segment, and tight bounds when the
    match is speech: the moment then spans the matching utterances, not whole segments."""
    best: StoredSegment = moment.segments[0]
    raw = {m: dict(scores) for m, scores in ranked.items()}
    evidence: dict[str, Any] = {}
    for modality, contribution in sorted(moment.contributions.items(), key=lambda x: -x[1]):
        entry: dict[str, Any] = {"contribution": round(contribution, 3)}
        if modality in raw and best.id in raw[modality]:
            key = "bm25" if modality == "keyword" else "similarity"
            entry[key] = round(raw[modality][best.id], 4)
        if modality == "visual":
            entry["labels"] = [[name, round(p, 3)] for name, p in best.labels[:3]]
        elif modality in ("speech", "keyword") and best.utterances:
            entry["text"] = transcript_text(best.utterances)
        if modality == "keyword" and best.labels:
            entry["labels"] = [name for name, _ in best.labels[:3]]
        evidence[modality] = entry
    moment.evidence = evidence
    if (
        moment.contributions
        and max(moment.contributions, key=moment.contributions.__getitem__) == "speech"
    ):
        spans = [u for s in moment.segments for u in s.utterances]
        moment.start = max(moment.start, min(u.start for u in spans))
        moment.end = min(moment.end, max(u.end for u in spans))
