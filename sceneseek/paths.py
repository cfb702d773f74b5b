"""Paths a user names (CLI arguments, API ingest requests, watched folders) turned into
the video files to index, with every entry that cannot be used reported beside them.

Nothing here raises on a bad entry: an over-long or non-UTF-8 path, an unknown
``~user``, a folder nested deeper than the system's PATH_MAX or a file that resolves
outside the allowed roots becomes a ``(path, cause)`` problem, and the rest goes on.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sceneseek.errors import PathError

VIDEO_EXTENSIONS = {
    ".mp4",
    ".m4v",
    ".mov",
    ".mkv",
    ".webm",
    ".avi",
    ".mpg",
    ".mpeg",
    ".ts",
    ".mts",
    ".m2ts",
    ".flv",
    ".wmv",
    ".3gp",
    ".ogv",
}
PATH_MAX = 4096  # Linux; longer paths cannot be passed to a system call at all
SHOWN_CHARS = 300  # of a path quoted in a message


def printable(text: str | Path) -> str:
    """Text any JSON encoder or terminal can carry: the bytes of a file name that are
    not UTF-8 as \\xNN (as the index records them), any other lone surrogate as \\udNNN."""
    try:
        return str(text).encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:
        return str(text).encode("utf-8", "backslashreplace").decode("utf-8")


def shown(path: str | Path) -> str:
    """A path as messages quote it: printable, and cut short when absurdly long."""
    text = printable(path)
    if len(text) > SHOWN_CHARS:
        return f"{text[: SHOWN_CHARS // 2]}…{text[-SHOWN_CHARS // 2 :]} ({len(text)} chars)"
    return text


def user_path(raw: str | Path) -> Path:
    """A path as given, with ``~`` expanded; PathError naming it and the cause when it
    cannot name a file on this machine at all."""
    text = str(raw)
    if not text.strip():
        raise PathError(repr(text), "a path is empty")
    if "\x00" in text:
        raise PathError(shown(text), "a path cannot contain a NUL character")
    try:
        size = len(os.fsencode(text))  # a non-UTF-8 file name's bytes come as \\udcNN
    except UnicodeEncodeError:
        raise PathError(shown(text), "the path holds a lone surrogate, not text") from None
    if size > PATH_MAX:
        raise PathError(shown(text), f"the path is longer than {PATH_MAX} bytes")
    try:
        return Path(text).expanduser()
    except RuntimeError:  # ~name of a user this machine does not have
        user = text[1:].split("/", 1)[0]
        raise PathError(shown(text), f"there is no user {user!r} on this machine") from None


def is_within(path: Path, roots: Sequence[Path]) -> bool:
    """Whether ``path``, with every symbolic link resolved, lies inside one of ``roots``
    (themselves resolved): a link inside a root that points out of it is outside."""
    real = Path(os.path.realpath(path))
    return any(real.is_relative_to(os.path.realpath(root)) for root in roots)


@dataclass
class Expansion:
    files: list[Path] = field(default_factory=list)
    problems: list[tuple[str, str]] = field(default_factory=list)  # (path, cause)


def video_files(folder: Path) -> Expansion:
    """The video files under ``folder`` (recursively, sorted; links to folders are not
    followed, so a walk cannot loop), and the sub-folders that could not be read."""
    found = Expansion()

    def unreadable(exc: OSError) -> None:
        found.problems.append((shown(exc.filename or folder), exc.strerror or str(exc)))

    for directory, _, names in os.walk(folder, onerror=unreadable):
        for name in names:
            path = Path(directory, name)
            if path.suffix.lower() in VIDEO_EXTENSIONS:
                found.files.append(path)
    found.files.sort()
    return found


def expand_paths(paths: Iterable[str | Path], within: Sequence[Path] | None = None) -> Expansion:
    """Files as given; folders walked recursively for video files (a folder named like
    a video is walked, not reported as a bad file). With ``within``, every file is
    resolved and kept only if it lies inside one of those folders, so a symbolic link
    planted inside a root cannot reach a file outside it; the files kept are the
    resolved ones."""
    result = Expansion()
    for raw in paths:
        try:
            path = user_path(raw)
        except PathError as exc:
            result.problems.append((exc.path, exc.cause))
            continue
        if os.path.isdir(path):  # never raises (a name over NAME_MAX is just not a folder)
            walked = video_files(path)
            result.problems.extend(walked.problems)
            candidates = walked.files
        else:
            candidates = [path]
        if within is None:
            result.files.extend(candidates)
            continue
        for candidate in candidates:
            if is_within(candidate, within):
                result.files.append(Path(os.path.realpath(candidate)))
            else:
                result.problems.append(
                    (shown(candidate), "resolves outside the folders this server ingests from")
                )
    result.files = list(dict.fromkeys(result.files))
    return result
