"""Command line: one command per stage of the Python API (``Library``)."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated

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
) -> None:
    """Find moments by meaning across what was seen, said, read and heard."""
    library = Library(db, _config(modalities))
    try:
        picture = image.read_bytes() if image else None
        response = library.search(query, top_k, camera, zone, time_of_day, image=picture)
    except OSError as exc:
        raise _fail(f"{image}: {exc.strerror or exc}") from None
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
    table = Table(
        title=f"{response['query']!r} — {len(results)} moments in {response['took_ms']:.0f} ms",
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


def explain(evidence: dict[str, dict[str, object]]) -> str:
    parts = []
    for modality, entry in evidence.items():
        if modality == "visual" and entry.get("labels"):
            labels = entry["labels"]
            assert isinstance(labels, list)
            parts.append("visual: " + ", ".join(f"{n} {p:.2f}" for n, p in labels))
        elif "text" in entry:
            parts.append(f'{modality}: "{str(entry["text"])[:80]}"')
        else:
            parts.append(modality)
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


if __name__ == "__main__":
    app()
