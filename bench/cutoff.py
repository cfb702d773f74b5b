"""Choose the relevance cut-off (``search.cutoff``, ``search.cutoff_text_similarity``,
``search.cutoff_visual_margin``, ``search.cutoff_fraction``) on the benchmark's tune half.

Every query of a half runs through the engine as `sceneseek eval` runs it. An absent-answer
query should have its top result below the cut-off; an answerable one should keep its
first correct result above it. A moment passes the cut-off when the list's top stands out
from its runners-up, or its best text cosine, or its visual margin over the query's
nearest class names, reaches its threshold (``search/moments.py`` ``Cutoff``). The three
thresholds are chosen together, each among the values the tune half's first correct hits
take (or off), to put the most absent-answer tops below while losing at most
``--max-lost`` of the answerable queries' first correct hits (ties: fewer lost); each is
then placed halfway down to the next value the tune half takes under it, so that a little
noise does not flip a query. The fraction is the largest (in steps of 0.05, at most 0.5)
that drops no first correct hit on the tune half. The test half (if given) is only
reported, with the tune half's choice.

Both indexes come from `sceneseek eval --split tune|test --db DB` (this script indexes
nothing new; a missing index is an error).

Usage: python bench/cutoff.py --dataset DIR --tune-db DIR [--test-db DIR] [--max-lost 0.05]
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sceneseek import Config, Library
from sceneseek.eval.benchmark import split_half
from sceneseek.eval.metrics import Interval, score_query
from sceneseek.eval.runner import Dataset, load_dataset
from sceneseek.search.moments import Cutoff, Moment, standout

K = 10  # results scored per query, as `sceneseek eval` does
FRACTIONS = [round(0.05 * i, 2) for i in range(10, -1, -1)]  # 0.5 down to 0
FEATURES = ("standout", "text similarity", "visual margin")


def features(moment: Moment, rise: float) -> tuple[float, float, float]:
    """What the cut-off reads of a moment, missing evidence as -inf (it never passes)."""
    text, visual = moment.text_similarity, moment.visual_margin
    return (
        rise,
        -math.inf if text is None else text,
        -math.inf if visual is None else visual,
    )


@dataclass(frozen=True)
class HalfScores:
    """What the cut-off is chosen from: the features of each absent-answer query's top
    (None: no result at all) and, per answerable query, those of its first correct result
    with its score over the top score (None: none in the top K, which no cut-off can
    lose)."""

    absent: list[tuple[float, float, float] | None]
    first_hits: list[tuple[tuple[float, float, float], float] | None]

    def absent_below(self, cutoff: Cutoff) -> float:
        return sum(a is None or not cutoff.accepts(*a) for a in self.absent) / len(self.absent)

    def lost(self, cutoff: Cutoff) -> float:
        lost = sum(
            h is not None and (not cutoff.accepts(*h[0]) or h[1] < cutoff.min_fraction)
            for h in self.first_hits
        )
        return lost / len(self.first_hits)


def half_scores(dataset: Dataset, db: Path) -> HalfScores:
    if not (db / "index.sqlite").exists():
        raise SystemExit(f"{db}: no index; run `sceneseek eval --split ... --db {db}` first")
    library = Library(db, Config(search={"cutoff": None}))  # type: ignore[arg-type]
    absent: list[tuple[float, float, float] | None] = []
    hits: list[tuple[tuple[float, float, float], float] | None] = []
    try:
        for query in dataset.queries:
            f = query.filters
            moments = library.search(query.text, K, f.camera, f.zone, f.time_of_day).results
            rise = standout(moments)
            if query.absent:
                absent.append(features(moments[0], rise) if moments else None)
                continue
            ranked = [Interval(dataset.normalize_video(m.video), m.start, m.end) for m in moments]
            first = score_query(ranked, query.relevant, K).first_hit
            hit = moments[first - 1] if first else None
            hits.append(
                (features(hit, rise), hit.score / moments[0].score) if hit is not None else None
            )
    finally:
        library.close()
    return HalfScores(absent, hits)


def choose(tune: HalfScores, max_lost: float) -> Cutoff:
    """The thresholds, each rounded down to 0.001, that put the most absent-answer
    queries' tops below while losing at most ``max_lost`` of the first correct hits."""
    found = [h for h in tune.first_hits if h is not None]
    fraction = next(f for f in FRACTIONS if all(h[1] >= f for h in found))
    hit_values = np.array([h[0] for h in found]).reshape(-1, len(FEATURES))
    absent_values = np.array([a for a in tune.absent if a is not None]).reshape(-1, len(FEATURES))
    allowed = math.floor(max_lost * len(tune.first_hits))
    options = [np.append(np.unique(hit_values[:, i]), math.inf) for i in range(len(FEATURES))]
    best: tuple[int, int, tuple[float, ...]] = (-1, 0, (math.inf,) * len(FEATURES))
    for s in options[0]:
        for t in options[1]:
            hits_in = (hit_values[:, 0] >= s) | (hit_values[:, 1] >= t)
            absent_in = (absent_values[:, 0] >= s) | (absent_values[:, 1] >= t)
            # every visual option at once: rows are queries, columns options
            lost = (~(hits_in[:, None] | (hit_values[:, 2:3] >= options[2]))).sum(axis=0)
            below = (~(absent_in[:, None] | (absent_values[:, 2:3] >= options[2]))).sum(axis=0)
            for j in np.flatnonzero(lost <= allowed):
                if (below[j], -lost[j]) > best[:2]:
                    best = (int(below[j]), -int(lost[j]), (s, t, options[2][j]))
    every = np.vstack([hit_values, absent_values])
    placed = [_halfway_down(chosen, every[:, i]) for i, chosen in enumerate(best[2])]
    return Cutoff(*placed, min_fraction=fraction)


def _halfway_down(threshold: float, values: np.ndarray) -> float:
    """Halfway to the next value under ``threshold``, rounded down to 0.001."""
    if math.isinf(threshold):
        return threshold
    under = values[values < threshold]
    lower = float(under.max()) if under.size else threshold
    return math.floor((threshold + lower) / 2 * 1000 + 1e-9) / 1000


def report(name: str, scores: HalfScores, cutoff: Cutoff) -> None:
    answered = sum(h is not None for h in scores.first_hits)
    print(
        f"{name}: top result below the cut-off for {scores.absent_below(cutoff):.0%} of "
        f"{len(scores.absent)} absent-answer queries; first correct hit lost for "
        f"{scores.lost(cutoff):.1%} of {len(scores.first_hits)} answerable queries "
        f"({answered} with a correct result in the top {K})"
    )
    for i, feature in enumerate(FEATURES):
        tops = sorted(a[i] for a in scores.absent if a is not None)
        print(f"  absent-answer tops' {feature}: {', '.join(f'{v:.3f}' for v in tops)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", type=Path, required=True)
    parser.add_argument("--tune-db", type=Path, required=True)
    parser.add_argument("--test-db", type=Path)
    parser.add_argument("--max-lost", type=float, default=0.05)
    args = parser.parse_args()
    dataset = load_dataset(args.dataset)
    tune = half_scores(split_half(dataset, "tune"), args.tune_db)
    cutoff = choose(tune, args.max_lost)
    print(
        f"chosen on the tune half: search.cutoff = {cutoff.min_standout:.3f},"
        f" search.cutoff_text_similarity = {cutoff.min_text_similarity:.3f},"
        f" search.cutoff_visual_margin = {cutoff.min_visual_margin:.3f},"
        f" search.cutoff_fraction = {cutoff.min_fraction:.2f}"
    )
    report("tune", tune, cutoff)
    if args.test_db:
        report("test", half_scores(split_half(dataset, "test"), args.test_db), cutoff)


if __name__ == "__main__":
    main()
