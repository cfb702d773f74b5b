"""Learning the fusion from operators' marks (``sceneseek learn``).

A fusion is the per-modality weights of the standardised-score sum (``fusion.weighted``).
A candidate is fitted on the marks with a pairwise logistic loss (within each query, a
relevant segment should outscore a marked-irrelevant one), regularised toward the weights
in use, and kept non-negative so a modality can be switched off but never counted against.
It is adopted only if it ranks the marked segments of held-out queries better than the
current fusion: cross-validation folds are grouped by query, so no query's labels are
both trained on and scored.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sceneseek.config import SearchConfig

# What a text query's fusion weighs: one standardised score per modality, BM25 and the
# whole-segment vector ("image" only serves searches by example, which have no labels).
FEATURES = ("visual", "speech", "ocr", "sound", "people", "attributes", "keyword", "fused")
FOLDS = 5
MIN_GAIN = 0.005  # held-out AP a candidate must add before it replaces the current fusion
L2 = 0.05  # pull toward the current weights: few labels must not swing them far
STEPS = 400
LEARNING_RATE = 0.1


@dataclass(frozen=True)
class Labelled:
    """One mark as training data: its query, the operator's verdict, the evidence."""

    query: str
    relevant: bool
    scores: Mapping[str, float]


@dataclass
class LearnReport:
    current: str  # version of the fusion in use
    candidate: dict[str, float]  # weights fitted on every mark
    current_ap: float  # mean held-out AP over folds, current fusion
    candidate_ap: float  # the same, candidates trained without the held-out queries
    folds: int
    marks: int
    queries: int  # queries with both a relevant and an irrelevant mark (the usable ones)
    adopted: bool = False
    version: str | None = None  # set when recorded in the index
    reason: str = ""
    per_fold: list[dict[str, float]] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """What the index records with the fusion: training data and CV scores."""
        return {
            "trained_on": {"marks": self.marks, "queries": self.queries},
            "replacing": self.current,
            "cv": {
                "folds": self.folds,
                "current_ap": round(self.current_ap, 4),
                "candidate_ap": round(self.candidate_ap, 4),
                "per_fold": self.per_fold,
            },
            "reason": self.reason,
        }


def config_version(search: SearchConfig) -> str:
    """A stable id for the configured fusion, so marks say which ranking they judged."""
    spec = json.dumps({"fusion": search.fusion, "weights": search.weights}, sort_keys=True)
    return f"config-{hashlib.sha256(spec.encode()).hexdigest()[:8]}"


def features(scores: Mapping[str, float]) -> np.ndarray:
    """The inputs of ``fusion.weighted``: only positive evidence counts."""
    return np.array([max(float(scores.get(m, 0.0)), 0.0) for m in FEATURES])


def fused_score(weights: Mapping[str, float], scores: Mapping[str, float]) -> float:
    """The segment score search would give with these weights."""
    return float(features(scores) @ _vector(weights))


def _vector(weights: Mapping[str, float]) -> np.ndarray:
    return np.array([float(weights.get(m, 0.0)) for m in FEATURES])


def _groups(labels: Sequence[Labelled]) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per query with both verdicts: (features, relevance). A query whose marks all agree
    says nothing about ranking, whatever the weights."""
    by_query: dict[str, list[Labelled]] = {}
    for label in labels:
        by_query.setdefault(label.query, []).append(label)
    groups = []
    for items in by_query.values():
        relevance = np.array([x.relevant for x in items])
        if relevance.any() and not relevance.all():
            groups.append((np.stack([features(x.scores) for x in items]), relevance))
    return groups


def average_precision(scores: np.ndarray, relevance: np.ndarray) -> float:
    """AP of the relevant marks when a query's marked segments are ranked by score (ties
    broken against the relevant ones, so a constant ranking earns nothing)."""
    order = np.lexsort((relevance, -scores))
    hits = relevance[order]
    precision = np.cumsum(hits) / np.arange(1, len(hits) + 1)
    return float((precision * hits).sum() / hits.sum())


def held_out_ap(weights: np.ndarray, groups: Sequence[tuple[np.ndarray, np.ndarray]]) -> float:
    return float(np.mean([average_precision(x @ weights, y) for x, y in groups]))


def fit(groups: Sequence[tuple[np.ndarray, np.ndarray]], prior: np.ndarray) -> np.ndarray:
    """Pairwise logistic regression, L2 toward ``prior``, projected onto w ≥ 0, rescaled to
    the prior's total so scores (and alert thresholds) keep their scale."""
    pairs = np.concatenate(
        [(x[y][:, None, :] - x[~y][None, :, :]).reshape(-1, x.shape[1]) for x, y in groups]
    )
    weights = prior.copy()
    for _ in range(STEPS):
        margin = np.clip(pairs @ weights, -30, 30)
        grad = -(pairs * (1 / (1 + np.exp(margin)))[:, None]).mean(axis=0)
        grad += L2 * (weights - prior)
        weights = np.maximum(weights - LEARNING_RATE * grad, 0.0)
    total = weights.sum()
    return weights * (prior.sum() / total) if total > 0 else prior.copy()


def learn(
    labels: Sequence[Labelled], current: Mapping[str, float], current_version: str
) -> LearnReport:
    """Fit a candidate on every label and cross-validate it against ``current``; the
    report says whether it should be adopted (the caller records it)."""
    groups = _groups(labels)
    prior = _vector(current)
    report = LearnReport(
        current=current_version,
        candidate=dict(current),
        current_ap=0.0,
        candidate_ap=0.0,
        folds=0,
        marks=len(labels),
        queries=len(groups),
    )
    if len(groups) < 2:
        report.reason = (
            f"not enough labels: {len(groups)} queries have both a relevant and an "
            "irrelevant mark; at least 2 are needed"
        )
        return report
    folds = min(FOLDS, len(groups))
    assignment = np.arange(len(groups)) % folds
    for fold in range(folds):
        train = [g for g, f in zip(groups, assignment, strict=True) if f != fold]
        test = [g for g, f in zip(groups, assignment, strict=True) if f == fold]
        candidate = fit(train, prior)
        report.per_fold.append(
            {
                "queries": len(test),
                "current_ap": round(held_out_ap(prior, test), 4),
                "candidate_ap": round(held_out_ap(candidate, test), 4),
            }
        )
    weights = np.array([f["queries"] for f in report.per_fold])
    report.folds = folds
    report.current_ap = float(
        np.average([f["current_ap"] for f in report.per_fold], weights=weights)
    )
    report.candidate_ap = float(
        np.average([f["candidate_ap"] for f in report.per_fold], weights=weights)
    )
    fitted = fit(groups, prior)
    # Unrounded: rounding each weight would move their total off the prior's (by up to
    # 7 × 0.00005), and the total is what keeps scores and alert thresholds in scale.
    report.candidate = {**current, **{m: float(w) for m, w in zip(FEATURES, fitted, strict=True)}}
    report.adopted = report.candidate_ap >= report.current_ap + MIN_GAIN
    gain = report.candidate_ap - report.current_ap
    report.reason = (
        f"held-out AP {report.candidate_ap:.3f} vs {report.current_ap:.3f} ({gain:+.3f}); "
        + ("adopted" if report.adopted else f"kept the current fusion (needs +{MIN_GAIN})")
    )
    return report


def calibrate(scores: np.ndarray, relevance: np.ndarray, fallback: float) -> tuple[float, float]:
    """Logistic p(relevant | fused score) = σ(a·score + b), fitted on marked segments; with
    only one verdict among them, a boundary at ``fallback`` (the alert threshold default)."""
    if relevance.all() or not relevance.any():
        return 1.0, -fallback
    a, b = 1.0, -fallback
    for _ in range(STEPS):
        p = 1 / (1 + np.exp(-np.clip(a * scores + b, -30, 30)))
        error = p - relevance
        a -= LEARNING_RATE * (float((error * scores).mean()) + 0.01 * (a - 1.0))
        b -= LEARNING_RATE * float(error.mean())
    return a, b
