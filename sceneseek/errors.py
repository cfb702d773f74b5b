"""Errors users see. Each names the input it is about and the cause, so a batch can
report it and move on."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class SceneseekError(Exception):
    """Base class for errors meant for the user, not a traceback."""


class MediaError(SceneseekError):
    """A media file could not be read: missing, empty, damaged or without usable streams."""

    def __init__(self, path: object, cause: str) -> None:
        self.path = str(path)
        self.cause = cause
        super().__init__(f"{self.path}: {cause}")


def failure_cause(exc: BaseException) -> str:
    """How a file that could not be indexed is reported: a ``MediaError``'s own cause
    (its path is reported beside it), else the exception's type and message."""
    return exc.cause if isinstance(exc, MediaError) else f"{type(exc).__name__}: {exc}"


class EncoderMismatchError(SceneseekError):
    """The index was built with other encoders than the ones configured now; mixing
    vectors from two models gives meaningless similarities, so we refuse."""


class QueryError(SceneseekError):
    """A malformed query or filter."""


class ImageTooLargeError(QueryError):
    """A query image with more pixels than may be decoded (refused from its header)."""


class DamagedIndexError(SceneseekError):
    """The index database cannot be read as one: truncated, overwritten, not SQLite, or
    another program's tables. One line naming the file and the ways back, instead of
    whichever SQLite error the first damaged page happened to cause."""

    def __init__(self, database: Path, cause: str) -> None:
        self.database = database
        self.cause = cause
        super().__init__(
            f"{database}: the index database is damaged ({cause}); run `sceneseek check "
            f"--repair --db {database.parent}` to repair what can be, or restore a snapshot "
            "with `sceneseek snapshot import`"
        )


def damage_cause(exc: BaseException) -> str | None:
    """SQLite's message when ``exc`` says the file itself is damaged (corrupt pages, not
    a database); None for anything else (a busy lock, a bug), which must surface as is."""
    if not isinstance(exc, sqlite3.DatabaseError):
        return None
    code = (getattr(exc, "sqlite_errorcode", None) or 0) & 0xFF  # an extended code's primary
    return str(exc) if code in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB) else None


@contextmanager
def reporting_damage(database: Path) -> Iterator[None]:
    """Turn SQLite finding ``database`` damaged inside the block into DamagedIndexError."""
    try:
        yield
    except sqlite3.DatabaseError as exc:
        cause = damage_cause(exc)
        if cause is None:
            raise
        raise DamagedIndexError(database, cause) from None


class PathError(QueryError):
    """A path a user gave cannot name a file here (too long, not UTF-8, unknown ~user)."""

    def __init__(self, path: str, cause: str) -> None:
        self.path = path
        self.cause = cause
        super().__init__(f"{path}: {cause}")
