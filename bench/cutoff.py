"""Choose the relevance cut-off (``search.cutoff``, ``search.cutoff_fraction``) on the
benchmark's tune half.

Every query of a half runs through the engine as `sceneseek eval` runs it. An absent-answer
query should have its top result below the cut-off; an answerable one should keep its
first correct result above it. The moment score itself does not compare across queries
(absent-answer queries' tops score as high as many correct hits: every modality is
standardised per query, and the least-bad segments of any query sit deviations up), so the
cut-off is on the top's *standout*, its score minus the mean of the next nine
(``search/moments.py``): under ``cutoff`` every result is weaker; above it, results under
``cutoff_fraction`` of the top score are. The fraction is the largest (in steps of 0.05, at
most 0.5) that drops no first correct hit on the tune half; the cut-off is the highest that
then loses at most ``--max-lost`` of the answerable queries' first correct hits, placed
halfway down to the next absent-answer standout under it so that a little noise does not
flip a query. The test half (if given) is only reported, with the tune half's choice.

Both indexes come from `sceneseek eval --split tune|test --db DB` (this script indexes
nothing new; a missing index is an error).

Usage: python bench/cutoff.py --dataset DIR --tune-db DIR [--test-db DIR] [--max-lost 0.05]
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass
from pathlib import Path

from sceneseek import Config, Library
from sceneseek.eval.benchmark import split_half
from sceneseek.eval.metrics import Interval, score_query
from sceneseek.eval.runner import Dataset, load_dataset
from sceneseek.search.moments import standout

K = 10  # results scored per query, as `sceneseek eval` does
FRACTIONS = [round(0.05 * i, 2) for i in range(10, -1, -1)]  # 0.5 down to 0


@dataclass(frozen=True)
class FirstHit:
    standout: float  # of the query's ranked list
    fraction: float  # the first correct result's score over the top score


@dataclass(frozen=True)
class HalfScores:
    """What the cut-off is chosen from: the standout of each absent-answer query (None: no
    result at all) and, per answerable query, its first correct result (None: none in the
    top K, which no cut-off can lose)."""

    absent: list[float | None]
    first_hits: list[FirstHit | None]

    def absent_below(self, cutoff: float) -> float:
        return sum(s is None or s < cutoff for s in self.absent) / len(self.absent)

    def lost(self, cutoff: float, fraction: float) -> float:
        lost = sum(
            h is not None and (h.standout < cutoff or h.fraction < fraction)
            for h in self.first_hits
        )
        return lost / len(self.first_hits)


def half_scores(dataset: Dataset, db: Path) -> HalfScores:
    if not (db / "index.sqlite").exists():
        raise SystemExit(f"{db}: no index; run `sceneseek eval --split ... --db {db}` first")
    library = Library(db, Config(search={"cutoff": None}))  # type: ignore[arg-type]
    absent: list[float | None] = []
    hits: list[FirstHit | None] = []
    try:
        for query in dataset.queries:
            f = query.filters
            moments = library.search(query.text, K, f.camera, f.zone, f.time_of_day).results
            if query.absent:
                absent.append(standout(moments) if moments else None)
                continue
            ranked = [Interval(dataset.normalize_video(m.video), m.start, m.end) for m in moments]
            first = score_query(ranked, query.relevant, K).first_hit
            hits.append(
                FirstHit(standout(moments), moments[first - 1].score / moments[0].score)
                if first
                else None
            )
    finally:
        library.close()
    return HalfScores(absent, hits)


def choose(tune: HalfScores, max_lost: float) -> tuple[float, float]:
    """(cutoff, fraction), each rounded down to 0.01, that put the most absent-answer
    queries' tops below while losing at most ``max_lost`` of the first correct hits."""
    found = [h for h in tune.first_hits if h is not None]
    fraction = next(f for f in FRACTIONS if all(h.fraction >= f for h in found))
    rises = sorted(h.standout for h in found)
    allowed = math.floor(max_lost * len(tune.first_hits))  # first hits it may lose
    # "standout < cut-off" is below, so the first hit at ``allowed`` is still kept.
    ceiling = rises[allowed] if allowed < len(rises) else math.inf
    under = [s for s in tune.absent if s is not None and s < ceiling]
    if not under:
        return 0.0, fraction
    if math.isinf(ceiling):
        return math.floor(max(under) * 100 + 1) / 100, fraction
    return math.floor((max(under) + ceiling) / 2 * 100 + 1e-9) / 100, fraction


def report(name: str, scores: HalfScores, cutoff: float, fraction: float) -> None:
    answered = sum(h is not None for h in scores.first_hits)
    print(
        f"{name}: top result below the cut-off for {scores.absent_below(cutoff):.0%} of "
        f"{len(scores.absent)} absent-answer queries; first correct hit lost for "
        f"{scores.lost(cutoff, fraction):.1%} of {len(scores.first_hits)} answerable queries "
        f"({answered} with a correct result in the top {K})"
    )
    tops = sorted(s for s in scores.absent if s is not None)
    rises = sorted(h.standout for h in scores.first_hits if h is not None)
    print(f"  absent-answer standouts: {', '.join(f'{s:.2f}' for s in tops)}")
    lowest = ", ".join(f"{s:.2f}" for s in rises[:12])
    print(f"  lowest answerable standouts (with a correct hit): {lowest}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", type=Path, required=True)
    parser.add_argument("--tune-db", type=Path, required=True)
    parser.add_argument("--test-db", type=Path)
    parser.add_argument("--max-lost", type=float, default=0.05)
    args = parser.parse_args()
    dataset = load_dataset(args.dataset)
    tune = half_scores(split_half(dataset, "tune"), args.tune_db)
    cutoff, fraction = choose(tune, args.max_lost)
    print(
        f"chosen on the tune half: search.cutoff = {cutoff:.2f},"
        f" search.cutoff_fraction = {fraction:.2f}"
    )
    report("tune", tune, cutoff, fraction)
    if args.test_db:
        report("test", half_scores(split_half(dataset, "test"), args.test_db), cutoff, fraction)


if __name__ == "__main__":
    main()
