"""The HTTP API: the ``Library`` that the CLI uses, behind FastAPI.

Every endpoint is a thin mapping onto a ``Library`` method, so the API can never rank,
filter or explain differently from ``sceneseek search``. JSON everywhere except media
(thumbnails, video bytes with Range support, exported clips). Files are only ever served
by the id of an indexed video or segment; no endpoint takes a path to read from.

This module assembles the app: middleware, error answers, the routes (``routes/``, one
module per area, each receiving what it uses through ``deps``) and the web UI.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.middleware.cors import CORSMiddleware
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

import sceneseek
from sceneseek.api.access import ApiKeyAuth, FailureLimiter, SecurityHeaders
from sceneseek.api.deps import Served
from sceneseek.api.jobs import IngestJobs
from sceneseek.api.metrics import ApiMetrics, MeasuredRequests
from sceneseek.api.routes import ROUTERS, search
from sceneseek.api.settings import ApiSettings
from sceneseek.errors import (
    DamagedIndexError,
    ImageTooLargeError,
    QueryError,
    SceneseekError,
    damage_cause,
)
from sceneseek.index.catalogue import database_path
from sceneseek.library import Library
from sceneseek.local_server import withdraw

__all__ = ["ApiSettings", "create_app"]


class UploadLimit:
    """Refuse an oversized image upload from its Content-Length, before the multipart
    body is read and spooled (the handler checks the real size again)."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit + 64 * 1024  # room for the multipart envelope

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == search.IMAGE_PATH:
            length = dict(scope["headers"]).get(b"content-length", b"0")
            if length.isdigit() and int(length) > self.limit:
                response = JSONResponse(
                    {"detail": f"the upload is larger than {self.limit // 1024 // 1024} MiB"},
                    status_code=413,
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def create_app(library: Library, settings: ApiSettings | None = None) -> FastAPI:
    """An API over ``library``. The caller owns the library; the app stops its ingest
    worker on shutdown but does not close the library."""
    settings = settings or ApiSettings()
    served = Served(
        library,
        settings,
        IngestJobs(library, settings.ingest_roots),
        ApiMetrics(library.path, library.config.monitor, library.config.index),
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        served.jobs.close()
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
    app.state.served = served
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
            allow_methods=["GET", "POST", "PUT", "DELETE"],
            allow_headers=["Authorization", "X-API-Key", "Content-Type"],
        )
    app.add_middleware(SecurityHeaders)
    # Outermost: sees 401s and 413s.
    app.add_middleware(MeasuredRequests, metrics=served.metrics)
    _answer_errors(app, library)
    for router in ROUTERS:
        app.include_router(router)
    if settings.announcement is not None:
        app.include_router(search.local_router)
    static = settings.static_dir
    if static is not None and static.is_dir():
        app.mount("/static", StaticFiles(directory=static), name="static")
        # At "/" too (after every API route), so the UI works whichever prefix it uses.
        app.mount("/", StaticFiles(directory=static, html=True), name="web")
    return app


def _answer_errors(app: FastAPI, library: Library) -> None:
    """The engine's errors as HTTP answers with a one-line ``detail``."""

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
        return await damaged_index(request, DamagedIndexError(database_path(library.path), cause))
