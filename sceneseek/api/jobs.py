"""Ingest jobs for the HTTP API: ``Library.index`` in one background worker thread.

One worker, so jobs run one at a time in submission order: indexing already uses every
core, and two writers on one index would only contend. Requests never wait for a job;
they read a snapshot of its progress, which the worker updates from ``Library.index``'s
progress callback.
"""

from __future__ import annotations

import contextlib
import os
import queue
import threading
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from sceneseek.library import Library, expand_paths

JobStatus = Literal["queued", "running", "done", "failed"]


INGEST_NICENESS = 10  # added to the server's nice value (max 19)


def yield_cpu_to_queries() -> None:
    """Lower this thread's CPU priority (Linux schedules threads one by one), so that on a
    busy machine searches get the cores first and ingest the rest; decoder and model
    thread pools this thread starts inherit it (bench/load.py measures the effect)."""
    # Elsewhere (no per-thread priorities) or if refused, ingest runs at normal priority.
    with contextlib.suppress(AttributeError, OSError):
        thread = threading.get_native_id()
        current = os.getpriority(os.PRIO_PROCESS, thread)
        os.setpriority(os.PRIO_PROCESS, thread, min(19, current + INGEST_NICENESS))


def _now() -> datetime:
    return datetime.now().astimezone()


@dataclass
class IngestJob:
    id: int
    paths: list[str]
    camera: str | None = None
    zone: str | None = None
    start: datetime | None = None
    status: JobStatus = "queued"
    total: int = 0  # files found once the job starts (folders are expanded then)
    done: int = 0
    current: str | None = None  # the file being analysed now
    indexed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)  # (path, cause) per file
    message: str | None = None  # why the whole job failed, if it did
    seconds_of_video: float = 0.0
    created: datetime = field(default_factory=_now)
    started: datetime | None = None
    finished: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        def iso(value: datetime | None) -> str | None:
            return value.isoformat() if value else None

        return {
            "id": self.id,
            "status": self.status,
            "paths": list(self.paths),
            "camera": self.camera,
            "zone": self.zone,
            "start": iso(self.start),
            "total": self.total,
            "done": self.done,
            "current": self.current,
            "indexed": list(self.indexed),
            "unchanged": list(self.unchanged),
            "errors": [{"path": p, "cause": c} for p, c in self.errors],
            "message": self.message,
            "seconds_of_video": round(self.seconds_of_video, 2),
            "created": iso(self.created),
            "started": iso(self.started),
            "finished": iso(self.finished),
        }


class IngestJobs:
    """Queue of ingest jobs over one ``Library`` (the one the API searches, so new videos
    are searchable as soon as each file is stored)."""

    def __init__(self, library: Library) -> None:
        self.library = library
        self._jobs: dict[int, IngestJob] = {}
        self._lock = threading.Lock()  # guards _jobs and every job's fields
        self._queue: queue.Queue[int | None] = queue.Queue()
        self._worker: threading.Thread | None = None
        self._next_id = 1

    def submit(
        self,
        paths: list[str],
        camera: str | None = None,
        zone: str | None = None,
        start: datetime | None = None,
    ) -> dict[str, Any]:
        with self._lock:
            job = IngestJob(self._next_id, list(paths), camera, zone, start)
            self._next_id += 1
            self._jobs[job.id] = job
            if self._worker is None:
                self._worker = threading.Thread(
                    target=self._run, name="sceneseek-ingest", daemon=True
                )
                self._worker.start()
            snapshot = job.to_dict()
        self._queue.put(job.id)
        return snapshot

    def get(self, job_id: int) -> dict[str, Any]:
        """A consistent snapshot of one job; KeyError if there is no such job."""
        with self._lock:
            return self._jobs[job_id].to_dict()

    def all_jobs(self) -> list[dict[str, Any]]:
        with self._lock:
            return [job.to_dict() for job in self._jobs.values()]

    def busy(self) -> bool:
        with self._lock:
            return any(job.status in ("queued", "running") for job in self._jobs.values())

    def close(self, timeout: float = 5.0) -> None:
        """Stop after the running job (queued ones are dropped with the process)."""
        if self._worker is not None:
            self._queue.put(None)
            self._worker.join(timeout)

    def _run(self) -> None:
        yield_cpu_to_queries()
        while (job_id := self._queue.get()) is not None:
            with self._lock:
                job = self._jobs[job_id]
            self._execute(job)

    def _execute(self, job: IngestJob) -> None:
        files = expand_paths(job.paths)
        with self._lock:
            job.status = "running"
            job.started = _now()
            job.total = len(files)
            job.current = str(files[0]) if files else None

        def progress(path: str, status: str) -> None:
            cause = self._failure_cause(path) if status == "failed" else ""
            with self._lock:
                job.done += 1
                job.current = str(files[job.done]) if job.done < len(files) else None
                if status == "indexed":
                    job.indexed.append(path)
                elif status == "unchanged":
                    job.unchanged.append(path)
                elif status == "failed":
                    job.errors.append((path, cause))

        try:
            report = self.library.index(files, job.camera, job.zone, job.start, progress=progress)
        except Exception as exc:  # noqa: BLE001 - a job failing must not kill the worker
            with self._lock:
                job.status = "failed"
                job.message = str(exc) or type(exc).__name__
                job.current = None
                job.finished = _now()
            return
        with self._lock:
            # The report is authoritative (it has every cause); progress was the live view.
            job.indexed = list(report.indexed)
            job.unchanged = list(report.unchanged)
            job.errors = list(report.failed)
            job.seconds_of_video = report.seconds_of_video
            job.done = job.total
            job.current = None
            job.status = "done"
            job.finished = _now()

    def _failure_cause(self, path: str) -> str:
        """The cause the index recorded for a file that just failed, for the live view."""
        try:
            causes = dict(self.library.index_store.failures())
        except Exception:  # noqa: BLE001 - only a nicer message is at stake
            return "failed"
        return causes.get(path, causes.get(str(Path(path).resolve()), "failed"))
