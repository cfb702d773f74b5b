"""Fit the relevance cut-off (``search.cutoff``, ``search.cutoff_model``) on the benchmark's
tune half, and compare it with simpler rules.

Every query of a half runs through the engine as `sceneseek eval` runs it (cut-off off),
and each of its top K moments gets the features the cut-off reads
(``sceneseek/search/relevance.py``); an answerable query's first correct result is found
as the benchmark scores hits. A candidate is fitted on the first correct results (which
should pass), the results ranked above them and the absent-answer queries' tops (which
should not); its threshold is the highest that loses at most ``--max-lost`` of the
first correct hits, placed halfway down to the next value the half takes under it so that
a little noise does not flip a query. Candidates are judged by leave-one-video-out
cross-validation within the tune half (each video's moments scored by a candidate fitted,
and thresholded, without them): what matters is how the cut-off carries to footage it
never saw. The test half (if given) is only reported, with the tune half's fit.

A query that asks what is said or written ("a sign that says …") is also held to its
words: the moment's speech or on-screen text must stand ``asked_words_z`` deviations above
the query's background (chosen like the threshold, among those queries only: the highest
that keeps all their first correct hits, halfway down to the next value under it). So is
a moment whose labels, tags and texts never name the query's subject when the classifiers
could (``unnamed_subject``): it can only answer by its words.

Candidates: the OR of thresholds the cut-off used to be (the list's standout, the best text
cosine, the visual margin), without the standout, with one text threshold per modality;
and logistic regressions (L2-regularised, plain NumPy) on ``FEATURES`` or fewer.

Both indexes come from `sceneseek eval --split tune|test --db DB` (this script indexes
nothing new; a missing index is an error). It ends by printing the config to adopt.

Usage: python bench/cutoff.py --dataset DIR --tune-db DIR [--test-db DIR] [--max-lost 0.05]
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sceneseek import Config, Library
from sceneseek.config import TEXT_MODALITIES
from sceneseek.eval.benchmark import split_half
from sceneseek.eval.metrics import Interval, score_query
from sceneseek.eval.runner import Dataset, load_dataset
from sceneseek.search.relevance import (
    ALWAYS,
    FEATURES,
    RelevanceModel,
    answers_as_asked,
    features,
)

K = 10  # results scored per query, as `sceneseek eval` does
L2 = 10.0  # ridge penalty on the standardised weights: few examples, keep the model small
FRACTIONS = [round(0.05 * i, 2) for i in range(10, -1, -1)]  # 0.5 down to 0
Row = dict[str, float]
Scorer = Callable[[Row], float]  # higher: more likely a good match


@dataclass(frozen=True)
class Ranked:
    """One query's top K as the engine ranks them: each moment's features and video, and
    the rank (0-based) of the first correct result (None: none in the top K, which no
    cut-off can lose)."""

    query: str
    absent: bool
    rows: list[Row]
    videos: list[str]
    first_hit: int | None


def rank_half(dataset: Dataset, db: Path) -> list[Ranked]:
    if not (db / "index.sqlite").exists():
        raise SystemExit(f"{db}: no index; run `sceneseek eval --split ... --db {db}` first")
    library = Library(db, Config(search={"cutoff": None}))  # type: ignore[arg-type]
    ranked = []
    try:
        for query in dataset.queries:
            f = query.filters
            moments = library.search(query.text, K, f.camera, f.zone, f.time_of_day).results
            found = [Interval(dataset.normalize_video(m.video), m.start, m.end) for m in moments]
            first = None if query.absent else score_query(found, query.relevant, K).first_hit
            rows = features(moments)
            for row, moment in zip(rows, moments, strict=True):
                row["fraction"] = moment.score / moments[0].score  # what min_fraction reads
            ranked.append(
                Ranked(
                    query=query.text,
                    absent=query.absent,
                    rows=rows,
                    videos=[r.video for r in found],
                    first_hit=first - 1 if first else None,
                )
            )
    finally:
        library.close()
    return ranked


def absent_tops(half: Sequence[Ranked]) -> list[Row | None]:
    return [q.rows[0] if q.rows else None for q in half if q.absent]


def first_hits(half: Sequence[Ranked]) -> list[Row | None]:
    answerable = [q for q in half if not q.absent]
    return [q.rows[q.first_hit] if q.first_hit is not None else None for q in answerable]


@dataclass(frozen=True)
class Outcome:
    absent_below: float  # share of absent-answer queries whose top is below (or none)
    lost: float  # share of answerable queries whose first correct hit is below
    absent: int
    answerable: int


def outcome(half: Sequence[Ranked], passes: Callable[[Row], bool]) -> Outcome:
    tops, hits = absent_tops(half), first_hits(half)
    below = sum(top is None or not passes(top) for top in tops)
    lost = sum(hit is not None and not passes(hit) for hit in hits)
    return Outcome(below / len(tops), lost / len(hits), len(tops), len(hits))


def choose_threshold(half: Sequence[Ranked], score: Scorer, max_lost: float) -> float:
    """The highest threshold on ``score`` that loses at most ``max_lost`` of the first
    correct hits, halfway down to the next score the half's first hits and absent-answer
    tops take under it."""
    hits = sorted(score(h) for h in first_hits(half) if h is not None)
    allowed = math.floor(max_lost * len(first_hits(half)))
    if allowed >= len(hits):
        return math.inf
    threshold = hits[allowed]
    under = [
        s
        for s in (*hits, *(score(t) for t in absent_tops(half) if t is not None))
        if -math.inf < s < threshold
    ]
    return (threshold + max(under)) / 2 if under else threshold


# --- candidates: each fits a scorer on tune moments -------------------------------------


def text_best(row: Row) -> float:
    return max((row[m] for m in TEXT_MODALITIES if m in row), default=-math.inf)


def or_rule(names: Sequence[str]) -> Callable[[Sequence[Ranked], float], Scorer]:
    """An OR of one threshold per reading (a moment passes when any reaches its own),
    chosen greedily: from nothing passing, lower the threshold that recovers the most
    first correct hits per absent-answer top it lets in until at most ``max_lost`` are
    lost, then raise each threshold as far as that still holds. The scorer is the
    largest margin over a threshold, so it passes at 0."""

    def reading(row: Row, name: str) -> float:
        return text_best(row) if name == "text" else row.get(name, -math.inf)

    def fit(half: Sequence[Ranked], max_lost: float) -> Scorer:
        hits = [h for h in first_hits(half) if h is not None]
        tops = [t for t in absent_tops(half) if t is not None]
        allowed = math.floor(max_lost * len(first_hits(half)))
        hit_values = np.array([[reading(h, n) for n in names] for h in hits])
        top_values = np.array([[reading(t, n) for n in names] for t in tops])
        thresholds = np.full(len(names), math.inf)

        def counts(t: np.ndarray) -> tuple[int, int]:
            lost = int((~(hit_values >= t).any(axis=1)).sum())
            let_in = int((top_values >= t).any(axis=1).sum())
            return lost, let_in

        lost, let_in = counts(thresholds)
        while lost > allowed:
            best: tuple[float, int, float] | None = None
            for i in range(len(names)):
                for value in np.unique(hit_values[:, i]):
                    if value >= thresholds[i] or not math.isfinite(value):
                        continue
                    trial = thresholds.copy()
                    trial[i] = value
                    new_lost, new_in = counts(trial)
                    gain = (lost - new_lost) / (new_in - let_in + 0.5)
                    if lost > new_lost and (best is None or gain > best[0]):
                        best = (gain, i, value)
            if best is None:
                break
            thresholds[best[1]] = best[2]
            lost, let_in = counts(thresholds)
        for i in range(len(names)):
            for value in np.unique(np.append(hit_values[:, i], math.inf)):
                trial = thresholds.copy()
                trial[i] = value
                new_lost, new_in = counts(trial)
                if value > thresholds[i] and new_lost <= allowed and new_in <= let_in:
                    thresholds, let_in = trial, new_in
        chosen = dict(zip(names, thresholds, strict=True))
        return lambda row: max(reading(row, n) - t for n, t in chosen.items())

    return fit


def logistic(names: Sequence[str]) -> Callable[[Sequence[Ranked], float], Scorer]:
    return lambda half, max_lost: fit_logistic(half, names).probability


def fit_logistic(half: Sequence[Ranked], names: Sequence[str], l2: float = L2) -> RelevanceModel:
    """L2-regularised logistic regression (Newton's method on standardised features),
    returned in the features' own units. It learns the decision the cut-off makes where
    a reader looks: each answerable query's first correct result is a good match, and
    the results ranked above it and every absent-answer query's top are not. (Fitted on
    every top-K moment instead, it learned the ranking within a list, which the fused
    score already knows, and put no absent-answer top below.) A feature a moment has no
    evidence for takes the mean of the bad matches that have it: no evidence counts as
    a wrong answer's."""
    rows: list[Row] = []
    good: list[bool] = []
    for q in half:
        if q.absent and q.rows:
            rows.append(q.rows[0])
            good.append(False)
        elif q.first_hit is not None:
            rows += q.rows[: q.first_hit + 1]
            good += [False] * q.first_hit + [True]
    labels = np.array(good, dtype=float)
    missing = {}
    for name in (n for n in names if n not in ALWAYS):
        seen = [row[name] for row, y in zip(rows, good, strict=True) if not y and name in row]
        missing[name] = float(np.mean(seen)) if seen else 0.0
    x = np.array([[row.get(n, missing.get(n, 0.0)) for n in names] for row in rows])
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-9
    z = np.hstack([np.ones((len(x), 1)), (x - mean) / scale])
    penalty = np.diag([0.0, *([l2] * len(names))])
    w = np.zeros(z.shape[1])
    for _ in range(100):
        p = 1 / (1 + np.exp(-z @ w))
        step = np.linalg.solve(
            (z * (p * (1 - p))[:, None]).T @ z + penalty, z.T @ (p - labels) + penalty @ w
        )
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    weights = w[1:] / scale
    return RelevanceModel(
        weights={n: round(float(v), 4) for n, v in zip(names, weights, strict=True)},
        bias=round(float(w[0] - weights @ mean), 4),
        missing={n: round(v, 4) for n, v in missing.items()},
        threshold=0.0,
    )


def choose_asked_words_z(half: Sequence[Ranked]) -> float:
    """The highest ``words_z`` that every first correct hit of a query asking what is
    said or written reaches, halfway down to the next value such a query's first hits
    and absent-answer tops take under it (``RelevanceModel.asked_words_z``)."""
    asking = [q for q in half if q.rows and q.rows[0]["asks_words"]]
    return choose_threshold(asking, lambda row: row.get("words_z", -math.inf), 0.0)


def asked_words(
    fit: Callable[[Sequence[Ranked], float], Scorer], subject: bool = True
) -> Callable[[Sequence[Ranked], float], Scorer]:
    """``fit`` with the rules for moments that can only answer by their words
    (``answers_as_asked``; without ``subject``, only the one for queries that ask for
    words), ``asked_words_z`` fitted on the same moments: a moment they reject scores
    -inf."""

    def fit_gated(half: Sequence[Ranked], max_lost: float) -> Scorer:
        score, z = fit(half, max_lost), choose_asked_words_z(half)

        def answers(row: Row) -> bool:
            return answers_as_asked(row if subject else {**row, "unnamed_subject": 0.0}, z)

        return lambda row: score(row) if answers(row) else -math.inf

    return fit_gated


def choose_fraction(half: Sequence[Ranked]) -> float:
    """The largest fraction of the top score (0.5 down in steps of 0.05) that no first
    correct hit of the half scores under."""
    found = [h["fraction"] for h in first_hits(half) if h is not None]
    return next(f for f in FRACTIONS if all(x >= f for x in found))


PREVIOUS = {"standout": 1.966, "text": 0.844, "visual": 0.005, "fraction": 0.45}


def previous_rule(row: Row) -> bool:
    """The cut-off the logistic model replaced, with the defaults it shipped with."""
    return (
        row["standout"] >= PREVIOUS["standout"]
        or text_best(row) >= PREVIOUS["text"]
        or row.get("visual", -math.inf) >= PREVIOUS["visual"]
    ) and row["fraction"] >= PREVIOUS["fraction"]


# On the final6 tune half the raw and the standardised words tie on LOVO folds; the raw
# cosine stays (docs/BENCHMARKS.md, round three).
ADOPTED = ("words", "said", "visual", "keyword", "standout")
STANDARDISED = ("words_z", *ADOPTED[1:])
CANDIDATES: dict[str, Callable[[Sequence[Ranked], float], Scorer]] = {
    "rule: standout | text | visual": or_rule(("standout", "text", "visual")),
    "rule: text | visual": or_rule(("text", "visual")),
    "rule: per-modality text | visual": or_rule((*TEXT_MODALITIES, "visual")),
    "rule: per-modality text | visual | standout": or_rule(
        (*TEXT_MODALITIES, "visual", "standout")
    ),
    "logistic: every feature": logistic(FEATURES),
    "logistic: " + ", ".join(ADOPTED): logistic(ADOPTED),
    "logistic: the same with words standardised (words_z)": logistic(STANDARDISED),
    "logistic: the same without standout": logistic(ADOPTED[:-1]),
    "logistic: the same without said": logistic(tuple(n for n in ADOPTED if n != "said")),
    "logistic: the same with the sound cosine": logistic((*ADOPTED, "sound")),
    "logistic: per-modality text, visual, keyword, standout": logistic(
        (*TEXT_MODALITIES, "visual", "keyword", "standout")
    ),
    "asked words ≥ z only, and logistic: " + ", ".join(ADOPTED): asked_words(
        logistic(ADOPTED), subject=False
    ),
    "words ≥ z where asked or the subject is unnamed, and logistic: " + ", ".join(ADOPTED): (
        asked_words(logistic(ADOPTED))
    ),
    "the same with words_z": asked_words(logistic(STANDARDISED)),
    "the same with lead": asked_words(logistic((*ADOPTED, "lead"))),
}


def cross_validated(
    half: Sequence[Ranked], fit: Callable[[Sequence[Ranked], float], Scorer], max_lost: float
) -> tuple[Outcome, Outcome]:
    """Leave one video out: each video's moments are scored by a candidate fitted and
    thresholded on the half's moments of the other videos only. Returns the outcome of
    those fold thresholds (what a threshold chosen on some footage does on other
    footage), and that of one threshold on the pooled out-of-fold scores at ``max_lost``
    (how well the candidate ranks unseen footage's first hits above absent-answer tops,
    comparable across candidates at the same loss)."""
    scored: dict[int, float] = {}  # id(row) -> out-of-fold score less its fold's threshold
    for video in sorted({v for q in half for v in q.videos}):
        others = [_without(q, video) for q in half]
        score = fit(others, max_lost)
        threshold = choose_threshold(others, score, max_lost)
        for q in half:
            for row, v in zip(q.rows, q.videos, strict=True):
                if v == video:
                    scored[id(row)] = score(row) - threshold
    pooled = choose_threshold(half, lambda row: scored[id(row)], max_lost)
    return (
        outcome(half, lambda row: scored[id(row)] >= 0),
        outcome(half, lambda row: scored[id(row)] >= pooled),
    )


def _without(q: Ranked, video: str) -> Ranked:
    """The query's list without the moments of ``video`` (their first hit, if it was one,
    no longer counts; a list's own features are left as the engine computed them)."""
    keep = [j for j, v in enumerate(q.videos) if v != video]
    first = q.first_hit if q.first_hit in keep else None
    return Ranked(
        q.query,
        q.absent,
        [q.rows[j] for j in keep],
        [q.videos[j] for j in keep],
        keep.index(first) if first is not None else None,
    )


def lost_for(half: Sequence[Ranked], score: Scorer, absent_below: float) -> Outcome:
    """What putting ``absent_below`` of the absent-answer tops below costs: the lowest
    threshold that does it, and the first correct hits that then fall under it."""
    tops = sorted(score(t) for t in absent_tops(half) if t is not None)
    passing = len(absent_tops(half)) - math.ceil(absent_below * len(absent_tops(half)))
    threshold = tops[-passing - 1] + 1e-9 if passing < len(tops) else -math.inf
    return outcome(half, lambda row: score(row) > threshold)


def describe(o: Outcome) -> str:
    return f"{o.absent_below:4.0%} below, {o.lost:5.1%} lost"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", type=Path, required=True)
    parser.add_argument("--tune-db", type=Path, required=True)
    parser.add_argument("--test-db", type=Path)
    parser.add_argument("--max-lost", type=float, default=0.05)
    args = parser.parse_args()
    dataset = load_dataset(args.dataset)
    tune = rank_half(split_half(dataset, "tune"), args.tune_db)
    test = rank_half(split_half(dataset, "test"), args.test_db) if args.test_db else None
    answerable = sum(not q.absent for q in tune)
    print(
        f"tune: {len(tune) - answerable} absent-answer and {answerable} answerable queries;"
        f" at most {args.max_lost:.0%} first hits lost. Per candidate: absent-answer tops"
        " below the cut-off, first correct hits lost."
    )
    columns = ("tune, in-sample", "tune, LOVO folds", "tune, LOVO pooled", "test")
    print(f"| {'candidate':55} | " + " | ".join(f"{c:20}" for c in columns) + " |")
    previous = [describe(outcome(tune, previous_rule)), "-", "-"]
    previous.append(describe(outcome(test, previous_rule)) if test else "-")
    print(f"| {'previous defaults (standout | text | visual)':55} | " + _cells(previous))
    for name, fit in CANDIDATES.items():
        score = fit(tune, args.max_lost)
        threshold = choose_threshold(tune, score, args.max_lost)

        def passes(row: Row, score: Scorer = score, threshold: float = threshold) -> bool:
            return score(row) >= threshold

        folds, pooled = cross_validated(tune, fit, args.max_lost)
        cells = [describe(outcome(tune, passes)), describe(folds), describe(pooled)]
        cells.append(describe(outcome(test, passes)) if test else "-")
        print(f"| {name:55} | " + _cells(cells))
    model = fit_logistic(tune, ADOPTED)
    asked_z = choose_asked_words_z(tune)

    def adopted(row: Row) -> float:
        return model.probability(row) if answers_as_asked(row, asked_z) else -math.inf

    threshold = choose_threshold(tune, adopted, args.max_lost)
    costs = [lost_for(h, adopted, 0.8) for h in (tune, *([test] if test else []))]
    print(
        "\nthe adopted model at 80% absent-answer tops below: first correct hits lost "
        + ", ".join(
            f"{name} {c.lost:.1%}" for name, c in zip(("tune", "test"), costs, strict=False)
        )
    )
    print("\nadopt (sceneseek.toml, or the defaults in sceneseek/config.py):\n[search]")
    print(f"cutoff = {math.floor(threshold * 1e4) / 1e4}")
    print(f"cutoff_fraction = {choose_fraction(tune)}")
    print("[search.cutoff_model]")
    print(f"bias = {model.bias}")
    print("weights = {" + ", ".join(f"{n} = {w}" for n, w in model.weights.items()) + "}")
    print("missing = {" + ", ".join(f"{n} = {v}" for n, v in model.missing.items()) + "}")
    print(f"asked_words_z = {math.floor(asked_z * 1e4) / 1e4}")


def _cells(cells: Sequence[str]) -> str:
    return " | ".join(f"{c:20}" for c in cells) + " |"


if __name__ == "__main__":
    main()
