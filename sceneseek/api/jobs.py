"""Ingest jobs for the HTTP API: ``Library.index`` in one background worker thread.

One worker, so jobs run one at a time in submission order: indexing already uses every
core, and two writers on one index would only contend. Requests never wait for a job;
they read a snapshot of its progress, which the worker updates from ``Library.index``'s
progress callback. Whatever a job raises ends that job as failed, never the worker, so
the queue always moves on; a cancelled job stops between files.
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

from sceneseek.library import Library
from sceneseek.paths import expand_paths, printable

JobStatus = Literal["queued", "running", "done", "failed", "cancelled"]
FINISHED: tuple[JobStatus, ...] = ("done", "failed", "cancelled")


class JobCancelled(BaseException):  # noqa: N818 - not an error, like KeyboardInterrupt
    """Raised from the progress callback to stop ``Library.index`` between files; a
    BaseException so that no per-file ``except Exception`` mistakes it for a bad file."""


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
    cancel_requested: bool = False
    seconds_of_video: float = 0.0
    created: datetime = field(default_factory=_now)
    started: datetime | None = None
    finished: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        def iso(value: datetime | None) -> str | None:
            return value.isoformat() if value else None

        def texts(values: list[str]) -> list[str]:
            return [printable(v) for v in values]

        return {
            "id": self.id,
            "status": self.status,
            "paths": texts(self.paths),
            "camera": self.camera,
            "zone": self.zone,
            "start": iso(self.start),
            "total": self.total,
            "done": self.done,
            "current": printable(self.current) if self.current else None,
            "indexed": texts(self.indexed),
            "unchanged": texts(self.unchanged),
            "errors": [{"path": printable(p), "cause": printable(c)} for p, c in self.errors],
            "message": printable(self.message) if self.message else None,
            "seconds_of_video": round(self.seconds_of_video, 2),
            "created": iso(self.created),
            "started": iso(self.started),
            "finished": iso(self.finished),
        }


class IngestJobs:
    """Queue of ingest jobs over one ``Library`` (the one the API searches, so new videos
    are searchable as soon as each file is stored). With ``roots``, a job indexes only
    files whose real path lies inside them; others are reported per file."""

    def __init__(self, library: Library, roots: tuple[Path, ...] | None = None) -> None:
        self.library = library
        self.roots = roots
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
            return any(job.status not in FINISHED for job in self._jobs.values())

    def cancel(self, job_id: int) -> dict[str, Any]:
        """Stop a job: a queued one never starts, a running one stops after the file it
        is analysing (what was stored stays). KeyError if there is no such job."""
        with self._lock:
            job = self._jobs[job_id]
            if job.status == "queued":
                self._finish(job, "cancelled")
            elif job.status == "running":
                job.cancel_requested = True
            return job.to_dict()

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
                if job.status != "queued":  # cancelled while it waited
                    continue
                job.status = "running"
                job.started = _now()
            try:
                self._execute(job)
            except JobCancelled:
                with self._lock:
                    self._finish(job, "cancelled")
            except Exception as exc:  # noqa: BLE001 - one job must never stop the queue
                with self._lock:
                    job.message = f"{type(exc).__name__}: {exc}" if str(exc) else repr(exc)
                    self._finish(job, "failed")

    def _finish(self, job: IngestJob, status: JobStatus) -> None:
        """Mark a job finished (the caller holds the lock)."""
        job.status = status
        job.current = None
        job.finished = _now()

    def _execute(self, job: IngestJob) -> None:
        expansion = expand_paths(job.paths, within=self.roots)
        files = expansion.files
        with self._lock:
            job.errors.extend(expansion.problems)
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
                if job.cancel_requested:
                    raise JobCancelled

        report = self.library.index(files, job.camera, job.zone, job.start, progress=progress)
        with self._lock:
            # The report is authoritative (it has every cause); progress was the live view.
            job.indexed = list(report.indexed)
            job.unchanged = list(report.unchanged)
            job.errors = [*expansion.problems, *report.failed]
            job.seconds_of_video = report.seconds_of_video
            job.done = job.total
            self._finish(job, "done")

    def _failure_cause(self, path: str) -> str:
        """The cause the index recorded for a file that just failed, for the live view."""
        try:
            causes = dict(self.library.index_store.failures())
        except Exception:  # noqa: BLE001 - only a nicer message is at stake
            return "failed"
        return causes.get(path, causes.get(str(Path(path).resolve()), "failed"))
