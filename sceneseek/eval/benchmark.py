"""``sceneseek eval``: index a benchmark's videos (reusing an existing index), run every
query through the engine and through the legacy keyword baseline, and score both."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from sceneseek.config import Config
from sceneseek.eval.dataset import SPLITS
from sceneseek.eval.keyword import KeywordBaseline, SegmentMeta
from sceneseek.eval.metrics import Interval
from sceneseek.eval.runner import Dataset, EvalReport, Query, load_dataset, run_eval
from sceneseek.library import Library, ProgressFn

BASELINES = ("keyword", "none")
SearchFn = Callable[[Query], list[Interval]]


def slice_videos(dataset: Dataset, count: int) -> Dataset:
    """The first ``count`` videos and only the queries whose relevant intervals all lie
    in them, so a slice is still a fair (smaller) benchmark."""
    videos = dataset.videos[:count]
    kept = {v.file for v in videos}
    queries = tuple(q for q in dataset.queries if all(r.video in kept for r in q.relevant))
    return replace(dataset, videos=videos, queries=queries)


def split_half(dataset: Dataset, split: str) -> Dataset:
    """One half of the benchmark, split by video: its videos, each answerable query with the
    relevant intervals that lie in them (queries with none there are left out), and every
    absent-answer query. Weights and thresholds are chosen on "tune"; "test" is only reported."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose from {', '.join(SPLITS)}")
    videos = tuple(v for v in dataset.videos if v.split == split)
    if not videos:
        raise ValueError(f"dataset {dataset.name} has no videos in the {split!r} half")
    kept = {v.file for v in videos}
    queries = []
    for query in dataset.queries:
        relevant = tuple(r for r in query.relevant if r.video in kept)
        if relevant or query.absent:
            queries.append(replace(query, relevant=relevant))
    return replace(dataset, name=f"{dataset.name} ({split})", videos=videos, queries=tuple(queries))


def index_dataset(library: Library, dataset: Dataset, progress: ProgressFn | None = None) -> None:
    for video in dataset.videos:
        report = library.index([video.file], video.camera, video.zone, video.start, progress)
        if report.failed:
            path, cause = report.failed[0]
            raise RuntimeError(f"benchmark video {path} could not be indexed: {cause}")


def engine_search(library: Library, k: int) -> SearchFn:
    def search(query: Query) -> list[Interval]:
        f = query.filters
        response = library.search(query.text, k, f.camera, f.zone, f.time_of_day)
        return [Interval(m.video, m.start, m.end, m.below_cutoff) for m in response.results]

    return search


def keyword_search(library: Library, k: int) -> SearchFn:
    baseline = KeywordBaseline(
        SegmentMeta(s.video, s.start, s.end, s.camera, s.zone)
        for s in library.index_store.all_segments()
    )

    def search(query: Query) -> list[Interval]:
        return baseline.search(query.text, k, query.filters.camera, query.filters.zone)

    return search


def evaluate(
    dataset_dir: Path,
    db: Path,
    config: Config,
    baseline: str = "keyword",
    videos: int | None = None,
    split: str | None = None,
    k: int = 10,
    progress: ProgressFn | None = None,
) -> list[EvalReport]:
    """Reports for the engine and (unless ``baseline='none'``) the keyword baseline."""
    if baseline not in BASELINES:
        raise ValueError(f"unknown baseline {baseline!r}; choose from {', '.join(BASELINES)}")
    dataset = load_dataset(dataset_dir)
    if split is not None:
        dataset = split_half(dataset, split)
    if videos is not None:
        dataset = slice_videos(dataset, videos)
    library = Library(db, config)
    try:
        index_dataset(library, dataset, progress)
        reports = [run_eval(dataset, engine_search(library, k), "sceneseek", k)]
        if baseline == "keyword":
            reports.append(run_eval(dataset, keyword_search(library, k), "keyword baseline", k))
    finally:
        library.close()
    return reports
