"""Deterministic parsing of filters that a query states in words, in English and
Spanish: "after hours", "at night", "esta noche", "on camera 2", "yesterday between 10
and 11", "en la zona gate". What is recognised becomes a filter (shown to the user as a
chip they can remove); the rest of the query is searched by meaning."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

FLAGS = re.IGNORECASE | re.UNICODE

# (pattern, HH:MM-HH:MM window, chip label). Longer phrases first.
DAYPARTS: list[tuple[re.Pattern[str], str, str]] = [
    (re.compile(p, FLAGS), window, label)
    for p, window, label in [
        (
            r"\b(?:after|outside(?: of)?) (?:business |office |working )?hours\b"
            r"|\bfuera de(?:l)? horario(?: laboral)?\b",
            "19:00-07:00",
            "after hours",
        ),
        (
            r"\b(?:at|during the|in the) night(?:time)?\b|\bovernight\b|\btonight\b"
            r"|\b(?:de|por la|esta|durante la) noche\b|\bnocturn[oa]s?\b",
            "20:00-06:00",
            "at night",
        ),
        (r"\bin the morning\b|\b(?:por|en) la ma[nñ]ana\b", "06:00-12:00", "in the morning"),
        (r"\bin the afternoon\b|\bpor la tarde\b", "12:00-19:00", "in the afternoon"),
        (r"\bin the evening\b", "18:00-22:00", "in the evening"),
        (
            r"\bduring the day\b|\bin daylight\b|\bde d[ií]a\b|\bdurante el d[ií]a\b",
            "06:00-20:00",
            "during the day",
        ),
    ]
]
HOURS = re.compile(
    r"\b(?:between|from|entre(?: las)?|de las)\s+(\d{1,2})(?::(\d{2}))?\s*(am|pm)?"
    r"\s+(?:and|to|y|a)(?: las)?\s+(\d{1,2})(?::(\d{2}))?\s*(am|pm)?\b",
    FLAGS,
)
DAYS = [
    (re.compile(r"\byesterday\b|\bayer\b", FLAGS), -1, "yesterday"),
    (re.compile(r"\btoday\b|\bhoy\b", FLAGS), 0, "today"),
]
CAMERA = re.compile(
    r"\b(?:(?:on|from|in|at|en|de|desde) (?:the |la )?)?(?:camera|cam|c[aá]mara)\s*[-#]?\s*(\d+)\b",
    FLAGS,
)
ZONE = re.compile(r"\b(?:(?:in|at) (?:the )?zone|en la zona|zona)\s+([\w-]+)", FLAGS)


@dataclass(frozen=True)
class Chip:
    """A filter read from the query's words, as shown to the user (who may remove it)."""

    filter: str  # "time_of_day", "date", "camera" or "zone"
    label: str


@dataclass
class ParsedQuery:
    text: str
    camera: str | None = None
    zone: str | None = None
    time_of_day: str | None = None
    after: datetime | None = None
    before: datetime | None = None
    chips: list[Chip] = field(default_factory=list)


def parse_query(query: str, cameras: list[str], zones: list[str], now: datetime) -> ParsedQuery:
    """Pull stated filters out of ``query``. Cameras and zones are only recognised when
    they exist in the index, so "camera 7" on a library without one stays search text."""
    parsed = ParsedQuery(text=query)
    text = query
    for pattern, window, label in DAYPARTS:
        if pattern.search(text):
            text = pattern.sub(" ", text)
            parsed.time_of_day = window
            parsed.chips.append(Chip("time_of_day", f"{label} ({window})"))
            break
    if (hours := HOURS.search(text)) is not None:
        start = _clock(hours.group(1), hours.group(2), hours.group(3) or hours.group(6))
        end = _clock(hours.group(4), hours.group(5), hours.group(6))
        if start is not None and end is not None and start != end:
            parsed.time_of_day = f"{start}-{end}"
            parsed.chips.append(Chip("time_of_day", f"between {start} and {end}"))
            text = text[: hours.start()] + " " + text[hours.end() :]
    for pattern, offset, label in DAYS:
        if pattern.search(text):
            midnight = datetime.combine(now.date(), time(), tzinfo=now.tzinfo)
            parsed.after = midnight + timedelta(days=offset)
            parsed.before = parsed.after + timedelta(days=1)
            parsed.chips.append(Chip("date", f"{label} ({parsed.after.date().isoformat()})"))
            text = pattern.sub(" ", text)
            break
    if (camera := CAMERA.search(text)) is not None:
        known = [c for c in cameras if _number(c) == int(camera.group(1))]
        if len(known) == 1:
            parsed.camera = known[0]
            parsed.chips.append(Chip("camera", f"camera {known[0]}"))
            text = text[: camera.start()] + " " + text[camera.end() :]
    if (zone := ZONE.search(text)) is not None:
        known = [z for z in zones if z.lower() == zone.group(1).lower()]
        if known:
            parsed.zone = known[0]
            parsed.chips.append(Chip("zone", f"zone {known[0]}"))
            text = text[: zone.start()] + " " + text[zone.end() :]
    remaining = " ".join(text.split()).strip(" ,.;")
    parsed.text = remaining or query  # "at night" alone still searches for something
    return parsed


def _clock(hours: str, minutes: str | None, meridiem: str | None) -> str | None:
    hour, minute = int(hours), int(minutes or 0)
    if meridiem and meridiem.lower() == "pm" and hour < 12:
        hour += 12
    if meridiem and meridiem.lower() == "am" and hour == 12:
        hour = 0
    if hour > 23 or minute > 59:
        return None
    return f"{hour:02d}:{minute:02d}"


def _number(camera_id: str) -> int | None:
    digits = re.findall(r"\d+", camera_id)
    return int(digits[-1]) if digits else None
