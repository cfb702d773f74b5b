"""Logging for serve, index and watch: readable lines, or one JSON object per line for
log collectors (``--log-format json`` or ``SCENESEEK_MONITOR__LOG_FORMAT=json``)."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Literal, TextIO

LogFormat = Literal["text", "json"]
# Attributes every LogRecord has; anything else on a record came from ``extra=`` and is
# a field of the event (but uvicorn's color_message only repeats the message in ANSI).
_STANDARD = {
    *vars(logging.LogRecord("", 0, "", 0, "", None, None)),
    "message",
    "asctime",
    "color_message",
}


class JsonFormatter(logging.Formatter):
    """``{"time", "level", "logger", "message", ...fields}`` on one line."""

    def format(self, record: logging.LogRecord) -> str:
        event = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        event.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        if record.exc_info:
            event["exception"] = self.formatException(record.exc_info)
        return json.dumps(event, default=str, ensure_ascii=False)


class _Handler(logging.StreamHandler):  # type: ignore[type-arg]
    """Ours, so configuring again replaces it and leaves other handlers alone. Writes to
    whatever ``sys.stderr`` is at the time (test runners swap it per command)."""

    @property  # type: ignore[override]
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _: TextIO) -> None:
        pass


def configure_logging(fmt: LogFormat = "text", level: str = "INFO") -> None:
    """A stderr handler on the root logger; sceneseek and uvicorn log at ``level``,
    third-party libraries only warnings (their info chatter is not ours to ship)."""
    handler = _Handler()
    handler.setFormatter(
        JsonFormatter()
        if fmt == "json"
        else logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _Handler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    for name in ("sceneseek", "uvicorn"):
        logger = logging.getLogger(name)
        logger.setLevel(level.upper())
        logger.handlers.clear()
        logger.propagate = True
