"""What routes receive, as FastAPI dependencies: the library the app serves, the lock
its reads take, the app's settings, its ingest jobs and its metrics.

``create_app`` puts one ``Served`` on ``app.state``; every route asks for what it uses.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, TypeVar

from fastapi import Depends, HTTPException, Request

from sceneseek.api.jobs import IngestJobs
from sceneseek.api.metrics import ApiMetrics
from sceneseek.api.settings import ApiSettings
from sceneseek.library import Library

T = TypeVar("T")


@dataclass
class Served:
    """One app's library and what it shares between requests."""

    library: Library
    settings: ApiSettings
    jobs: IngestJobs
    metrics: ApiMetrics
    # Reads serialise on one lock: the index shares one SQLite connection and the encoders
    # between threads, and on a few cores parallel queries would only contend. Ingest does
    # not take it (a job takes minutes); the index guards its own writes.
    read_lock: threading.Lock = field(default_factory=threading.Lock)
    clip_slots: threading.BoundedSemaphore = field(
        default_factory=lambda: threading.BoundedSemaphore(2)  # each ffmpeg run uses every core
    )


def served(request: Request) -> Served:
    state: Served = request.app.state.served
    return state


def library(request: Request) -> Library:
    return served(request).library


def read_lock(request: Request) -> threading.Lock:
    return served(request).read_lock


def settings(request: Request) -> ApiSettings:
    return served(request).settings


def jobs(request: Request) -> IngestJobs:
    return served(request).jobs


LibraryDep = Annotated[Library, Depends(library)]
ReadLock = Annotated[threading.Lock, Depends(read_lock)]
SettingsDep = Annotated[ApiSettings, Depends(settings)]
JobsDep = Annotated[IngestJobs, Depends(jobs)]
ServedDep = Annotated[Served, Depends(served)]


def not_found(what: str, ident: int) -> HTTPException:
    return HTTPException(404, f"no {what} with id {ident}")


def look_up(lock: threading.Lock, lookup: Callable[[int], T], what: str, ident: int) -> T:
    """``lookup(ident)`` under the read lock; 404 naming ``what`` for an unknown id."""
    try:
        with lock:
            return lookup(ident)
    except KeyError:
        raise not_found(what, ident) from None
