"""Limits and locations of one API instance."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sceneseek.index.keys import KeyStore
from sceneseek.local_server import Announcement

STATIC_DIR = Path(__file__).resolve().parent.parent / "web" / "static"


@dataclass(frozen=True)
class ApiSettings:
    """Limits and locations of one API instance (``sceneseek serve`` fills them in)."""

    max_upload_bytes: int = 10 * 1024 * 1024
    max_clip_seconds: float = 120.0
    # When set, ingest only reads files whose real path lies inside these folders (links
    # out of them are refused per file); None means any local path, the CLI's trust.
    # `serve` never passes None: without --ingest-root it confines ingest to its cwd.
    ingest_roots: tuple[Path, ...] | None = None
    static_dir: Path | None = STATIC_DIR
    ffmpeg: str = "ffmpeg"
    clip_timeout_seconds: float = 300.0
    # API keys (sceneseek.api.access): checked whenever the store holds any, and always
    # with require_keys (serve sets it when bound beyond loopback).
    keys: KeyStore | None = None
    require_keys: bool = False
    # Failed key attempts allowed per client address and per key id in a burst, and the
    # window over which that many are allowed again (beyond: 429 with Retry-After).
    key_failures: int = 10
    key_failure_window_s: float = 60.0
    login_days: int = 30  # how long the web UI's HttpOnly key cookie lasts
    cors_origins: tuple[str, ...] = ()  # none: browsers refuse cross-origin calls
    # What `serve` announced to CLI searches on this machine (sceneseek.local_server):
    # the local search route answers its token, and shutting down withdraws it. None: no
    # local search route.
    announcement: Announcement | None = None
