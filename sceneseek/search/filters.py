"""Parsing user-supplied filters into a ``SegmentFilter``, with errors that say what
was wrong and what is expected."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from sceneseek.errors import QueryError
from sceneseek.index.base import SegmentFilter

TIME_OF_DAY = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
SURROGATE = re.compile("[\ud800-\udfff]")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


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


def parse_instant(text: str | datetime | None, name: str) -> datetime | None:
    """ISO 8601 date or date-time; without an offset it is taken as UTC."""
    if text is None or isinstance(text, datetime):
        moment = text
    else:
        try:
            moment = datetime.fromisoformat(text.strip())
        except ValueError:
            raise QueryError(
                f"{name} {text!r}: expected ISO 8601, e.g. 2026-11-28 or 2026-11-28T22:00+01:00"
            ) from None
    if moment is not None and moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment


def parse_weekdays(text: str | None) -> frozenset[int] | None:
    """ "mon,tue" or "sat-sun" → {0, 1} / {5, 6} (0 = Monday)."""
    if not text:
        return None
    days: set[int] = set()
    for part in text.lower().replace(" ", "").split(","):
        ends = part.split("-")
        if not part or len(ends) > 2 or any(e[:3] not in WEEKDAYS or not e for e in ends):
            raise QueryError(f"weekdays {text!r}: expected e.g. mon,tue or mon-fri")
        first, last = WEEKDAYS.index(ends[0][:3]), WEEKDAYS.index(ends[-1][:3])
        days.update(
            range(first, last + 1) if first <= last else [*range(first, 7), *range(last + 1)]
        )
    return frozenset(days)


def plain_text(text: str) -> str:
    """``text`` with lone surrogates (what undecodable bytes become in Python strings)
    replaced by U+FFFD, so it can reach SQLite and the encoders, which want UTF-8."""
    return SURROGATE.sub("\ufffd", text)


def make_filter(
    camera: str | None = None,
    zone: str | None = None,
    time_of_day: str | None = None,
    after: str | datetime | None = None,
    before: str | datetime | None = None,
    weekdays: str | None = None,
    video: str | None = None,
) -> SegmentFilter:
    start, end = parse_instant(after, "after"), parse_instant(before, "before")
    if start is not None and end is not None and start >= end:
        raise QueryError(f"the time window is empty: after {start} is not before {end}")
    return SegmentFilter(
        camera=plain_text(camera) if camera else None,
        zone=plain_text(zone) if zone else None,
        time_of_day=parse_time_of_day(time_of_day) if time_of_day else None,
        after=start,
        before=end,
        weekdays=parse_weekdays(weekdays),
        video=plain_text(video) if video else None,
    )
