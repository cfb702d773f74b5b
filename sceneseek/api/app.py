"""The HTTP API: the ``Library`` that the CLI uses, behind FastAPI.

Every endpoint is a thin mapping onto a ``Library`` method, so the API can never rank,
filter or explain differently from ``sceneseek search``. JSON everywhere except media
(thumbnails, video bytes with Range support, exported clips). Files are only ever served
by the id of an indexed video or segment; no endpoint takes a path to read from.
"""

from __future__ import annotations

import base64
import json
import logging
import mimetypes
import os
import shutil
import sqlite3
import subprocess
import tempfile
import threading
from collections.abc import Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar

from fastapi import FastAPI, File, HTTPException, Query, Request, UploadFile
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, ConfigDict, Field
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.middleware.cors import CORSMiddleware
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

import sceneseek
from sceneseek.api.access import (
    COOKIE,
    LOCAL_SEARCH_PATH,
    ApiKeyAuth,
    FailureLimiter,
    SecurityHeaders,
    local_caller,
    presented_key,
)
from sceneseek.api.jobs import IngestJobs
from sceneseek.api.metrics import ApiMetrics, MeasuredRequests
from sceneseek.errors import (
    DamagedIndexError,
    ImageTooLargeError,
    MediaError,
    QueryError,
    SceneseekError,
    damage_cause,
)
from sceneseek.index.keys import KeyStore
from sceneseek.library import Library
from sceneseek.local_server import Announcement, withdraw
from sceneseek.media.picture import read_header
from sceneseek.paths import is_within, shown, user_path

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent.parent / "web" / "static"
IMAGE_PATH = "/api/search/image"
MAX_TOP_K = 100
T = TypeVar("T")


@dataclass(frozen=True)
class ApiSettings:
    """Limits and locations of one API instance (``sceneseek serve`` fills them in)."""

    max_upload_bytes: int = 10 * 1024 * 1024
    max_clip_seconds: float = 120.0
    # When set, ingest only reads files whose real path lies inside these folders (links
    # out of them are refused per file); None means any local path, the CLI's trust.
    # `serve` never passes None: without --ingest-root it confines ingest to its cwd.
    ingest_roots: tuple[Path, ...] | None = None
    static_dir: Path | None = STATIC_DIR
    ffmpeg: str = "ffmpeg"
    clip_timeout_seconds: float = 300.0
    # API keys (sceneseek.api.access): checked whenever the store holds any, and always
    # with require_keys (serve sets it when bound beyond loopback).
    keys: KeyStore | None = None
    require_keys: bool = False
    # Failed key attempts allowed per client address and per key id in a burst, and the
    # window over which that many are allowed again (beyond: 429 with Retry-After).
    key_failures: int = 10
    key_failure_window_s: float = 60.0
    login_days: int = 30  # how long the web UI's HttpOnly key cookie lasts
    cors_origins: tuple[str, ...] = ()  # none: browsers refuse cross-origin calls
    # What `serve` announced to CLI searches on this machine (sceneseek.local_server):
    # the local search route answers its token, and shutting down withdraws it. None: no
    # local search route.
    announcement: Announcement | None = None


# -- response and request models (for validation and the OpenAPI docs) -----------------
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


# -- helpers ---------------------------------------------------------------------------
def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _media_url(video_id: int, start: float | None = None, end: float | None = None) -> str:
    url = f"/api/videos/{video_id}/media"
    return url if start is None else f"{url}#t={start:.2f},{end:.2f}"


def _result(item: dict[str, Any]) -> dict[str, Any]:
    return {
        **item,
        "thumbnail_url": f"/api/segments/{item['thumbnail_segment_id']}/thumbnail.jpg",
        "media_url": _media_url(item["video_id"], item["start"], item["end"]),
    }


def _video(info: Any) -> dict[str, Any]:
    return {
        "id": info.id,
        "path": info.path,
        "duration": info.duration,
        "camera": info.camera,
        "zone": info.zone,
        "start_time": _iso(info.start_time),
        "language": info.language,
        "segments": info.segments,
        "media_url": _media_url(info.id),
    }


def _segment(segment: Any) -> dict[str, Any]:
    return {
        "id": segment.id,
        "video_id": segment.video_id,
        "video": segment.video,
        "start": segment.start,
        "end": segment.end,
        "keyframe": segment.keyframe,
        "camera": segment.camera,
        "zone": segment.zone,
        "wall_start": _iso(segment.wall_start),
        "observations": {
            modality: [
                {
                    "start": o.start,
                    "end": o.end,
                    "text": o.text,
                    "score": o.score,
                    "language": o.language,
                }
                for o in items
            ]
            for modality, items in segment.observations.items()
        },
        "labels": [[name, p] for name, p in segment.labels],
        "thumbnail_url": f"/api/segments/{segment.id}/thumbnail.jpg",
        "media_url": _media_url(segment.video_id, segment.start, segment.end),
    }


def _mark(mark: Any) -> dict[str, Any]:
    return {
        "id": mark.id,
        "query": mark.query,
        "segment_id": mark.segment_id,
        "relevant": mark.relevant,
        "created": _iso(mark.created),
        "scores": mark.scores,
        "encoders": mark.encoders,
        "fusion": mark.fusion,
    }


def _not_found(what: str, ident: int) -> HTTPException:
    return HTTPException(404, f"no {what} with id {ident}")


def _check_image(data: bytes) -> None:
    """Read the header and verify the file, so a non-image is refused with 415 (and one
    PIL would not even open for its size with 413) before it reaches the encoders."""
    try:
        with read_header(data) as image:
            image.verify()
    except ImageTooLargeError:
        raise
    except Exception as exc:  # noqa: BLE001 - PIL raises many types for bad input
        raise HTTPException(
            415, f"the upload is not an image PIL can read (JPEG, PNG, WebP, …): {exc}"
        ) from None


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


class UploadLimit:
    """Refuse an oversized image upload from its Content-Length, before the multipart
    body is read and spooled (the handler checks the real size again)."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit + 64 * 1024  # room for the multipart envelope

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == IMAGE_PATH:
            length = dict(scope["headers"]).get(b"content-length", b"0")
            if length.isdigit() and int(length) > self.limit:
                response = JSONResponse(
                    {"detail": f"the upload is larger than {self.limit // 1024 // 1024} MiB"},
                    status_code=413,
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


# -- the app ---------------------------------------------------------------------------
def create_app(library: Library, settings: ApiSettings | None = None) -> FastAPI:
    """An API over ``library``. The caller owns the library; the app stops its ingest
    worker on shutdown but does not close the library."""
    settings = settings or ApiSettings()
    jobs = IngestJobs(library, settings.ingest_roots)
    # Reads serialise on one lock: the index shares one SQLite connection and the encoders
    # between threads, and on a few cores parallel queries would only contend. Ingest does
    # not take it (a job takes minutes); the index guards its own writes.
    read_lock = threading.Lock()
    clip_slots = threading.BoundedSemaphore(2)  # each ffmpeg run uses every core

    def locked(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        with read_lock:
            return fn(*args, **kwargs)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> Any:
        yield
        jobs.close()
        if settings.announcement is not None:
            # Here, not after the server returns: uvicorn ends the process by re-raising
            # the SIGTERM it stopped on.
            withdraw(library.path, settings.announcement)

    app = FastAPI(
        title="sceneseek",
        version=sceneseek.__version__,
        summary="Offline semantic video search: find moments by what was seen, said or heard.",
        lifespan=lifespan,
    )
    app.state.library = library
    app.state.jobs = jobs
    app.state.settings = settings
    app.add_middleware(UploadLimit, limit=settings.max_upload_bytes)
    if settings.keys is not None:
        limiter = FailureLimiter(settings.key_failures, settings.key_failure_window_s)
        app.add_middleware(
            ApiKeyAuth, keys=settings.keys, always=settings.require_keys, limiter=limiter
        )
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "X-API-Key", "Content-Type"],
        )
    app.add_middleware(SecurityHeaders)
    metrics = ApiMetrics(library.path, library.config.monitor)
    app.add_middleware(MeasuredRequests, metrics=metrics)  # outermost: sees 401s and 413s
    app.state.metrics = metrics

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, exc: RequestValidationError) -> Response:
        # FastAPI's own handler echoes the input, and JSONResponse cannot encode a lone
        # surrogate (sent as "\\udce9" in JSON): it would answer 500. ASCII JSON can.
        body = {"detail": jsonable_encoder(exc.errors())}
        return Response(json.dumps(body), status_code=422, media_type="application/json")

    @app.exception_handler(QueryError)
    async def query_error(_: Request, exc: QueryError) -> JSONResponse:
        status = 413 if isinstance(exc, ImageTooLargeError) else 400
        return JSONResponse({"detail": str(exc)}, status_code=status)

    @app.exception_handler(SceneseekError)
    async def sceneseek_error(_: Request, exc: SceneseekError) -> JSONResponse:
        # Not the request's fault (e.g. the index was built with other encoders), but a
        # state the operator must fix: say so instead of a bare 500.
        return JSONResponse({"detail": str(exc)}, status_code=409)

    @app.exception_handler(DamagedIndexError)
    async def damaged_index(_: Request, exc: DamagedIndexError) -> JSONResponse:
        # Nothing can be answered from this index until the operator restores it.
        return JSONResponse({"detail": str(exc)}, status_code=503)

    @app.exception_handler(sqlite3.DatabaseError)
    async def database_error(request: Request, exc: sqlite3.DatabaseError) -> JSONResponse:
        # Damage found on a page read after the open (which raises DamagedIndexError).
        cause = damage_cause(exc)
        if cause is None:
            raise exc
        return await damaged_index(request, DamagedIndexError(library.path / "index.sqlite", cause))

    # -- status ------------------------------------------------------------------------
    @app.get("/api/health", response_model=HealthOut, tags=["status"])
    def health() -> dict[str, Any]:
        """Liveness plus what the index holds, which encoders built it and which fusion
        ranks searches."""
        stats, encoders, fusion = locked(
            lambda: (
                library.stats(),
                library.index_store.encoder_versions(),
                library.fusion_version(),
            )
        )
        return {
            "status": "ok",
            "version": sceneseek.__version__,
            "db": str(library.path),
            "stats": stats,
            "encoders": encoders,
            "fusion": fusion,
            "ingest_busy": jobs.busy(),
        }

    @app.post("/api/login", status_code=204, responses={400: {"model": Message}}, tags=["status"])
    def login(request: Request) -> Response:
        """Keep the key this request presents (Authorization or X-API-Key, checked like
        any other) in an HttpOnly, SameSite=Strict cookie, for the web UI: its <img> and
        <video> cannot send headers, and no script of the page can read the key."""
        key = presented_key(request.scope)
        if not key:
            raise HTTPException(400, "present the key as Authorization: Bearer KEY")
        response = Response(status_code=204)
        response.set_cookie(
            COOKIE,
            key,
            max_age=settings.login_days * 86400,
            path="/",
            secure=request.url.scheme == "https",
            httponly=True,
            samesite="strict",
        )
        return response

    @app.get("/metrics", response_class=Response, tags=["status"])
    def prometheus() -> Response:
        """Prometheus metrics: latency by route, queries, errors, index size, drift."""
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    # -- search ------------------------------------------------------------------------
    def run_search(params: SearchParams, **what: Any) -> dict[str, Any]:
        """``Library.search`` with the shared parameters; the response decorated with the
        URLs a client needs to show each result."""
        video = None
        if params.video_id is not None:
            try:
                video = locked(library.video, params.video_id).path
            except KeyError:
                raise _not_found("video", params.video_id) from None
        response = locked(
            library.search,
            top_k=params.top_k,
            offset=params.offset,
            camera=params.camera,
            zone=params.zone,
            time_of_day=params.time_of_day,
            after=params.after,
            before=params.before,
            weekdays=params.weekdays,
            video=video,
            **what,
        )
        out = response.to_dict()
        out["results"] = [_result(item) for item in out["results"]]
        return out

    @app.get(
        "/api/search",
        response_model=SearchOut,
        responses={**BAD_QUERY, **NOT_FOUND},
        tags=["search"],
    )
    def search(
        q: Annotated[str, Query(max_length=2000, description="what you are looking for")],
        params: Annotated[SearchParams, Query()],
        parse: Annotated[
            bool, Query(description="also apply filters stated in words, e.g. 'at night'")
        ] = True,
        more_like: Annotated[
            list[int],
            Query(max_length=200, description="segment ids marked relevant: refine toward them"),
        ] = [],  # noqa: B006 - FastAPI copies query defaults
        not_like: Annotated[
            list[int],
            Query(max_length=200, description="segment ids marked not relevant: drop, move away"),
        ] = [],  # noqa: B006
        translate: Annotated[
            bool, Query(description="also search a non-English query in English translation")
        ] = True,
    ) -> dict[str, Any]:
        """Find moments by meaning across what was seen, said, read and heard; with
        ``more_like``/``not_like``, the same query refined by the user's marks."""
        try:
            return run_search(
                params,
                query=q,
                parse=parse,
                more_like=more_like,
                not_like=not_like,
                translate=translate,
            )
        except KeyError as exc:  # a marked segment id that is not in the index
            raise HTTPException(404, str(exc.args[0])) from None

    @app.post(
        IMAGE_PATH,
        response_model=SearchOut,
        responses={
            **BAD_QUERY,
            **NOT_FOUND,
            413: {"model": Message, "description": "larger than the upload limit"},
            415: {"model": Message, "description": "not an image"},
        },
        tags=["search"],
    )
    def search_image(
        image: Annotated[UploadFile, File(description="a JPEG/PNG/WebP picture")],
        params: Annotated[SearchParams, Query()],
    ) -> dict[str, Any]:
        """Find moments that look like an uploaded picture (filters as query parameters)."""
        data = image.file.read(settings.max_upload_bytes + 1)
        if len(data) > settings.max_upload_bytes:
            raise HTTPException(
                413, f"the upload is larger than {settings.max_upload_bytes // 2**20} MiB"
            )
        if not data:
            raise HTTPException(422, "the upload is empty")
        _check_image(data)
        return run_search(params, image=data)

    @app.get(
        "/api/search/similar/{segment_id}",
        response_model=SearchOut,
        responses={**BAD_QUERY, **NOT_FOUND},
        tags=["search"],
    )
    def search_similar(segment_id: int, params: Annotated[SearchParams, Query()]) -> dict[str, Any]:
        """More moments like this segment (its own vectors as the query)."""
        try:
            locked(library.segment, segment_id)
        except KeyError:
            raise _not_found("segment", segment_id) from None
        return run_search(params, similar_to=segment_id)

    if settings.announcement is not None:
        token = settings.announcement.token

        @app.post(LOCAL_SEARCH_PATH, include_in_schema=False)
        async def local_search(request: Request) -> Response:
            """A `sceneseek search` on this machine, answered as that command would have
            answered itself: the token is checked before the body is read, and a command
            with another index or other settings is sent back to search in-process."""
            if not local_caller(request.scope, token):
                raise HTTPException(403, "only a sceneseek command on this machine may ask here")
            try:
                asked = LocalSearchIn.model_validate_json(await request.body())
                picture = asked.image
                image = base64.b64decode(picture, validate=True) if picture is not None else None
            except ValueError:
                raise HTTPException(422, "not a local search request") from None
            same = (str(library.path.resolve()), library.config.fingerprint())
            if (asked.db, asked.config) != same:
                raise HTTPException(412, "another index or other settings: search in-process")
            arguments = asked.model_dump(exclude={"db", "config", "image"})
            try:
                response = await run_in_threadpool(
                    lambda: locked(library.search, image=image, **arguments)
                )
            except KeyError as exc:  # a marked segment id that is not in the index
                raise HTTPException(404, str(exc.args[0])) from None
            body = json.dumps(response.to_dict(), ensure_ascii=False)
            return Response(body, media_type="application/json")

    # -- browsing ----------------------------------------------------------------------
    @app.get("/api/cameras", tags=["library"])
    def cameras() -> dict[str, dict[str, Any]]:
        """The camera registry (config and index): name, default zone, timezone."""
        return {k: c.model_dump() for k, c in locked(library.cameras).items()}

    @app.get("/api/videos", response_model=list[VideoOut], tags=["library"])
    def videos() -> list[dict[str, Any]]:
        """Every indexed video, with its segment count."""
        return [_video(v) for v in locked(library.videos)]

    @app.get(
        "/api/videos/{video_id}", response_model=VideoOut, responses=NOT_FOUND, tags=["library"]
    )
    def video(video_id: int) -> dict[str, Any]:
        try:
            return _video(locked(library.video, video_id))
        except KeyError:
            raise _not_found("video", video_id) from None

    @app.get(
        "/api/segments/{segment_id}",
        response_model=SegmentOut,
        responses=NOT_FOUND,
        tags=["library"],
    )
    def segment(segment_id: int) -> dict[str, Any]:
        """One segment with everything it was indexed with (observations, labels)."""
        try:
            return _segment(locked(library.segment, segment_id))
        except KeyError:
            raise _not_found("segment", segment_id) from None

    @app.get(
        "/api/segments/{segment_id}/thumbnail.jpg",
        response_class=Response,
        responses={**NOT_FOUND, 200: {"content": {"image/jpeg": {}}}},
        tags=["media"],
    )
    def thumbnail(segment_id: int) -> Response:
        """The segment's keyframe as JPEG."""
        try:
            indexed_file(locked(library.segment, segment_id).video)
            data = locked(library.thumbnail, segment_id)
        except KeyError:
            raise _not_found("segment", segment_id) from None
        except MediaError as exc:  # the indexed file was moved or damaged since
            raise HTTPException(404, str(exc)) from None
        return Response(data, media_type="image/jpeg", headers={"Cache-Control": "max-age=3600"})

    def video_file(video_id: int) -> tuple[Any, Path]:
        """The indexed video's record and file; only ids reach the file system."""
        try:
            info = locked(library.video, video_id)
        except KeyError:
            raise _not_found("video", video_id) from None
        return info, indexed_file(info.path)

    def indexed_file(stored: str) -> Path:
        """The file at an indexed path, if it is still the file that was indexed."""
        try:
            return locked(library.media_file, stored)
        except MediaError as exc:
            raise HTTPException(404, f"the indexed file is gone or was replaced: {exc}") from None

    @app.get(
        "/api/videos/{video_id}/media",
        response_class=FileResponse,
        responses={
            **NOT_FOUND,
            206: {"description": "the requested byte range"},
            416: {"description": "range not satisfiable"},
        },
        tags=["media"],
    )
    def media(video_id: int) -> FileResponse:
        """The video file, with HTTP Range support so a player seeks straight to a moment."""
        _, path = video_file(video_id)
        media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return FileResponse(
            path,
            media_type=media_type,
            filename=path.name,
            content_disposition_type="inline",
        )

    @app.get(
        "/api/clip",
        response_class=FileResponse,
        responses={**BAD_QUERY, **NOT_FOUND, 200: {"content": {"video/mp4": {}}}},
        tags=["media"],
    )
    def clip(
        video_id: int,
        start: Annotated[float, Query(ge=0, allow_inf_nan=False)],
        end: Annotated[float, Query(gt=0, allow_inf_nan=False)],
    ) -> FileResponse:
        """Download [start, end] seconds of an indexed video as MP4."""
        info, path = video_file(video_id)
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
            with clip_slots:
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

    # -- ingest ------------------------------------------------------------------------
    @app.post(
        "/api/ingest",
        response_model=JobOut,
        status_code=202,
        responses=BAD_QUERY,
        tags=["ingest"],
    )
    def ingest(body: IngestIn) -> dict[str, Any]:
        """Queue files or folders on this machine for indexing; poll the job for progress."""
        given = [user_path(p) for p in body.paths]  # PathError (400) for an unusable one
        missing = [shown(p) for p in given if not os.path.exists(p)]
        if missing:
            raise HTTPException(400, f"no such file or folder: {', '.join(missing)}")
        roots = settings.ingest_roots
        if roots is not None:
            outside = [shown(p) for p in given if not is_within(p, roots)]
            if outside:
                raise HTTPException(
                    400,
                    f"outside the folders this server ingests from "
                    f"({', '.join(map(shown, roots))}): {', '.join(outside)}",
                )
        job = jobs.submit(body.paths, body.camera, body.zone, body.start)
        return {**job, "job_id": job["id"]}  # job_id: what a client reads first

    @app.get("/api/ingest", response_model=list[JobOut], tags=["ingest"])
    def ingest_jobs() -> list[dict[str, Any]]:
        """Every job since the server started, oldest first."""
        return jobs.all_jobs()

    @app.get("/api/ingest/{job_id}", response_model=JobOut, responses=NOT_FOUND, tags=["ingest"])
    def ingest_job(job_id: int) -> dict[str, Any]:
        try:
            return jobs.get(job_id)
        except KeyError:
            raise _not_found("ingest job", job_id) from None

    @app.post(
        "/api/ingest/{job_id}/cancel", response_model=JobOut, responses=NOT_FOUND, tags=["ingest"]
    )
    def ingest_cancel(job_id: int) -> dict[str, Any]:
        """Stop a job: a queued one never starts; a running one stops after the file it
        is analysing (files already stored stay indexed). A finished job is unchanged."""
        try:
            return jobs.cancel(job_id)
        except KeyError:
            raise _not_found("ingest job", job_id) from None

    # -- feedback ----------------------------------------------------------------------
    @app.post(
        "/api/feedback",
        response_model=MarkOut,
        status_code=201,
        responses={**NOT_FOUND, **BAD_QUERY},
        tags=["feedback"],
    )
    def feedback(body: FeedbackIn) -> dict[str, Any]:
        """Record that a result was (not) relevant to a query."""
        query = " ".join(body.query.split())
        if not query:
            raise HTTPException(400, "the query is empty")

        def store() -> Any:
            try:
                library.segment(body.segment_id)
            except KeyError:
                raise _not_found("segment", body.segment_id) from None
            return library.mark(query, body.segment_id, body.relevant)

        return _mark(locked(store))

    @app.get("/api/feedback", response_model=list[MarkOut], tags=["feedback"])
    def feedback_list() -> list[dict[str, Any]]:
        return [_mark(m) for m in locked(library.marks)]

    # -- alerts ------------------------------------------------------------------------
    @app.get("/api/alerts", tags=["alerts"])
    def alerts() -> list[dict[str, Any]]:
        """Saved queries checked on every newly indexed video."""
        return [a.to_dict() for a in locked(library.alerts)]

    @app.post("/api/alerts", status_code=201, responses=BAD_QUERY, tags=["alerts"])
    def alert_add(body: AlertIn) -> dict[str, Any]:
        try:
            alert_id = locked(
                library.add_alert,
                body.query,
                body.camera,
                body.zone,
                body.time_of_day,
                body.threshold,
                body.webhook,
            )
        except SceneseekError as exc:
            raise HTTPException(400, str(exc)) from None
        return next(a.to_dict() for a in locked(library.alerts) if a.id == alert_id)

    @app.delete("/api/alerts/{alert_id}", status_code=204, responses=NOT_FOUND, tags=["alerts"])
    def alert_remove(alert_id: int) -> Response:
        try:
            locked(library.remove_alert, alert_id)
        except KeyError:
            raise _not_found("alert", alert_id) from None
        return Response(status_code=204)

    @app.get("/api/alerts/events", tags=["alerts"])
    def alert_events() -> list[dict[str, Any]]:
        """Moments that fired an alert, newest first."""
        return [e.to_dict() for e in locked(library.alert_events)]

    # -- web UI ------------------------------------------------------------------------
    static = settings.static_dir
    if static is not None and static.is_dir():
        app.mount("/static", StaticFiles(directory=static), name="static")
        # At "/" too (after every API route), so the UI works whichever prefix it uses.
        app.mount("/", StaticFiles(directory=static, html=True), name="web")
    return app
