"""The relevance cut-off on the real sample index: weak results are marked in the JSON and
the CLI, searches by example are left alone, and alerts never fire on weak matches."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from sceneseek import Config, Library
from sceneseek.cli import app, print_results
from sceneseek.config import TEXT_MODALITIES
from sceneseek.eval.assets import AssetCache
from sceneseek.eval.samples import SampleSet
from sceneseek.search.engine import NEAREST_CLASSES
from sceneseek.search.moments import Cutoff

sys.path.insert(0, str(Path(__file__).parents[1] / "bench"))
from cutoff import HalfScores, choose  # noqa: E402  (bench/ is not a package)

NEVER = 9.0  # no cosine, and no margin between two, reaches it


def config(
    cutoff: float | None, fraction: float = 0.0, text: float = NEVER, visual: float = NEVER
) -> Config:
    """A cut-off on the standout (and the fraction) alone, unless text/visual are given."""
    search = {
        "cutoff": cutoff,
        "cutoff_fraction": fraction,
        "cutoff_text_similarity": text,
        "cutoff_visual_margin": visual,
    }
    return Config(search=search)  # type: ignore[arg-type]


def splitting_fraction(library: Library, query: str, video: str | None = None) -> float:
    """A fraction of the top score that keeps the top result and drops the last: the tests
    do not depend on the defaults, which the benchmark chooses."""
    scores = [m.score for m in library.search(query, top_k=10, video=video).results]
    assert len(scores) >= 2 and scores[0] > scores[-1], scores
    return (1 + scores[-1] / scores[0]) / 2


def test_results_below_the_cutoff_are_marked(indexed_copy: Path) -> None:
    fraction = splitting_fraction(Library(indexed_copy), "a cat")
    library = Library(indexed_copy, config(0.0, fraction))
    answer = library.search("a cat", top_k=10).to_dict()
    top = answer["results"][0]["score"]
    assert answer["cutoff"]["min_fraction"] == fraction and answer["cutoff"]["standout"] > 0
    marks = [r["below_cutoff"] for r in answer["results"]]
    assert marks == [r["score"] < fraction * top for r in answer["results"]]
    assert not marks[0] and marks[-1] and marks == sorted(marks)
    # A top that does not stand out from the next nine by the cut-off: no good match.
    rise = answer["cutoff"]["standout"]
    weak = Library(indexed_copy, config(rise + 0.01)).search("a cat", top_k=3).to_dict()
    assert all(r["below_cutoff"] for r in weak["results"])
    assert weak["cutoff"]["standout"] == rise  # the same for any page size
    # Searching by a picture scores on another scale: no cut-off there.
    picture = AssetCache().skimage_images()["chelsea"].path.read_bytes()
    by_image = library.search(image=picture, top_k=10).to_dict()
    assert by_image["cutoff"] is None and not any(r["below_cutoff"] for r in by_image["results"])
    unset = Library(indexed_copy, config(None, 1.0))
    assert not any(m.below_cutoff for m in unset.search("a cat", top_k=10).results)


def test_evidence_of_fixed_meaning_passes_the_cutoff(indexed_copy: Path) -> None:
    """Each moment's text similarity is its best raw cosine to the query among the text
    modalities, its visual margin its visual similarity less the mean of the query's
    nearest class names; either lets a moment pass when the top does not stand out."""
    library = Library(indexed_copy, config(None))
    moments = library.search("a cat", top_k=10).results
    query = library.encoders.text.embed_queries(["a cat"])[0]
    classes = np.sort(library.encoders.background @ query)[-NEAREST_CLASSES:].mean()
    for moment in moments:
        stored = library.index_store.segment_vectors(moment.segments[0].id)
        texts = [float(stored[m] @ query) for m in TEXT_MODALITIES if m in stored]
        assert moment.text_similarity is not None and texts
        assert np.isclose(moment.text_similarity, max(texts), atol=1e-5)
        assert moment.visual_margin is not None
        assert np.isclose(moment.visual_margin, stored["visual"] @ query - classes, atol=1e-5)
    # The cat's frames name the query's class: its margin passes where the others' do not.
    margins = sorted((m.visual_margin for m in moments), reverse=True)  # type: ignore[arg-type]
    visual = (margins[0] + margins[-1]) / 2
    marked = Library(indexed_copy, config(1e6, visual=visual)).search("a cat", top_k=10)
    assert [m.below_cutoff for m in marked.results] == [
        m.visual_margin < visual
        for m in marked.results  # type: ignore[operator]
    ]
    assert not marked.results[0].below_cutoff and any(m.below_cutoff for m in marked.results)
    answer = marked.to_dict()["cutoff"]
    assert answer["min_visual_margin"] == visual and answer["min_text_similarity"] == NEVER
    texts = sorted(m.text_similarity for m in moments if m.text_similarity is not None)
    lowest = Library(indexed_copy, config(1e6, text=texts[0])).search("a cat", top_k=10)
    assert all(m.below_cutoff == (m.text_similarity is None) for m in lowest.results)


def test_cli_separates_the_weaker_matches(indexed_copy: Path) -> None:
    fraction = splitting_fraction(Library(indexed_copy), "a cat")
    env = {
        "SCENESEEK_SEARCH__CUTOFF": "0",
        "SCENESEEK_SEARCH__CUTOFF_FRACTION": str(fraction),
        "COLUMNS": "200",
    }
    runner = CliRunner()
    shown = runner.invoke(app, ["search", "a cat", "--db", str(indexed_copy)], env=env)
    assert shown.exit_code == 0, shown.output
    lines = shown.output.splitlines()
    separator = next(
        i for i, line in enumerate(lines) if "weaker matches below the cut-off" in line
    )
    assert any("photos.mp4" in line for line in lines[:separator])
    assert "above the relevance cut-off" in shown.output
    as_json = runner.invoke(app, ["search", "a cat", "--db", str(indexed_copy), "--json"], env=env)
    results = json.loads(as_json.stdout)["results"]
    assert not results[0]["below_cutoff"] and results[-1]["below_cutoff"]


def test_alerts_do_not_fire_below_the_cutoff(indexed_copy: Path, samples: SampleSet) -> None:
    """An alert runs the search on the new video alone; its weaker matches are no events,
    whatever the alert's own threshold."""
    video = str(samples.photos.resolve())
    fraction = splitting_fraction(Library(indexed_copy), "a cat", video)
    library = Library(indexed_copy, config(0.0, fraction))
    every = library.search("a cat", top_k=50, video=video).results
    library.add_alert("a cat", threshold=0.0)
    fired = library.check_alerts(video)
    strong = [m for m in every if not m.below_cutoff]
    assert fired and len(fired) == len(strong) < len(every)
    assert {e.start for e in fired} == {round(m.start, 2) for m in strong}


def test_choice_keeps_first_hits_and_rejects_absent_tops() -> None:
    inf = float("inf")
    # (standout, text similarity, visual margin): absent-answer tops, then first hits.
    tune = HalfScores(
        absent=[(0.5, 0.80, -0.05), (0.9, 0.85, -0.06), (3.0, 0.79, -0.07), None],
        first_hits=[
            ((5.0, 0.70, -0.08), 1.0),  # stands out
            ((1.0, 0.90, -0.09), 0.5),  # a text says it
            ((0.8, 0.75, -0.01), 0.3),  # the frames show it
            ((0.6, 0.82, -inf), 1.0),  # a text comes close; no visual evidence
            None,
        ],
    )
    # Losing none: every feature at most the lowest first hit that needs it. The fraction
    # is the largest that keeps all (one sits at 0.3 of its top); each threshold sits
    # halfway down to the next value the half takes under it.
    chosen = choose(tune, 0.0)
    assert chosen == Cutoff(4.0, 0.81, -0.03, 0.3)
    assert tune.lost(chosen) == 0 and tune.absent_below(chosen) == 3 / 4
    # Allowed to lose one of five: dropping the close text rejects the second absent top.
    looser = choose(tune, 0.2)
    assert looser == Cutoff(4.0, 0.875, -0.03, 0.3)
    assert tune.lost(looser) == 1 / 5 and tune.absent_below(looser) == 1.0
    assert tune.absent_below(Cutoff(inf, inf, inf, 0.0)) == 1.0


def test_cli_lists_good_matches_before_weaker_ones(capsys: pytest.CaptureFixture[str]) -> None:
    """A moment passes on its own evidence, so a good match can rank under a weak one; the
    CLI shows it above the separator, with its rank."""

    def result(video: str, weak: bool) -> dict[str, object]:
        return {
            "video": video,
            "start": 0,
            "end": 5,
            "score": 2.0,
            "below_cutoff": weak,
            "evidence": {},
        }

    response = {
        "query": "a cat",
        "took_ms": 1.0,
        "cutoff": {"min_standout": 1.0},
        "results": [result("street.mp4", True), result("cat.mp4", False)],
        "filters": {"from_query": []},
    }
    print_results(response)
    lines = capsys.readouterr().out.splitlines()
    order = [
        i
        for word in ("cat.mp4", "weaker matches", "street.mp4")
        for i, line in enumerate(lines)
        if word in line
    ]
    assert order == sorted(order) and len(order) == 3
    assert any("2" in line.split("│")[1] for line in lines if "cat.mp4" in line)
