"""Command line: one command per stage of the Python API (``Library``)."""

# The app is built from light modules only (typer, rich's console): `sceneseek --help`, a
# command's --help and a mistyped option answer without pydantic, numpy, faiss or a model.
# Each command imports what it uses when it runs; so does the logging set-up, which reads
# the config and therefore waits until the command's arguments have parsed. The command
# modules do without `from __future__ import annotations`: typer reads every command's
# annotations on each run, and as strings each cost it a compile and an eval (~15 ms).

import functools
import gc
from collections.abc import Callable
from typing import Annotated, Any

import typer

from sceneseek.cli import (
    admin,
    alerts,
    cameras,
    evaluation,
    index,
    keys,
    learning,
    live,
    search,
    serve,
    snapshots,
)
from sceneseek.cli.common import fail
from sceneseek.cli.search import print_results

__all__ = ["app", "print_results"]


class _Program(typer.Typer):
    """The `sceneseek` program. Its start-up makes objects that live as long as the
    process (modules, the config's schemas, models); the collector's passes over them
    cost a cold search ~45 ms of its ~450 ms CPU, and the interpreter's exit walks them
    all once more (~70 ms). So the collector is off while a command parses and starts; a
    command that answers and exits (``collect=False``) runs without it and leaves its
    objects frozen for the exit to skip, while all others turn it back on. Only the
    program itself, not an in-process caller of the app (tests), runs this way."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        gc.disable()
        try:
            return super().__call__(*args, **kwargs)
        finally:
            if not gc.isenabled():  # a one-shot command ran, or only help or an error
                gc.freeze()


app = _Program(add_completion=False, no_args_is_help=True, help=__doc__)
# --log-format and --log-level of this run; None: the config's [monitor] value.
_chosen_logging: dict[str, str | None] = {"format": None, "level": None}


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
    if log_format and log_format not in ("text", "json"):
        raise fail(f"--log-format {log_format!r}: choose text or json")
    if log_level and log_level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise fail(f"--log-level {log_level!r}: choose debug, info, warning or error")
    _chosen_logging.update(format=log_format or None, level=log_level or None)


def _logged(command: Callable[..., None], collect: bool) -> Callable[..., None]:
    """``command``, preceded by the logging set-up (the config fills in what was not
    chosen): typer calls it only once the command's arguments have parsed. ``collect``:
    whether it runs with the garbage collector on (see ``_Program``)."""

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> None:
        from sceneseek.config import Config
        from sceneseek.monitor.logs import configure_logging

        monitor = Config().monitor
        chosen = _chosen_logging["format"] or monitor.log_format
        level = _chosen_logging["level"] or monitor.log_level
        configure_logging("json" if chosen == "json" else "text", level.upper())
        if collect:
            gc.enable()
        command(*args, **kwargs)

    return run


def _add(
    group: typer.Typer, command: Callable[..., None], name: str | None = None, collect: bool = True
) -> None:
    group.command(name)(_logged(command, collect))


def _group(name: str, help: str, parent: typer.Typer = app) -> typer.Typer:
    group = typer.Typer(no_args_is_help=True, help=help)
    parent.add_typer(group, name=name)
    return group


# In the order `sceneseek --help` lists them (the groups come after the commands).
_add(app, index.index)
_add(app, search.search, collect=False)  # a one-shot answer: its objects live to its end
_add(app, index.info)
_add(app, index.check)
_add(app, evaluation.evaluate, "eval")
_add(app, serve.serve)
_add(app, live.watch)
_add(app, admin.stats)
_add(app, learning.mark)
_add(app, learning.learn)
_add(app, learning.uncertain)
_add(app, admin.models)
_add(app, index.reindex)

camera = _group("camera", "The camera registry: default zone, timezone and zones per camera.")
_add(camera, cameras.camera_add, "add")
_add(camera, cameras.camera_list, "list")
zone = _group(
    "zone", "Zones drawn on a camera's picture (people entering, leaving, loitering).", camera
)
_add(zone, cameras.zone_add, "add")
_add(zone, cameras.zone_list, "list")
_add(zone, cameras.zone_remove, "remove")

alert = _group("alert", "Saved queries that fire on newly indexed video (see `watch`).")
_add(alert, alerts.alert_add, "add")
_add(alert, alerts.alert_list, "list")
_add(alert, alerts.alert_events, "events")
_add(alert, alerts.alert_remove, "remove")

key = _group("key", "API keys for `serve` (only salted hashes are stored).")
_add(key, keys.key_add, "add")
_add(key, keys.key_list, "list")
_add(key, keys.key_remove, "remove")

snapshot = _group("snapshot", "Export or import a consistent copy of an index (tar.gz).")
_add(snapshot, snapshots.snapshot_export, "export")
_add(snapshot, snapshots.snapshot_import, "import")
