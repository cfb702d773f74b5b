"""Cameras, zones and time: metadata sources, filter parsing, and filters stated in the
query's own words, in English and Spanish."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from sceneseek import Config, Library
from sceneseek.config import CameraConfig, MetadataConfig
from sceneseek.errors import QueryError, SceneseekError
from sceneseek.eval.samples import SampleSet
from sceneseek.media.metadata import VideoMetadata, resolve
from sceneseek.search.filters import make_filter, parse_weekdays
from sceneseek.search.query_parser import parse_query

NOW = datetime(2026, 11, 28, 15, 0, tzinfo=UTC)
CAMERAS = ["cam-01", "cam-02"]
ZONES = ["gate", "lobby"]


@pytest.mark.parametrize(
    ("query", "text", "camera", "zone", "time_of_day"),
    [
        (
            "person loitering near the gate after hours",
            "person loitering near the gate",
            None,
            None,
            "19:00-07:00",
        ),
        ("people walking at night on cam-02", "people walking", "cam-02", None, "20:00-06:00"),
        (
            "un perro ladrando esta noche en la cámara 2",
            "un perro ladrando",
            "cam-02",
            None,
            "20:00-06:00",
        ),
        ("a red car between 10 and 11pm", "a red car", None, None, "22:00-23:00"),
        ("alguien corriendo entre las 22 y las 23", "alguien corriendo", None, None, "22:00-23:00"),
        ("a cat in zone lobby during the day", "a cat", None, "lobby", "06:00-20:00"),
        ("camera 7 view of the door", "camera 7 view of the door", None, None, None),
        ("de 2 a 3 personas", "de 2 a 3 personas", None, None, None),
        ("at night", "at night", None, None, "20:00-06:00"),
    ],
)
def test_filters_stated_in_words(
    query: str, text: str, camera: str | None, zone: str | None, time_of_day: str | None
) -> None:
    parsed = parse_query(query, CAMERAS, ZONES, NOW)
    assert (parsed.text, parsed.camera, parsed.zone, parsed.time_of_day) == (
        text,
        camera,
        zone,
        time_of_day,
    )
    assert len(parsed.chips) == sum(x is not None for x in (camera, zone, time_of_day))


@pytest.mark.parametrize("word", ["yesterday", "ayer"])
def test_relative_days(word: str) -> None:
    parsed = parse_query(f"a delivery van {word}", CAMERAS, ZONES, NOW)
    assert parsed.after == datetime(2026, 11, 27, tzinfo=UTC)
    assert parsed.before == datetime(2026, 11, 28, tzinfo=UTC)


def test_malformed_filters_get_clear_errors() -> None:
    for bad, message in [
        ({"time_of_day": "22-06"}, "HH:MM-HH:MM"),
        ({"after": "last tuesday"}, "ISO 8601"),
        ({"after": "2026-11-28", "before": "2026-11-27"}, "empty"),
        ({"weekdays": "funday"}, "mon-fri"),
    ]:
        with pytest.raises(QueryError, match=message):
            make_filter(**bad)
    assert parse_weekdays("fri-mon") == frozenset({4, 5, 6, 0})


def test_metadata_from_flags_sidecar_and_file_name(tmp_path: Path) -> None:
    config = MetadataConfig(cameras={"cam02": CameraConfig(zone="gate", timezone="Europe/Madrid")})
    video = tmp_path / "cam02_20261128T231000.mp4"
    video.write_bytes(b"")
    named = resolve(video, VideoMetadata(), config)
    assert named.camera == "cam02" and named.zone == "gate"
    assert named.start == datetime(2026, 11, 28, 23, 10, tzinfo=ZoneInfo("Europe/Madrid"))
    (tmp_path / "cam02_20261128T231000.mp4.json").write_text(
        json.dumps({"zone": "dock", "start": "2026-11-28T08:00:00+00:00"})
    )
    carried = resolve(video, VideoMetadata(), config)
    assert carried.zone == "dock" and carried.start == datetime(2026, 11, 28, 8, tzinfo=UTC)
    flagged = resolve(video, VideoMetadata(camera="cam-09"), config)
    assert flagged.camera == "cam-09" and flagged.zone == "dock"


def test_night_query_on_one_camera_returns_only_its_night_segments(
    tmp_path: Path, samples: SampleSet
) -> None:
    night = tmp_path / "cam02_20261128T231000.mp4"  # 23:10-23:10:40 in Madrid, a Saturday
    day = tmp_path / "cam01_20261128T121000.mp4"
    shutil.copy(samples.photos, night)
    shutil.copy(samples.photos, day)
    config = Config(
        modalities=["visual"],
        metadata={"cameras": {"cam02": {"timezone": "Europe/Madrid"}, "cam01": {}}},
    )
    library = Library(tmp_path / "lib", config)
    library.index([night, day])
    response = library.search("a cat at night on camera 2")
    assert response.results and {Path(m.video).name for m in response.results} == {night.name}
    assert response.to_dict()["filters"]["camera"] == "cam02"
    assert response.chips  # shown to the user as removable chips
    assert library.search("a cat at night on camera 1").results == []  # cam01 is daytime
    assert library.search("a cat", weekdays="mon-fri").results == []
    assert library.search("a cat", weekdays="sat", camera="cam01").results
    window = library.search("a cat", after="2026-11-28T22:00+00:00", before="2026-11-29")
    assert {Path(m.video).name for m in window.results} == {night.name}
    assert library.search("a cat", camera="nowhere").results == []


def test_camera_registry_in_the_index_sets_zone_and_timezone(
    tmp_path: Path, samples: SampleSet
) -> None:
    video = tmp_path / "cam07_20261128T231000.mp4"  # 23:10 on the camera's own clock
    shutil.copy(samples.silent, video)
    library = Library(tmp_path / "lib", Config(modalities=["visual"]))
    with pytest.raises(SceneseekError, match="IANA"):
        library.add_camera("cam07", timezone="Mars/Olympus")
    library.add_camera("cam07", name="Loading dock", zone="dock", timezone="America/New_York")
    library.index([video])
    stored = library.videos()[0]
    assert (stored.camera, stored.zone) == ("cam07", "dock")
    assert stored.start_time == datetime(2026, 11, 28, 23, 10, tzinfo=ZoneInfo("America/New_York"))
    assert library.search("a street", time_of_day="23:00-23:30").results  # local clock
    assert library.search("a street", after="2026-11-29T04:00+00:00").results  # 23:10 EST
    assert Library(tmp_path / "lib").cameras()["cam07"].name == "Loading dock"
