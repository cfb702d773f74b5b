"""Crash injection for the durability tests: a real ``kill -9`` at a named point of ingest.

``SCENESEEK_CRASH_AT=<point>`` (or ``<point>:<n>``, the n-th time the point is reached,
default the first) makes the process SIGKILL itself there, so the test exercises what
the operating system really leaves behind: no ``finally``, no flush, no atexit. Points
along the ingest of one video, in order:

    decoded         frames and audio analysed, nothing encoded into the index yet
    encoded         segments and vectors computed, before the write starts
    before-commit   inside the SQLite transaction, every row written, not committed
    after-commit    committed, before the vector store follows
    vector-write    half-way through writing the persisted vector store
    columns-write   the filter columns' file written, not yet renamed into place
    between-videos  one video finished, the next not started

Unset (the normal case) this costs one dictionary lookup per point.
"""

from __future__ import annotations

import os
import signal

CRASH_ENV = "SCENESEEK_CRASH_AT"
POINTS = (
    "decoded",
    "encoded",
    "before-commit",
    "after-commit",
    "vector-write",
    "columns-write",
    "between-videos",
)
_reached: dict[str, int] = {}


def crash_point(name: str) -> None:
    """SIGKILL this process when ``$SCENESEEK_CRASH_AT`` names this point (and count)."""
    wanted = os.environ.get(CRASH_ENV)
    if not wanted:
        return
    point, _, nth = wanted.partition(":")
    if point != name:
        return
    _reached[name] = _reached.get(name, 0) + 1
    if _reached[name] == int(nth or 1):
        os.kill(os.getpid(), signal.SIGKILL)
