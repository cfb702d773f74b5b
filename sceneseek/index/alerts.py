"""Records for saved queries that fire on newly indexed video ("alerts") and the events
they raise, and the storage protocol a backend implements to hold them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable


@dataclass(frozen=True)
class Alert:
    """A saved query: it fires for a moment of a new video scoring at least ``threshold``
    (the fused moment score that search shows) inside the filters."""

    id: int
    query: str
    threshold: float
    camera: str | None = None
    zone: str | None = None
    time_of_day: str | None = None  # "HH:MM-HH:MM", as given to search
    webhook: str | None = None
    created: datetime | None = None


@dataclass(frozen=True)
class AlertEvent:
    """One moment that fired one alert. ``wall_time`` is the wall-clock time of the
    moment's start when the video was indexed with a start time."""

    id: int
    alert_id: int
    query: str
    video: str
    start: float
    end: float
    score: float
    wall_time: datetime | None
    created: datetime
    event_id: int | None = None  # the people event it fired for (once per event)


@runtime_checkable
class AlertStore(Protocol):
    """What a backend needs for alerts (every store has it: they live in the catalogue)."""

    def add_alert(
        self,
        query: str,
        threshold: float,
        camera: str | None,
        zone: str | None,
        time_of_day: str | None,
        webhook: str | None,
    ) -> int: ...

    def alerts(self) -> list[Alert]: ...

    def remove_alert(self, alert_id: int) -> bool: ...

    def add_alert_events(self, events: list[AlertEvent]) -> list[AlertEvent]:
        """Store events, returning those not already stored (same alert, video, start;
        or same alert and people event), with their ids."""
        ...

    def alert_events(self, alert_id: int | None = None, limit: int = 1000) -> list[AlertEvent]:
        """Newest first."""
        ...
