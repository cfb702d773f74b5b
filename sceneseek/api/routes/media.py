"""Media of indexed videos: a segment's keyframe, a people event's picture, the video
with Range support, a clip.
Files are reached only by the id of an indexed video or segment, and only while they are
still the files that were indexed."""

from __future__ import annotations

import logging
import mimetypes
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import FileResponse, Response
from starlette.background import BackgroundTask

from sceneseek.api.deps import LibraryDep, ReadLock, ServedDep, look_up, not_found
from sceneseek.api.schemas import BAD_QUERY, NOT_FOUND
from sceneseek.errors import MediaError
from sceneseek.index.base import StoredVideo
from sceneseek.library import Library

log = logging.getLogger(__name__)

router = APIRouter(tags=["media"])


@router.get(
    "/api/segments/{segment_id}/thumbnail.jpg",
    response_class=Response,
    responses={**NOT_FOUND, 200: {"content": {"image/jpeg": {}}}},
)
def thumbnail(segment_id: int, library: LibraryDep, lock: ReadLock) -> Response:
    """The segment's keyframe as JPEG."""
    return _picture(
        library,
        lock,
        ("segment", segment_id),
        lambda: library.segment(segment_id).video,
        lambda: library.thumbnail(segment_id),
    )


@router.get(
    "/api/events/{event_id}/thumbnail.jpg",
    response_class=Response,
    responses={**NOT_FOUND, 200: {"content": {"image/jpeg": {}}}},
)
def event_thumbnail(event_id: int, library: LibraryDep, lock: ReadLock) -> Response:
    """A people event's middle frame as JPEG, its people's boxes, paths and zone drawn."""
    return _picture(
        library,
        lock,
        ("event", event_id),
        lambda: library.event(event_id).video,
        lambda: library.event_thumbnail(event_id),
    )


def _picture(
    library: Library,
    lock: ReadLock,
    what: tuple[str, int],
    video_of: Callable[[], str],
    make: Callable[[], bytes],
) -> Response:
    """A JPEG made from an indexed video, if it is still the file that was indexed."""
    try:
        with lock:
            video = video_of()
        _indexed_file(library, lock, video)
        with lock:
            data = make()
    except KeyError:
        raise not_found(*what) from None
    except MediaError as exc:  # the indexed file was moved or damaged since
        raise HTTPException(404, str(exc)) from None
    return Response(data, media_type="image/jpeg", headers={"Cache-Control": "max-age=3600"})


def _video_file(library: Library, lock: ReadLock, video_id: int) -> tuple[StoredVideo, Path]:
    """The indexed video's record and file; only ids reach the file system."""
    info = look_up(lock, library.video, "video", video_id)
    return info, _indexed_file(library, lock, info.path)


def _indexed_file(library: Library, lock: ReadLock, stored: str) -> Path:
    """The file at an indexed path, if it is still the file that was indexed."""
    try:
        with lock:
            return library.media_file(stored)
    except MediaError as exc:
        raise HTTPException(404, f"the indexed file is gone or was replaced: {exc}") from None


@router.get(
    "/api/videos/{video_id}/media",
    response_class=FileResponse,
    responses={
        **NOT_FOUND,
        206: {"description": "the requested byte range"},
        416: {"description": "range not satisfiable"},
    },
)
def media(video_id: int, library: LibraryDep, lock: ReadLock) -> FileResponse:
    """The video file, with HTTP Range support so a player seeks straight to a moment."""
    _, path = _video_file(library, lock, video_id)
    media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return FileResponse(
        path,
        media_type=media_type,
        filename=path.name,
        content_disposition_type="inline",
    )


@router.get(
    "/api/clip",
    response_class=FileResponse,
    responses={**BAD_QUERY, **NOT_FOUND, 200: {"content": {"video/mp4": {}}}},
)
def clip(
    video_id: int,
    start: Annotated[float, Query(ge=0, allow_inf_nan=False)],
    end: Annotated[float, Query(gt=0, allow_inf_nan=False)],
    served: ServedDep,
) -> FileResponse:
    """Download [start, end] seconds of an indexed video as MP4."""
    settings = served.settings
    info, path = _video_file(served.library, served.read_lock, video_id)
    if end <= start:
        raise HTTPException(400, f"start ({start}) must be before end ({end})")
    if end - start > settings.max_clip_seconds:
        raise HTTPException(
            400, f"clips are limited to {settings.max_clip_seconds:g} s, asked {end - start:g}"
        )
    if start >= info.duration or end > info.duration + 0.5:
        raise HTTPException(
            400, f"[{start:g}, {end:g}] is outside the video (duration {info.duration:.2f} s)"
        )
    end = min(end, info.duration)
    workdir = Path(tempfile.mkdtemp(prefix="sceneseek-clip-"))
    out = workdir / f"{path.stem}_{start:.1f}-{end:.1f}.mp4"
    try:
        with served.clip_slots:
            cut_clip(settings.ffmpeg, path, start, end, out, settings.clip_timeout_seconds)
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
        shutil.rmtree(workdir, ignore_errors=True)
        log.error("clip export of video %s failed: %s", video_id, exc)
        raise HTTPException(500, f"could not cut the clip: {exc}") from None
    return FileResponse(
        out,
        media_type="video/mp4",
        filename=out.name,
        background=BackgroundTask(shutil.rmtree, workdir, ignore_errors=True),
    )


def cut_clip(ffmpeg: str, video: Path, start: float, end: float, out: Path, timeout: float) -> None:
    """Re-encode [start, end] of ``video`` to a browser-playable MP4 (H.264/AAC, moov
    atom first). Re-encoding rather than stream copy so the cut is frame-exact."""
    command = [
        ffmpeg,
        "-nostdin",
        "-hide_banner",
        "-loglevel",
        "error",
        "-ss",
        f"{start:.3f}",
        "-i",
        str(video),
        "-t",
        f"{end - start:.3f}",
        "-map",
        "0:v:0",
        "-map",
        "0:a:0?",
        "-c:v",
        "libx264",
        "-preset",
        "veryfast",
        "-pix_fmt",
        "yuv420p",
        "-c:a",
        "aac",
        "-movflags",
        "+faststart",
        "-y",
        str(out),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    if done.returncode != 0 or not out.exists() or out.stat().st_size == 0:
        raise RuntimeError(f"ffmpeg failed ({done.returncode}): {done.stderr.strip()[-500:]}")
