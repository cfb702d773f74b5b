"""Choose the relevance cut-off (``search.cutoff``) on the benchmark's tune half.

Every query of a half runs through the engine as `sceneseek eval` runs it. An absent-answer
query should have its top result below the cut-off; an answerable one should keep its
first correct result above it. The moment score compares across queries because every
modality's evidence is standardised against its own reference distribution per query
(``search/fusion.py``) before the weighted sum. The cut-off picked is the highest one
that loses at most ``--max-lost`` of the tune half's answerable queries' first correct
hits — the most absent-answer tops it can put below — placed halfway down to the next
absent-answer top under it, so a little noise in either direction does not flip a query.
The test half (if given) is only reported, with the tune half's choice.

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

K = 10  # results scored per query, as `sceneseek eval` does


@dataclass(frozen=True)
class HalfScores:
    """What the cut-off is chosen from: the top score of each absent-answer query (None:
    no result at all) and the score of each answerable query's first correct result
    (None: no correct result in the top K, which no cut-off can lose)."""

    absent_tops: list[float | None]
    first_hits: list[float | None]

    def absent_below(self, cutoff: float) -> float:
        return sum(s is None or s < cutoff for s in self.absent_tops) / len(self.absent_tops)

    def lost(self, cutoff: float) -> float:
        return sum(s is not None and s < cutoff for s in self.first_hits) / len(self.first_hits)


def half_scores(dataset: Dataset, db: Path) -> HalfScores:
    if not (db / "index.sqlite").exists():
        raise SystemExit(f"{db}: no index; run `sceneseek eval --split ... --db {db}` first")
    library = Library(db, Config(search={"cutoff": None}))  # type: ignore[arg-type]
    absent: list[float | None] = []
    hits: list[float | None] = []
    try:
        for query in dataset.queries:
            f = query.filters
            moments = library.search(query.text, K, f.camera, f.zone, f.time_of_day).results
            if query.absent:
                absent.append(moments[0].score if moments else None)
                continue
            ranked = [Interval(dataset.normalize_video(m.video), m.start, m.end) for m in moments]
            first = score_query(ranked, query.relevant, K).first_hit
            hits.append(moments[first - 1].score if first else None)
    finally:
        library.close()
    return HalfScores(absent, hits)


def choose(tune: HalfScores, max_lost: float) -> float:
    """The cut-off (rounded down to 0.01) that puts the most absent-answer tops below it
    while losing at most ``max_lost`` of the answerable queries' first correct hits."""
    found = sorted(s for s in tune.first_hits if s is not None)
    allowed = math.floor(max_lost * len(tune.first_hits))  # first hits it may lose
    # "score < cut-off" is below, so the first hit at ``allowed`` is still kept.
    ceiling = found[allowed] if allowed < len(found) else math.inf
    under = [s for s in tune.absent_tops if s is not None and s < ceiling]
    if not under:
        return 0.0
    if math.isinf(ceiling):
        return math.floor(max(under) * 100 + 1) / 100
    return math.floor((max(under) + ceiling) / 2 * 100 + 1e-9) / 100


def report(name: str, scores: HalfScores, cutoff: float) -> None:
    answered = sum(s is not None for s in scores.first_hits)
    print(
        f"{name}: top result below the cut-off for {scores.absent_below(cutoff):.0%} of "
        f"{len(scores.absent_tops)} absent-answer queries; first correct hit lost for "
        f"{scores.lost(cutoff):.1%} of {len(scores.first_hits)} answerable queries "
        f"({answered} with a correct result in the top {K})"
    )
    tops = sorted(s for s in scores.absent_tops if s is not None)
    firsts = sorted(s for s in scores.first_hits if s is not None)
    print(f"  absent-answer top scores: {', '.join(f'{s:.2f}' for s in tops)}")
    print(f"  lowest first-hit scores:  {', '.join(f'{s:.2f}' for s in firsts[:12])}")


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
    print(f"cut-off chosen on the tune half: {cutoff:.2f} (search.cutoff)")
    report("tune", tune, cutoff)
    if args.test_db:
        report("test", half_scores(split_half(dataset, "test"), args.test_db), cutoff)


if __name__ == "__main__":
    main()
