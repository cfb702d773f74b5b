"""Retrieval metrics for moment search, scored the way issue #3 defines a hit.

A ranked result is a hit when it is short enough to be a *moment* (≤ 30 s), lies in the same
video as a relevant interval that has not been credited yet, and overlaps that interval by at
least half of the interval's length or half of its own. Each relevant interval is credited at
most once, so returning the same moment twice cannot inflate any metric.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

MAX_RESULT_SECONDS = 30.0
"""Longer results are never hits: returning a whole file is not finding a moment."""

RECALL_KS: tuple[int, ...] = (1, 5, 10)
MIN_OVERLAP_FRACTION = 0.5
_EPS = 1e-9  # absorbs float noise in segment bounds such as 29.999999 vs 30.0


@dataclass(frozen=True)
class Interval:
    """A time span of one video; ``video`` must already be a normalised path."""

    video: str
    start: float
    end: float
    below_cutoff: bool = False  # results only: the engine rated it below its relevance cut-off

    @property
    def length(self) -> float:
        return max(0.0, self.end - self.start)

    def overlap(self, other: Interval) -> float:
        """Seconds shared with ``other`` (0 when the videos differ)."""
        if self.video != other.video:
            return 0.0
        return max(0.0, min(self.end, other.end) - max(self.start, other.start))


@dataclass(frozen=True)
class QueryScore:
    """Scores of one ranked list: AP@k, reciprocal rank and recall at each cut-off."""

    ap: float
    rr: float
    recall: dict[int, float]
    first_hit: int | None = None  # rank (1-based) of the first correct result, if any


@dataclass(frozen=True)
class SummaryRow:
    """Mean scores of a group of queries (one row of the report table)."""

    key: str
    map: float
    recall: dict[int, float]
    mrr: float
    count: int


def _is_hit(result: Interval, target: Interval) -> bool:
    if result.length > MAX_RESULT_SECONDS + _EPS:
        return False
    shared = result.overlap(target)
    if shared <= 0.0:
        return False
    needed = MIN_OVERLAP_FRACTION * min(target.length, result.length)
    return shared + _EPS >= needed


def score_query(
    results: Sequence[Interval], relevant: Sequence[Interval], k: int = 10
) -> QueryScore:
    """Score the top ``k`` results against the relevant intervals of one query.

    When a result matches several uncredited intervals it credits the one it overlaps most,
    which leaves the others available to later results.
    """
    if not relevant:
        raise ValueError("a query needs at least one relevant interval to be scored")
    if k < 1:
        raise ValueError(f"k must be positive, got {k}")
    credited: set[int] = set()
    hit_ranks: list[int] = []
    for rank, result in enumerate(results[:k], start=1):
        candidates = [i for i, g in enumerate(relevant) if i not in credited and _is_hit(result, g)]
        if candidates:
            credited.add(max(candidates, key=lambda i: result.overlap(relevant[i])))
            hit_ranks.append(rank)
    precision_sum = sum(n / rank for n, rank in enumerate(hit_ranks, start=1))
    ap = precision_sum / min(len(relevant), k)
    rr = 1.0 / hit_ranks[0] if hit_ranks else 0.0
    recall = {
        cut: sum(1 for rank in hit_ranks if rank <= cut) / len(relevant)
        for cut in RECALL_KS
        if cut <= k
    }
    return QueryScore(ap=ap, rr=rr, recall=recall, first_hit=hit_ranks[0] if hit_ranks else None)


def summarize(groups: Mapping[str, Sequence[QueryScore]]) -> list[SummaryRow]:
    """Average each group's scores into a row, keeping the groups' order; empty groups are
    skipped because a mean over nothing would be a misleading zero."""
    rows: list[SummaryRow] = []
    for key, scores in groups.items():
        if not scores:
            continue
        n = len(scores)
        cuts = sorted(set.intersection(*(set(s.recall) for s in scores)))
        rows.append(
            SummaryRow(
                key=key,
                map=sum(s.ap for s in scores) / n,
                recall={cut: sum(s.recall[cut] for s in scores) / n for cut in cuts},
                mrr=sum(s.rr for s in scores) / n,
                count=n,
            )
        )
    return rows


def percentile(values: Sequence[float], p: float) -> float:
    """The ``p``-th percentile (0–100) with linear interpolation, as numpy's default does."""
    if not values:
        raise ValueError("percentile of an empty sequence")
    if not 0.0 <= p <= 100.0:
        raise ValueError(f"p must be within [0, 100], got {p}")
    ordered = sorted(values)
    pos = (len(ordered) - 1) * p / 100.0
    lo, hi = math.floor(pos), math.ceil(pos)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)
