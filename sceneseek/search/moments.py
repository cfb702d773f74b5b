"""Merge adjacent scored segments of one video into moments with tight bounds."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from sceneseek.index.base import StoredEvent, StoredSegment


@dataclass
class Moment:
    video: str
    start: float
    end: float
    score: float
    segments: list[StoredSegment] = field(default_factory=list)
    contributions: dict[str, float] = field(default_factory=dict)  # of the best segment
    evidence: dict[str, Any] = field(default_factory=dict)
    below_cutoff: bool = False  # a weak match: under the search's relevance cut-off
    relevance: float | None = None  # the cut-off's probability that it is a good match
    # Evidence of fixed meaning the cut-off reads besides the scores, by feature name
    # (search/relevance.py FEATURES); a feature the moment has no evidence for is absent.
    signals: dict[str, float] = field(default_factory=dict)
    event: StoredEvent | None = None  # the people event the moment is (its exact span)

    @property
    def shown(self) -> StoredSegment:
        """The segment whose keyframe pictures the moment: the one holding its middle
        (after tightening to speech or a caption, that may not be the best segment)."""
        middle = (self.start + self.end) / 2
        return next((s for s in self.segments if s.start <= middle < s.end), self.segments[0])

    def to_dict(self) -> dict[str, Any]:
        best = self.segments[0]
        wall = best.wall_start.isoformat() if best.wall_start else None
        return {
            "video": self.video,
            "video_id": best.video_id,
            "segment_id": best.id,
            "start": round(self.start, 2),
            "end": round(self.end, 2),
            "score": round(self.score, 4),
            "below_cutoff": self.below_cutoff,
            "relevance": round(self.relevance, 4) if self.relevance is not None else None,
            "evidence": self.evidence,
            "keyframe": round(self.shown.keyframe, 2),
            "thumbnail_segment_id": self.shown.id,
            "camera": best.camera,
            "zone": best.zone,
            "video_start_time": wall,
            "event": _event_dict(self.event) if self.event else None,
        }


def _event_dict(event: StoredEvent) -> dict[str, Any]:
    return {
        "id": event.id,
        "kind": event.kind,
        "zone": event.zone,
        "start": round(event.start, 2),
        "end": round(event.end, 2),
        "dwell": round(event.dwell, 1) if event.dwell is not None else None,
        "count": event.count,
        "direction": event.direction,
        "tracks": list(event.tracks),
        "text": event.text,
    }


# Modalities whose observations outlast a segment: a person's track, a sound. When one of
# them carries a match across a segment boundary, the segments it spans are one moment.
SPANNING = ("people", "sound")
# A people description that follows someone (a track, a group, an event), not the
# scene's motion or its emptiness, which run on through unrelated shots.
_SOMEONE = re.compile(r"^(?:a person|(?:\w+ people|a crowd)\b)")

RUNNERS_UP = 9  # moments after the top whose mean score it must stand out from


def standout(moments: list[Moment]) -> float:
    """How far the top moment's score rises above the mean of the next ``RUNNERS_UP``.
    ``moments`` is the whole ranked list, best first. A lone moment (an alert on a video
    that is one shot) has nothing to stand out from, so only evidence of fixed meaning
    can make it a good match."""
    if len(moments) < 2:
        return 0.0
    runners = [m.score for m in moments[1 : RUNNERS_UP + 1]]
    return moments[0].score - sum(runners) / len(runners)


def merge(
    scored: list[tuple[StoredSegment, float, dict[str, float]]],
    gap: float,
    max_seconds: float,
    keep_fraction: float = 0.5,
) -> list[Moment]:
    """Group segments of the same video that touch (within ``gap``) into one moment, as
    long as the moment stays under ``max_seconds`` and each scores at least
    ``keep_fraction`` of the group's best, or the track or sound that carries the group's
    match runs on into it (``_carried_across``: one sound, one moment, whatever the
    segment's own score). The first segment of ``Moment.segments`` is the best."""
    by_video: dict[str, list[tuple[StoredSegment, float, dict[str, float]]]] = {}
    for item in scored:
        by_video.setdefault(item[0].video, []).append(item)
    moments: list[Moment] = []
    for items in by_video.values():
        items.sort(key=lambda item: item[0].start)
        current: list[tuple[StoredSegment, float, dict[str, float]]] = []
        for item in items:
            if current and _joins(current, item, gap, max_seconds, keep_fraction):
                current.append(item)
            else:
                if current:
                    moments.append(_moment(current))
                current = [item]
        if current:
            moments.append(_moment(current))
    return sorted(moments, key=lambda m: m.score, reverse=True)


def _joins(
    current: list[tuple[StoredSegment, float, dict[str, float]]],
    item: tuple[StoredSegment, float, dict[str, float]],
    gap: float,
    max_seconds: float,
    keep_fraction: float,
) -> bool:
    best = max(score for _, score, _ in current)
    segment, score = item[0], item[1]
    return (
        segment.start - current[-1][0].end <= gap
        and segment.end - current[0][0].start <= max_seconds
        and (min(score, best) >= keep_fraction * max(score, best) or _carried_across(current, item))
    )


def _carried_across(
    current: list[tuple[StoredSegment, float, dict[str, float]]],
    item: tuple[StoredSegment, float, dict[str, float]],
) -> bool:
    """Whether the observation carrying the group's match runs on into ``item``'s
    segment: the group's best segment's strongest evidence is a track or a sound, and the
    same observation (stored with every segment it overlaps) crosses the boundary."""
    contributions = max(current, key=lambda c: c[1])[2]
    specific = {m: c for m, c in contributions.items() if m != "fused"}
    strongest = max(specific, key=specific.__getitem__, default=None)
    if strongest not in SPANNING:
        return False
    before, after = current[-1][0], item[0]

    def spanning(segment: StoredSegment) -> set[tuple[float, float, str]]:
        return {
            (o.start, o.end, o.text)
            for o in segment.observations.get(strongest, [])
            if strongest != "people" or _SOMEONE.match(o.text)
        }

    shared = spanning(before) & spanning(after)
    return any(start < before.end and end > after.start for start, end, _ in shared)


def _moment(items: list[tuple[StoredSegment, float, dict[str, float]]]) -> Moment:
    best = max(items, key=lambda item: item[1])
    segments = [best[0], *(s for s, _, _ in items if s is not best[0])]
    return Moment(
        video=best[0].video,
        start=items[0][0].start,
        end=items[-1][0].end,
        score=best[1],
        segments=segments,
        contributions=best[2],
    )
