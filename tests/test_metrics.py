"""Hand-computed cases for the issue #3 scoring rule, the keyword baseline and aggregation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from sceneseek.eval.benchmark import split_half
from sceneseek.eval.keyword import KeywordBaseline, SegmentMeta, tokenize
from sceneseek.eval.metrics import (
    Interval,
    QueryScore,
    percentile,
    score_query,
    summarize,
)
from sceneseek.eval.runner import (
    Dataset,
    Query,
    QueryFilters,
    load_dataset,
    render_table,
    run_eval,
)

A, B = "/data/a.mp4", "/data/b.mp4"


def iv(video: str, start: float, end: float) -> Interval:
    return Interval(video, start, end)


# --- score_query ---------------------------------------------------------------------------


def test_perfect_ranking() -> None:
    relevant = [iv(A, 10, 20), iv(B, 0, 8)]
    score = score_query([iv(A, 10, 20), iv(B, 0, 8)], relevant)
    assert score.ap == 1.0
    assert score.rr == 1.0
    assert score.recall == {1: 0.5, 5: 1.0, 10: 1.0}


def test_hit_at_rank_three() -> None:
    score = score_query([iv(A, 50, 60), iv(B, 10, 20), iv(A, 12, 18)], [iv(A, 10, 20)])
    assert score.ap == pytest.approx(1 / 3)
    assert score.rr == pytest.approx(1 / 3)
    assert score.recall == {1: 0.0, 5: 1.0, 10: 1.0}


def test_wrong_video_does_not_count() -> None:
    score = score_query([iv(B, 10, 20)], [iv(A, 10, 20)])
    assert (score.ap, score.rr, score.recall[10]) == (0.0, 0.0, 0.0)


def test_result_longer_than_30s_never_counts() -> None:
    assert score_query([iv(A, 0, 31)], [iv(A, 10, 20)]).ap == 0.0
    assert score_query([iv(A, 0, 30)], [iv(A, 10, 20)]).ap == 1.0  # exactly 30 s is allowed


def test_result_covering_half_of_a_relevant_interval() -> None:
    # Overlap 20 s of a 40 s interval: exactly half of it.
    assert score_query([iv(A, 5, 25)], [iv(A, 0, 40)]).ap == 1.0
    # Overlap 5 s: half of the 10 s interval but only 1/6 of the 30 s result.
    assert score_query([iv(A, 5, 35)], [iv(A, 0, 10)]).ap == 1.0
    # Overlap 4 s: below half of either.
    assert score_query([iv(A, 6, 36)], [iv(A, 0, 10)]).ap == 0.0


def test_small_result_inside_large_interval() -> None:
    # 10 s result wholly inside a 100 s interval: 100 % of the result, 10 % of the interval.
    assert score_query([iv(A, 40, 50)], [iv(A, 0, 100)]).ap == 1.0
    # Sticking out: 5 of 10 s inside is half of the result; 4 of 10 s is not.
    assert score_query([iv(A, 95, 105)], [iv(A, 0, 100)]).ap == 1.0
    assert score_query([iv(A, 96, 106)], [iv(A, 0, 100)]).ap == 0.0


def test_duplicate_hits_on_one_interval_count_once() -> None:
    single = score_query([iv(A, 10, 20), iv(A, 11, 19), iv(A, 10, 20)], [iv(A, 10, 20)])
    assert single.ap == 1.0
    assert single.recall[10] == 1.0
    # Hits at ranks 1 and 3, rank 2 duplicates rank 1: AP = (1/1 + 2/3) / 2.
    relevant = [iv(A, 10, 20), iv(B, 0, 10)]
    score = score_query([iv(A, 10, 20), iv(A, 12, 20), iv(B, 0, 10)], relevant)
    assert score.ap == pytest.approx((1 + 2 / 3) / 2)
    assert score.recall == {1: 0.5, 5: 1.0, 10: 1.0}


def test_two_relevant_intervals() -> None:
    relevant = [iv(A, 0, 10), iv(A, 100, 110)]
    score = score_query([iv(B, 0, 10), iv(A, 100, 110), iv(A, 0, 10)], relevant)
    assert score.ap == pytest.approx((1 / 2 + 2 / 3) / 2)
    assert score.rr == 0.5
    assert score.recall == {1: 0.0, 5: 1.0, 10: 1.0}


def test_result_matching_two_intervals_credits_the_larger_overlap() -> None:
    # [5, 25] hits both; crediting [9, 30] (16 s shared) leaves [0, 10] for rank 2.
    relevant = [iv(A, 0, 10), iv(A, 9, 30)]
    assert score_query([iv(A, 5, 25), iv(A, 0, 10)], relevant).ap == 1.0


def test_no_results() -> None:
    score = score_query([], [iv(A, 0, 10)])
    assert score == QueryScore(ap=0.0, rr=0.0, recall={1: 0.0, 5: 0.0, 10: 0.0})


def test_only_top_k_counts_and_ap_denominator_is_capped() -> None:
    relevant = [iv(A, 10 * i, 10 * i + 10) for i in range(12)]
    score = score_query(list(relevant), relevant)
    assert score.ap == 1.0  # 10 hits / min(12, 10)
    assert score.recall[10] == pytest.approx(10 / 12)
    late = score_query([iv(B, 0, 1)] * 10 + [iv(A, 0, 10)], [iv(A, 0, 10)])
    assert (late.ap, late.rr) == (0.0, 0.0)


def test_query_without_relevant_interval_is_rejected() -> None:
    with pytest.raises(ValueError):
        score_query([iv(A, 0, 10)], [])


# --- summarize / percentile ----------------------------------------------------------------


def test_summarize_means_and_skips_empty_groups() -> None:
    s1 = QueryScore(ap=1.0, rr=1.0, recall={1: 1.0, 5: 1.0, 10: 1.0})
    s2 = QueryScore(ap=0.0, rr=0.0, recall={1: 0.0, 5: 0.5, 10: 0.5})
    rows = summarize({"overall": [s1, s2], "lang=es": [], "lang=en": [s2]})
    assert [r.key for r in rows] == ["overall", "lang=en"]
    assert rows[0].map == 0.5
    assert rows[0].mrr == 0.5
    assert rows[0].recall == {1: 0.5, 5: 0.75, 10: 0.75}
    assert rows[0].count == 2


def test_percentile_interpolates_linearly() -> None:
    assert percentile([4.0, 1.0, 3.0, 2.0], 50) == 2.5
    assert percentile([1.0, 2.0, 3.0, 4.0], 95) == pytest.approx(3.85)
    assert percentile([7.0], 95) == 7.0
    with pytest.raises(ValueError):
        percentile([], 50)


# --- keyword baseline ----------------------------------------------------------------------

DOOR = "videos/cam01_front_door.mp4"
LOT = "videos/cam02_parking_lot.mp4"
DOG_A = "videos/a_dog.mp4"
DOG_B = "videos/b_dog.mp4"


def _segments(video: str, camera: str, zone: str, count: int) -> list[SegmentMeta]:
    return [SegmentMeta(video, 10.0 * i, 10.0 * i + 10, camera, zone) for i in range(count)]


@pytest.fixture
def baseline() -> KeywordBaseline:
    return KeywordBaseline(
        _segments(DOG_B, "cam-02", "yard", 2)
        + _segments(DOOR, "cam-01", "gate", 3)
        + _segments(LOT, "cam-02", "parking", 2)
        + _segments(DOG_A, "cam-01", "yard", 2)
    )


def test_tokenizer_lowercases_and_strips_accents() -> None:
    assert tokenize("Cámara Entrada_Norte-2 ÑANDÚ") == ["camara", "entrada", "norte", "2", "nandu"]


def test_filename_match_ranks_that_video_first(baseline: KeywordBaseline) -> None:
    results = baseline.search("someone at the front door", top_k=10)
    assert [(r.video, r.start) for r in results] == [(DOOR, 0.0), (DOOR, 10.0), (DOOR, 20.0)]


def test_ties_follow_video_order_then_start(baseline: KeywordBaseline) -> None:
    results = baseline.search("Dog", top_k=3)
    assert [(r.video, r.start) for r in results] == [(DOG_B, 0.0), (DOG_B, 10.0), (DOG_A, 0.0)]


def test_camera_and_zone_filters_are_exact(baseline: KeywordBaseline) -> None:
    assert {r.video for r in baseline.search("dog", 10, camera="cam-01")} == {DOG_A}
    assert {r.video for r in baseline.search("dog", 10, camera="cam-0")} == set()
    assert {r.video for r in baseline.search("yard parking", 10, zone="parking")} == {LOT}


def test_no_keyword_match_returns_nothing(baseline: KeywordBaseline) -> None:
    assert baseline.search("cat sleeping on the sofa", 10) == []


# --- runner --------------------------------------------------------------------------------


def _query(qid: str, modality: str, lang: str, relevant: Interval) -> Query:
    return Query(qid, qid, lang, modality, QueryFilters(), (relevant,))


def test_run_eval_aggregates_by_modality_and_language(tmp_path: Path) -> None:
    root = tmp_path.resolve()
    video = str(root / "videos" / "a.mp4")
    queries = (
        _query("q1", "visual", "en", iv(video, 0, 10)),
        _query("q2", "visual", "es", iv(video, 20, 30)),
        _query("q3", "speech", "en", iv(video, 40, 50)),
    )
    dataset = Dataset("tiny", 1, root, (), queries)
    # Relative paths must be resolved against the dataset directory before matching.
    answers = {
        "q1": [iv("videos/a.mp4", 0, 10)],
        "q2": [iv("videos/a.mp4", 60, 70), iv("./videos/../videos/a.mp4", 20, 30)],
        "q3": [],
    }
    report = run_eval(dataset, lambda q: answers[q.id], "fake")
    rows = {row.key: row for row in report.rows}

    assert list(rows) == ["overall", "modality=visual", "modality=speech", "lang=en", "lang=es"]
    assert rows["overall"].map == pytest.approx((1 + 0.5 + 0) / 3)
    assert rows["overall"].mrr == pytest.approx((1 + 0.5 + 0) / 3)
    assert rows["overall"].recall == {
        1: pytest.approx(1 / 3),
        5: pytest.approx(2 / 3),
        10: pytest.approx(2 / 3),
    }
    assert rows["modality=visual"].map == 0.75
    assert rows["modality=speech"].map == 0.0
    assert (rows["lang=en"].map, rows["lang=en"].count) == (0.5, 2)
    assert rows["lang=es"].map == 0.5
    assert 0.0 <= report.latency_p50_ms <= report.latency_p95_ms

    as_json = json.loads(json.dumps(report.to_dict()))
    assert as_json["rows"][0] == {
        "key": "overall",
        "mAP@10": pytest.approx(0.5),
        "R@1": pytest.approx(1 / 3),
        "R@5": pytest.approx(2 / 3),
        "R@10": pytest.approx(2 / 3),
        "MRR": pytest.approx(0.5),
        "n": 3,
    }
    assert [q["id"] for q in as_json["queries"]] == ["q1", "q2", "q3"]

    baseline = run_eval(dataset, lambda q: answers[q.id][:1] if q.id == "q1" else [], "keyword")
    console = Console(record=True, width=250)
    console.print(render_table([report, baseline]))
    text = console.export_text()
    assert "modality=speech" in text
    assert "mAP@10 gain of fake over keyword: +50.0%" in text  # 0.5 vs 1/3


def test_load_dataset_resolves_paths_and_validates(tmp_path: Path) -> None:
    raw: dict[str, Any] = {
        "name": "bench",
        "version": 1,
        "videos": [
            {
                "file": "videos/cam01_x.mp4",
                "camera": "cam-01",
                "zone": "gate",
                "start": "2026-11-28T22:10:00+00:00",
                "duration": 93.4,
            }
        ],
        "queries": [
            {
                "id": "q01",
                "text": "un gato durmiendo",
                "lang": "es",
                "modality": "visual",
                "filters": {"camera": "cam-01", "zone": None, "time_of_day": "22:00-06:00"},
                "relevant": [{"file": "videos/cam01_x.mp4", "start": 12.0, "end": 20.0}],
            }
        ],
    }
    (tmp_path / "dataset.json").write_text(json.dumps(raw), encoding="utf-8")
    dataset = load_dataset(tmp_path)
    expected = str((tmp_path / "videos" / "cam01_x.mp4").resolve())
    assert dataset.videos[0].file == expected
    query = dataset.queries[0]
    assert query.relevant == (Interval(expected, 12.0, 20.0),)
    assert query.filters == QueryFilters("cam-01", None, "22:00-06:00")

    raw["queries"][0]["relevant"][0]["file"] = "videos/missing.mp4"
    (tmp_path / "dataset.json").write_text(json.dumps(raw), encoding="utf-8")
    with pytest.raises(ValueError, match="not listed"):
        load_dataset(tmp_path)


def test_cutoff_report_counts_rejected_absent_queries_and_lost_first_hits(tmp_path: Path) -> None:
    root = tmp_path.resolve()
    video = str(root / "a.mp4")
    absent = (
        Query("n1", "a snake", "en", "visual", QueryFilters(), (), absent=True),
        Query("n2", "un tren", "es", "sound", QueryFilters(), (), absent=True),
        Query("n3", "a violin", "en", "sound", QueryFilters(), (), absent=True),
    )
    queries = (
        _query("q1", "visual", "en", iv(video, 0, 10)),
        _query("q2", "speech", "en", iv(video, 20, 30)),
        *absent,
    )
    weak = Interval(video, 50, 60, below_cutoff=True)
    answers = {
        "q1": [Interval(video, 0, 10, below_cutoff=True)],  # right, but put below the cut-off
        "q2": [Interval(video, 20, 30), weak],
        "n1": [weak],  # rejected: its top result is below the cut-off
        "n2": [],  # rejected: nothing at all
        "n3": [Interval(video, 50, 60)],  # a confident wrong answer
    }
    report = run_eval(Dataset("tiny", 2, root, (), queries), lambda q: answers[q.id], "fake")

    # absent-answer queries are not averaged into mAP, only into the cut-off figures
    assert report.overall.count == 2
    assert report.overall.map == 1.0
    assert report.cutoff.absent == 3
    assert report.cutoff.absent_rejected == pytest.approx(2 / 3)
    assert report.cutoff.answerable == 2
    assert report.cutoff.first_hit_lost == 0.5
    as_json = report.to_dict()
    assert as_json["cutoff"]["absent_rejected"] == pytest.approx(2 / 3)
    assert {q["id"]: q.get("absent", False) for q in as_json["queries"]}["n2"] is True


def _two_video_dataset(root: Path) -> dict[str, Any]:
    video = {"camera": None, "zone": None, "start": "2026-11-28T22:10:00+00:00", "duration": 60}
    return {
        "name": "bench",
        "version": 2,
        "videos": [
            {**video, "file": "tune.mp4", "split": "tune"},
            {**video, "file": "test.mp4", "split": "test"},
        ],
        "queries": [
            {
                "id": "both",
                "text": "a cat",
                "lang": "en",
                "modality": "visual",
                "relevant": [
                    {"file": "tune.mp4", "start": 0, "end": 5},
                    {"file": "test.mp4", "start": 10, "end": 15},
                ],
            },
            {
                "id": "tune-only",
                "text": "a dog",
                "lang": "en",
                "modality": "visual",
                "relevant": [{"file": "tune.mp4", "start": 20, "end": 25}],
            },
            {
                "id": "nowhere",
                "text": "a snake",
                "lang": "en",
                "modality": "visual",
                "relevant": [],
                "absent": True,
            },
        ],
    }


def test_split_half_keeps_its_videos_their_intervals_and_absent_queries(tmp_path: Path) -> None:
    (tmp_path / "dataset.json").write_text(json.dumps(_two_video_dataset(tmp_path)))
    dataset = load_dataset(tmp_path)
    test = split_half(dataset, "test")
    assert [Path(v.file).name for v in test.videos] == ["test.mp4"]
    assert {q.id: len(q.relevant) for q in test.queries} == {"both": 1, "nowhere": 0}
    assert Path(test.queries[0].relevant[0].video).name == "test.mp4"
    tune = split_half(dataset, "tune")
    assert {q.id: len(q.relevant) for q in tune.queries} == {
        "both": 1,
        "tune-only": 1,
        "nowhere": 0,
    }
    with pytest.raises(ValueError, match="unknown split"):
        split_half(dataset, "train")


def test_absent_query_with_relevant_intervals_is_rejected(tmp_path: Path) -> None:
    raw = _two_video_dataset(tmp_path)
    raw["queries"][2]["relevant"] = [{"file": "test.mp4", "start": 1, "end": 2}]
    (tmp_path / "dataset.json").write_text(json.dumps(raw))
    with pytest.raises(ValueError, match="absent-answer"):
        load_dataset(tmp_path)
