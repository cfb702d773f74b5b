"""Command line: one command per stage of the Python API (``Library``)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, cast

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from sceneseek.config import ALL_MODALITIES, Config
from sceneseek.errors import PathError, SceneseekError, reporting_damage
from sceneseek.index.keys import ROLES, KeyStore, Role
from sceneseek.ingest_ray import RayCluster
from sceneseek.library import Library
from sceneseek.paths import expand_paths, user_path

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)
out = Console()
err = Console(stderr=True, soft_wrap=True)  # paths in errors must stay greppable

DbOption = Annotated[Path, typer.Option("--db", help="index directory")]
ModalitiesOption = Annotated[
    str | None,
    typer.Option(help=f"comma-separated subset of {','.join(ALL_MODALITIES)} (default: all)"),
]


@app.callback()
def _logging(
    log_format: Annotated[
        str | None,
        typer.Option(
            "--log-format", help="text | json (one object per line); default: config monitor"
        ),
    ] = None,
    log_level: Annotated[
        str | None, typer.Option("--log-level", help="debug | info | warning | error")
    ] = None,
) -> None:
    from sceneseek.monitor.logs import configure_logging

    monitor = Config().monitor
    chosen, level = log_format or monitor.log_format, (log_level or monitor.log_level).upper()
    if chosen not in ("text", "json"):
        raise _fail(f"--log-format {chosen!r}: choose text or json")
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise _fail(f"--log-level {log_level!r}: choose debug, info, warning or error")
    configure_logging("json" if chosen == "json" else "text", level)


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


@contextmanager
def opened(db: Path, config: Config | None = None) -> Iterator[Library]:
    """The library at ``db`` for one command: a SceneseekError (a damaged database
    too) becomes a one-line error with exit status 1, and the index is closed however
    the command ends."""
    library = Library(db, config)
    try:
        with reporting_damage(db / "index.sqlite"):  # found on a page read after the open
            try:
                yield library
            finally:
                library.close()
    except SceneseekError as exc:
        raise _fail(str(exc)) from None


@contextmanager
def progress_bar(label: str, total: int) -> Iterator[Callable[[str, str], None]]:
    """A transient bar on stderr, and the (path, status) callback that advances it."""
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, TimeElapsedColumn(), console=err, transient=True) as bar:
        task = bar.add_task(label, total=total)

        def advance(path: str, status: str) -> None:
            bar.update(task, advance=1, description=f"{status}: {Path(path).name}")

        yield advance


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
    ray: Annotated[
        bool, typer.Option("--ray", help="decode and encode on a Ray cluster (local if no address)")
    ] = False,
    ray_address: Annotated[
        str | None,
        typer.Option(help="Ray cluster: auto, HOST:6379 or ray://HOST:10001 (implies --ray)"),
    ] = None,
    ray_workers: Annotated[
        int | None, typer.Option(min=1, help="Ray workers (default: one per cluster CPU)")
    ] = None,
) -> None:
    """Index videos: decode, segment, encode every modality, store."""
    start_time = _parse_start(start)
    use_ray = ray or ray_address is not None or ray_workers is not None
    cluster = RayCluster(ray_address, ray_workers) if use_ray else None
    expansion = expand_paths(paths)
    files = expansion.files
    with (
        opened(db, _config(modalities)) as library,
        progress_bar("indexing", len(files)) as advance,
    ):
        report = library.index(files, camera, zone, start_time, advance, cluster)
    report.failed[:0] = expansion.problems
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
    translate: Annotated[
        bool, typer.Option(help="also search a non-English query in English translation")
    ] = True,
) -> None:
    """Find moments by meaning across what was seen, said, read and heard."""
    with opened(db, _config(modalities)) as library:
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
                translate=translate,
            )
        except OSError as exc:
            raise _fail(f"{image}: {exc.strerror or exc}") from None
        except KeyError as exc:
            raise _fail(str(exc.args[0])) from None
    if json_output:
        sys.stdout.write(json.dumps(response.to_dict(), ensure_ascii=False) + "\n")
        return
    print_results(response.to_dict())


def print_results(response: dict[str, object]) -> None:
    results = response["results"]
    assert isinstance(results, list)
    chips = [c["label"] for c in response["filters"]["from_query"]]  # type: ignore[index]
    stated = f" [filters from your words: {', '.join(chips)}]" if chips else ""
    translation = cast(dict[str, str | None] | None, response.get("translation"))
    if translation:
        said = translation["text"] or translation["note"]
        stated += f" [{translation['from']}: {said}]"
    strong = sum(not r.get("below_cutoff") for r in results)
    above = f" ({strong} above the relevance cut-off)" if response.get("cutoff") else ""
    table = Table(
        title=f"{response['query']!r} — {len(results)} moments{above}"
        f" in {response['took_ms']:.0f} ms{stated}",
        title_justify="left",
    )
    for column in ("#", "video", "start–end", "score", "why"):
        table.add_column(column, overflow="fold")
    separated = False
    # A moment passes the cut-off on its own evidence, so a good match may rank under a
    # weak one: the good ones come first, each with its rank.
    ranked = sorted(enumerate(results, 1), key=lambda item: bool(item[1].get("below_cutoff")))
    for rank, result in ranked:
        if result.get("below_cutoff") and not separated:
            table.add_row("", "— weaker matches below the cut-off —", "", "", "", style="dim")
            separated = True
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
            said_in = f" ({', '.join(entry['languages'])})" if entry.get("languages") else ""
            parts.append(f'{modality}{said_in}: "{str(entry["text"])[:80]}"')
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
    with opened(db) as library:
        stats = library.stats()
        spoken = library.index_store.utterance_languages()
        encoders = library.index_store.encoder_versions()
        failures = library.index_store.failures()
    out.print(f"{db}: {stats['videos']} videos, {stats['segments']} segments")
    table = Table("modality", "segments with it", "encoder", title_justify="left")
    for modality in ALL_MODALITIES:
        if modality in encoders:
            table.add_row(modality, str(stats.get(f"vectors.{modality}", 0)), encoders[modality])
    table.add_row("text", "", encoders.get("text", ""))
    out.print(table)
    if spoken:
        languages = ", ".join(f"{lang} {n}" for lang, n in sorted(spoken.items()))
        out.print(f"utterances by language: {languages}", highlight=False)
    for path, cause in failures:
        err.print(f"failed: {path}: {cause}", highlight=False)


@app.command()
def check(
    db: DbOption,
    repair: Annotated[
        bool, typer.Option(help="rebuild what is derived, drop orphans, mark the rest for re-index")
    ] = False,
    json_output: Annotated[bool, typer.Option("--json", help="one JSON object")] = False,
) -> None:
    """Verify the index agrees with itself (exit status 1 when it does not and was not
    repaired); with --repair, fix what can be fixed and say what was done."""
    with opened(db) as library:
        report = library.check(repair)
    if json_output:
        sys.stdout.write(json.dumps(report.to_dict(), ensure_ascii=False) + "\n")
    else:
        counts = ", ".join(f"{n} {what}" for what, n in report.counts.items())
        for line in report.notes:
            err.print(f"note: {line}", highlight=False)
        for line in report.problems:
            err.print(f"[red]problem:[/red] {line}", highlight=False)
        for line in report.repaired:
            err.print(f"[green]repaired:[/green] {line}", highlight=False)
        for line in report.unrepairable:
            err.print(f"[red]cannot repair:[/red] {line}", highlight=False)
        verdict = "consistent" if report.consistent else "INCONSISTENT"
        out.print(f"{db}: {verdict} ({counts})", highlight=False, soft_wrap=True)
    if not report.consistent:
        raise typer.Exit(1)


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
    with opened(db) as library:
        library.add_camera(camera_id, name, zone, timezone)
    out.print(f"camera {camera_id}: zone {zone or '-'}, timezone {timezone}")


@camera_app.command("list")
def camera_list(db: DbOption) -> None:
    """Cameras from the config and the index."""
    with opened(db) as library:
        cameras = library.cameras()
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
    split: Annotated[
        str | None,
        typer.Option(help="tune | test: only that half's videos (use one --db per half)"),
    ] = None,
    modalities: ModalitiesOption = None,
) -> None:
    """Score search on a benchmark: mAP@10, R@1/5/10, MRR, latency, vs a keyword baseline,
    and how often the relevance cut-off rejects absent-answer queries."""
    from sceneseek.eval.benchmark import evaluate as run_benchmark
    from sceneseek.eval.runner import render_table

    try:
        reports = run_benchmark(
            dataset, db or dataset / "index", _config(modalities), baseline, videos, split
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
        typer.Option(
            "--ingest-root",
            help="API ingest reads only files inside these folders (repeatable);"
            " default: the current folder",
        ),
    ] = None,
    modalities: ModalitiesOption = None,
    cors_origin: Annotated[
        list[str] | None,
        typer.Option("--cors-origin", help="let pages from this origin call the API (repeatable)"),
    ] = None,
) -> None:
    """Serve the HTTP API (OpenAPI docs at /docs) and web UI over the same Library.
    Beyond loopback it refuses to start without an API key (`sceneseek key add`)."""
    import uvicorn

    from sceneseek.api import ApiSettings, create_app
    from sceneseek.api.access import is_loopback

    library = Library(db, _config(modalities))
    try:
        library.index_store  # noqa: B018 - creates or checks the index before the key table
        keys = KeyStore(db)
    except SceneseekError as exc:
        library.close()
        raise _fail(str(exc)) from None
    exposed = not is_loopback(host)
    if exposed and not keys.has_keys():
        keys.close()
        library.close()
        raise _fail(
            f"--host {host} exposes the index beyond this machine: add an API key first "
            f"(sceneseek key add --db {db} --role admin)"
        )
    # Never unconfined: an API client that may ingest must not be able to crawl the disk.
    try:
        roots = tuple(user_path(root).resolve() for root in ingest_root or [Path.cwd()])
    except PathError as exc:
        keys.close()
        library.close()
        raise _fail(f"--ingest-root: {exc}") from None
    if missing := [str(root) for root in roots if not root.is_dir()]:
        keys.close()
        library.close()
        raise _fail(f"--ingest-root: no such folder: {', '.join(missing)}")
    settings = ApiSettings(
        ingest_roots=roots,
        keys=keys,
        require_keys=exposed,
        cors_origins=tuple(cors_origin or ()),
    )
    try:
        api = create_app(library, settings)
        err.print(f"sceneseek: http://{host}:{port}/ (API docs at /docs) over {db}")
        err.print(f"ingest from: {', '.join(map(str, roots))} (--ingest-root to change)")
        # Logging is configured already (--log-format); the app writes the access log.
        uvicorn.run(api, host=host, port=port, log_config=None, access_log=False)
    except SceneseekError as exc:
        raise _fail(str(exc)) from None
    finally:
        keys.close()
        library.close()


# == live ingest and alerts (sceneseek.live) ==============================================
@app.command()
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
    from sceneseek.live.watch import Stream, camera_slug, watch_folder, watch_streams

    if [source is not None, bool(stream), folder is not None].count(True) != 1:
        raise _fail("give one of a stream SOURCE, --stream CAMERA=URL ... or --folder DIR")
    if source is not None and not camera:
        raise _fail("a stream needs --camera ID")
    streams = [Stream(source, camera, zone, record_dir)] if source and camera else []
    for given in stream or []:
        named, _, url = given.partition("=")
        if not named.strip() or not url.strip():
            raise _fail(f"--stream {given!r}: give CAMERA=URL")
        where = record_dir / camera_slug(named.strip()) if record_dir else None
        streams.append(Stream(url.strip(), named.strip(), zone, where))
    with opened(db, _config(modalities)) as library:
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
            raise _fail(str(exc)) from None
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
    with opened(db) as library:
        alert_id = library.add_alert(query, camera, zone, time_of_day, threshold, webhook)
    out.print(f"alert {alert_id}: {query!r} (score ≥ {threshold:g})", highlight=False)


@alert_app.command("list")
def alert_list(
    db: DbOption,
    json_output: Annotated[bool, typer.Option("--json", help="one JSON object")] = False,
) -> None:
    """The saved alerts."""
    with opened(db) as library:
        alerts = library.alerts()
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
    with opened(db) as library:
        events = library.alert_events(alert_id, limit)
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
    with opened(db) as library:
        try:
            library.remove_alert(alert_id)
        except KeyError as exc:
            raise _fail(str(exc.args[0])) from None
    out.print(f"removed alert {alert_id}")


# == end of live ingest and alerts =======================================================


# == access and monitoring (sceneseek.index.keys, sceneseek.monitor) =====================
key_app = typer.Typer(
    no_args_is_help=True, help="API keys for `serve` (only salted hashes are stored)."
)
app.add_typer(key_app, name="key")


@contextmanager
def _keys(db: Path) -> Iterator[KeyStore]:
    """The key table of ``db`` for one command, errors (a damaged database too) as one line."""
    try:
        with closing(KeyStore(db)) as keys, reporting_damage(db / "index.sqlite"):
            yield keys
    except SceneseekError as exc:
        raise _fail(str(exc)) from None


@key_app.command("add")
def key_add(
    db: DbOption,
    role: Annotated[str, typer.Option(help="read: search and view; admin: also change")] = "read",
    name: Annotated[str | None, typer.Option(help="who or what uses it")] = None,
) -> None:
    """Create a key and print it once; it cannot be shown again."""
    if role not in ROLES:
        raise _fail(f"--role {role!r}: choose {' or '.join(ROLES)}")
    with _keys(db) as keys:
        key = keys.add(cast(Role, role), name)
    sys.stdout.write(key + "\n")
    err.print(f"{role} key {key.split('_')[1]} added; store it now, it is not kept")


@key_app.command("list")
def key_list(db: DbOption) -> None:
    """Keys by id, role and name (the keys themselves are not stored)."""
    with _keys(db) as keys:
        listed = keys.entries()
    table = Table("id", "role", "name", "created", title_justify="left")
    for key in listed:
        table.add_row(key.id, key.role, key.name or "", key.created.strftime("%Y-%m-%d %H:%M"))
    out.print(table)


@key_app.command("remove")
def key_remove(
    key_id: Annotated[str, typer.Argument(help="key id (see `key list`)")], db: DbOption
) -> None:
    """Revoke a key; a running server refuses it from the next request."""
    with _keys(db) as keys:
        removed = keys.remove(key_id)
    if not removed:
        raise _fail(f"no key with id {key_id}")
    out.print(f"removed key {key_id}")


@app.command()
def stats(
    db: DbOption,
    json_output: Annotated[bool, typer.Option("--json", help="one JSON object")] = False,
) -> None:
    """Index size and growth, live ingest lag, and drift of recent segments against the
    first ones (warns above the thresholds in the config's [monitor] section)."""
    from sceneseek.monitor.drift import measure_drift, warn_if_drifting
    from sceneseek.monitor.snapshot import read_snapshot

    try:
        snapshot = read_snapshot(db)
        drift = measure_drift(db, Config().monitor)
    except SceneseekError as exc:
        raise _fail(str(exc)) from None
    warn_if_drifting(drift, db)
    if json_output:
        body = {**snapshot.to_dict(), "drift": drift.to_dict()}
        sys.stdout.write(json.dumps(body) + "\n")
        return
    sizes = ", ".join(f"{part} {count / 2**20:.1f} MiB" for part, count in snapshot.bytes.items())
    out.print(
        f"{db}: {snapshot.videos} videos, {snapshot.segments} segments, "
        f"{snapshot.failures} failed files; {sizes}",
        highlight=False,
    )
    out.print(
        f"last hour: {snapshot.segments_last_hour} segments, "
        f"{snapshot.embeddings_last_hour} embeddings",
        highlight=False,
    )
    for camera, lag in snapshot.ingest_lag_seconds.items():
        out.print(f"ingest lag {camera or '(no camera)'}: {lag:.1f} s", highlight=False)
    table = Table(
        "modality",
        "reference",
        "recent",
        "cosine shift",
        "centroid shift",
        "label divergence",
        "drifting",
        title=f"drift: last {drift.recent_segments} segments vs first {drift.reference_segments}",
        title_justify="left",
    )
    if not drift.recent_segments:
        out.print(f"drift: nothing stored after the first {drift.reference_segments} segments yet")
        return
    for modality, entry in drift.modalities.items():
        table.add_row(
            modality,
            str(entry.reference),
            str(entry.recent),
            "" if entry.cosine_shift is None else f"{entry.cosine_shift:.4f}",
            "" if entry.centroid_shift is None else f"{entry.centroid_shift:.3f}",
            "" if entry.label_divergence is None else f"{entry.label_divergence:.3f}",
            "yes" if entry.drifting else "",
        )
    out.print(table)


# == end of access and monitoring ========================================================


# == marks, learning and versions (sceneseek.learning, sceneseek.versions) ===============
@app.command()
def mark(
    query: Annotated[str, typer.Argument(help="the query the result was found for")],
    segment_id: Annotated[int, typer.Argument(help="segment id (search --json, uncertain)")],
    db: DbOption,
    relevant: Annotated[bool, typer.Option("--relevant/--not-relevant", help="the verdict")] = True,
    modalities: ModalitiesOption = None,
) -> None:
    """Record whether a result is relevant to a query (training data for `learn`)."""
    with opened(db, _config(modalities)) as library:
        try:
            stored = library.mark(query, segment_id, relevant)
        except KeyError as exc:
            raise _fail(str(exc.args[0])) from None
    verdict = "relevant" if relevant else "not relevant"
    out.print(f"mark {stored.id}: segment {segment_id} {verdict} to {query!r}", highlight=False)


@app.command()
def learn(
    db: DbOption,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="cross-validate only; record nothing")
    ] = False,
    modalities: ModalitiesOption = None,
) -> None:
    """Fit the fusion weights on the marks; adopt them only if they rank held-out queries'
    marks better than the fusion in use (cross-validated, folds grouped by query)."""
    with opened(db, _config(modalities)) as library:
        report = library.learn(dry_run)
    out.print(
        f"{report.marks} marks, {report.queries} queries with both verdicts; "
        f"current fusion {report.current}",
        highlight=False,
    )
    if report.folds:
        table = Table("fold", "queries", "current AP", "candidate AP", title_justify="left")
        for n, fold in enumerate(report.per_fold, 1):
            table.add_row(
                str(n),
                str(fold["queries"]),
                f"{fold['current_ap']:.3f}",
                f"{fold['candidate_ap']:.3f}",
            )
        out.print(table)
        weights = ", ".join(f"{m} {w:.4g}" for m, w in report.candidate.items())
        out.print(f"candidate weights: {weights}", highlight=False)
    out.print(report.reason, highlight=False)
    if report.version:
        state = "adopted" if report.adopted else "recorded, not adopted"
        out.print(f"fusion {report.version} {state}", highlight=False)


@app.command()
def uncertain(
    db: DbOption,
    limit: Annotated[int, typer.Option(help="how many to list")] = 20,
    json_output: Annotated[bool, typer.Option("--json", help="one JSON object")] = False,
    modalities: ModalitiesOption = None,
) -> None:
    """Unmarked results of stored queries (marks', alerts') nearest the decision boundary:
    the ones whose verdict would teach `learn` the most. Mark them with `sceneseek mark`."""
    with opened(db, _config(modalities)) as library:
        found = library.uncertain(limit)
    if json_output:
        sys.stdout.write(json.dumps({"uncertain": [vars(u) for u in found]}) + "\n")
        return
    table = Table(
        "query", "segment", "video", "start–end", "score", "p(relevant)", title_justify="left"
    )
    for u in found:
        table.add_row(
            u.query,
            str(u.segment_id),
            Path(u.video).name,
            f"{clock(u.start)}–{clock(u.end)}",
            f"{u.score:.2f}",
            f"{u.p_relevant:.2f}",
        )
    out.print(table)


@app.command()
def models(db: DbOption, modalities: ModalitiesOption = None) -> None:
    """Encoder name@version per role (configured and in the index), the fusion in use,
    learned fusions, index format and backend."""
    if not (db / "index.sqlite").exists():
        raise _fail(f"{db}: no index here yet; run `sceneseek index` first")
    with opened(db, _config(modalities)) as library:
        report = library.models()
    table = Table("role", "configured", "index", "", title_justify="left")
    for role in report.roles:
        state = "" if role.matches else "[red]differs: run `sceneseek reindex`[/red]"
        table.add_row(role.role, role.configured or "-", role.index or "-", state)
    out.print(table)
    out.print(f"fusion: {report.fusion}", highlight=False)
    for fusion in report.fusions:
        cv = fusion.summary.get("cv", {})
        out.print(
            f"  {fusion.version} ({'adopted' if fusion.adopted else 'not adopted'}, "
            f"{fusion.created:%Y-%m-%d %H:%M}): held-out AP {cv.get('candidate_ap')} vs "
            f"{cv.get('current_ap')}",
            highlight=False,
        )
    out.print(f"index format {report.index_format}, backend {report.backend}", highlight=False)
    if report.reindex:
        out.print(f"reindex pending: {report.reindex[0]} of {report.reindex[1]} videos done")


@app.command()
def reindex(
    db: DbOption,
    drop_failed: Annotated[
        bool,
        typer.Option("--drop-failed", help="swap even if some videos fail (they are dropped)"),
    ] = False,
    modalities: ModalitiesOption = None,
) -> None:
    """Re-encode every video with the configured encoders into DB.reindex/ (resumable: run
    again after an interruption), then swap it in atomically; the old index keeps serving
    meanwhile and is kept as DB.previous/."""
    if not (db / "index.sqlite").exists():
        raise _fail(f"{db}: no index here yet; run `sceneseek index` first")
    with (
        opened(db, _config(modalities)) as library,
        progress_bar("reindexing", library.stats()["videos"]) as advance,
    ):
        report = library.reindex(advance, drop_failed)
    for path, cause in report.failed:
        err.print(f"[yellow]failed[/yellow] {path}: {cause}", highlight=False)
    out.print(
        f"reindexed {len(report.reindexed)}, already done {len(report.skipped)}, "
        f"failed {len(report.failed)}",
        highlight=False,
    )
    if not report.swapped:
        raise _fail(
            "not swapped: fix or remove the failed videos and run reindex again, "
            "or pass --drop-failed"
        )
    carried = ", ".join(f"{n} {table}" for table, n in report.carried.items() if n)
    out.print(f"swapped in; carried over {carried or 'nothing'}", highlight=False)
    out.print(f"previous index kept at {report.previous} (delete it when satisfied)")


snapshot_app = typer.Typer(
    no_args_is_help=True, help="Export or import a consistent copy of an index (tar.gz)."
)
app.add_typer(snapshot_app, name="snapshot")


@snapshot_app.command("export")
def snapshot_export(
    archive: Annotated[Path, typer.Argument(help="the .tar.gz to write")], db: DbOption
) -> None:
    """Snapshot the index (safe while it is in use) with a manifest of versions, counts
    and checksum."""
    with opened(db) as library:
        snapshot = library.export_snapshot(archive)
    counts = ", ".join(f"{n} {t}" for t, n in snapshot.manifest["counts"].items())
    out.print(f"{archive}: format {snapshot.manifest['format']}, {counts}", highlight=False)


@snapshot_app.command("import")
def snapshot_import(
    archive: Annotated[Path, typer.Argument(help="a snapshot written by `snapshot export`")],
    db: DbOption,
) -> None:
    """Unpack a snapshot into a new index directory after checking format and checksum
    (with the Milvus backend configured, its vectors go into Milvus)."""
    from sceneseek.index.snapshot import import_snapshot

    try:
        snapshot = import_snapshot(archive, db, Config().index)
    except SceneseekError as exc:
        raise _fail(str(exc)) from None
    counts = ", ".join(f"{n} {t}" for t, n in snapshot.manifest["counts"].items())
    out.print(f"imported into {db}: {counts}", highlight=False)


# == end of marks, learning and versions =================================================


if __name__ == "__main__":
    app()
