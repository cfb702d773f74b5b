"""Saved queries checked on every newly indexed video, and the moments that fired them."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException
from fastapi.responses import Response

from sceneseek.api.deps import LibraryDep, ReadLock, not_found
from sceneseek.api.schemas import BAD_QUERY, NOT_FOUND, AlertIn
from sceneseek.errors import SceneseekError
from sceneseek.records import to_json

router = APIRouter(tags=["alerts"])


@router.get("/api/alerts")
def alerts(library: LibraryDep, lock: ReadLock) -> list[dict[str, Any]]:
    """Saved queries checked on every newly indexed video."""
    with lock:
        saved = library.alerts()
    return [to_json(a) for a in saved]


@router.post("/api/alerts", status_code=201, responses=BAD_QUERY)
def alert_add(body: AlertIn, library: LibraryDep, lock: ReadLock) -> dict[str, Any]:
    try:
        with lock:
            alert_id = library.add_alert(
                body.query, body.camera, body.zone, body.time_of_day, body.threshold, body.webhook
            )
    except SceneseekError as exc:
        raise HTTPException(400, str(exc)) from None
    with lock:
        saved = library.alerts()
    return next(to_json(a) for a in saved if a.id == alert_id)


@router.delete("/api/alerts/{alert_id}", status_code=204, responses=NOT_FOUND)
def alert_remove(alert_id: int, library: LibraryDep, lock: ReadLock) -> Response:
    try:
        with lock:
            library.remove_alert(alert_id)
    except KeyError:
        raise not_found("alert", alert_id) from None
    return Response(status_code=204)


@router.get("/api/alerts/events")
def alert_events(library: LibraryDep, lock: ReadLock) -> list[dict[str, Any]]:
    """Moments that fired an alert, newest first."""
    with lock:
        events = library.alert_events()
    return [to_json(e) for e in events]
