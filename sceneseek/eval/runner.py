"""Run a benchmark's queries through a search system and aggregate the scores.

The search system is any callable from a query to ranked intervals, so the engine and the
keyword baseline are measured by the same code in the same run, and reports compare directly.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.table import Table

from sceneseek.eval.metrics import (
    Interval,
    QueryScore,
    SummaryRow,
    percentile,
    score_query,
    summarize,
)

MODALITIES: tuple[str, ...] = ("visual", "speech", "sound", "ocr", "multi")
_TIME_OF_DAY = re.compile(r"^([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d$")


@dataclass(frozen=True)
class Video:
    file: str
    camera: str | None
    zone: str | None
    start: datetime
    duration: float
    split: str | None = None  # "tune" | "test": which half of the benchmark it belongs to


@dataclass(frozen=True)
class QueryFilters:
    camera: str | None = None
    zone: str | None = None
    time_of_day: str | None = None  # "HH:MM-HH:MM", may wrap past midnight


@dataclass(frozen=True)
class Query:
    id: str
    text: str
    lang: str
    modality: str
    filters: QueryFilters
    relevant: tuple[Interval, ...]
    absent: bool = False  # nothing answers it: scored only by the relevance cut-off


@dataclass(frozen=True)
class Dataset:
    """A benchmark with every video path absolute and resolved, so paths compare as strings."""

    name: str
    version: int
    root: Path
    videos: tuple[Video, ...]
    queries: tuple[Query, ...]

    def normalize_video(self, path: str | os.PathLike[str]) -> str:
        """Resolve a path the way the dataset's own paths were, relative to its directory."""
        return str((self.root / path).resolve())


def _parse_query(raw: dict[str, Any], root: Path, known_videos: set[str]) -> Query:
    qid = str(raw["id"])
    modality = raw["modality"]
    if modality not in MODALITIES:
        raise ValueError(f"query {qid}: unknown modality {modality!r}")
    filters = QueryFilters(**(raw.get("filters") or {}))
    if filters.time_of_day is not None and not _TIME_OF_DAY.match(filters.time_of_day):
        raise ValueError(f"query {qid}: time_of_day must be HH:MM-HH:MM")
    relevant = tuple(
        Interval(str((root / r["file"]).resolve()), float(r["start"]), float(r["end"]))
        for r in raw["relevant"]
    )
    absent = bool(raw.get("absent", False))
    if absent and relevant:
        raise ValueError(f"query {qid}: an absent-answer query cannot have relevant intervals")
    if not absent and not relevant:
        raise ValueError(f"query {qid}: no relevant interval")
    for interval in relevant:
        if interval.end <= interval.start:
            raise ValueError(f"query {qid}: empty relevant interval {interval}")
        if interval.video not in known_videos:
            raise ValueError(f"query {qid}: relevant video {interval.video} is not listed")
    return Query(qid, raw["text"], raw["lang"], modality, filters, relevant, absent)


def load_dataset(directory: str | os.PathLike[str]) -> Dataset:
    """Read ``dataset.json`` and fail early on the mistakes that would silently skew scores."""
    root = Path(directory).resolve()
    raw = json.loads((root / "dataset.json").read_text(encoding="utf-8"))
    videos = tuple(
        Video(
            file=str((root / v["file"]).resolve()),
            camera=v.get("camera"),
            zone=v.get("zone"),
            start=datetime.fromisoformat(v["start"]),
            duration=float(v["duration"]),
            split=v.get("split"),
        )
        for v in raw["videos"]
    )
    known = {v.file for v in videos}
    queries = tuple(_parse_query(q, root, known) for q in raw["queries"])
    ids = [q.id for q in queries]
    if len(set(ids)) != len(ids):
        raise ValueError("query ids must be unique")
    return Dataset(raw["name"], int(raw["version"]), root, videos, queries)


@dataclass(frozen=True)
class QueryRun:
    query: Query
    score: QueryScore | None  # None for an absent-answer query: there is nothing to find
    latency_ms: float
    results: tuple[Interval, ...]  # the top k, as the system ranked them


@dataclass(frozen=True)
class CutoffReport:
    """How well the relevance cut-off says "no good match": the share of absent-answer
    queries whose top result is below it (or that got none), and the share of answerable
    queries whose first correct result it wrongly put below."""

    absent: int
    absent_rejected: float | None
    answerable: int
    first_hit_lost: float

    @staticmethod
    def of(runs: Sequence[QueryRun]) -> CutoffReport:
        absent = [r for r in runs if r.score is None]
        scored = [(r.score, r.results) for r in runs if r.score is not None]
        lost = sum(
            1
            for score, results in scored
            if score.first_hit is not None and results[score.first_hit - 1].below_cutoff
        )
        return CutoffReport(
            absent=len(absent),
            absent_rejected=(
                sum(1 for r in absent if not r.results or r.results[0].below_cutoff) / len(absent)
                if absent
                else None
            ),
            answerable=len(scored),
            first_hit_lost=lost / len(scored) if scored else 0.0,
        )


@dataclass(frozen=True)
class EvalReport:
    """One system's scores on one dataset; ``rows`` are overall, then per modality/language."""

    system: str
    dataset: str
    k: int
    rows: tuple[SummaryRow, ...]
    latency_p50_ms: float
    latency_p95_ms: float
    runs: tuple[QueryRun, ...]
    cutoff: CutoffReport

    @property
    def overall(self) -> SummaryRow:
        return self.rows[0]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form, with per-query detail so regressions can be traced."""
        return {
            "system": self.system,
            "dataset": self.dataset,
            "k": self.k,
            "latency_ms": {"p50": self.latency_p50_ms, "p95": self.latency_p95_ms},
            "cutoff": asdict(self.cutoff),
            "rows": [
                {
                    "key": row.key,
                    f"mAP@{self.k}": row.map,
                    **{f"R@{cut}": value for cut, value in row.recall.items()},
                    "MRR": row.mrr,
                    "n": row.count,
                }
                for row in self.rows
            ],
            "queries": [
                {
                    "id": run.query.id,
                    "modality": run.query.modality,
                    "lang": run.query.lang,
                    **(
                        {
                            "ap": run.score.ap,
                            "rr": run.score.rr,
                            **{f"R@{cut}": value for cut, value in run.score.recall.items()},
                            "first_hit": run.score.first_hit,
                        }
                        if run.score is not None
                        else {"absent": True}
                    ),
                    "top_below_cutoff": run.results[0].below_cutoff if run.results else None,
                    "latency_ms": run.latency_ms,
                }
                for run in self.runs
            ],
        }


def run_eval(
    dataset: Dataset,
    search: Callable[[Query], list[Interval]],
    system_name: str,
    k: int = 10,
) -> EvalReport:
    """Time and score every query; result paths are normalised like the dataset's."""
    if not dataset.queries:
        raise ValueError(f"dataset {dataset.name} has no queries")
    runs: list[QueryRun] = []
    for query in dataset.queries:
        started = time.perf_counter()
        results = search(query)
        latency_ms = (time.perf_counter() - started) * 1000.0
        normalized = tuple(replace(r, video=dataset.normalize_video(r.video)) for r in results[:k])
        score = None if query.absent else score_query(normalized, query.relevant, k)
        runs.append(QueryRun(query, score, latency_ms, normalized))

    scored = [(run.query, run.score) for run in runs if run.score is not None]
    groups: dict[str, list[QueryScore]] = {"overall": [score for _, score in scored]}
    for modality in MODALITIES:
        groups[f"modality={modality}"] = [s for q, s in scored if q.modality == modality]
    for lang in sorted({q.lang for q, _ in scored}):
        groups[f"lang={lang}"] = [s for q, s in scored if q.lang == lang]
    latencies = [run.latency_ms for run in runs]
    return EvalReport(
        system=system_name,
        dataset=dataset.name,
        k=k,
        rows=tuple(summarize(groups)),
        latency_p50_ms=percentile(latencies, 50),
        latency_p95_ms=percentile(latencies, 95),
        runs=tuple(runs),
        cutoff=CutoffReport.of(runs),
    )


def _fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def map_gain(system: EvalReport, baseline: EvalReport) -> float | None:
    """Relative overall mAP gain (0.5 = +50 %); None when the baseline scores zero."""
    if baseline.overall.map == 0.0:
        return None
    return system.overall.map / baseline.overall.map - 1.0


def render_table(reports: Sequence[EvalReport]) -> Table:
    """Systems side by side; the first report is the system under test and the last one the
    baseline it is compared against in the caption."""
    if not reports:
        raise ValueError("nothing to render")
    cuts = sorted({cut for rep in reports for row in rep.rows for cut in row.recall})
    table = Table(title=f"{reports[0].dataset}: retrieval quality")
    table.add_column("group")
    for rep in reports:
        for metric in (f"mAP@{rep.k}", *(f"R@{cut}" for cut in cuts), "MRR", "n"):
            table.add_column(f"{rep.system}\n{metric}", justify="right")

    keys = list(dict.fromkeys(row.key for rep in reports for row in rep.rows))
    for key in keys:
        cells = [key]
        for rep in reports:
            row = next((r for r in rep.rows if r.key == key), None)
            if row is None:
                cells += ["—"] * (len(cuts) + 3)
                continue
            cells += [_fmt(row.map), *(_fmt(row.recall.get(cut)) for cut in cuts)]
            cells += [_fmt(row.mrr), str(row.count)]
        table.add_row(*cells)

    lines = [
        f"{rep.system}: latency p50 {rep.latency_p50_ms:.1f} ms, p95 {rep.latency_p95_ms:.1f} ms"
        for rep in reports
    ]
    cut = reports[0].cutoff
    if cut.absent_rejected is not None:
        lines.append(
            f"{reports[0].system} cut-off: top result below it for {cut.absent_rejected:.0%} of "
            f"{cut.absent} absent-answer queries; first correct hit below it for "
            f"{cut.first_hit_lost:.1%} of {cut.answerable} answerable queries"
        )
    if len(reports) > 1:
        system, baseline = reports[0], reports[-1]
        gain = map_gain(system, baseline)
        verdict = "n/a (baseline scores 0)" if gain is None else f"{gain:+.1%}"
        lines.append(f"mAP@{system.k} gain of {system.system} over {baseline.system}: {verdict}")
    table.caption = "\n".join(lines)
    return table
