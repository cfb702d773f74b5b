"""Ingest jobs: files or folders on this machine queued for indexing, polled, cancelled."""

from __future__ import annotations

import os
from typing import Any

from fastapi import APIRouter, HTTPException

from sceneseek.api.deps import JobsDep, SettingsDep, not_found
from sceneseek.api.schemas import BAD_QUERY, NOT_FOUND, IngestIn, JobOut
from sceneseek.paths import is_within, shown, user_path

router = APIRouter(tags=["ingest"])


@router.post("/api/ingest", response_model=JobOut, status_code=202, responses=BAD_QUERY)
def ingest(body: IngestIn, jobs: JobsDep, settings: SettingsDep) -> dict[str, Any]:
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


@router.get("/api/ingest", response_model=list[JobOut])
def ingest_jobs(jobs: JobsDep) -> list[dict[str, Any]]:
    """Every job since the server started, oldest first."""
    return jobs.all_jobs()


@router.get("/api/ingest/{job_id}", response_model=JobOut, responses=NOT_FOUND)
def ingest_job(job_id: int, jobs: JobsDep) -> dict[str, Any]:
    try:
        return jobs.get(job_id)
    except KeyError:
        raise not_found("ingest job", job_id) from None


@router.post("/api/ingest/{job_id}/cancel", response_model=JobOut, responses=NOT_FOUND)
def ingest_cancel(job_id: int, jobs: JobsDep) -> dict[str, Any]:
    """Stop a job: a queued one never starts; a running one stops after the file it
    is analysing (files already stored stay indexed). A finished job is unchanged."""
    try:
        return jobs.cancel(job_id)
    except KeyError:
        raise not_found("ingest job", job_id) from None
