"""Live ingest: record a stream, or follow a folder, and index as it comes."""

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
    stream: Annotated[
        list[str] | None,
        typer.Option(
            "--stream", help="instead: CAMERA=URL, repeatable: several streams, one model set"
        ),
    ] = None,
    folder: Annotated[
        Path | None, typer.Option("--folder", help="instead: index video files as they appear here")
    ] = None,
    camera: Annotated[str | None, typer.Option(help="camera id (required for a SOURCE)")] = None,
    zone: Annotated[str | None, typer.Option(help="zone name")] = None,
    chunk_seconds: Annotated[
        float, typer.Option("--chunk-seconds", help="recording chunk length: the search delay")
    ] = 6.0,
    record_dir: Annotated[
        Path | None,
        typer.Option(
            "--record-dir",
            help="where chunks go (default DB/recordings/CAMERA; with --stream: DIR/CAMERA)",
        ),
    ] = None,
    retention_hours: Annotated[
        float, typer.Option("--retention-hours", help="delete chunks older than this (0: keep all)")
    ] = 72.0,
    reencode: Annotated[
        bool, typer.Option("--reencode", help="re-encode instead of copying the codecs")
    ] = False,
    modalities: ModalitiesOption = None,
) -> None:
    """Index live: record streams into chunks and index each as it closes, or index files
    as they land in a folder. Checks alerts on everything indexed; stops on Ctrl-C/SIGTERM."""
    from sceneseek.errors import SceneseekError
    from sceneseek.live.watch import Stream, camera_slug, watch_folder, watch_streams

    if [source is not None, bool(stream), folder is not None].count(True) != 1:
        raise fail("give one of a stream SOURCE, --stream CAMERA=URL ... or --folder DIR")
    if source is not None and not camera:
        raise fail("a stream needs --camera ID")
    streams = [Stream(source, camera, zone, record_dir)] if source and camera else []
    for given in stream or []:
        named, _, url = given.partition("=")
        if not named.strip() or not url.strip():
            raise fail(f"--stream {given!r}: give CAMERA=URL")
        where = record_dir / camera_slug(named.strip()) if record_dir else None
        streams.append(Stream(url.strip(), named.strip(), zone, where))
    with opened(db, config_for(modalities)) as library:
        try:
            if folder is not None:
                report = watch_folder(library, folder, camera, zone)
            else:
                report = watch_streams(
                    library,
                    streams,
                    chunk_seconds=chunk_seconds,
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
