"""Deterministic parsing of filters that a query states in words, in English and
Spanish: "after hours", "at night", "esta noche", "on camera 2", "yesterday between 10
and 11", "en la zona gate", "after 22:00"; and what a query states about a people event:
the camera zone ("in the gate zone", "al parking"), how long ("for more than 2 minutes",
"más de 5 minutos") and how many ("two people together", "un grupo de"). What is
recognised becomes a filter (shown to the user as a chip they can remove); the rest of
the query is searched by meaning."""

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
# A clock time: "after 22:00", "after 10pm", "después de las 22" (not "after 5 minutes")
AFTER = re.compile(
    r"\b(?:after|later than|despu[eé]s de|a partir de)\s+(las\s+)?"
    r"(\d{1,2})(?::(\d{2}))?(?:\s*(am|pm|h)\b)?(?![\w:])",
    FLAGS,
)
NUMBERS = {
    **dict.fromkeys(("a", "an", "one", "un", "una", "uno"), 1),
    **dict.fromkeys(("two", "dos", "couple of"), 2),
    **dict.fromkeys(("three", "tres"), 3),
    **dict.fromkeys(("four", "cuatro"), 4),
    **dict.fromkeys(("five", "cinco"), 5),
    **dict.fromkeys(("six", "seis"), 6),
    **dict.fromkeys(("ten", "diez"), 10),
    **dict.fromkeys(("fifteen", "quince"), 15),
    **dict.fromkeys(("twenty", "veinte"), 20),
    **dict.fromkeys(("thirty", "treinta"), 30),
}
_NUMBER = r"(\d+(?:[.,]\d+)?|" + "|".join(sorted(NUMBERS, key=len, reverse=True)) + ")"
UNITS = {"s": 1, "seg": 1, "m": 60, "min": 60, "h": 3600, "hour": 3600, "hora": 3600}
DWELL = re.compile(
    r"\b(?:(?:for|during|durante|por)\s+)?(?:more than|over|at least|longer than|"
    r"m[aá]s de|al menos|por lo menos)\s+" + _NUMBER + r"\s*"
    r"(seconds?|secs?|s|minutes?|mins?|m|hours?|hrs?|h|segundos?|seg|minutos?|horas?)\b",
    FLAGS,
)
COUNT = re.compile(
    r"\b" + _NUMBER + r"\s+(?=(?:people|persons|men|women|personas|hombres|mujeres)\b)",
    FLAGS,
)
RANGE_END = re.compile(r"\d\s*(?:to|and|or|a|y|o|-)\s*$", FLAGS)
GROUP = re.compile(
    r"\b(?:a group of|un grupo de|a crowd of|una multitud de)\b|\b(?:together|juntos|juntas)\b",
    FLAGS,
)
PLACE = (
    r"(?:(?:in|at|into|inside|to|from|of|near|within|en|a|al|del|de|desde|hacia|dentro de)\s+)?"
    r"(?:(?:the|la|el)\s+)?(?:(?:zone|area|zona|[aá]rea)\s+(?:del?\s+)?)?"
)


@dataclass(frozen=True)
class Chip:
    """A filter read from the query's words, as shown to the user (who may remove it)."""

    filter: str  # "time_of_day", "date", "camera", "zone", "event_zone", "dwell" or "count"
    label: str


@dataclass
class ParsedQuery:
    text: str
    camera: str | None = None
    zone: str | None = None
    time_of_day: str | None = None
    after: datetime | None = None
    before: datetime | None = None
    event_zone: str | None = None  # a camera zone a people event happened in
    min_dwell: float | None = None  # seconds
    min_count: int | None = None
    chips: list[Chip] = field(default_factory=list)


def parse_query(
    query: str,
    cameras: list[str],
    zones: list[str],
    now: datetime,
    event_zones: list[str] | None = None,
) -> ParsedQuery:
    """Pull stated filters out of ``query``. Cameras and zones are only recognised when
    they exist in the index, so "camera 7" on a library without one stays search text.
    People-event conditions are read only with ``event_zones`` (the cameras' drawn zones:
    give them for a query about people)."""
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
    after = AFTER.search(text) if parsed.time_of_day is None else None
    if after is not None and (after.group(1) or after.group(3) or after.group(4)):
        start = _clock(after.group(2), after.group(3), after.group(4))
        if start is not None:
            # "after 22:00" at night runs until morning; "after 14:00", until midnight
            end = "06:00" if start >= "18:00" or start < "06:00" else "24:00"
            parsed.time_of_day = f"{start}-{end}"
            parsed.chips.append(Chip("time_of_day", f"after {start} (until {end})"))
            text = text[: after.start()] + " " + text[after.end() :]
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
    if event_zones is not None:  # a query about people
        text = _event_conditions(parsed, text, event_zones)
    remaining = " ".join(text.split()).strip(" ,.;")
    parsed.text = remaining or query  # "at night" alone still searches for something
    return parsed


def _event_conditions(parsed: ParsedQuery, text: str, zones: list[str]) -> str:
    """Read the people-event conditions into ``parsed``; the text without their words
    (a count keeps its noun: "two people together" is searched as "people together")."""
    for zone in sorted(zones, key=len, reverse=True):  # "loading bay" before "bay"
        named = re.compile(rf"\b{PLACE}{re.escape(zone)}(?:\s+(?:zone|area))?(?!\w)", FLAGS).search(
            text
        )
        if named is not None:
            parsed.event_zone = zone
            parsed.chips.append(Chip("event_zone", f"in zone {zone}"))
            text = text[: named.start()] + " " + text[named.end() :]
            break
    if (dwell := DWELL.search(text)) is not None:
        unit = dwell.group(2).lower()
        seconds = _amount(dwell.group(1)) * next(
            (v for k, v in sorted(UNITS.items(), key=lambda kv: -len(kv[0])) if unit.startswith(k)),
            1,
        )
        parsed.min_dwell = seconds
        parsed.chips.append(Chip("dwell", f"for more than {_seconds(seconds)}"))
        text = text[: dwell.start()] + " " + text[dwell.end() :]
    count = COUNT.search(text)
    if count is not None and RANGE_END.search(text[: count.start()]):
        count = None  # "2 to 3 people": a range, not a least number
    if count is not None and _amount(count.group(1)) >= 2:
        parsed.min_count = int(_amount(count.group(1)))
        text = text[: count.start()] + " " + text[count.end() :]
    elif (group := GROUP.search(text)) is not None:
        parsed.min_count = 3 if group.group(0).lower().startswith(("a ", "un")) else 2
    if parsed.min_count is not None:
        parsed.chips.append(Chip("count", f"{parsed.min_count} or more people"))
    return text


def _amount(word: str) -> float:
    word = word.lower()
    return float(NUMBERS[word]) if word in NUMBERS else float(word.replace(",", "."))


def _seconds(seconds: float) -> str:
    if seconds >= 60 and seconds % 60 == 0:
        minutes = int(seconds // 60)
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    return f"{seconds:g} seconds"


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
