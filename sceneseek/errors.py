"""Errors users see. Each names the input it is about and the cause, so a batch can
report it and move on."""

from __future__ import annotations


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


class PathError(QueryError):
    """A path a user gave cannot name a file here (too long, not UTF-8, unknown ~user)."""

    def __init__(self, path: str, cause: str) -> None:
        self.path = path
        self.cause = cause
        super().__init__(f"{path}: {cause}")
