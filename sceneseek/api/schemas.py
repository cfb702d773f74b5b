"""The API's request and response models (validation and the OpenAPI docs), and the
records as the API shows them: their JSON (``sceneseek.records``) with the links a
client needs to show or play each one."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from sceneseek.index.base import StoredSegment, StoredVideo
from sceneseek.records import to_json

MAX_TOP_K = 100


class Open(BaseModel):
    """Documented fields, and any the engine adds later pass through unchanged."""

    model_config = ConfigDict(extra="allow")


class Result(Open):
    video: str
    video_id: int
    segment_id: int
    start: float
    end: float
    score: float
    evidence: dict[str, Any] = Field(description="per modality: contribution and why")
    keyframe: float
    camera: str | None
    zone: str | None
    video_start_time: str | None
    thumbnail_url: str
    media_url: str = Field(description="the video, seeking to the moment (#t=start,end)")
    event: dict[str, Any] | None = Field(
        None, description="the people event the result is: kind, zone, dwell, count, tracks"
    )


class TranslationOut(BaseModel):
    """A non-English query's language and the English it was also searched as."""

    from_: str = Field(alias="from")
    text: str | None
    note: str | None


class SearchOut(Open):
    query: str
    took_ms: float
    results: list[Result]
    translation: TranslationOut | None = None


class VideoOut(Open):
    id: int
    path: str
    duration: float
    camera: str | None
    zone: str | None
    start_time: str | None
    language: str | None
    segments: int
    media_url: str


class ObservationOut(BaseModel):
    start: float
    end: float
    text: str
    score: float
    language: str | None = Field(None, description="ISO 639-1 code of the words, if detected")


class SegmentOut(Open):
    id: int
    video_id: int
    video: str
    start: float
    end: float
    keyframe: float
    camera: str | None
    zone: str | None
    wall_start: str | None
    observations: dict[str, list[ObservationOut]]
    labels: list[tuple[str, float]]
    thumbnail_url: str
    media_url: str


class IngestIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    paths: list[str] = Field(min_length=1, description="files or folders on the server")
    camera: str | None = None
    zone: str | None = None
    start: datetime | None = Field(None, description="wall-clock time of the first frame")


class IngestError(BaseModel):
    path: str
    cause: str


class JobOut(Open):
    id: int
    status: str = Field(description="queued | running | done | failed | cancelled")
    paths: list[str]
    total: int
    done: int
    current: str | None
    indexed: list[str]
    unchanged: list[str]
    errors: list[IngestError]
    message: str | None


class FeedbackIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: str = Field(min_length=1, max_length=1000)
    segment_id: int
    relevant: bool


class AlertIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: str = Field(min_length=1, max_length=1000)
    camera: str | None = Field(None, max_length=200)
    zone: str | None = Field(None, max_length=200)
    time_of_day: str | None = Field(None, max_length=20)
    threshold: float = Field(2.0, ge=0)
    webhook: str | None = Field(None, max_length=2000)


class ZoneIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    points: str | list[tuple[float, float]] = Field(
        description='vertices in order, "x1,y1 x2,y2 ..." or [[x1, y1], ...]: frame fractions'
        " (0,0 top left), or pixels of `resolution`"
    )
    resolution: str | None = Field(
        None, max_length=40, description="the points are pixels of this: WIDTHxHEIGHT, 1080p ..."
    )


class ZoneOut(BaseModel):
    camera: str
    name: str
    points: list[tuple[float, float]] = Field(description="frame fractions")
    source: str = Field(description="config | index (drawn from the CLI, API or web UI)")
    overrides_config: bool = Field(description="drawn in the index over a config zone")


class CameraZonesOut(BaseModel):
    camera: str
    zones: list[ZoneOut]
    frame_url: str | None = Field(
        description="a keyframe of the camera's newest video to draw over; null without footage"
    )


class MarkOut(BaseModel):
    id: int
    query: str
    segment_id: int
    relevant: bool
    created: str
    scores: dict[str, float] = Field(description="per-modality evidence when marked")
    encoders: dict[str, str] = Field(description="encoder name@version when marked")
    fusion: str | None = Field(description="version of the fusion that ranked it")


class LocalSearchIn(BaseModel):
    """A `sceneseek search` on this machine (sceneseek.local_server): the index and the
    settings it expects, and ``Library.search``'s own arguments."""

    model_config = ConfigDict(extra="forbid")

    db: str
    config: str = Field(description="Config.fingerprint() of the asking command")
    image: str | None = Field(None, description="base64")
    query: str | None = None
    top_k: int = 10
    camera: str | None = None
    zone: str | None = None
    time_of_day: str | None = None
    after: str | None = None
    before: str | None = None
    weekdays: str | None = None
    video: str | None = None
    parse: bool = True
    more_like: list[int] = []
    not_like: list[int] = []
    translate: bool = True
    event_zone: str | None = None
    min_dwell: float | None = None
    min_count: int | None = None


class HealthOut(Open):
    status: str
    version: str
    db: str
    stats: dict[str, int]
    encoders: dict[str, str] = Field(description="encoder name@version the index was built with")
    fusion: str = Field(description="the fusion ranking searches: config-<hash> or learned-N")
    ingest_busy: bool


class Message(BaseModel):
    detail: str


NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": Message}}
BAD_QUERY: dict[int | str, dict[str, Any]] = {400: {"model": Message}}


class SearchParams(BaseModel):
    """Paging and filters shared by the three kinds of search (query parameters)."""

    top_k: int = Field(10, ge=1, le=MAX_TOP_K, description="moments per page")
    offset: int = Field(0, ge=0, le=10_000, description="moments to skip (paging)")
    camera: str | None = Field(None, max_length=200, description="only this camera")
    zone: str | None = Field(None, max_length=200, description="only this zone")
    time_of_day: str | None = Field(
        None, max_length=20, description="HH:MM-HH:MM wall-clock window; may wrap midnight"
    )
    after: str | None = Field(None, max_length=40, description="only from this ISO date/time on")
    before: str | None = Field(None, max_length=40, description="only before this ISO date/time")
    weekdays: str | None = Field(None, max_length=40, description="e.g. mon-fri or sat,sun")
    video_id: int | None = Field(None, description="only this indexed video")


def media_url(video_id: int, start: float | None = None, end: float | None = None) -> str:
    url = f"/api/videos/{video_id}/media"
    return url if start is None else f"{url}#t={start:.2f},{end:.2f}"


def thumbnail_url(segment_id: int) -> str:
    return f"/api/segments/{segment_id}/thumbnail.jpg"


def event_thumbnail_url(event_id: int) -> str:
    return f"/api/events/{event_id}/thumbnail.jpg"


def result_out(item: dict[str, Any]) -> dict[str, Any]:
    """One result of ``SearchResponse.to_dict`` (what ``sceneseek search --json`` prints),
    with its links; a people event's picture shows its people and zone."""
    event = item.get("event")
    return {
        **item,
        "thumbnail_url": event_thumbnail_url(event["id"])
        if event
        else thumbnail_url(item["thumbnail_segment_id"]),
        "media_url": media_url(item["video_id"], item["start"], item["end"]),
    }


def video_out(video: StoredVideo) -> dict[str, Any]:
    return {**to_json(video), "media_url": media_url(video.id)}


def segment_out(segment: StoredSegment) -> dict[str, Any]:
    return {
        **to_json(segment),
        "thumbnail_url": thumbnail_url(segment.id),
        "media_url": media_url(segment.video_id, segment.start, segment.end),
    }
