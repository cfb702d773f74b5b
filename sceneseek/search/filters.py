"""Parsing user-supplied filters into a ``SegmentFilter``, with errors that say what
was wrong and what is expected."""

from __future__ import annotations

import re

from sceneseek.errors import QueryError
from sceneseek.index.base import SegmentFilter

TIME_OF_DAY = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


def parse_time_of_day(text: str) -> tuple[int, int]:
    """ "22:00-06:00" → seconds after midnight (start, end); the window may wrap midnight."""
    match = TIME_OF_DAY.match(text)
    if not match:
        raise QueryError(f"time of day {text!r}: expected HH:MM-HH:MM, e.g. 22:00-06:00")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    for hours, minutes in ((h1, m1), (h2, m2)):
        if hours > 24 or minutes > 59 or (hours == 24 and minutes):
            raise QueryError(f"time of day {text!r}: {hours:02d}:{minutes:02d} is not a time")
    start, end = h1 * 3600 + m1 * 60, h2 * 3600 + m2 * 60
    if start == end:
        raise QueryError(f"time of day {text!r}: start and end are the same")
    return start, end


def make_filter(
    camera: str | None = None, zone: str | None = None, time_of_day: str | None = None
) -> SegmentFilter:
    return SegmentFilter(
        camera=camera or None,
        zone=zone or None,
        time_of_day=parse_time_of_day(time_of_day) if time_of_day else None,
    )
