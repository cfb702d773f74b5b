"""Successive search on the benchmark: a simulated operator marks the top 5 results of
each round correctly (relevant → "more like this", wrong → "not this"), and the next round
re-ranks with all marks so far (Rocchio on each modality's vector). Prints mAP@10 per round,
as the user sees the list ("as shown", marked hits included) and on what is still new
("residual": results not judged before, against relevant intervals not yet found),
compared with the same residual list searched without the marks — the fair measure of
whether feedback finds more.

Usage: python bench/feedback_rounds.py [--dataset DIR] [--db DIR] [--rounds 3]
The index is built (or reused) exactly as `sceneseek eval` does.
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

from sceneseek import Config, Library
from sceneseek.eval.benchmark import index_dataset
from sceneseek.eval.metrics import Interval, score_query
from sceneseek.eval.runner import Query, load_dataset

JUDGED = 5  # results the operator looks at per round


def search(
    library: Library, query: Query, more: list[int], less: list[int]
) -> list[tuple[Interval, int]]:
    f = query.filters
    response = library.search(
        query.text, 10, f.camera, f.zone, f.time_of_day, more_like=more, not_like=less
    )
    return [(Interval(m.video, m.start, m.end), m.segments[0].id) for m in response.results]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", type=Path, default=Path("bench/data/sceneseek-bench"))
    parser.add_argument("--db", type=Path, default=Path("bench/out/bench-lib"))
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    dataset = load_dataset(args.dataset)
    library = Library(args.db, Config())
    index_dataset(library, dataset)
    shown: list[list[float]] = [[] for _ in range(args.rounds)]
    residual: list[list[float]] = [[] for _ in range(args.rounds)]
    unrefined: list[list[float]] = [[] for _ in range(args.rounds)]  # same, no marks used
    for query in dataset.queries:
        more: list[int] = []
        less: list[int] = []
        seen: list[Interval] = []
        for round_ in range(args.rounds):
            results = search(library, query, more, less)
            intervals = [interval for interval, _ in results]
            shown[round_].append(score_query(intervals, query.relevant).ap)
            unseen = [i for i in intervals if i not in seen]
            left = [r for r in query.relevant if score_query(seen, [r]).ap == 0]
            if left:
                residual[round_].append(score_query(unseen, left).ap)
                plain = [i for i, _ in search(library, query, [], []) if i not in seen]
                unrefined[round_].append(score_query(plain, left).ap)
            for interval, segment in results[:JUDGED]:
                hit = score_query([interval], query.relevant).ap > 0
                marks = more if hit else less
                if segment not in more + less:
                    marks.append(segment)
                seen.append(interval)
    for round_ in range(args.rounds):
        print(
            f"round {round_}: mAP@10 as shown {statistics.fmean(shown[round_]):.3f}, "
            f"residual {statistics.fmean(residual[round_]):.3f} vs "
            f"{statistics.fmean(unrefined[round_]):.3f} without the marks "
            f"({len(residual[round_])} queries with relevant intervals still unfound)"
        )


if __name__ == "__main__":
    main()
