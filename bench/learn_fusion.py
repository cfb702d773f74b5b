"""Learning the fusion from marks on the benchmark: a simulated operator works through
every *train* query as the web UI lets them: marks the top 10 by the ground truth, refines
the query with those marks (Rocchio, as "more like this" does) and marks what is new in
the top 10, twice. Every verdict is stored with `sceneseek mark`; `sceneseek learn` fits
and cross-validates per-modality weights on them, and mAP@10 is compared on the *test*
queries, which no mark came from, before and after.

Split: within each query modality (visual, speech, sound, ...), queries alternate in
dataset order between train and test, so both halves hold every kind of query.
The benchmark index is copied with `snapshot export/import` first, so the marks and the
learned fusion never reach it. Two starting fusions: the default weights (tuned on this
benchmark) and one weight for every modality (an untuned deployment).

Usage: python bench/learn_fusion.py [--dataset DIR] [--db DIR] [--work DIR]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
from pathlib import Path

from sceneseek import Config, Library
from sceneseek.eval.benchmark import index_dataset
from sceneseek.eval.metrics import Interval, score_query
from sceneseek.eval.runner import Dataset, Query, load_dataset
from sceneseek.index.snapshot import import_snapshot

MARKED = 10  # results the operator looks at per round
ROUNDS = 3  # the first list, then two refinements with the marks so far


def split(queries: tuple[Query, ...]) -> tuple[list[Query], list[Query]]:
    train: list[Query] = []
    test: list[Query] = []
    seen: dict[str, int] = {}
    for query in queries:
        n = seen.get(query.modality, 0)
        (train if n % 2 == 0 else test).append(query)
        seen[query.modality] = n + 1
    return train, test


def results(
    library: Library, query: Query, more: tuple[int, ...] = (), less: tuple[int, ...] = ()
) -> list[tuple[Interval, int]]:
    f = query.filters
    response = library.search(
        query.text, MARKED, f.camera, f.zone, f.time_of_day, more_like=more, not_like=less
    )
    return [(Interval(m.video, m.start, m.end), m.segments[0].id) for m in response.results]


def judge(library: Library, query: Query) -> tuple[int, int]:
    """The operator's rounds on one query; returns (marks, relevant marks)."""
    verdicts: dict[int, bool] = {}
    for _ in range(ROUNDS):
        more = tuple(s for s, hit in verdicts.items() if hit)
        less = tuple(s for s, hit in verdicts.items() if not hit)
        for interval, segment in results(library, query, more, less):
            if segment not in verdicts:
                verdicts[segment] = score_query([interval], query.relevant).ap > 0
                library.mark(query.text, segment, verdicts[segment])
    return len(verdicts), sum(verdicts.values())


def mean_ap(library: Library, queries: list[Query]) -> float:
    return statistics.fmean(
        score_query([i for i, _ in results(library, q)], q.relevant).ap for q in queries
    )


# Starting fusions: the defaults (tuned on this very benchmark, so hard to beat), one
# weight for everything (an untuned deployment), and one tuned for a speech-heavy archive
# (visual evidence and the fused vector at a quarter), the wrong choice for this footage.
TEXT_FIRST = {"speech": 1.0, "ocr": 1.0, "sound": 1.0, "people": 1.0, "keyword": 1.0}
STARTS = {
    "defaults": None,
    "uniform": {**TEXT_FIRST, "visual": 1.0, "fused": 1.0},
    "speech-first": {**TEXT_FIRST, "visual": 0.25, "fused": 0.25},
    # A broken configuration (only people/motion descriptions count): learning must fix it.
    "broken": {"people": 1.0, **{m: 0.0 for m in ("visual", "speech", "ocr", "sound")}},
}


def scenario(archive: Path, work: Path, weights: dict[str, float] | None, dataset: Dataset) -> None:
    """Fresh copy of the index, marks on the train queries, learn, held-out mAP."""
    shutil.rmtree(work, ignore_errors=True)
    import_snapshot(archive, work)
    config = Config() if weights is None else Config(search={"weights": weights})  # type: ignore[arg-type]
    library = Library(work, config)
    train, test = split(dataset.queries)
    before = {"train": mean_ap(library, train), "test": mean_ap(library, test)}
    marks = relevant = 0
    for query in train:
        judged, hits = judge(library, query)
        marks, relevant = marks + judged, relevant + hits
    report = library.learn()
    after = {"train": mean_ap(library, train), "test": mean_ap(library, test)}
    pinned = {"weights": report.candidate, "use_learned": False}
    candidate = Library(work, Config(search=pinned))  # type: ignore[arg-type]
    forced = mean_ap(candidate, test)
    print(f"== start: {work.name}")
    print(
        f"split: {len(train)} train queries ({marks} marks, {relevant} relevant), "
        f"{len(test)} test queries"
    )
    print(f"learn: {report.reason}; recorded {report.version} over {report.current}")
    print("candidate weights: " + ", ".join(f"{m} {w:g}" for m, w in report.candidate.items()))
    print(f"mAP@10 train: {before['train']:.3f} -> {after['train']:.3f}")
    print(
        f"mAP@10 test (held out): {before['test']:.3f} -> {after['test']:.3f} "
        f"(candidate weights forced: {forced:.3f})",
        flush=True,
    )
    library.close()
    candidate.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", type=Path, default=Path("bench/data/sceneseek-bench"))
    parser.add_argument("--db", type=Path, default=Path("bench/out/bench-lib"))
    parser.add_argument("--work", type=Path, default=Path("bench/out/learn"))
    parser.add_argument("--starts", default=",".join(STARTS), help="comma-separated subset")
    args = parser.parse_args()
    dataset = load_dataset(args.dataset)
    source = Library(args.db, Config())
    index_dataset(source, dataset)
    archive = args.work / "bench-lib.tar.gz"
    source.export_snapshot(archive)
    source.close()
    for name in args.starts.split(","):
        scenario(archive, args.work / name, STARTS[name], dataset)
    archive.unlink()


if __name__ == "__main__":
    main()
