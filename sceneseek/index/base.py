"""The ``Index`` protocol every backend implements, and the records that cross it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import numpy as np

from sceneseek.config import CameraConfig, ZoneConfig
from sceneseek.encoders.base import Observation
from sceneseek.encoders.tracks import PeopleFindings, TrackedPerson
from sceneseek.encoders.vocabulary import label_keywords


@dataclass
class VideoRecord:
    path: str
    content_hash: str
    duration: float
    camera: str | None = None
    zone: str | None = None
    start_time: datetime | None = None  # wall-clock time of the first frame
    language: str | None = None


# Function words in the two query languages; matching them says nothing about content.
_FUNCTION_WORDS = """
    a an the of in on at to is are was be and or with for from by this that it its there
    el la los las un una unos unas de del en y o con por para que es son al se su lo le les
"""
STOPWORDS = frozenset(_FUNCTION_WORDS.split())


def observation_text(observations: list[Observation]) -> str:
    """What gets embedded and keyword-indexed for one modality of one segment: each
    distinct text once, in time order (a caption seen in ten frames counts once)."""
    return " ".join(dict.fromkeys(o.text for o in observations))


def observation_languages(observations: list[Observation]) -> list[str]:
    """The languages the observations were said or written in, each once, in time order
    (empty when none was detected, as for sound tags)."""
    return list(dict.fromkeys(o.language for o in observations if o.language))


def keyword_text(observations: list[Observation]) -> str:
    """What BM25 matches for one modality of one segment: the texts, then the English
    translations of those that are not English, so English words find Spanish speech
    (the embedding, multilingual already, gets the texts alone)."""
    english = dict.fromkeys(o.english for o in observations if o.english)
    return " ".join([observation_text(observations), *english])


def label_text(labels: list[tuple[str, float]]) -> str:
    """What gets keyword-indexed for a segment's visual class labels: the names and the
    words around them (synonyms, broader and narrower terms; see ``vocabulary``)."""
    return label_keywords(name for name, _ in labels)


@dataclass
class SegmentRecord:
    start: float
    end: float
    observations: dict[str, list[Observation]] = field(default_factory=dict)  # by modality
    labels: list[tuple[str, float]] = field(default_factory=list)
    keyframe: float = 0.0
    vectors: dict[str, np.ndarray] = field(default_factory=dict)  # modality → unit vector


@dataclass(frozen=True)
class StoredSegment:
    id: int
    video_id: int
    video: str
    start: float
    end: float
    observations: dict[str, list[Observation]]
    labels: list[tuple[str, float]]
    keyframe: float
    camera: str | None
    zone: str | None
    wall_start: datetime | None


@dataclass(frozen=True)
class StoredEvent:
    """A people event as stored (``sceneseek.encoders.tracks.PersonEvent``), with where
    and when its video was recorded."""

    id: int
    video_id: int
    video: str
    kind: str
    zone: str | None
    start: float
    end: float
    dwell: float | None
    count: int
    direction: str | None
    text: str
    tracks: tuple[int, ...]
    camera: str | None
    wall_start: datetime | None  # the video's, as for segments


@dataclass(frozen=True)
class EventConditions:
    """What a query states about a people event: the camera zone it happened in, the
    least time stayed and the least number of people. Any of them makes the query a
    search of events rather than of segments."""

    zone: str | None = None
    min_dwell: float | None = None  # seconds
    min_count: int | None = None

    @property
    def is_empty(self) -> bool:
        return self == EventConditions()


@dataclass(frozen=True)
class StoredVideo:
    id: int
    path: str
    duration: float
    camera: str | None
    zone: str | None
    start_time: datetime | None
    language: str | None
    segments: int


@dataclass(frozen=True)
class Mark:
    """An operator's judgement of one result for one query (feedback for re-ranking)."""

    id: int
    query: str
    segment_id: int
    relevant: bool
    created: datetime
    # What the search saw when the mark was made, so labels can train a fusion later:
    # per-modality standardised evidence, encoder name@version per role, fusion version.
    scores: dict[str, float] = field(default_factory=dict)
    encoders: dict[str, str] = field(default_factory=dict)
    fusion: str | None = None


@dataclass(frozen=True)
class StoredFusion:
    """A fusion learned from marks (``sceneseek learn``): per-modality weights, what it
    was trained on and how it cross-validated; only adopted ones rank searches."""

    id: int
    version: str
    weights: dict[str, float]
    summary: dict[str, Any]
    adopted: bool
    created: datetime


@dataclass(frozen=True)
class SegmentFilter:
    """Restricts search to matching segments, applied inside k-NN and BM25."""

    camera: str | None = None
    zone: str | None = None
    time_of_day: tuple[int, int] | None = None  # seconds after local midnight; may wrap
    after: datetime | None = None  # absolute window on the segment's wall-clock middle
    before: datetime | None = None
    weekdays: frozenset[int] | None = None  # 0 = Monday, in the camera's local time
    video: str | None = None  # path as indexed

    @property
    def is_empty(self) -> bool:
        return self == SegmentFilter()

    def clauses(self) -> list[tuple[Condition, ...]]:
        """The filter as conditions every backend translates the same way: each clause
        holds when any of its conditions does, the filter when every clause does. Time
        fields are those of the segment's wall-clock middle, absent for untimed ones."""
        found: list[tuple[Condition, ...]] = [
            (Condition(field, "==", value),)
            for field, value in (("camera", self.camera), ("zone", self.zone))
            if value is not None
        ]
        if self.time_of_day is not None:
            start, end = self.time_of_day
            after, before = (
                Condition("day_seconds", ">=", start),
                Condition("day_seconds", "<", end),
            )
            found += [(after,), (before,)] if start <= end else [(after, before)]  # may wrap
        if self.after is not None:
            found.append((Condition("wall_time", ">=", self.after.timestamp()),))
        if self.before is not None:
            found.append((Condition("wall_time", "<", self.before.timestamp()),))
        if self.weekdays is not None:
            found.append((Condition("weekday", "in", sorted(self.weekdays)),))
        if self.video is not None:
            found.append((Condition("video", "==", self.video),))
        return found


@dataclass(frozen=True)
class Condition:
    """One comparison of a ``SegmentFilter``: ``field op value``, op one of ==, >=, <
    and "in" (a list)."""

    field: str  # camera, zone, video (the path), day_seconds, wall_time, weekday
    op: str
    value: Any

    @property
    def timed(self) -> bool:
        return self.field in ("day_seconds", "wall_time", "weekday")


class Searchable(Protocol):
    """What search reads."""

    def knn(
        self, modality: str, query: np.ndarray, k: int, where: SegmentFilter
    ) -> list[tuple[int, float]]:
        """(segment id, cosine) best first, only among segments matching ``where``."""
        ...

    def reference_vectors(self, modality: str) -> np.ndarray:
        """A sample of stored vectors, for calibrating one query's similarity scale."""
        ...

    def keyword(
        self, text: str, k: int, where: SegmentFilter, fields: tuple[str, ...]
    ) -> list[tuple[int, float]]:
        """(segment id, BM25 score, higher is better) over the given text fields: text
        modalities and "labels" (visual class names)."""
        ...

    def segments(self, ids: list[int]) -> dict[int, StoredSegment]: ...

    def segment_vectors(self, segment_id: int) -> dict[str, np.ndarray]:
        """The stored vector of each modality of one segment."""
        ...

    def events(
        self,
        where: SegmentFilter,
        stated: EventConditions,
        text: str | None = None,
        limit: int = -1,
    ) -> list[StoredEvent]:
        """People events matching the filter and the stated conditions (said as
        ``text``, if given), at most ``limit`` (-1: all)."""
        ...

    def event_texts(self, where: SegmentFilter, stated: EventConditions) -> list[str]:
        """The distinct sentences of those events."""
        ...

    def event(self, event_id: int) -> StoredEvent | None: ...

    def tracks(self, video_id: int, numbers: Iterable[int] | None = None) -> list[TrackedPerson]:
        """The tracked people of one video (only ``numbers``, if given)."""
        ...

    def segments_during(self, video_id: int, start: float, end: float) -> list[StoredSegment]:
        """The segments of a video overlapping [start, end), in time order."""
        ...


class Content(Protocol):
    """What is indexed: videos, their segments and failures, and the encoders that made them."""

    def encoder_versions(self) -> dict[str, str]:
        """Encoder name@version per role, as recorded when the index was first written."""
        ...

    def set_encoder_versions(self, versions: dict[str, str]) -> None: ...

    def video_hash(self, path: str) -> str | None:
        """Content hash stored for ``path``, or None if it is not indexed."""
        ...

    def replace_video(
        self,
        video: VideoRecord,
        segments: list[SegmentRecord],
        people: PeopleFindings | None = None,
    ) -> None:
        """Atomically swap in this video's segments and tracked people (a crash leaves
        the old ones)."""
        ...

    def remove_video(self, path: str) -> bool:
        """Forget a video and its segments; False if it was not indexed."""
        ...

    def record_failure(self, path: str, error: str) -> None: ...

    def failures(self) -> list[tuple[str, str]]:
        """(path, error) of files whose last indexing attempt failed."""
        ...

    def all_segments(self) -> list[StoredSegment]:
        """Every segment, by video then start time."""
        ...

    def videos(self) -> list[StoredVideo]: ...

    def camera_segment(self, camera_id: str) -> int | None:
        """The middle segment of the camera's newest video (its keyframe shows the
        picture zones are drawn on; a video's first may be a fade); None before the
        camera has footage."""
        ...

    def cameras_and_zones(self) -> tuple[list[str], list[str]]:
        """Distinct camera ids and zones of indexed videos (cheap: read per query)."""
        ...

    def stats(self) -> dict[str, int]: ...

    def utterance_languages(self) -> dict[str, int]:
        """Utterances per spoken language (each counted once, though stored with every
        segment it overlaps); "unknown" where none was detected."""
        ...


class OperatorsData(Protocol):
    """What operators add: marks, learned fusions, the camera registry."""

    def add_mark(
        self,
        query: str,
        segment_id: int,
        relevant: bool,
        scores: dict[str, float] | None = None,
        encoders: dict[str, str] | None = None,
        fusion: str | None = None,
    ) -> Mark: ...

    def marks(self) -> list[Mark]: ...

    def add_fusion(
        self, version: str, weights: dict[str, float], summary: dict[str, Any], adopted: bool
    ) -> StoredFusion:
        """Record a learned fusion (adopted or not); version must be unique."""
        ...

    def fusions(self) -> list[StoredFusion]:
        """Every learned fusion, oldest first; the newest adopted one ranks searches."""
        ...

    def set_camera(self, camera_id: str, camera: CameraConfig) -> None:
        """Add or replace an entry of the camera registry."""
        ...

    def cameras(self) -> dict[str, CameraConfig]: ...

    def set_zone(self, camera_id: str, name: str, zone: ZoneConfig) -> None:
        """Add or replace a zone drawn on a camera's picture (points in frame fractions)."""
        ...

    def remove_zone(self, camera_id: str, name: str) -> bool: ...

    def zones(self) -> dict[str, dict[str, ZoneConfig]]:
        """Camera id → zone name → zone, both in name order."""
        ...


class Upkeep(Protocol):
    """Checking and repairing the vectors (``sceneseek check``)."""

    def verify_vectors(self) -> list[str]:
        """Where the vectors search reads differ from the stored ones, one line each
        (empty when they agree; for ``check`` and the crash tests)."""
        ...

    def rebuild_vectors(self) -> str:
        """Rebuild what search reads from the stored vectors (``check --repair``); says
        what was done."""
        ...

    def held_vectors(self) -> dict[int, set[str]]:
        """Segment id → the modalities the backend holds a vector of (``check`` finds
        segments lacking one)."""
        ...

    def close(self) -> None: ...


class Index(Searchable, Content, OperatorsData, Upkeep, Protocol):
    """The whole of an index, as the library and its services use it:
    ``sceneseek.index.store.Store`` (the catalogue with a vector store) implements it."""
