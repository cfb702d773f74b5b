"""The relevance cut-off on the real sample index: weak results are marked in the JSON and
the CLI, searches by example are left alone, and alerts never fire on weak matches."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from typer.testing import CliRunner

from sceneseek import Config, Library
from sceneseek.cli import app
from sceneseek.eval.assets import AssetCache
from sceneseek.eval.samples import SampleSet

sys.path.insert(0, str(Path(__file__).parents[1] / "bench"))
from cutoff import FirstHit, HalfScores, choose  # noqa: E402  (bench/ is not a package)


def config(cutoff: float | None, fraction: float = 0.0) -> Config:
    return Config(search={"cutoff": cutoff, "cutoff_fraction": fraction})  # type: ignore[arg-type]


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
    tune = HalfScores(
        absent=[0.2, 0.5, 0.9, 1.4, 3.0, None],
        first_hits=[FirstHit(s, 1.0) for s in (1.0, 1.8, 2.5, 3.2, 4.0)]
        + [FirstHit(s, 0.3 if s == 5.0 else 0.5) for s in (5.0, 6.0, 7.0, 8.0, 9.0)]
        + [None],
    )
    # The largest fraction that drops no first hit (one sits at 0.3 of its top); losing
    # none of 11 (5 % of 11 rounds down), the cut-off stays under 1.0, halfway above
    # the highest absent-answer standout below it.
    assert choose(tune, 0.05) == (0.95, 0.3)
    assert tune.lost(0.95, 0.3) == 0 and tune.absent_below(0.95) == 4 / 6
    # Allowed to lose one: halfway between 1.4 and the second-lowest first hit.
    assert choose(tune, 0.1) == (1.6, 0.3)
    assert tune.lost(1.6, 0.3) == 1 / 11 and tune.absent_below(1.6) == 5 / 6
