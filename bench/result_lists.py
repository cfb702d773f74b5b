"""Every benchmark query's full result list on one index, as JSON, so that two trees can
be shown to answer identically ("same index, same results" after a refactoring).

Each query runs through ``Library.search`` with its camera, zone and time-of-day
filters; a result is (video, start, end, score, segment ids, per-modality
contributions, relevance, below cut-off). Run it on a fresh copy of the same index with
each tree (``PYTHONPATH``) and compare the files byte for byte.

Usage: python bench/result_lists.py --dataset DIR --db DIR --out FILE [--top-k 10]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from sceneseek import Library
from sceneseek.eval.runner import load_dataset


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", type=Path, required=True)
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--top-k", type=int, default=10)
    args = parser.parse_args()
    library = Library(args.db)
    lists = {}
    try:
        for query in load_dataset(args.dataset).queries:
            f = query.filters
            response = library.search(
                query.text, args.top_k, camera=f.camera, zone=f.zone, time_of_day=f.time_of_day
            )
            lists[query.id] = [
                [
                    r.video,
                    r.start,
                    r.end,
                    r.score,
                    [s.id for s in r.segments],
                    r.contributions,
                    r.relevance,
                    r.below_cutoff,
                ]
                for r in response.results
            ]
    finally:
        library.close()
    args.out.write_text(json.dumps(lists, indent=0))
    print(f"{len(lists)} queries -> {args.out}")


if __name__ == "__main__":
    main()
