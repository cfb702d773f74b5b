"""Live ingest: record a stream, or follow a folder, and index as it comes."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sceneseek.cli.common import DbOption, ModalitiesOption, config_for, err, fail, opened


def watch(
    db: DbOption,
    source: Annotated[
        str | None,
        typer.Argument(help="stream URL (rtsp, http(s), HLS, udp, tcp) or a growing .ts file"),
    ] = None,
    folder: Annotated[
        Path | None, typer.Option("--folder", help="instead: index video files as they appear here")
    ] = None,
    camera: Annotated[str | None, typer.Option(help="camera id (required for a stream)")] = None,
    zone: Annotated[str | None, typer.Option(help="zone name")] = None,
    chunk_seconds: Annotated[
        float, typer.Option("--chunk-seconds", help="recording chunk length: the search delay")
    ] = 6.0,
    record_dir: Annotated[
        Path | None,
        typer.Option("--record-dir", help="where chunks go (default DB/recordings/CAMERA)"),
    ] = None,
    retention_hours: Annotated[
        float, typer.Option("--retention-hours", help="delete chunks older than this (0: keep all)")
    ] = 72.0,
    reencode: Annotated[
        bool, typer.Option("--reencode", help="re-encode instead of copying the codecs")
    ] = False,
    modalities: ModalitiesOption = None,
) -> None:
    """Index live: record a stream into chunks and index each as it closes, or index files
    as they land in a folder. Checks alerts on everything indexed; stops on Ctrl-C/SIGTERM."""
    from sceneseek.errors import SceneseekError
    from sceneseek.live.watch import watch_folder, watch_stream

    if (source is None) == (folder is None):
        raise fail("give either a stream SOURCE or --folder DIR")
    if source is not None and not camera:
        raise fail("a stream needs --camera ID")
    with opened(db, config_for(modalities)) as library:
        try:
            if folder is not None:
                report = watch_folder(library, folder, camera, zone)
            else:
                assert source is not None and camera is not None
                report = watch_stream(
                    library,
                    source,
                    camera,
                    zone,
                    chunk_seconds=chunk_seconds,
                    record_dir=record_dir,
                    retention_hours=retention_hours or None,
                    reencode=True if reencode else None,
                )
        except (SceneseekError, ValueError, FileNotFoundError) as exc:
            raise fail(str(exc)) from None
    lag = f", lag median {sorted(report.lags)[len(report.lags) // 2]:.1f} s" if report.lags else ""
    err.print(
        f"stopped: indexed {len(report.indexed)}, failed {len(report.failed)}, "
        f"alert events {len(report.events)}{lag}",
        highlight=False,
    )
