"""Looking after an index: size and drift, encoder versions."""

import json
import sys

from sceneseek.cli.common import (
    DbOption,
    JsonOption,
    ModalitiesOption,
    config_for,
    fail,
    opened,
    out,
    require_index,
)


def stats(
    db: DbOption,
    json_output: JsonOption = False,
) -> None:
    """Index size and growth, live ingest lag, and drift of recent segments against the
    first ones (warns above the thresholds in the config's [monitor] section)."""
    from rich.table import Table

    from sceneseek.config import Config
    from sceneseek.errors import SceneseekError
    from sceneseek.monitor.drift import measure_drift, warn_if_drifting
    from sceneseek.monitor.snapshot import read_snapshot

    try:
        config = Config()
        snapshot = read_snapshot(db, settings=config.index)
        drift = measure_drift(db, config.monitor, settings=config.index)
    except SceneseekError as exc:
        raise fail(str(exc)) from None
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


def models(db: DbOption, modalities: ModalitiesOption = None) -> None:
    """Encoder name@version per role (configured and in the index), the fusion in use,
    learned fusions, index format and backend."""
    from rich.table import Table

    require_index(db)
    with opened(db, config_for(modalities)) as library:
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
