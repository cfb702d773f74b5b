"""Browsing the library: the camera registry, the indexed videos, one segment."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from sceneseek.api.deps import LibraryDep, ReadLock, look_up
from sceneseek.api.schemas import NOT_FOUND, SegmentOut, VideoOut, segment_out, video_out

router = APIRouter(tags=["library"])


@router.get("/api/cameras")
def cameras(library: LibraryDep, lock: ReadLock) -> dict[str, dict[str, Any]]:
    """The camera registry (config and index): name, default zone, timezone, zones."""
    with lock:
        registry = library.cameras()
    return {k: c.model_dump() for k, c in registry.items()}


@router.get("/api/videos", response_model=list[VideoOut])
def videos(library: LibraryDep, lock: ReadLock) -> list[dict[str, Any]]:
    """Every indexed video, with its segment count."""
    with lock:
        found = library.videos()
    return [video_out(v) for v in found]


@router.get("/api/videos/{video_id}", response_model=VideoOut, responses=NOT_FOUND)
def video(video_id: int, library: LibraryDep, lock: ReadLock) -> dict[str, Any]:
    return video_out(look_up(lock, library.video, "video", video_id))


@router.get("/api/segments/{segment_id}", response_model=SegmentOut, responses=NOT_FOUND)
def segment(segment_id: int, library: LibraryDep, lock: ReadLock) -> dict[str, Any]:
    """One segment with everything it was indexed with (observations, labels)."""
    return segment_out(look_up(lock, library.segment, "segment", segment_id))
