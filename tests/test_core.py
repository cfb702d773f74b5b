"""End-to-end behaviour of the core on real media with the real default models."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from tiny_clip import build_tiny_clip  # noqa: I001  (tests/ is on sys.path)

from sceneseek import Config, Library
from sceneseek.errors import EncoderMismatchError, QueryError
from sceneseek.eval.samples import PHRASE_AT, SampleSet
from sceneseek.library import IndexReport


def overlap(a_start: float, a_end: float, b_start: float, b_end: float) -> float:
    return max(0.0, min(a_end, b_end) - max(a_start, b_start))


def test_bad_files_are_reported_and_the_rest_indexed(
    indexed: tuple[Path, IndexReport], samples: SampleSet
) -> None:
    _, report = indexed
    failed = dict(report.failed)
    assert set(failed) == {str(samples.corrupt.resolve()), str(samples.empty.resolve())}
    assert "empty" in failed[str(samples.empty.resolve())]
    assert {Path(p).name for p in report.indexed} == {"photos.mp4", "speech.mp4", "silent.mp4"}


def test_spoken_phrase_is_found_at_the_right_time(
    indexed: tuple[Path, IndexReport], samples: SampleSet
) -> None:
    db, _ = indexed
    phrase = samples.find("speech.mp4", "phrase")
    top = Library(db).search("the delivery is going to be late", top_k=3).results[0]
    assert Path(top.video).name == "speech.mp4"
    assert abs(top.start - PHRASE_AT) <= 1.0
    assert abs(top.end - phrase.end) <= 1.0
    assert "shipment" in top.evidence["speech"]["text"]


def test_people_evidence_only_for_queries_about_people(
    indexed: tuple[Path, IndexReport],
) -> None:
    """Every segment has a people/motion description ("no people in the scene, nobody
    there"): it is shown as evidence only when the query is about people or motion
    (English or Spanish), not on a sign or a sentence; and where it only says that
    nothing happens, it counts in the score only for a query about emptiness."""
    db, _ = indexed
    library = Library(db)
    empty = 0
    for query in ("the sign says the gate is closed", "the shipment will be late"):
        results = library.search(query, top_k=5).results
        assert results and not any("people" in m.evidence for m in results), query
        for moment in results:
            said = [o.text for o in moment.segments[0].observations.get("people", [])]
            if said and all(t.startswith(("no people in the scene", "no motion")) for t in said):
                empty += 1
                assert "people" not in moment.contributions, (query, said)
    assert empty  # the sign and the speech clips are empty of people
    for query in ("nobody there, an empty scene", "nadie, una escena vacía"):
        results = library.search(query, top_k=5).results
        assert any("people" in m.evidence for m in results), query


@pytest.mark.parametrize(
    ("query", "label"),
    [("a cat", "cat"), ("una taza de café", "coffee"), ("a rocket launch", "rocket")],
)
def test_photo_is_found_by_what_it_shows(
    indexed: tuple[Path, IndexReport], samples: SampleSet, query: str, label: str
) -> None:
    db, _ = indexed
    truth = samples.find("photos.mp4", label)
    top = Library(db).search(query, top_k=5).results[0]
    assert Path(top.video).name == "photos.mp4"
    shown = overlap(top.start, top.end, truth.start, truth.end)
    assert shown >= 0.5 * (truth.end - truth.start) or shown >= 0.5 * (top.end - top.start)
    assert top.evidence["visual"]["labels"]


def test_reindex_of_unchanged_files_is_a_no_op(
    indexed: tuple[Path, IndexReport], samples: SampleSet
) -> None:
    db, _ = indexed
    library = Library(db)
    before = library.stats()
    report = library.index([samples.photos, samples.speech, samples.silent])
    assert len(report.unchanged) == 3 and not report.indexed and not report.failed
    assert library.stats() == before


def test_changed_file_replaces_its_segments(tmp_path: Path, samples: SampleSet) -> None:
    video = tmp_path / "clip.mp4"
    shutil.copy(samples.silent, video)
    library = Library(tmp_path / "lib")
    library.index([video])
    segments_before = library.stats()["segments"]
    old_ids = {s.id for s in library.index_store.all_segments()}
    old_video = library.videos()[0].id
    assert "espresso" not in top_labels(library, "a cup of espresso coffee")
    shutil.copy(samples.photos, video)
    report = library.index([video])
    assert report.indexed == [str(video.resolve())]
    stats = library.stats()
    assert stats["videos"] == 1 and stats["segments"] != segments_before
    assert "espresso" in top_labels(library, "a cup of espresso coffee")
    # Ids are never reused: a mark or cached thumbnail of an old segment cannot
    # silently point at new content.
    assert min(s.id for s in library.index_store.all_segments()) > max(old_ids)
    assert library.videos()[0].id > old_video


def top_labels(library: Library, query: str) -> list[str]:
    results = library.search(query, top_k=3).results
    return [name for m in results for name, _ in m.evidence.get("visual", {}).get("labels", [])]


def test_filters_apply_inside_the_search(tmp_path: Path, samples: SampleSet) -> None:
    library = Library(tmp_path / "lib")
    night = datetime(2026, 11, 28, 23, 50, tzinfo=UTC)
    library.index([samples.photos], camera="cam-02", zone="gate", start=night)
    library.index([samples.silent], camera="cam-01", zone="lobby", start=night.replace(hour=12))
    assert {Path(m.video).name for m in library.search("a cat", camera="cam-02").results} == {
        "photos.mp4"
    }
    cam_01 = library.search("a cat", camera="cam-01").results
    assert all(Path(m.video).name == "silent.mp4" for m in cam_01)
    assert library.search("a cat", zone="nowhere").results == []
    # The photos video runs 23:50:00-23:50:40, so a window across midnight keeps it
    # and a daytime window drops it.
    across_midnight = library.search("a cat", time_of_day="22:00-06:00").results
    assert across_midnight and all(Path(m.video).name == "photos.mp4" for m in across_midnight)
    daytime = library.search("a cat", time_of_day="08:00-18:00").results
    assert all(Path(m.video).name == "silent.mp4" for m in daytime)


def test_index_refuses_a_different_encoder(tmp_path: Path, samples: SampleSet) -> None:
    clip_dir = build_tiny_clip(tmp_path / "tiny-clip")
    config = Config(encoders={"visual": "clip", "clip_model": str(clip_dir)})
    clip_library = Library(tmp_path / "lib", config)
    report = clip_library.index([samples.silent])
    assert len(report.indexed) == 1
    assert clip_library.search("street", top_k=1).results  # the CLIP path answers queries
    with pytest.raises(EncoderMismatchError, match="visual"):
        Library(tmp_path / "lib").search("a cat")


def test_malformed_queries_get_clear_errors(indexed: tuple[Path, IndexReport]) -> None:
    db, _ = indexed
    library = Library(db)
    with pytest.raises(QueryError, match="empty"):
        library.search("   ")
    with pytest.raises(QueryError, match="HH:MM-HH:MM"):
        library.search("a cat", time_of_day="late evening")
    with pytest.raises(QueryError, match="25:00"):
        library.search("a cat", time_of_day="25:00-06:00")


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sceneseek.cli", *args], capture_output=True, text=True, timeout=300
    )


def test_cli_search_json_contract(indexed: tuple[Path, IndexReport]) -> None:
    db, _ = indexed
    done = run_cli(
        "search",
        "un gato durmiendo",
        "--db",
        str(db),
        "--top-k",
        "5",
        "--json",
        "--camera",
        "cam-01",
        "--zone",
        "lobby",
        "--time-of-day",
        "22:00-06:00",
    )
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert {"query", "took_ms", "results"} <= set(answer)  # "filters" was added later
    done = run_cli("search", "un gato durmiendo", "--db", str(db), "--top-k", "5", "--json")
    answer = json.loads(done.stdout)
    assert answer["query"] == "un gato durmiendo" and isinstance(answer["took_ms"], float)
    assert 1 <= len(answer["results"]) <= 5
    first = answer["results"][0]
    assert {"video", "start", "end", "score", "evidence"} <= set(first)
    assert Path(first["video"]).name == "photos.mp4" and first["start"] < first["end"]


def test_cli_reports_a_bad_file_and_a_bad_filter(tmp_path: Path, samples: SampleSet) -> None:
    db = tmp_path / "lib"
    done = run_cli("index", str(samples.empty), str(samples.silent), "--db", str(db))
    assert done.returncode == 1
    assert f"{samples.empty.resolve()}: file is empty" in done.stderr
    assert "indexed 1" in done.stdout
    done = run_cli("search", "street", "--db", str(db), "--time-of-day", "7pm")
    assert done.returncode == 1 and "HH:MM-HH:MM" in done.stderr
    done = run_cli("search", "street", "--db", str(tmp_path / "nowhere"))
    assert done.returncode == 1 and "no index here yet" in done.stderr


def test_image_query_finds_the_scene_it_shows(
    indexed: tuple[Path, IndexReport], samples: SampleSet
) -> None:
    db, _ = indexed
    cat = samples.find("photos.mp4", "cat")
    photo = Path(cat.source).read_bytes()
    top = Library(db).search(image=photo, top_k=3).results[0]
    assert Path(top.video).name == "photos.mp4"
    assert overlap(top.start, top.end, cat.start, cat.end) >= 0.5 * (cat.end - cat.start)
    assert "image" in top.evidence
    with pytest.raises(QueryError, match="not an image"):
        Library(db).search(image=b"%PDF-1.4 not a picture")


def test_similar_segments_exclude_the_example(indexed: tuple[Path, IndexReport]) -> None:
    db, _ = indexed
    library = Library(db)
    example = library.search("a cat", top_k=1).results[0].segments[0]
    similar = library.search(similar_to=example.id, top_k=3).results
    assert similar and all(example.id not in {s.id for s in m.segments} for m in similar)
    assert Path(similar[0].video).name == "photos.mp4"
    with pytest.raises(KeyError):
        library.search(similar_to=10**9)


def test_thumbnails_and_marks_persist(indexed: tuple[Path, IndexReport]) -> None:
    db, _ = indexed
    segment = Library(db).search("a rocket launch", top_k=1).results[0].segments[0]
    jpeg = Library(db).thumbnail(segment.id)
    assert jpeg[:2] == b"\xff\xd8" and (db / "thumbnails" / f"{segment.id}.jpg").exists()
    Library(db).mark("a rocket launch", segment.id, relevant=False)
    marks = Library(db).marks()
    assert any(m.segment_id == segment.id and not m.relevant for m in marks)


def test_successive_search_uses_the_marks(indexed: tuple[Path, IndexReport]) -> None:
    db, _ = indexed
    library = Library(db)
    first = library.search("a cat", top_k=5).results
    cat = first[0].segments[0].id
    wrong = [m.segments[0].id for m in first[1:]]
    refined = library.search("a cat", top_k=5, more_like=[cat], not_like=wrong).results
    assert refined[0].segments[0].id == cat and refined[0].score > first[0].score
    assert "image" in refined[0].evidence  # "more like this" also means "looks like this"
    assert not {s.id for m in refined for s in m.segments} & set(wrong)
    with pytest.raises(KeyError):
        library.search("a cat", not_like=[10**9])


def test_rocchio_moves_toward_relevant_and_away_from_irrelevant() -> None:
    from sceneseek.search.engine import rocchio

    query = {"speech": np.array([1.0, 0.0], np.float32)}
    good = {"speech": np.array([0.0, 1.0], np.float32), "image": np.array([1.0], np.float32)}
    bad = {"speech": np.array([-1.0, 1.0], np.float32)}
    refined = rocchio(query, [good], [bad])
    assert refined["speech"][1] > 0 and refined["speech"][0] > 1.0  # toward good, away from bad
    assert "image" in refined and "image" not in rocchio(query, [], [bad])
