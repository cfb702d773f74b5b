"""Where a tracked person went relative to a camera's zones: entering, leaving and
loitering, each with the exact times an operator asks about ("a person loitering in zone
X after hours"), rather than one sentence for a whole file.

A person's position is the foot point of their box (bottom centre), in frame fractions
like the zones themselves (``sceneseek.config.ZoneConfig``): feet say which part of the
ground someone stands on, a box centre would put a person standing in front of a zone
inside it.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass
from typing import Literal

from sceneseek.config import CameraConfig


@dataclass(frozen=True)
class Zone:
    name: str
    points: tuple[tuple[float, float], ...]  # vertices in frame fractions, in order

    def contains(self, x: float, y: float) -> bool:
        """Whether the point (frame fractions) lies inside or on an edge (feet cut off
        by the frame stand on its border): even-odd ray casting, in plain Python so that a
        search, which imports the people reader for its version only, loads no OpenCV."""
        inside = False
        edges = zip(self.points, self.points[1:] + self.points[:1], strict=True)
        for (x0, y0), (x1, y1) in edges:
            on_line = abs((x1 - x0) * (y - y0) - (y1 - y0) * (x - x0)) < 1e-9
            if on_line and min(x0, x1) <= x <= max(x0, x1) and min(y0, y1) <= y <= max(y0, y1):
                return True
            if (y0 > y) != (y1 > y) and x < x0 + (y - y0) * (x1 - x0) / (y1 - y0):
                inside = not inside
        return inside


@dataclass(frozen=True)
class CameraZone:
    """A zone as the registry lists it: which camera, and where it was drawn (the config
    file, or the index from the CLI, API or web UI, whose zone wins a name clash)."""

    camera: str
    name: str
    points: tuple[tuple[float, float], ...]  # frame fractions
    source: Literal["config", "index"]
    overrides_config: bool = False  # drawn in the index over a config zone of its name


def camera_zones(camera: CameraConfig) -> tuple[Zone, ...]:
    """A camera's polygon zones (its whole-picture ``zone`` name needs no geometry)."""
    return tuple(Zone(name, tuple(zone.points)) for name, zone in camera.zones.items())


@dataclass(frozen=True)
class Footing:
    """Where one tracked person stood at one detail frame."""

    time: float
    x: float  # foot point, frame fractions
    y: float


@dataclass(frozen=True)
class ZoneEvent:
    kind: Literal["enter", "leave", "loiter"]
    zone: str
    start: float
    end: float  # enter/leave: the same as start, the moment of crossing


def zone_events(
    path: list[Footing],
    zones: list[Zone],
    loiter_seconds: float,
    confirm_seconds: float = 0.0,
    video_start: float = 0.0,
    video_end: float = float("inf"),
) -> list[ZoneEvent]:
    """Entries, exits and stays of at least ``loiter_seconds`` of one person's path.

    A crossing counts once every position for ``confirm_seconds`` from the first one
    on the new side is there too (feet jitter at an edge would otherwise make enter/leave
    pairs), at the midpoint between the last position on the old side and the first on the
    new one. A track that starts
    inside a zone entered it then (walked in from the frame edge, or was picked up
    late), unless it was there when the video started; one that ends inside left it
    then, unless the video ended first."""
    events: list[ZoneEvent] = []
    times = [f.time for f in path]
    for zone in zones:
        inside = [zone.contains(f.x, f.y) for f in path]
        state, since = inside[0], path[0].time
        visits: list[tuple[float, float]] = []
        for i in range(1, len(path)):
            # The path is in time order: the confirming positions are the next few only.
            until = bisect_left(times, path[i].time + confirm_seconds, lo=i + 1)
            if all(flag != state for flag in inside[i:until]):
                moment = (path[i - 1].time + path[i].time) / 2
                if state:
                    visits.append((since, moment))
                state, since = inside[i], moment
        if state:
            visits.append((since, path[-1].time))
        for start, end in visits:
            if start > video_start:
                events.append(ZoneEvent("enter", zone.name, start, start))
            if end < video_end:
                events.append(ZoneEvent("leave", zone.name, end, end))
            if end - start >= loiter_seconds:
                events.append(ZoneEvent("loiter", zone.name, start, end))
    return events
