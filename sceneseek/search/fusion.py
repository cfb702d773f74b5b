"""Turning per-modality candidate lists into one score per segment.

Raw cosine similarities are not comparable across modalities (e5 puts every pair of
texts between ~0.7 and ~0.9), so "weighted" fusion first standardises each modality's
scores against that modality's own score distribution for this query, estimated on a
reference sample of stored vectors. A modality with nothing relevant then contributes
nothing, instead of pushing its least-bad segment up. "rrf" (reciprocal-rank fusion)
is kept for comparison on the benchmark.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

RRF_K = 60.0
KEYWORD_SCALE = 4.0  # BM25 score at which keyword evidence counts like one std of a vector


def standardise(scores: list[tuple[int, float]], reference: np.ndarray) -> dict[int, float]:
    """z-scores of candidate similarities against the reference similarities."""
    if not scores:
        return {}
    if reference.size < 2:
        return dict(scores)
    mean, std = float(reference.mean()), float(reference.std()) or 1.0
    return {i: (s - mean) / std for i, s in scores}


def weighted(
    standardised: Mapping[str, dict[int, float]], weights: Mapping[str, float]
) -> dict[int, dict[str, float]]:
    """Per segment, each modality's positive contribution (weight × evidence)."""
    contributions: dict[int, dict[str, float]] = {}
    for modality, scores in standardised.items():
        w = weights.get(modality, 0.0)
        for segment_id, z in scores.items():
            if z > 0 and w > 0:
                contributions.setdefault(segment_id, {})[modality] = w * z
    return contributions


def reciprocal_rank(
    ranked: Mapping[str, list[tuple[int, float]]], weights: Mapping[str, float]
) -> dict[int, dict[str, float]]:
    contributions: dict[int, dict[str, float]] = {}
    for modality, scores in ranked.items():
        w = weights.get(modality, 0.0)
        for rank, (segment_id, _) in enumerate(scores):
            if w > 0:
                contributions.setdefault(segment_id, {})[modality] = w / (RRF_K + rank + 1)
    return contributions


def keyword_evidence(scores: list[tuple[int, float]]) -> dict[int, float]:
    """BM25 on a comparable scale: saturating, so one rare word does not dominate."""
    return {i: KEYWORD_SCALE * s / (s + KEYWORD_SCALE) for i, s in scores}
