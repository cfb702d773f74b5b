"""What the people reader tracked, in the structured form the index stores beside the
sentences: each person's boxes over time, and events with exact times and the facts a
query can state as conditions (zone, how long, how many), so "loitering in the gate zone
for more than 2 minutes" is answered by a comparison, not by how close two sentences are.

No OpenCV here: search and the catalogue read these records without the reader.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

EventKind = Literal["enter", "leave", "loiter", "stop", "together"]
# time, x, y, width, height: a box in frame fractions at one detail frame
Box = tuple[float, float, float, float, float]


@dataclass(frozen=True)
class TrackedPerson:
    """One confirmed person: ``number`` within the video, boxes in time order."""

    number: int
    boxes: tuple[Box, ...]
    direction: str | None = None  # "left to right", "toward the camera"...; None: no way

    @property
    def start(self) -> float:
        return self.boxes[0][0]

    @property
    def end(self) -> float:
        return self.boxes[-1][0]


@dataclass(frozen=True)
class PersonEvent:
    """Something one person (or several together) did, with its exact span."""

    kind: EventKind
    start: float
    end: float
    text: str  # the sentence the people modality indexes for it
    tracks: tuple[int, ...] = ()  # ``TrackedPerson.number`` of who did it
    zone: str | None = None  # enter/leave/loiter: the camera zone
    dwell: float | None = None  # seconds stayed (loiter, stop, together)
    direction: str | None = None

    @property
    def count(self) -> int:
        """People in the event (at least one)."""
        return max(1, len(self.tracks))


@dataclass(frozen=True)
class PeopleFindings:
    tracks: tuple[TrackedPerson, ...] = ()
    events: tuple[PersonEvent, ...] = ()


@runtime_checkable
class TrackingSession(Protocol):
    """A frame session that also hands over what it tracked (the people reader's)."""

    def findings(self) -> PeopleFindings:
        """Tracks and events of the video (call after ``finish``)."""
        ...
