"""People tracks and events in the index, queries on them, and alerts once per event, on
real footage: the first 66 s of OpenCV's pedestrian clip vtest.avi, where a man in a long
black coat walks into the path's lower right end (the benchmark's "exit" zone) at 48.5 s
and stands there until about 62.5 s (bench/events/labels.toml), and a few seconds of an
empty, still scene beside it. (A clip cut to start shortly before he arrives is not
enough: the tracker has not yet told apart the people already walking there, and the
passers-by take over his track.)"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from test_web import chromium, first_result, search, serve, submit_and_wait

from sceneseek import Config, Library
from sceneseek.eval.assets import AssetCache
from sceneseek.index.base import EventConditions, SegmentFilter
from sceneseek.media.thumbnail import frame_jpeg

EXIT = "0.8,0.5 1,0.52 1,0.87 0.8,0.745"
START = datetime.fromisoformat("2026-11-28T22:30:00+01:00")  # the clip's wall-clock start


def _config() -> Config:
    return Config(
        modalities=["people"],
        encoders={"people_loiter_seconds": 10},  # type: ignore[arg-type]
        metadata={"cameras": {"gate": {"zones": {"exit": EXIT}}}},  # type: ignore[arg-type]
    )


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tree, _ = AssetCache().debian_package("opencv-doc")
    vtest = tree / "usr/share/doc/opencv-doc/examples/data/vtest.avi"
    folder = tmp_path_factory.mktemp("clips")
    cut, empty = folder / "loiter.mp4", folder / "empty.mp4"
    ffmpeg = ["ffmpeg", "-v", "error", "-nostdin"]
    cut_from = [*ffmpeg, "-i", str(vtest), "-t", "66", "-an", str(cut)]
    subprocess.run(cut_from, check=True)
    subprocess.run(
        [*ffmpeg, "-f", "lavfi", "-i", "color=c=gray:size=320x240:rate=10", "-t", "6", str(empty)],
        check=True,
    )
    return {"loiter": cut, "empty": empty}


@pytest.fixture(scope="module")
def library(clips: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Library]:
    lib = Library(tmp_path_factory.mktemp("events-lib"), _config())
    report = lib.index([clips["loiter"]], camera="gate", start=START)
    assert report.indexed, report.failed
    report = lib.index([clips["empty"]], camera="gate", start=START)
    assert report.indexed, report.failed
    yield lib
    lib.close()


def test_tracks_and_events_are_stored_and_go_with_their_video(
    library: Library, clips: dict[str, Path]
) -> None:
    store = library.index_store
    video = next(v for v in library.videos() if v.path.endswith("loiter.mp4"))
    tracks = store.tracks(video.id)
    assert len(tracks) >= 3
    assert all(len(t.boxes) >= 1 and t.boxes[0][0] <= t.boxes[-1][0] for t in tracks)
    assert all(0 <= x <= 1 and 0 < h <= 1 for t in tracks for _, x, _, _, h in t.boxes)
    events = store.events(SegmentFilter(video=video.path), EventConditions())
    kinds = {e.kind for e in events}
    assert {"enter", "leave", "loiter"} <= kinds, kinds
    loiter = [e for e in events if e.kind == "loiter" and e.zone == "exit"]
    assert any(abs(e.start - 48.5) <= 2 and abs(e.end - 62.5) <= 3 for e in loiter), loiter
    assert all(e.dwell == pytest.approx(e.end - e.start) for e in loiter)
    assert any(t.direction for t in tracks) and any(e.direction for e in events)
    known = {t.number for t in tracks}
    assert all(set(e.tracks) <= known and e.count == max(1, len(e.tracks)) for e in events)
    # Conditions are comparisons on the stored facts.
    long_stays = store.events(SegmentFilter(), EventConditions("exit", 8.0))
    assert long_stays and all(e.dwell and e.dwell >= 8 for e in long_stays)
    assert not store.events(SegmentFilter(), EventConditions("lawn"))

    # A copy of the clip indexed and removed again takes its tracks and events with it.
    copy = clips["loiter"].with_name("copy.mp4")
    copy.write_bytes(clips["loiter"].read_bytes() + b"\0")  # another file, same pictures
    try:
        assert library.index([copy], camera="gate").indexed
        first = next(v for v in library.videos() if v.path.endswith("copy.mp4"))
        stored = store.events(SegmentFilter(video=first.path), EventConditions())
        assert stored and store.tracks(first.id)
        copy.write_bytes(copy.read_bytes() + b"\0")  # changed: indexed again, replaced
        assert library.index([copy], camera="gate").indexed
        copied = next(v for v in library.videos() if v.path.endswith("copy.mp4"))
        assert copied.id != first.id and not store.tracks(first.id)
        again = store.events(SegmentFilter(video=copied.path), EventConditions())
        assert [(e.kind, e.start) for e in again] == [(e.kind, e.start) for e in stored]
        assert store.remove_video(copied.path)
        assert not store.tracks(copied.id)
        assert not store.events(SegmentFilter(video=copied.path), EventConditions())
    finally:
        copy.unlink()
    assert store.tracks(video.id) == tracks  # the other video's are untouched


@pytest.mark.parametrize(
    ("query", "chips"),
    [
        (
            "a person loitering in the exit zone for more than 8 seconds",
            {"event_zone": "in zone exit", "dwell": "for more than 8 seconds"},
        ),
        (
            "alguien merodeando en la zona exit más de 8 segundos",
            {"event_zone": "in zone exit", "dwell": "for more than 8 seconds"},
        ),
    ],
)
def test_event_query_parses_to_chips_and_spans_the_event(
    library: Library, query: str, chips: dict[str, str]
) -> None:
    response = library.search(query, top_k=5)
    assert {c.filter: c.label for c in response.chips} == chips
    assert response.events == EventConditions("exit", 8.0)
    assert response.results
    top = response.results[0]
    assert top.event is not None and top.event.kind == "loiter", [r.event for r in response.results]
    assert (top.start, top.end) == (top.event.start, top.event.end)  # the event's own span
    assert top.end - top.start >= 8
    found = response.to_dict()
    assert found["filters"]["min_dwell"] == 8.0
    assert found["results"][0]["event"]["zone"] == "exit"
    # The dwell chip removed (as the UI does: no parsing, the other conditions explicit):
    # entering and leaving events of the zone come back too, under the loitering.
    loose = library.search(found["filters"]["searched"], 50, parse=False, event_zone="exit")
    assert {r.event.kind for r in loose.results if r.event} >= {"enter", "leave"}


def test_leaving_the_zone_after_hours_ranks_exits_first(library: Library) -> None:
    response = library.search("someone leaving the exit zone after 22:00", top_k=10)
    assert {c.filter for c in response.chips} == {"event_zone", "time_of_day"}
    strong = [r for r in response.results if not r.below_cutoff]
    assert strong and all(r.event and r.event.kind == "leave" for r in strong), [
        (r.event.kind if r.event else None, r.score) for r in response.results
    ]
    assert not library.search("someone leaving the exit zone after 23:30").results


def test_absence_is_evidence_only_for_emptiness(library: Library) -> None:
    """The empty grey clip is described as "no people in the scene, nobody there, empty"
    and "no motion, static scene": evidence for "an empty street", nothing for "a red car"."""

    def empty_clip_people(query: str) -> list[dict[str, object]]:
        found = library.search(query, top_k=20).results
        return [
            m.evidence.get("people", {}) | {"score": m.score}
            for m in found
            if m.video.endswith("empty.mp4")
        ]

    asked = empty_clip_people("an empty street, nobody there")
    assert asked and "no people in the scene" in str(asked[0].get("text")), asked
    unrelated = empty_clip_people("a red car")
    assert all("text" not in e and "contribution" not in e for e in unrelated), unrelated


def test_an_event_alert_fires_once_per_event(library: Library, clips: dict[str, Path]) -> None:
    """A saved query with an event condition fires once per event however many segments
    the event spans, never again when the video is checked again, and once per event of
    a continuation of the footage indexed later."""
    alert = library.add_alert("a person loitering in the exit zone for more than 8 seconds")
    try:
        first = library.check_alerts(clips["loiter"])
        assert len(first) == 1, first
        fired = first[0]
        event = library.index_store.event(fired.event_id or 0)
        assert event is not None and event.kind == "loiter"
        assert (fired.start, fired.end) == (round(event.start, 2), round(event.end, 2))
        spanned = library.index_store.segments_during(event.video_id, event.start, event.end)
        assert len(spanned) >= 2  # one event, several segments: still one firing
        assert fired.wall_time is not None and fired.wall_time.hour == 22
        assert library.check_alerts(clips["loiter"]) == []  # checked again: nothing new
        later = clips["loiter"].with_name("continued.mp4")
        later.write_bytes(clips["loiter"].read_bytes() + b"\0")
        try:
            report = library.index([later], camera="gate", start=START)
            assert [e.video for e in report.events] == [str(later.resolve())]
            assert report.events[0].event_id not in (None, fired.event_id)
        finally:
            library.index_store.remove_video(str(later.resolve()))
            later.unlink()
        assert {e.event_id for e in library.alert_events(alert)} == {
            fired.event_id,
            report.events[0].event_id,
        }
    finally:
        library.remove_alert(alert)


def test_api_event_search_and_thumbnail_with_track_and_zone(library: Library) -> None:
    """Over HTTP: the chips and the stated conditions come back as filters, a result's
    thumbnail is the event's picture with the person's box and the zone drawn (red box,
    blue zone outline), cached like keyframes; removing a chip is a search with the
    other conditions as parameters."""
    from io import BytesIO

    import numpy as np
    from fastapi.testclient import TestClient
    from PIL import Image

    from sceneseek.api import create_app

    with TestClient(create_app(library)) as client:
        found = client.get(
            "/api/search", params={"q": "a person loitering in the exit zone for more than 8 s"}
        ).json()
        filters = found["filters"]
        assert (filters["event_zone"], filters["min_dwell"]) == ("exit", 8.0)
        assert [c["filter"] for c in filters["from_query"]] == ["event_zone", "dwell"]
        top = found["results"][0]
        assert top["event"]["kind"] == "loiter"
        assert top["thumbnail_url"] == f"/api/events/{top['event']['id']}/thumbnail.jpg"
        picture = client.get(top["thumbnail_url"])
        assert picture.status_code == 200 and picture.headers["content-type"] == "image/jpeg"
        middle = (top["event"]["start"] + top["event"]["end"]) / 2
        plain = frame_jpeg(Path(top["video"]), middle)

        def red_and_blue(jpeg: bytes) -> tuple[int, int]:
            pixels = np.asarray(Image.open(BytesIO(jpeg)).convert("RGB")).astype(int)
            r, g, b = pixels[..., 0], pixels[..., 1], pixels[..., 2]
            return int(((r > 200) & (g < 110) & (b < 110)).sum()), int(
                ((b > 200) & (r < 80) & (g > 150)).sum()
            )

        (red, blue), (red_before, blue_before) = red_and_blue(picture.content), red_and_blue(plain)
        assert red >= red_before + 30 and blue >= blue_before + 30  # the box, the zone outline
        assert (library.path / "thumbnails" / f"event-{top['event']['id']}.jpg").exists()
        assert client.get("/api/events/999999/thumbnail.jpg").status_code == 404
        loose = client.get(
            "/api/search",
            params={"q": filters["searched"], "parse": "false", "event_zone": "exit", "top_k": 50},
        ).json()
        assert loose["filters"]["min_dwell"] is None
        assert {r["event"]["kind"] for r in loose["results"]} >= {"enter", "leave", "loiter"}


def test_a_sound_or_track_across_a_segment_boundary_is_one_moment() -> None:
    """Two adjacent segments, the second scoring under half of the first: apart, unless
    the observation carrying the match (a sound, a person's track) runs across their
    boundary; a scene's "nothing moving" running across does not join them."""
    from sceneseek.encoders.base import Observation
    from sceneseek.index.base import StoredSegment
    from sceneseek.search.moments import merge

    def segment(number: int, start: float, end: float, **said: list[Observation]) -> StoredSegment:
        return StoredSegment(number, 1, "v.mp4", start, end, said, [], start, None, None, None)

    def moments(strongest: str, **said: list[Observation]) -> list[tuple[float, float]]:
        scored = [
            (segment(1, 0, 6, **said), 4.0, {strongest: 3.0, "fused": 1.0}),
            (segment(2, 6, 12, **said), 1.0, {strongest: 0.5, "fused": 0.5}),
        ]
        return [(m.start, m.end) for m in merge(scored, gap=1.0, max_seconds=30)]

    bell = [Observation(4.0, 9.0, "Bell, church bell")]
    walker = [Observation(2.0, 11.0, "a person walking left to right")]
    still = [Observation(0.0, 12.0, "no motion, static scene, nothing moving for 12 seconds")]
    assert moments("sound", sound=bell) == [(0, 12)]
    assert moments("people", people=walker) == [(0, 12)]
    assert moments("people", people=still) == [(0, 6), (6, 12)]
    assert moments("visual", sound=bell) == [(0, 6), (6, 12)]  # the bell is not the match
    apart = [Observation(1.0, 5.0, "Bell"), Observation(7.0, 9.0, "Bell")]
    assert moments("sound", sound=apart) == [(0, 6), (6, 12)]  # two rings, two moments


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    with chromium() as driver:
        yield driver


@pytest.mark.slow
def test_web_ui_event_chips_are_removable_and_cards_show_the_event(
    library: Library, browser: WebDriver
) -> None:
    """In the browser: the event conditions read from the words are chips; the card's
    picture is the event's (person and zone drawn); removing the dwell chip keeps the
    zone as the "Event zone" field and searches the rest of the words again."""
    with serve(library.path, config=_config()) as url:
        browser.get(f"{url}/")
        search(browser, "a person loitering in the exit zone for more than 8 seconds")
        chips = [c.text for c in browser.find_elements(By.CSS_SELECTOR, "#chips .chip")]
        assert chips == ["in zone exit ×", "for more than 8 seconds ×"], chips
        picture = first_result(browser).find_element(By.TAG_NAME, "img")
        assert "/api/events/" in (picture.get_attribute("src") or "")
        dwell = browser.find_elements(By.CSS_SELECTOR, "#chips .chip")[1]
        submit_and_wait(browser, dwell.click)
        assert browser.find_element(By.ID, "event-zone").get_attribute("value") == "exit"
        assert browser.find_element(By.ID, "min-dwell").get_attribute("value") == ""
        assert browser.find_element(By.ID, "query").get_attribute("value") == "a person loitering"
        assert len(browser.find_elements(By.CSS_SELECTOR, ".result")) > 1


def test_an_index_from_before_events_gains_their_tables_and_keeps_its_alert_events(
    tmp_path: Path,
) -> None:
    """An index written before tracks and events (format 8 as it was: no such tables, an
    alert_events table unique per start) opens: the tables are added, the fired alerts
    are kept, and an index that has them is not written to on open."""
    import sqlite3

    from sceneseek.index.catalogue import Catalogue, database_path

    Catalogue(tmp_path).close()
    with sqlite3.connect(database_path(tmp_path)) as db:
        db.execute("DROP TABLE tracks")
        db.execute("DROP TABLE events")
        db.execute("DROP TABLE alert_events")
        db.execute(
            "CREATE TABLE alert_events (id INTEGER PRIMARY KEY, alert_id INTEGER NOT NULL"
            " REFERENCES alerts(id) ON DELETE CASCADE, query TEXT NOT NULL, video TEXT NOT NULL,"
            " start REAL NOT NULL, end REAL NOT NULL, score REAL NOT NULL, wall_time TEXT,"
            " created TEXT NOT NULL, UNIQUE (alert_id, video, start))"
        )
        db.execute("INSERT INTO alerts VALUES (1, 'a dog', 2.0, NULL, NULL, NULL, NULL, 'now')")
        db.execute(
            "INSERT INTO alert_events VALUES (7, 1, 'a dog', 'v.mp4', 1.0, 2.0, 3.0, NULL,"
            " '2026-11-28T22:00:00+00:00')"
        )
    catalogue = Catalogue(tmp_path, create=False)
    try:
        (kept,) = catalogue.alert_events()
        assert (kept.id, kept.video, kept.start, kept.event_id) == (7, "v.mp4", 1.0, None)
        assert catalogue.events(SegmentFilter(), EventConditions()) == []
        version = catalogue.reader().execute("PRAGMA schema_version").fetchone()[0]
    finally:
        catalogue.close()
    reopened = Catalogue(tmp_path, create=False)
    try:
        assert reopened.reader().execute("PRAGMA schema_version").fetchone()[0] == version
    finally:
        reopened.close()


@pytest.mark.parametrize(
    ("query", "text", "zone", "dwell", "count", "time_of_day"),
    [
        (
            "a person loitering in the gate zone for more than 2 minutes",
            "a person loitering",
            "gate",
            120.0,
            None,
            None,
        ),
        (
            "alguien entrando al parking después de las 22:00",
            "alguien entrando",
            "parking",
            None,
            None,
            "22:00-06:00",
        ),
        ("two people together", "people together", None, None, 2, None),
        ("dos personas juntas en el parking", "personas juntas", "parking", None, 2, None),
        ("a group of people", "a group of people", None, None, 3, None),
        ("someone leaving the loading bay", "someone leaving", "loading bay", None, None, None),
        (
            "persona merodeando en la zona de carga más de 5 minutos",
            "persona merodeando",
            "carga",
            300.0,
            None,
            None,
        ),
        ("person in the gate zone after 10pm", "person", "gate", None, None, "22:00-06:00"),
        ("a person waiting for over 30 s", "a person waiting", None, 30.0, None, None),
        # not conditions: a duration that is no clock time, a range, no zone of the index
        ("a person after 5 minutes", "a person after 5 minutes", None, None, None, None),
        ("de 2 a 3 personas", "de 2 a 3 personas", None, None, None, None),
        ("a person in the lobby", "a person in the lobby", None, None, None, None),
    ],
)
def test_event_conditions_stated_in_words(
    query: str,
    text: str,
    zone: str | None,
    dwell: float | None,
    count: int | None,
    time_of_day: str | None,
) -> None:
    from sceneseek.search.query_parser import parse_query

    drawn = ["gate", "parking", "carga", "loading bay", "bay"]
    parsed = parse_query(query, [], [], START, drawn)
    found = (parsed.text, parsed.event_zone, parsed.min_dwell, parsed.min_count)
    assert found == (text, zone, dwell, count)
    assert parsed.time_of_day == time_of_day
    chips = {c.filter for c in parsed.chips}
    assert chips == {
        name
        for name, value in (
            ("event_zone", zone),
            ("dwell", dwell),
            ("count", count),
            ("time_of_day", time_of_day),
        )
        if value is not None
    }
    # Without the zones (a query not about people), nothing of this is read as a condition.
    plain = parse_query(query, [], [], START)
    assert (plain.event_zone, plain.min_dwell, plain.min_count) == (None, None, None)
