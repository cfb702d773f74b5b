"""Command line: one command per stage of the Python API (``Library``)."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from sceneseek.config import ALL_MODALITIES, Config
from sceneseek.errors import SceneseekError
from sceneseek.library import Library, expand_paths

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)
out = Console()
err = Console(stderr=True, soft_wrap=True)  # paths in errors must stay greppable

DbOption = Annotated[Path, typer.Option("--db", help="index directory")]
ModalitiesOption = Annotated[
    str | None,
    typer.Option(help=f"comma-separated subset of {','.join(ALL_MODALITIES)} (default: all)"),
]


def _fail(message: str) -> typer.Exit:
    err.print(f"[red]error:[/red] {message}", highlight=False)
    return typer.Exit(1)


def _config(modalities: str | None) -> Config:
    if modalities is None:
        return Config()
    chosen = [m.strip() for m in modalities.split(",") if m.strip()]
    unknown = sorted(set(chosen) - set(ALL_MODALITIES))
    if unknown or not chosen:
        raise _fail(
            f"--modalities {modalities!r}: choose from {', '.join(ALL_MODALITIES)}"
            + (f" (unknown: {', '.join(unknown)})" if unknown else "")
        )
    return Config(modalities=chosen)


def _parse_start(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise _fail(
            f"--start {value!r}: expected ISO 8601, e.g. 2026-11-28T22:10:00+01:00"
        ) from None


@app.command()
def index(
    paths: Annotated[list[Path], typer.Argument(help="video files or folders")],
    db: DbOption,
    camera: Annotated[str | None, typer.Option(help="camera id for these videos")] = None,
    zone: Annotated[str | None, typer.Option(help="zone name for these videos")] = None,
    start: Annotated[
        str | None, typer.Option(help="wall-clock time of the first frame (ISO 8601)")
    ] = None,
    modalities: ModalitiesOption = None,
) -> None:
    """Index videos: decode, segment, encode every modality, store."""
    start_time = _parse_start(start)
    files = expand_paths(paths)
    library = Library(db, _config(modalities))
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    try:
        with Progress(*columns, console=err, transient=True) as bar:
            task = bar.add_task("indexing", total=len(files))

            def advance(path: str, status: str) -> None:
                bar.update(task, advance=1, description=f"{status}: {Path(path).name}")

            report = library.index(files, camera, zone, start_time, progress=advance)
    except SceneseekError as exc:
        raise _fail(str(exc)) from None
    finally:
        library.close()
    for path, cause in report.failed:
        err.print(f"[yellow]skipped[/yellow] {path}: {cause}", highlight=False)
    out.print(
        f"indexed {len(report.indexed)}, unchanged {len(report.unchanged)}, "
        f"failed {len(report.failed)} ({report.seconds_of_video:.1f} s of video) → {db}"
    )
    if report.failed:
        raise typer.Exit(1)


@app.command()
def search(
    db: DbOption,
    query: Annotated[
        str | None, typer.Argument(help="what you are looking for, in your words")
    ] = None,
    top_k: Annotated[int, typer.Option("--top-k", help="number of moments")] = 10,
    json_output: Annotated[bool, typer.Option("--json", help="one JSON object")] = False,
    camera: Annotated[str | None, typer.Option(help="only this camera")] = None,
    zone: Annotated[str | None, typer.Option(help="only this zone")] = None,
    time_of_day: Annotated[
        str | None, typer.Option("--time-of-day", help="HH:MM-HH:MM, may wrap midnight")
    ] = None,
    modalities: ModalitiesOption = None,
    image: Annotated[
        Path | None, typer.Option(help="search by an example picture instead of words")
    ] = None,
    after: Annotated[str | None, typer.Option(help="only from this ISO date/time on")] = None,
    before: Annotated[str | None, typer.Option(help="only before this ISO date/time")] = None,
    weekdays: Annotated[str | None, typer.Option(help="e.g. mon-fri or sat,sun")] = None,
    video: Annotated[Path | None, typer.Option(help="only this indexed file")] = None,
    parse: Annotated[
        bool, typer.Option(help="read filters stated in the query, e.g. 'at night'")
    ] = True,
    more_like: Annotated[
        list[int] | None,
        typer.Option("--more-like", help="segment id marked relevant in an earlier round"),
    ] = None,
    not_like: Annotated[
        list[int] | None, typer.Option("--not", help="segment id marked not relevant")
    ] = None,
) -> None:
    """Find moments by meaning across what was seen, said, read and heard."""
    library = Library(db, _config(modalities))
    try:
        picture = image.read_bytes() if image else None
        response = library.search(
            query,
            top_k,
            camera,
            zone,
            time_of_day,
            image=picture,
            after=after,
            before=before,
            weekdays=weekdays,
            video=str(video.expanduser().resolve()) if video else None,
            parse=parse,
            more_like=more_like or (),
            not_like=not_like or (),
        )
    except OSError as exc:
        raise _fail(f"{image}: {exc.strerror or exc}") from None
    except KeyError as exc:
        raise _fail(str(exc.args[0])) from None
    except SceneseekError as exc:
        raise _fail(str(exc)) from None
    finally:
        library.close()
    if json_output:
        sys.stdout.write(json.dumps(response.to_dict(), ensure_ascii=False) + "\n")
        return
    print_results(response.to_dict())


def print_results(response: dict[str, object]) -> None:
    results = response["results"]
    assert isinstance(results, list)
    chips = [c["label"] for c in response["filters"]["from_query"]]  # type: ignore[index]
    stated = f" [filters from your words: {', '.join(chips)}]" if chips else ""
    table = Table(
        title=f"{response['query']!r} — {len(results)} moments in {response['took_ms']:.0f} ms"
        + stated,
        title_justify="left",
    )
    for column in ("#", "video", "start–end", "score", "why"):
        table.add_column(column, overflow="fold")
    for rank, result in enumerate(results, 1):
        table.add_row(
            str(rank),
            Path(result["video"]).name,
            f"{clock(result['start'])}–{clock(result['end'])}",
            f"{result['score']:.2f}",
            explain(result["evidence"]),
        )
    out.print(table)


def clock(seconds: float) -> str:
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{int(hours):02d}:{int(minutes):02d}:{secs:04.1f}"


def explain(evidence: dict[str, dict[str, Any]]) -> str:
    """The evidence that carried the match: modalities within a quarter of the strongest
    (the JSON output keeps all of them). The fused vector has nothing to show by itself."""
    strongest = max((e.get("contribution", 0.0) for e in evidence.values()), default=0.0)
    parts = []
    for modality, entry in evidence.items():
        if modality == "fused" or entry.get("contribution", 0.0) < 0.25 * strongest:
            continue
        if modality == "visual" and entry.get("labels"):
            labels = entry["labels"]
            assert isinstance(labels, list)
            parts.append("visual: " + ", ".join(f"{n} {p:.2f}" for n, p in labels))
        elif "text" in entry:
            parts.append(f'{modality}: "{str(entry["text"])[:80]}"')
        elif entry.get("matched"):
            parts.append(f"{modality}: {', '.join(entry['matched'])}")
        else:
            parts.append(modality)
    if not parts and "fused" in evidence:
        parts.append("overall resemblance (fused vector)")
    return "; ".join(parts)


@app.command()
def info(db: DbOption) -> None:
    """What an index holds: videos, segments per modality, and the encoders that built it."""
    if not (db / "index.sqlite").exists():
        raise _fail(f"{db}: no index here yet; run `sceneseek index` first")
    library = Library(db)
    try:
        stats = library.stats()
        encoders = library.index_store.encoder_versions()
        failures = library.index_store.failures()
    finally:
        library.close()
    out.print(f"{db}: {stats['videos']} videos, {stats['segments']} segments")
    table = Table("modality", "segments with it", "encoder", title_justify="left")
    for modality in ALL_MODALITIES:
        if modality in encoders:
            table.add_row(modality, str(stats.get(f"vectors.{modality}", 0)), encoders[modality])
    table.add_row("text", "", encoders.get("text", ""))
    out.print(table)
    for path, cause in failures:
        err.print(f"failed: {path}: {cause}", highlight=False)


camera_app = typer.Typer(
    no_args_is_help=True, help="The camera registry: default zone and timezone per camera."
)
app.add_typer(camera_app, name="camera")


@camera_app.command("add")
def camera_add(
    camera_id: Annotated[str, typer.Argument(help="camera id as in --camera or file names")],
    db: DbOption,
    name: Annotated[str | None, typer.Option(help="human name")] = None,
    zone: Annotated[str | None, typer.Option(help="default zone of its videos")] = None,
    timezone: Annotated[
        str, typer.Option(help="IANA timezone for start times without an offset")
    ] = "UTC",
) -> None:
    """Add or replace a camera in the index's registry."""
    library = Library(db)
    try:
        library.add_camera(camera_id, name, zone, timezone)
    except SceneseekError as exc:
        raise _fail(str(exc)) from None
    finally:
        library.close()
    out.print(f"camera {camera_id}: zone {zone or '-'}, timezone {timezone}")


@camera_app.command("list")
def camera_list(db: DbOption) -> None:
    """Cameras from the config and the index."""
    library = Library(db)
    try:
        cameras = library.cameras()
    finally:
        library.close()
    table = Table("camera", "name", "zone", "timezone", title_justify="left")
    for camera_id, camera in cameras.items():
        table.add_row(camera_id, camera.name or "", camera.zone or "", camera.timezone)
    out.print(table)


@app.command("eval")
def evaluate(
    dataset: Annotated[Path, typer.Option("--dataset", help="benchmark directory")],
    db: Annotated[
        Path | None, typer.Option("--db", help="index directory (default: DATASET/index)")
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="one JSON object")] = False,
    baseline: Annotated[str, typer.Option(help="keyword | none")] = "keyword",
    videos: Annotated[
        int | None, typer.Option(help="only the first N videos and their queries")
    ] = None,
    modalities: ModalitiesOption = None,
) -> None:
    """Score search on a benchmark: mAP@10, R@1/5/10, MRR, latency, vs a keyword baseline."""
    from sceneseek.eval.benchmark import evaluate as run_benchmark
    from sceneseek.eval.runner import render_table

    try:
        reports = run_benchmark(
            dataset, db or dataset / "index", _config(modalities), baseline, videos
        )
    except (SceneseekError, ValueError, RuntimeError, FileNotFoundError) as exc:
        raise _fail(str(exc)) from None
    if json_output:
        sys.stdout.write(json.dumps({r.system: r.to_dict() for r in reports}) + "\n")
        return
    out.print(render_table(reports))


@app.command()
def serve(
    db: DbOption,
    host: Annotated[
        str, typer.Option(help="interface to listen on (0.0.0.0 exposes the index to the network)")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    ingest_root: Annotated[
        list[Path] | None,
        typer.Option("--ingest-root", help="only ingest from inside these folders (repeatable)"),
    ] = None,
    modalities: ModalitiesOption = None,
) -> None:
    """Serve the HTTP API (OpenAPI docs at /docs) and web UI over the same Library."""
    import uvicorn

    from sceneseek.api import ApiSettings, create_app

    library = Library(db, _config(modalities))
    settings = ApiSettings(ingest_roots=tuple(ingest_root) if ingest_root else None)
    try:
        api = create_app(library, settings)
        err.print(f"sceneseek: http://{host}:{port}/ (API docs at /docs) over {db}")
        uvicorn.run(api, host=host, port=port, log_level="info")
    except SceneseekError as exc:
        raise _fail(str(exc)) from None
    finally:
        library.close()


# == live ingest and alerts (sceneseek.live) ==============================================
@app.command()
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
    import logging

    from sceneseek.live.watch import watch_folder, watch_stream

    if (source is None) == (folder is None):
        raise _fail("give either a stream SOURCE or --folder DIR")
    if source is not None and not camera:
        raise _fail("a stream needs --camera ID")
    logging.basicConfig(format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr)
    logging.getLogger("sceneseek").setLevel(logging.INFO)
    library = Library(db, _config(modalities))
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
        raise _fail(str(exc)) from None
    finally:
        library.close()
    lag = f", lag median {sorted(report.lags)[len(report.lags) // 2]:.1f} s" if report.lags else ""
    err.print(
        f"stopped: indexed {len(report.indexed)}, failed {len(report.failed)}, "
        f"alert events {len(report.events)}{lag}",
        highlight=False,
    )


alert_app = typer.Typer(
    no_args_is_help=True, help="Saved queries that fire on newly indexed video (see `watch`)."
)
app.add_typer(alert_app, name="alert")


@alert_app.command("add")
def alert_add(
    query: Annotated[str, typer.Argument(help="what to be alerted about, in your words")],
    db: DbOption,
    camera: Annotated[str | None, typer.Option(help="only this camera")] = None,
    zone: Annotated[str | None, typer.Option(help="only this zone")] = None,
    time_of_day: Annotated[
        str | None, typer.Option("--time-of-day", help="HH:MM-HH:MM, may wrap midnight")
    ] = None,
    threshold: Annotated[
        float, typer.Option(help="minimum moment score (as `search` shows it)")
    ] = 2.0,
    webhook: Annotated[
        str | None, typer.Option(help="POST each event as JSON to this http(s) URL")
    ] = None,
) -> None:
    """Save an alert; prints its id."""
    library = Library(db)
    try:
        alert_id = library.add_alert(query, camera, zone, time_of_day, threshold, webhook)
    except SceneseekError as exc:
        raise _fail(str(exc)) from None
    finally:
        library.close()
    out.print(f"alert {alert_id}: {query!r} (score ≥ {threshold:g})", highlight=False)


@alert_app.command("list")
def alert_list(
    db: DbOption,
    json_output: Annotated[bool, typer.Option("--json", help="one JSON object")] = False,
) -> None:
    """The saved alerts."""
    library = Library(db)
    try:
        alerts = library.alerts()
    finally:
        library.close()
    if json_output:
        sys.stdout.write(json.dumps({"alerts": [a.to_dict() for a in alerts]}) + "\n")
        return
    table = Table("id", "query", "threshold", "filters", "webhook", title_justify="left")
    for a in alerts:
        filters = ", ".join(
            f"{k}={v}"
            for k, v in (("camera", a.camera), ("zone", a.zone), ("time", a.time_of_day))
            if v
        )
        table.add_row(str(a.id), a.query, f"{a.threshold:g}", filters, a.webhook or "")
    out.print(table)


@alert_app.command("events")
def alert_events(
    db: DbOption,
    alert_id: Annotated[int | None, typer.Option("--alert", help="only this alert")] = None,
    limit: Annotated[int, typer.Option(help="newest N")] = 100,
    json_output: Annotated[bool, typer.Option("--json", help="one JSON object")] = False,
) -> None:
    """Moments that fired alerts, newest first."""
    library = Library(db)
    try:
        events = library.alert_events(alert_id, limit)
    finally:
        library.close()
    if json_output:
        sys.stdout.write(json.dumps({"events": [e.to_dict() for e in events]}) + "\n")
        return
    table = Table(
        "id", "alert", "query", "video", "start–end", "score", "when", title_justify="left"
    )
    for e in events:
        when = (e.wall_time or e.created).strftime("%Y-%m-%d %H:%M:%S")
        table.add_row(
            str(e.id),
            str(e.alert_id),
            e.query,
            Path(e.video).name,
            f"{clock(e.start)}–{clock(e.end)}",
            f"{e.score:.2f}",
            when,
        )
    out.print(table)


@alert_app.command("remove")
def alert_remove(
    alert_id: Annotated[int, typer.Argument(help="alert id (see `alert list`)")], db: DbOption
) -> None:
    """Delete an alert and its events."""
    library = Library(db)
    try:
        library.remove_alert(alert_id)
    except KeyError as exc:
        raise _fail(str(exc.args[0])) from None
    finally:
        library.close()
    out.print(f"removed alert {alert_id}")


# == end of live ingest and alerts =======================================================


if __name__ == "__main__":
    app()
