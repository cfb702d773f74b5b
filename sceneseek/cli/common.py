"""What every command group shares: the consoles, the one-line error, the index opened
for one command, the common options.

Imports here stay light (typer, rich's console): every `sceneseek` run, `--help` and a
mistyped option included, loads this module. The Library, the config (pydantic) and the
index (numpy, faiss) are imported inside the helpers that need them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from sceneseek.modalities import ALL_MODALITIES

if TYPE_CHECKING:
    from sceneseek.config import Config
    from sceneseek.library import Library

out = Console()
err = Console(stderr=True, soft_wrap=True)  # paths in errors must stay greppable

DbOption = Annotated[Path, typer.Option("--db", help="index directory")]
ModalitiesOption = Annotated[
    str | None,
    typer.Option(help=f"comma-separated subset of {','.join(ALL_MODALITIES)} (default: all)"),
]
JsonOption = Annotated[bool, typer.Option("--json", help="one JSON object")]
# The filters that searches and alerts share.
CameraOption = Annotated[str | None, typer.Option(help="only this camera")]
ZoneOption = Annotated[str | None, typer.Option(help="only this zone")]
TimeOfDayOption = Annotated[
    str | None, typer.Option("--time-of-day", help="HH:MM-HH:MM, may wrap midnight")
]


def fail(message: str) -> typer.Exit:
    err.print(f"[red]error:[/red] {message}", highlight=False)
    return typer.Exit(1)


def config_for(modalities: str | None) -> Config:
    """The config, restricted to the ``--modalities`` given."""
    from sceneseek.config import Config

    if modalities is None:
        return Config()
    chosen = [m.strip() for m in modalities.split(",") if m.strip()]
    unknown = sorted(set(chosen) - set(ALL_MODALITIES))
    if unknown or not chosen:
        raise fail(
            f"--modalities {modalities!r}: choose from {', '.join(ALL_MODALITIES)}"
            + (f" (unknown: {', '.join(unknown)})" if unknown else "")
        )
    return Config(modalities=chosen)


@contextmanager
def opened(db: Path, config: Config | None = None) -> Iterator[Library]:
    """The library at ``db`` for one command: a SceneseekError (a damaged database
    too) becomes a one-line error with exit status 1, and the index is closed however
    the command ends."""
    from sceneseek.errors import SceneseekError, reporting_damage
    from sceneseek.index.catalogue import database_path
    from sceneseek.library import Library

    library = Library(db, config)
    try:
        with reporting_damage(database_path(db)):  # found on a page read after the open
            try:
                yield library
            finally:
                library.close()
    except SceneseekError as exc:
        raise fail(str(exc)) from None


def require_index(db: Path) -> None:
    """Commands that only read an index say so plainly when there is none yet."""
    from sceneseek.errors import SceneseekError
    from sceneseek.index import catalogue

    try:
        catalogue.require_index(db)
    except SceneseekError as exc:
        raise fail(str(exc)) from None


@contextmanager
def progress_bar(label: str, total: int) -> Iterator[Callable[[str, str], None]]:
    """A transient bar on stderr, and the (path, status) callback that advances it."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, TimeElapsedColumn(), console=err, transient=True) as bar:
        task = bar.add_task(label, total=total)

        def advance(path: str, status: str) -> None:
            bar.update(task, advance=1, description=f"{status}: {Path(path).name}")

        yield advance


def parse_start(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise fail(
            f"--start {value!r}: expected ISO 8601, e.g. 2026-11-28T22:10:00+01:00"
        ) from None


def clock(seconds: float) -> str:
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{int(hours):02d}:{int(minutes):02d}:{secs:04.1f}"
