"""Exporting or importing a consistent copy of an index (tar.gz)."""

from pathlib import Path
from typing import Annotated

import typer

from sceneseek.cli.common import DbOption, fail, opened, out


def snapshot_export(
    archive: Annotated[Path, typer.Argument(help="the .tar.gz to write")], db: DbOption
) -> None:
    """Snapshot the index (safe while it is in use) with a manifest of versions, counts
    and checksum."""
    with opened(db) as library:
        snapshot = library.export_snapshot(archive)
    counts = ", ".join(f"{n} {t}" for t, n in snapshot.manifest["counts"].items())
    out.print(f"{archive}: format {snapshot.manifest['format']}, {counts}", highlight=False)


def snapshot_import(
    archive: Annotated[Path, typer.Argument(help="a snapshot written by `snapshot export`")],
    db: DbOption,
) -> None:
    """Unpack a snapshot into a new index directory after checking format and checksum
    (with the Milvus backend configured, its vectors go into Milvus)."""
    from sceneseek.config import Config
    from sceneseek.errors import SceneseekError
    from sceneseek.index.snapshot import import_snapshot

    try:
        snapshot = import_snapshot(archive, db, Config().index)
    except SceneseekError as exc:
        raise fail(str(exc)) from None
    counts = ", ".join(f"{n} {t}" for t, n in snapshot.manifest["counts"].items())
    out.print(f"imported into {db}: {counts}", highlight=False)
