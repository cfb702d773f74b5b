"""Liveness and what the index holds, the web UI's key cookie, Prometheus metrics."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

import sceneseek
from sceneseek.api.access import COOKIE, presented_key
from sceneseek.api.deps import JobsDep, LibraryDep, ReadLock, ServedDep, SettingsDep
from sceneseek.api.schemas import HealthOut, Message

router = APIRouter(tags=["status"])


@router.get("/api/health", response_model=HealthOut)
def health(library: LibraryDep, lock: ReadLock, jobs: JobsDep) -> dict[str, Any]:
    """Liveness plus what the index holds, which encoders built it and which fusion
    ranks searches."""
    with lock:
        stats = library.stats()
        encoders = library.index_store.encoder_versions()
        fusion = library.fusion_version()
    return {
        "status": "ok",
        "version": sceneseek.__version__,
        "db": str(library.path),
        "stats": stats,
        "encoders": encoders,
        "fusion": fusion,
        "ingest_busy": jobs.busy(),
    }


@router.post("/api/login", status_code=204, responses={400: {"model": Message}})
def login(request: Request, settings: SettingsDep) -> Response:
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


@router.get("/metrics", response_class=Response)
def prometheus(served: ServedDep) -> Response:
    """Prometheus metrics: latency by route, queries, errors, index size, drift."""
    return Response(generate_latest(served.metrics.registry), media_type=CONTENT_TYPE_LATEST)
