"""Search by words, by an example picture, by an indexed segment; and the local route
through which a `sceneseek search` on this machine asks a running `serve`."""

from __future__ import annotations

import base64
import json
import threading
from typing import Annotated, Any

from fastapi import APIRouter, File, HTTPException, Query, Request, UploadFile
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from sceneseek.api.access import LOCAL_SEARCH_PATH, local_caller
from sceneseek.api.deps import LibraryDep, ReadLock, SettingsDep, look_up
from sceneseek.api.schemas import (
    BAD_QUERY,
    NOT_FOUND,
    LocalSearchIn,
    Message,
    SearchOut,
    SearchParams,
    result_out,
)
from sceneseek.errors import ImageTooLargeError
from sceneseek.library import Library
from sceneseek.media.picture import read_header

IMAGE_PATH = "/api/search/image"

router = APIRouter(tags=["search"])
local_router = APIRouter()  # included only when `serve` announced itself to local CLIs


def run_search(
    library: Library, lock: threading.Lock, params: SearchParams, **what: Any
) -> dict[str, Any]:
    """``Library.search`` with the shared parameters; the response decorated with the
    URLs a client needs to show each result."""
    video = None
    if params.video_id is not None:
        video = look_up(lock, library.video, "video", params.video_id).path
    with lock:
        response = library.search(
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
    out["results"] = [result_out(item) for item in out["results"]]
    return out


@router.get("/api/search", response_model=SearchOut, responses={**BAD_QUERY, **NOT_FOUND})
def search(
    q: Annotated[str, Query(max_length=2000, description="what you are looking for")],
    params: Annotated[SearchParams, Query()],
    library: LibraryDep,
    lock: ReadLock,
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
    event_zone: Annotated[
        str | None, Query(max_length=200, description="people events in this camera zone")
    ] = None,
    min_dwell: Annotated[
        float | None, Query(ge=0, description="people events lasting at least this (s)")
    ] = None,
    min_count: Annotated[
        int | None, Query(ge=1, le=1000, description="people events of at least this many")
    ] = None,
) -> dict[str, Any]:
    """Find moments by meaning across what was seen, said, read and heard; with
    ``more_like``/``not_like``, the same query refined by the user's marks. A query
    about people stating a zone, a dwell or a count (or given one as a parameter)
    returns people events, each spanning its exact start and end."""
    try:
        return run_search(
            library,
            lock,
            params,
            query=q,
            parse=parse,
            more_like=more_like,
            not_like=not_like,
            translate=translate,
            event_zone=event_zone,
            min_dwell=min_dwell,
            min_count=min_count,
        )
    except KeyError as exc:  # a marked segment id that is not in the index
        raise HTTPException(404, str(exc.args[0])) from None


@router.post(
    IMAGE_PATH,
    response_model=SearchOut,
    responses={
        **BAD_QUERY,
        **NOT_FOUND,
        413: {"model": Message, "description": "larger than the upload limit"},
        415: {"model": Message, "description": "not an image"},
    },
)
def search_image(
    image: Annotated[UploadFile, File(description="a JPEG/PNG/WebP picture")],
    params: Annotated[SearchParams, Query()],
    library: LibraryDep,
    lock: ReadLock,
    settings: SettingsDep,
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
    return run_search(library, lock, params, image=data)


@router.get(
    "/api/search/similar/{segment_id}",
    response_model=SearchOut,
    responses={**BAD_QUERY, **NOT_FOUND},
)
def search_similar(
    segment_id: int, params: Annotated[SearchParams, Query()], library: LibraryDep, lock: ReadLock
) -> dict[str, Any]:
    """More moments like this segment (its own vectors as the query)."""
    look_up(lock, library.segment, "segment", segment_id)
    return run_search(library, lock, params, similar_to=segment_id)


@local_router.post(LOCAL_SEARCH_PATH, include_in_schema=False)
async def local_search(
    request: Request, library: LibraryDep, lock: ReadLock, settings: SettingsDep
) -> Response:
    """A `sceneseek search` on this machine, answered as that command would have
    answered itself: the token is checked before the body is read, and a command
    with another index or other settings is sent back to search in-process."""
    assert settings.announcement is not None  # the route is only included then
    if not local_caller(request.scope, settings.announcement.token):
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

    def answer() -> Any:
        with lock:
            return library.search(image=image, **arguments)

    try:
        response = await run_in_threadpool(answer)
    except KeyError as exc:  # a marked segment id that is not in the index
        raise HTTPException(404, str(exc.args[0])) from None
    body = json.dumps(response.to_dict(), ensure_ascii=False)
    return Response(body, media_type="application/json")


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
