"""Marks as training data: which fusion ranks searches, recording a mark with the
evidence the search had for it, fitting a new fusion from the marks (``sceneseek
learn``), and the results whose verdict would teach the most (``sceneseek uncertain``).
The fitting itself is ``sceneseek.search.learn``.

The service receives what it uses (the index, the encoders, the config and the search
that users run); ``Library`` opens those and hands them over."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

import numpy as np

from sceneseek.alerts import alert_store
from sceneseek.config import Config, SearchConfig
from sceneseek.index.base import Index, Mark
from sceneseek.ingest import Encoders
from sceneseek.search import learn as fit
from sceneseek.search.engine import Searcher
from sceneseek.search.filters import plain_text
from sceneseek.search.query_parser import parse_query
from sceneseek.search.translation import query_translation

if TYPE_CHECKING:
    from sceneseek.search.engine import SearchResponse

UNCERTAIN_BOUNDARY = 2.0  # the alert threshold default: "worth a look" before any labels


class Search(Protocol):
    """The search users run (``Library.search``): `uncertain` lists what they would see."""

    def __call__(self, query: str, *, top_k: int) -> SearchResponse: ...


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


def active_fusion(store: Index, search: SearchConfig) -> Fusion:
    """The newest fusion `learn` adopted in the index, unless the config pins its own
    weights (``search.use_learned = false``) or ranks by reciprocal rank."""
    if search.use_learned and search.fusion == "weighted":
        adopted = [f for f in store.fusions() if f.adopted]
        if adopted:
            learned = adopted[-1]
            weights = {**search.weights, **learned.weights}
            return Fusion(learned.version, search.model_copy(update={"weights": weights}))
    return Fusion(fit.config_version(search), search)


@dataclass(frozen=True)
class Learning:
    """The marks of one index as training data for its fusion."""

    store: Index
    encoders: Encoders
    config: Config
    search: Search

    def fusion(self) -> Fusion:
        return active_fusion(self.store, self.config.search)

    def mark(self, query: str, segment_id: int, relevant: bool) -> Mark:
        """Store a verdict with the per-modality evidence the search had for the segment
        and the encoder and fusion versions, so `learn` can train on it."""
        query = " ".join(plain_text(query).split())
        scores = self.modality_scores(query, [segment_id])[segment_id]
        return self.store.add_mark(
            query,
            segment_id,
            relevant,
            scores,
            self.store.encoder_versions(),
            self.fusion().version,
        )

    def searched_text(self, query: str) -> str:
        """The words search embeds once filters stated in the query are taken out."""
        cameras, zones = self.store.cameras_and_zones()
        return parse_query(query, cameras, zones, datetime.now().astimezone()).text

    def modality_scores(self, query: str, segment_ids: list[int]) -> dict[int, dict[str, float]]:
        searcher = Searcher(
            self.store, self.encoders, self.config.search, list(self.config.modalities)
        )
        text = self.searched_text(query)
        translation = query_translation(text, self.encoders)
        english = translation.text if translation else None
        return searcher.modality_scores(text, segment_ids, english)

    def training_labels(self) -> list[fit.Labelled]:
        """Every mark with its evidence: as stored when the encoders that scored it still
        built the index, else scored again (after a reindex, or for marks without scores).
        A segment marked twice for one query counts once, with the latest verdict."""
        current = self.store.encoder_versions()
        latest = {(m.query, m.segment_id): m for m in self.store.marks()}
        known = self.store.segments([segment for _, segment in latest])
        usable = {key: m for key, m in latest.items() if key[1] in known}  # video still indexed
        stale: dict[str, list[int]] = {}
        for (query, segment), mark in usable.items():
            if not mark.scores or mark.encoders != current:
                stale.setdefault(query, []).append(segment)
        rescored = {
            (query, segment): scores
            for query, segments in stale.items()
            for segment, scores in self.modality_scores(query, segments).items()
        }
        return [
            fit.Labelled(query, mark.relevant, rescored.get((query, segment), mark.scores))
            for (query, segment), mark in usable.items()
        ]

    def learn(self, dry_run: bool = False) -> fit.LearnReport:
        """Fit and cross-validate a fusion on the marks; record it (adopted only if it
        beats the current one on held-out queries) unless ``dry_run``."""
        current = self.fusion()
        report = fit.learn(self.training_labels(), current.search.weights, current.version)
        if dry_run or report.queries < 2:
            return report
        version = f"learned-{len(self.store.fusions()) + 1}"
        self.store.add_fusion(version, report.candidate, report.summary(), report.adopted)
        report.version = version
        return report

    def uncertain(self, limit: int = 20, per_query: int = 20) -> list[Uncertain]:
        """For every stored query (marks' and alerts'), the unmarked results whose fused
        score sits nearest the decision boundary, the logistic fit of marks' verdicts on
        their fused scores under the fusion in use."""
        fusion = self.fusion()
        labels = self.training_labels()
        scores = np.array([fit.fused_score(fusion.search.weights, x.scores) for x in labels])
        relevance = np.array([x.relevant for x in labels], dtype=bool)
        a, b = fit.calibrate(scores, relevance, UNCERTAIN_BOUNDARY)
        marks = self.store.marks()
        marked = {(m.query, m.segment_id) for m in marks}
        alerts = alert_store(self.store).alerts()
        queries = dict.fromkeys([m.query for m in marks] + [alert.query for alert in alerts])
        found: list[Uncertain] = []
        for query in queries:
            for moment in self.search(query, top_k=per_query).results:
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
