"""Marks as training data, beside the Library: which fusion ranks searches, fitting a new
one from the marks (``sceneseek learn``), and the results whose verdict would teach the
most (``sceneseek uncertain``). The fitting itself is ``sceneseek.search.learn``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import numpy as np

from sceneseek.config import SearchConfig
from sceneseek.search import learn as fit
from sceneseek.search.engine import Searcher
from sceneseek.search.query_parser import parse_query

if TYPE_CHECKING:
    from sceneseek.library import Library

UNCERTAIN_BOUNDARY = 2.0  # the alert threshold default: "worth a look" before any labels


@dataclass(frozen=True)
class Fusion:
    version: str
    search: SearchConfig  # the configured search knobs with this fusion's weights


@dataclass(frozen=True)
class Uncertain:
    """A result whose verdict would move the decision boundary the most."""

    query: str
    segment_id: int
    video: str
    start: float
    end: float
    score: float
    p_relevant: float


def active_fusion(library: Library) -> Fusion:
    """The newest fusion `learn` adopted in the index, unless the config pins its own
    weights (``search.use_learned = false``) or ranks by reciprocal rank."""
    search = library.config.search
    if search.use_learned and search.fusion == "weighted":
        adopted = [f for f in library.index_store.fusions() if f.adopted]
        if adopted:
            learned = adopted[-1]
            weights = {**search.weights, **learned.weights}
            return Fusion(learned.version, search.model_copy(update={"weights": weights}))
    return Fusion(fit.config_version(search), search)


def searched_text(library: Library, query: str) -> str:
    """The words search embeds once filters stated in the query are taken out."""
    cameras, zones = library.index_store.cameras_and_zones()
    return parse_query(query, cameras, zones, datetime.now().astimezone()).text


def modality_scores(
    library: Library, query: str, segment_ids: list[int]
) -> dict[int, dict[str, float]]:
    searcher = Searcher(
        library.index_store,
        library.encoders,
        library.config.search,
        list(library.config.modalities),
    )
    text = searched_text(library, query)
    translation = library.query_translation(text)
    return searcher.modality_scores(text, segment_ids, translation.text if translation else None)


def training_labels(library: Library) -> list[fit.Labelled]:
    """Every mark with its evidence: as stored when the encoders that scored it still
    built the index, else scored again (after a reindex, or for marks without scores).
    A segment marked twice for one query counts once, with the latest verdict."""
    current = library.index_store.encoder_versions()
    latest = {(m.query, m.segment_id): m for m in library.marks()}
    known = library.index_store.segments([segment for _, segment in latest])
    usable = {key: m for key, m in latest.items() if key[1] in known}  # video still indexed
    stale: dict[str, list[int]] = {}
    for (query, segment), mark in usable.items():
        if not mark.scores or mark.encoders != current:
            stale.setdefault(query, []).append(segment)
    rescored = {
        (query, segment): scores
        for query, segments in stale.items()
        for segment, scores in modality_scores(library, query, segments).items()
    }
    return [
        fit.Labelled(query, mark.relevant, rescored.get((query, segment), mark.scores))
        for (query, segment), mark in usable.items()
    ]


def learn(library: Library, dry_run: bool = False) -> fit.LearnReport:
    """Fit and cross-validate a fusion on the marks; record it (adopted only if it beats
    the current one on held-out queries) unless ``dry_run``."""
    current = active_fusion(library)
    report = fit.learn(training_labels(library), current.search.weights, current.version)
    if dry_run or report.queries < 2:
        return report
    version = f"learned-{len(library.index_store.fusions()) + 1}"
    library.index_store.add_fusion(version, report.candidate, report.summary(), report.adopted)
    report.version = version
    return report


def uncertain(library: Library, limit: int = 20, per_query: int = 20) -> list[Uncertain]:
    """For every stored query (marks' and alerts'), the unmarked results whose fused score
    sits nearest the decision boundary, the logistic fit of marks' verdicts on their
    fused scores under the fusion in use."""
    fusion = active_fusion(library)
    labels = training_labels(library)
    scores = np.array([fit.fused_score(fusion.search.weights, x.scores) for x in labels])
    relevance = np.array([x.relevant for x in labels], dtype=bool)
    a, b = fit.calibrate(scores, relevance, UNCERTAIN_BOUNDARY)
    marked = {(m.query, m.segment_id) for m in library.marks()}
    queries = dict.fromkeys(
        [m.query for m in library.marks()] + [alert.query for alert in library.alerts()]
    )
    found: list[Uncertain] = []
    for query in queries:
        for moment in library.search(query, top_k=per_query).results:
            segment = moment.segments[0]
            if (query, segment.id) in marked:
                continue
            p = 1 / (1 + np.exp(-np.clip(a * moment.score + b, -30, 30)))
            found.append(
                Uncertain(
                    query,
                    segment.id,
                    segment.video,
                    moment.start,
                    moment.end,
                    moment.score,
                    float(p),
                )
            )
    return sorted(found, key=lambda u: abs(u.p_relevant - 0.5))[:limit]
