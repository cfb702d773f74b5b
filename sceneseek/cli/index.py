"""Building and keeping an index: index, info, check, reindex."""

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from sceneseek.cli.common import (
    DbOption,
    JsonOption,
    ModalitiesOption,
    config_for,
    err,
    fail,
    opened,
    out,
    parse_start,
    progress_bar,
    require_index,
)
from sceneseek.modalities import ALL_MODALITIES


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
    from sceneseek.ingest_ray import RayCluster
    from sceneseek.paths import expand_paths

    start_time = parse_start(start)
    use_ray = ray or ray_address is not None or ray_workers is not None
    cluster = RayCluster(ray_address, ray_workers) if use_ray else None
    expansion = expand_paths(paths)
    files = expansion.files
    with (
        opened(db, config_for(modalities)) as library,
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


def info(db: DbOption) -> None:
    """What an index holds: videos, segments per modality, and the encoders that built it."""
    from rich.table import Table

    require_index(db)
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


def check(
    db: DbOption,
    repair: Annotated[
        bool, typer.Option(help="rebuild what is derived, drop orphans, mark the rest for re-index")
    ] = False,
    json_output: JsonOption = False,
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


def reindex(
    db: DbOption,
    drop_failed: Annotated[
        bool,
        typer.Option("--drop-failed", help="swap even if some videos fail (they are dropped)"),
    ] = False,
    modalities: ModalitiesOption = None,
    even_if_current: Annotated[
        bool,
        typer.Option(
            "--even-if-current",
            help="re-encode even if the configured encoders built the index (to apply"
            " zones drawn since to footage already indexed)",
        ),
    ] = False,
) -> None:
    """Re-encode every video with the configured encoders into DB.reindex/ (resumable: run
    again after an interruption), then swap it in atomically; the old index keeps serving
    meanwhile and is kept as DB.previous/."""
    require_index(db)
    with (
        opened(db, config_for(modalities)) as library,
        progress_bar("reindexing", library.stats()["videos"]) as advance,
    ):
        report = library.reindex(advance, drop_failed, even_if_current)
    for path, cause in report.failed:
        err.print(f"[yellow]failed[/yellow] {path}: {cause}", highlight=False)
    out.print(
        f"reindexed {len(report.reindexed)}, already done {len(report.skipped)}, "
        f"failed {len(report.failed)}",
        highlight=False,
    )
    if not report.swapped:
        raise fail(
            "not swapped: fix or remove the failed videos and run reindex again, "
            "or pass --drop-failed"
        )
    carried = ", ".join(f"{n} {table}" for table, n in report.carried.items() if n)
    out.print(f"swapped in; carried over {carried or 'nothing'}", highlight=False)
    out.print(f"previous index kept at {report.previous} (delete it when satisfied)")
