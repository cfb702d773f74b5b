"""Every benchmark query's full answer (ranked moments, scores, evidence) as JSON lines,
to check that a change meant to be invisible (e.g. start-up work) answers identically.

Usage: python bench/search_results.py --dataset D --db DB --split test > answers.jsonl
Run it with PYTHONPATH pointing at each checkout (on copies of the same index: the
search reads only) and compare the files with ``cmp``. Timings are left out.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from sceneseek import Config, Library
from sceneseek.eval.benchmark import split_half
from sceneseek.eval.runner import load_dataset


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", type=Path, required=True)
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--split", choices=("tune", "test"), required=True)
    parser.add_argument("--k", type=int, default=10)
    args = parser.parse_args()
    dataset = split_half(load_dataset(args.dataset), args.split)
    library = Library(args.db, Config())
    try:
        for query in dataset.queries:
            f = query.filters
            answer = library.search(query.text, args.k, f.camera, f.zone, f.time_of_day)
            found = answer.to_dict()
            found.pop("took_ms")
            print(json.dumps({"query": query.text, "answer": found}, ensure_ascii=False))
    finally:
        library.close()


if __name__ == "__main__":
    main()
