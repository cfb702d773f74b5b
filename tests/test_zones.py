"""Zones as polygons in the camera config, and the enter/leave/loiter logic on paths."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from sceneseek.config import CameraConfig, Config
from sceneseek.encoders.zones import Footing, camera_zones, zone_events

GATE = "0.5,0 1,0 1,1 0.5,1"  # the right half of the picture


def test_zone_forms_are_read_as_frame_fractions() -> None:
    camera = CameraConfig(
        zone="car park",
        zones={
            "gate": GATE,
            "door": [[0, 0], [0.25, 0], [0.25, 0.5]],
            "bench": {"points": "0,0 384,0 384,288", "resolution": "768x576"},
            "kerb": {"points": "0,540 1920,540 1920,1080", "resolution": "1080p"},
        },
    )
    assert camera.zone == "car park"  # the whole-picture zone name still stands
    assert camera.zones["bench"].points == [(0, 0), (0.5, 0), (0.5, 0.5)]
    assert camera.zones["kerb"].points == [(0, 0.5), (1, 0.5), (1, 1)]
    assert camera.zones["kerb"].resolution is None
    assert [z.name for z in camera_zones(camera)] == ["gate", "door", "bench", "kerb"]
    gate = camera_zones(camera)[0]
    assert gate.contains(0.75, 0.5) and not gate.contains(0.25, 0.5)
    assert gate.contains(0.5, 0.3) and gate.contains(0.8, 1.0)  # edges count as inside
    kerb = camera_zones(camera)[3]
    assert kerb.contains(0.9, 0.6) and not kerb.contains(0.1, 0.6)  # the diagonal edge


@pytest.mark.parametrize(
    ("zone", "cause"),
    [
        ("0.1,0.1 0.5,0.1", "at least 3 vertices, got 2"),
        ("0.1,0.1 2,0.1 0.5,0.5", "(2.0, 0.1) is not in frame fractions"),
        ("0,0 0.5,0.5 1,1", "no area"),
        ("0,0 1;0 1,1", "'1;0' is not X,Y"),
        ({"points": "0,0 900,0 0,10", "resolution": "768x576"}, "outside the 768x576 frame"),
        ({"points": "0,0 10,0 0,10", "resolution": "huge"}, "'huge' is neither WIDTHxHEIGHT"),
    ],
)
def test_bad_zone_names_camera_zone_and_cause(zone: object, cause: str) -> None:
    with pytest.raises(ValidationError) as error:
        Config(metadata={"cameras": {"cam-7": {"zones": {"loading bay": zone}}}})
    message = str(error.value)
    assert "cam-7" in message and "zone 'loading bay'" in message and cause in message


def walk(*points: tuple[float, float, float]) -> list[Footing]:
    return [Footing(t, x, y) for t, x, y in points]


def test_crossings_at_the_midpoint_and_loitering_from_the_dwell() -> None:
    gate = camera_zones(CameraConfig(zones={"gate": GATE}))
    path = walk((0, 0.2, 0.5), (1, 0.4, 0.5), (2, 0.6, 0.5), *((t, 0.7, 0.5) for t in range(3, 40)))
    path += walk((40, 0.45, 0.5), (41, 0.2, 0.5))
    events = [(e.kind, e.start, e.end) for e in zone_events(path, gate, loiter_seconds=30)]
    assert events == [("enter", 1.5, 1.5), ("leave", 39.5, 39.5), ("loiter", 1.5, 39.5)]
    shorter = zone_events(path, gate, loiter_seconds=60)
    assert [e.kind for e in shorter] == ["enter", "leave"]


def test_edge_jitter_needs_confirming_and_video_ends_are_not_crossings() -> None:
    gate = camera_zones(CameraConfig(zones={"gate": GATE}))
    # Feet wobble across the edge for one frame, then the person really steps in.
    path = walk((0, 0.45, 0.5), (0.5, 0.52, 0.5), (1, 0.48, 0.5), (1.5, 0.6, 0.5), (2, 0.7, 0.5))
    jittery = zone_events(path, gate, loiter_seconds=30, video_end=2)
    assert [(e.kind, e.start) for e in jittery] == [
        ("enter", 0.25),
        ("leave", 0.75),
        ("enter", 1.25),
    ]
    steady = zone_events(path, gate, loiter_seconds=30, confirm_seconds=0.6, video_end=2)
    assert [(e.kind, e.start) for e in steady] == [("enter", 1.25)]
    # A track that ends inside before the video does: the person left (out of view).
    assert [e.kind for e in zone_events(path, gate, 30, 0.6)] == ["enter", "leave"]
    # Inside from the video's first frame to its last: no crossing, still loitering.
    there = walk(*((t, 0.7, 0.5) for t in range(0, 40)))
    kept = zone_events(there, gate, loiter_seconds=30, video_start=0, video_end=39)
    assert [(e.kind, e.start, e.end) for e in kept] == [("loiter", 0, 39)]
