"""Zones drawn on a camera's picture: listed from the config and the index, drawn and
removed in the index (writes need an admin key, as every write does: ``api/access.py``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException
from fastapi.responses import Response

from sceneseek.api.deps import LibraryDep, ReadLock
from sceneseek.api.schemas import (
    BAD_QUERY,
    NOT_FOUND,
    CameraZonesOut,
    Message,
    ZoneIn,
    ZoneOut,
    thumbnail_url,
)
from sceneseek.errors import SceneseekError
from sceneseek.records import to_json

router = APIRouter(tags=["library"])


@router.get("/api/cameras/{camera}/zones", response_model=CameraZonesOut)
def zones(camera: str, library: LibraryDep, lock: ReadLock) -> dict[str, Any]:
    """The camera's zones (config and index; the index's wins a name clash) and a frame
    of its newest video to draw them over. A camera without footage has no frame yet,
    and one nobody has drawn on no zones: neither is an error."""
    with lock:
        listed = library.zones(camera)
        segment = library.camera_segment(camera)
    return {
        "camera": camera,
        "zones": [to_json(z) for z in listed],
        "frame_url": thumbnail_url(segment) if segment is not None else None,
    }


@router.put("/api/cameras/{camera}/zones/{name}", response_model=ZoneOut, responses=BAD_QUERY)
def zone_put(
    camera: str, name: str, body: ZoneIn, library: LibraryDep, lock: ReadLock
) -> dict[str, Any]:
    """Draw or redraw a zone in the index; it applies to the camera's videos indexed from
    now on (those indexed before keep their people events)."""
    try:
        with lock:
            zone = library.add_zone(camera, name, body.points, body.resolution)
    except SceneseekError as exc:
        raise HTTPException(400, str(exc)) from None
    return dict(to_json(zone))


@router.delete(
    "/api/cameras/{camera}/zones/{name}",
    status_code=204,
    responses={**NOT_FOUND, 409: {"model": Message, "description": "a zone of the config file"}},
)
def zone_remove(camera: str, name: str, library: LibraryDep, lock: ReadLock) -> Response:
    """Remove a zone drawn in the index (a config zone of that name then applies again)."""
    try:
        with lock:
            library.remove_zone(camera, name)
    except KeyError as exc:
        raise HTTPException(404, str(exc.args[0])) from None
    return Response(status_code=204)
