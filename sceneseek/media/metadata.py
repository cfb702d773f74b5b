"""Where a video was recorded and when: camera, zone and wall-clock start.

Sources, strongest first: what the caller passes (CLI flags), a sidecar
``<video>.json`` next to the file, then the file name matched against a configurable
pattern such as ``cam02_20261128T231000.mp4``. A start time without a UTC offset is
read in the camera's timezone from the camera registry (config), else UTC.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sceneseek.config import MetadataConfig
from sceneseek.errors import MediaError


@dataclass(frozen=True)
class VideoMetadata:
    camera: str | None = None
    zone: str | None = None
    start: datetime | None = None


def sidecar(path: Path) -> VideoMetadata:
    """``<video>.json`` with optional "camera", "zone" and "start" (ISO 8601)."""
    file = path.with_name(path.name + ".json")
    if not file.is_file():
        return VideoMetadata()
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
        start = data.get("start")
        return VideoMetadata(
            data.get("camera"), data.get("zone"), datetime.fromisoformat(start) if start else None
        )
    except (ValueError, AttributeError, TypeError) as exc:
        raise MediaError(file, f"unreadable sidecar metadata ({exc})") from None


def from_filename(path: Path, pattern: str) -> VideoMetadata:
    """Named groups ``camera``, ``zone`` and ``start`` (``YYYYmmddTHHMMSS``) of the pattern."""
    match = re.search(pattern, path.name)
    if not match:
        return VideoMetadata()
    groups = match.groupdict()
    start = groups.get("start")
    try:
        when = datetime.strptime(start, "%Y%m%dT%H%M%S") if start else None
    except ValueError:
        when = None
    return VideoMetadata(groups.get("camera"), groups.get("zone"), when)


def resolve(path: Path, given: VideoMetadata, config: MetadataConfig) -> VideoMetadata:
    """Merge the sources field by field and make the start time timezone-aware."""
    sources = [given, sidecar(path), from_filename(path, config.filename_pattern)]
    camera = next((s.camera for s in sources if s.camera), None)
    registered = config.cameras.get(camera or "")
    zone = next((s.zone for s in sources if s.zone), None) or (
        registered.zone if registered else None
    )
    start = next((s.start for s in sources if s.start), None)
    if start is not None and start.tzinfo is None:
        start = start.replace(tzinfo=_zone(registered.timezone if registered else None, path))
    return VideoMetadata(camera, zone, start)


def zone_named(name: str) -> tzinfo:
    """The IANA timezone called ``name``; ValueError with a readable message otherwise."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{name!r} is not an IANA timezone such as Europe/Madrid") from None


def _zone(name: str | None, path: Path) -> tzinfo:
    if not name:
        return UTC
    try:
        return zone_named(name)
    except ValueError as exc:
        raise MediaError(path, f"camera timezone {exc}") from None
