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
from cutoff import HalfScores, choose  # noqa: E402  (bench/ is not a package)


def between_first_and_last(library: Library, query: str) -> float:
    """A cut-off that keeps the top result and drops the last: the test does not depend on
    the default, which the benchmark chooses."""
    scores = [m.score for m in library.search(query, top_k=10).results]
    assert len(scores) >= 3 and scores[0] > scores[-1], scores
    return (scores[0] + scores[-1]) / 2


def test_results_below_the_cutoff_are_marked(indexed_copy: Path, samples: SampleSet) -> None:
    cutoff = between_first_and_last(Library(indexed_copy), "a cat")
    library = Library(indexed_copy, Config(search={"cutoff": cutoff}))  # type: ignore[arg-type]
    answer = library.search("a cat", top_k=10).to_dict()
    assert answer["cutoff"] == cutoff
    marks = [r["below_cutoff"] for r in answer["results"]]
    assert marks == [r["score"] < cutoff for r in answer["results"]]
    assert not marks[0] and marks[-1] and marks == sorted(marks)
    # Searching by a picture scores on another scale: no cut-off there.
    picture = AssetCache().skimage_images()["chelsea"].path.read_bytes()
    by_image = library.search(image=picture, top_k=10).to_dict()
    assert by_image["cutoff"] is None and not any(r["below_cutoff"] for r in by_image["results"])
    unset = Library(indexed_copy, Config(search={"cutoff": None}))  # type: ignore[arg-type]
    assert not any(m.below_cutoff for m in unset.search("a cat", top_k=10).results)


def test_cli_separates_the_weaker_matches(indexed_copy: Path) -> None:
    cutoff = between_first_and_last(Library(indexed_copy), "a cat")
    env = {"SCENESEEK_SEARCH__CUTOFF": str(cutoff), "COLUMNS": "200"}
    runner = CliRunner()
    shown = runner.invoke(app, ["search", "a cat", "--db", str(indexed_copy)], env=env)
    assert shown.exit_code == 0, shown.output
    lines = shown.output.splitlines()
    separator = next(
        i for i, line in enumerate(lines) if "weaker matches below the cut-off" in line
    )
    assert any("photos.mp4" in line for line in lines[:separator])
    assert "above the cut-off" in shown.output
    as_json = runner.invoke(app, ["search", "a cat", "--db", str(indexed_copy), "--json"], env=env)
    results = json.loads(as_json.stdout)["results"]
    assert not results[0]["below_cutoff"] and results[-1]["below_cutoff"]


def test_alerts_do_not_fire_below_the_cutoff(indexed_copy: Path, samples: SampleSet) -> None:
    video = str(samples.photos.resolve())
    open_library = Library(indexed_copy, Config(search={"cutoff": None}))  # type: ignore[arg-type]
    every = [m for m in open_library.search("a cat", top_k=50).results if m.video == video]
    open_library.close()
    cutoff = (every[0].score + every[-1].score) / 2
    library = Library(indexed_copy, Config(search={"cutoff": cutoff}))  # type: ignore[arg-type]
    library.add_alert("a cat", threshold=0.0)
    fired = library.check_alerts(video)
    assert fired and len(fired) == sum(m.score >= cutoff for m in every) < len(every)
    assert all(event.score >= cutoff for event in fired)


def test_choice_keeps_first_hits_and_rejects_absent_tops() -> None:
    tune = HalfScores(
        absent_tops=[0.2, 0.5, 0.9, 1.4, 3.0, None],
        first_hits=[1.0, 1.8, 2.5, 3.2, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, None],
    )
    # Losing none of 11 (5 % of 11 rounds down): the cut-off stays under 1.0, halfway
    # above the highest absent top below it.
    assert choose(tune, 0.05) == 0.95
    assert tune.lost(0.95) == 0 and tune.absent_below(0.95) == 4 / 6
    # Allowed to lose one: halfway between 1.4 and the second-lowest first hit.
    assert choose(tune, 0.1) == 1.6
    assert tune.lost(1.6) == 1 / 11 and tune.absent_below(1.6) == 5 / 6
