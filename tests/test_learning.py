"""Marks as training data (issue #7): marks keep what the search saw, `learn` adopts a
fusion only when it ranks held-out queries' marks better, `uncertain` lists what to
review next, and the API refines a query with marks. Real models on the sample index
(a copy per test, so marks and fusions never leak); about 40 s in all."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner, Result

from sceneseek import Config, Library
from sceneseek.api import create_app
from sceneseek.cli import app
from sceneseek.config import SearchConfig
from sceneseek.eval.samples import SampleSet
from sceneseek.search.learn import FEATURES, Labelled, learn

# What each query is about in the sample media: (video, item label).
TRUTH = {
    "a cat": ("photos.mp4", "cat"),
    "a rocket launch": ("photos.mp4", "rocket"),
    "a cup of coffee": ("photos.mp4", "coffee"),
    "the shipment will arrive late on Friday": ("speech.mp4", "phrase"),
    "a man talking on the phone in a car": ("speech.mp4", "man talking in a car"),
}


def test_marks_persist_with_scores_and_versions(indexed_copy: Path) -> None:
    library = Library(indexed_copy)
    cat = library.search("a cat", top_k=1).results[0].segments[0].id
    library.mark("  a   cat ", cat, relevant=True)
    encoders = library.index_store.encoder_versions()
    library.close()
    reopened = Library(indexed_copy)  # a restart: everything comes back from the index
    [mark] = [m for m in reopened.marks() if m.segment_id == cat]  # other tests mark too
    assert (mark.query, mark.segment_id, mark.relevant) == ("a cat", cat, True)
    assert mark.scores["visual"] > 1.0  # the cat photo is strong visual evidence ...
    assert mark.scores.get("speech", 0.0) < mark.scores["visual"]  # ... speech is not
    assert mark.encoders == encoders and "visual" in mark.encoders
    assert mark.fusion is not None and mark.fusion.startswith("config-")
    with pytest.raises(KeyError):
        reopened.mark("a cat", 10**9, relevant=False)


def test_learn_keeps_a_fusion_that_already_ranks_the_marks_perfectly(indexed_copy: Path) -> None:
    library = Library(indexed_copy)
    for query in TRUTH:
        for rank, moment in enumerate(library.search(query, top_k=4).results):
            library.mark(query, moment.segments[0].id, relevant=rank == 0)
    before = library.fusion_version()
    report = library.learn()
    assert report.queries == len(TRUTH) and report.current_ap == pytest.approx(1.0)
    assert not report.adopted and "kept the current fusion" in report.reason
    assert [(f.version, f.adopted) for f in library.index_store.fusions()] == [("learned-1", False)]
    assert library.fusion_version() == before  # the recorded candidate ranks nothing


def test_learn_adopts_weights_that_rank_held_out_marks_better(
    indexed_copy: Path, samples: SampleSet
) -> None:
    # A fusion that only listens to people/motion descriptions ranks these queries badly.
    bad = {"people": 1.0, "visual": 0.0, "speech": 0.0, "keyword": 0.0, "fused": 0.0}
    library = Library(indexed_copy, Config(search={"weights": bad}))  # type: ignore[arg-type]
    segments = library.index_store.all_segments()
    for query, (video, label) in TRUTH.items():
        item = samples.find(video, label)
        for segment in segments:
            inside = min(segment.end, item.end) - max(segment.start, item.start)
            relevant = Path(segment.video).name == video and inside > 0.5
            library.mark(query, segment.id, relevant)
    dry = library.learn(dry_run=True)
    assert dry.adopted and dry.version is None and not library.index_store.fusions()
    report = library.learn()
    assert report.adopted and report.candidate_ap > report.current_ap
    assert report.version == "learned-1" == library.fusion_version()
    weights = report.candidate
    assert weights["people"] < bad["people"] and weights["visual"] > 0 and weights["speech"] > 0
    # The scale is kept: weights are stored unrounded, so they sum to the prior's total.
    assert sum(weights[m] for m in FEATURES) == pytest.approx(1.0, rel=1e-9)
    stored = library.index_store.fusions()[-1]
    assert stored.summary["cv"]["folds"] == report.folds and stored.adopted
    # Search now ranks with the learned weights: the cat comes first again ...
    assert Path(library.search("a cat", top_k=1).results[0].video).name == "photos.mp4"
    # ... unless the config pins its own weights.
    pinned = Config(search={"weights": bad, "use_learned": False})  # type: ignore[arg-type]
    assert Library(indexed_copy, pinned).fusion_version().startswith("config-")


def test_learned_weights_keep_the_total_of_the_weights_they_replace() -> None:
    # Synthetic marks (no models): six queries, each with relevant and irrelevant
    # segments of random evidence. Weights rounded one by one summed to 4.5001, not 4.5.
    rng = np.random.default_rng(0)
    labels = [
        Labelled(f"query {q}", bool(r), {m: float(rng.uniform(0, 3)) for m in FEATURES})
        for q in range(6)
        for r in (0, 1, 0, 1)
    ]
    current = SearchConfig().weights
    report = learn(labels, current, "config-test")
    assert report.candidate != current
    total = sum(report.candidate[m] for m in FEATURES)
    assert total == pytest.approx(sum(current[m] for m in FEATURES), rel=1e-9)


def test_uncertain_lists_unmarked_results_near_the_boundary(indexed_copy: Path) -> None:
    library = Library(indexed_copy)
    shown = library.search("a cat", top_k=6).results
    library.mark("a cat", shown[0].segments[0].id, relevant=True)
    library.mark("a cat", shown[-1].segments[0].id, relevant=False)
    library.add_alert("a rocket launch")
    found = library.uncertain(limit=50)
    marked = {(m.query, m.segment_id) for m in library.marks()}
    assert found and not {(u.query, u.segment_id) for u in found} & marked
    assert {"a cat", "a rocket launch"} <= {u.query for u in found}  # marks' and alerts'
    distances = [abs(u.p_relevant - 0.5) for u in found]
    assert distances == sorted(distances) and all(0 < u.p_relevant < 1 for u in found)


def test_api_search_refines_with_marked_ids(indexed_copy: Path) -> None:
    library = Library(indexed_copy)
    client = TestClient(create_app(library, None))
    first = client.get("/api/search", params={"q": "a cat", "top_k": 5}).json()["results"]
    cat, wrong = first[0]["segment_id"], first[1]["segment_id"]
    refined = client.get(
        "/api/search", params={"q": "a cat", "top_k": 5, "more_like": cat, "not_like": wrong}
    )
    assert refined.status_code == 200
    ids = [r["segment_id"] for r in refined.json()["results"]]
    assert (
        ids[0] == cat and wrong not in ids and "image" in refined.json()["results"][0]["evidence"]
    )
    missing = client.get("/api/search", params={"q": "a cat", "more_like": 10**9})
    assert missing.status_code == 404 and "no segment" in missing.json()["detail"]
    assert client.get("/api/search", params={"q": "a cat", "not_like": "x"}).status_code == 422
    mark = client.post(
        "/api/feedback", json={"query": "a cat", "segment_id": cat, "relevant": True}
    )
    assert mark.status_code == 201 and mark.json()["scores"]["visual"] > 0
    assert mark.json()["fusion"].startswith("config-")
    assert client.get("/api/health").json()["fusion"] == mark.json()["fusion"]
    library.close()


def test_cli_mark_learn_uncertain_models_and_snapshot(indexed_copy: Path, tmp_path: Path) -> None:
    shown = Library(indexed_copy).search("a cat", top_k=2).results
    good, bad = (str(m.segments[0].id) for m in shown)
    db = ["--db", str(indexed_copy)]

    def run(*args: str) -> Result:
        return CliRunner().invoke(app, list(args))

    assert "relevant to 'a cat'" in run("mark", "a cat", good, *db).output
    assert "not relevant" in run("mark", "a cat", bad, *db, "--not-relevant").output
    missing = run("mark", "a cat", "999999999", *db)
    assert missing.exit_code == 1 and "no segment with id 999999999" in missing.output
    dry = run("learn", *db, "--dry-run")
    assert dry.exit_code == 0 and "not enough labels" in dry.output
    listed = json.loads(run("uncertain", *db, "--json").output)["uncertain"]
    assert listed and {"query", "segment_id", "p_relevant"} <= set(listed[0])
    models = run("models", *db).output
    assert "fusion: config-" in models and "index format 8" in models
    archive = str(tmp_path / "lib.tar.gz")
    assert run("snapshot", "export", archive, *db).exit_code == 0
    imported = run("snapshot", "import", archive, "--db", str(tmp_path / "copy"))
    assert imported.exit_code == 0 and "imported into" in imported.output
    again = run("snapshot", "import", archive, "--db", str(tmp_path / "copy"))
    assert again.exit_code == 1 and "not empty" in again.output
