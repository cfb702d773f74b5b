"""Saved queries that fire on newly indexed video, and the moments that fired them."""

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from sceneseek.cli.common import (
    CameraOption,
    DbOption,
    JsonOption,
    TimeOfDayOption,
    ZoneOption,
    clock,
    fail,
    opened,
    out,
)
from sceneseek.records import to_json


def alert_add(
    query: Annotated[str, typer.Argument(help="what to be alerted about, in your words")],
    db: DbOption,
    camera: CameraOption = None,
    zone: ZoneOption = None,
    time_of_day: TimeOfDayOption = None,
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


def alert_list(
    db: DbOption,
    json_output: JsonOption = False,
) -> None:
    """The saved alerts."""
    from rich.table import Table

    with opened(db) as library:
        alerts = library.alerts()
    if json_output:
        sys.stdout.write(json.dumps({"alerts": [to_json(a) for a in alerts]}) + "\n")
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


def alert_events(
    db: DbOption,
    alert_id: Annotated[int | None, typer.Option("--alert", help="only this alert")] = None,
    limit: Annotated[int, typer.Option(help="newest N")] = 100,
    json_output: JsonOption = False,
) -> None:
    """Moments that fired alerts, newest first."""
    from rich.table import Table

    with opened(db) as library:
        events = library.alert_events(alert_id, limit)
    if json_output:
        sys.stdout.write(json.dumps({"events": [to_json(e) for e in events]}) + "\n")
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


def alert_remove(
    alert_id: Annotated[int, typer.Argument(help="alert id (see `alert list`)")], db: DbOption
) -> None:
    """Delete an alert and its events."""
    with opened(db) as library:
        try:
            library.remove_alert(alert_id)
        except KeyError as exc:
            raise fail(str(exc.args[0])) from None
    out.print(f"removed alert {alert_id}")
