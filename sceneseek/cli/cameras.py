"""The camera registry: default zone and timezone per camera, and zones drawn on its
picture."""

import json
import sys
from typing import Annotated

import typer

from sceneseek.cli.common import DbOption, JsonOption, err, fail, opened, out


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


def camera_list(db: DbOption) -> None:
    """Cameras from the config and the index (`camera zone list` shows the zones)."""
    from rich.table import Table

    with opened(db) as library:
        cameras = library.cameras()
    table = Table("camera", "name", "zone", "timezone", "zones drawn", title_justify="left")
    for camera_id, camera in cameras.items():
        zones = ", ".join(camera.zones)
        table.add_row(camera_id, camera.name or "", camera.zone or "", camera.timezone, zones)
    out.print(table)


def zone_add(
    camera_id: Annotated[str, typer.Argument(help="camera id as in --camera or file names")],
    name: Annotated[str, typer.Argument(help="zone name, as searches say it: 'the gate zone'")],
    points: Annotated[
        str, typer.Argument(help='vertices in order, "x1,y1 x2,y2 ...": frame fractions')
    ],
    db: DbOption,
    resolution: Annotated[
        str | None,
        typer.Option(help="the points are pixels of this: WIDTHxHEIGHT or 720p, 1080p, 4k ..."),
    ] = None,
) -> None:
    """Draw (or redraw) a zone on a camera's picture, kept in the index. People entering,
    leaving and loitering in it become events of the camera's videos indexed from now on."""
    from sceneseek.config import points_text

    with opened(db) as library:
        known = camera_id in library.cameras() or library.camera_segment(camera_id) is not None
        zone = library.add_zone(camera_id, name, points, resolution)
    over = ", over the config's zone of that name" if zone.overrides_config else ""
    out.print(
        f"zone {name!r} of camera {camera_id}: {points_text(zone.points)} (frame fractions){over}",
        highlight=False,
        soft_wrap=True,  # the points stay on one line, to copy
    )
    err.print(
        f"it applies to videos of {camera_id} indexed from now on; videos indexed before keep"
        " the people events they have until `sceneseek reindex --even-if-current`",
        highlight=False,
    )
    if not known:
        err.print(
            f"note: camera {camera_id!r} has no footage in this index and is not registered;"
            " check the id if you expected it to",
            highlight=False,
        )


def zone_list(
    db: DbOption,
    camera_id: Annotated[str | None, typer.Argument(help="only this camera")] = None,
    json_output: JsonOption = False,
) -> None:
    """Zones from the config and the index; on a name clash the index's applies."""
    from rich.table import Table

    from sceneseek.config import points_text
    from sceneseek.records import to_json

    with opened(db) as library:
        zones = library.zones(camera_id)
    if json_output:
        sys.stdout.write(json.dumps({"zones": [to_json(z) for z in zones]}) + "\n")
        return
    if not zones:
        out.print(f"no zones drawn{f' on camera {camera_id}' if camera_id else ''}")
        return
    table = Table("camera", "zone", "points (frame fractions)", "from", title_justify="left")
    for zone in zones:
        source = "index, over config" if zone.overrides_config else zone.source
        table.add_row(zone.camera, zone.name, points_text(zone.points), source)
    out.print(table)


def zone_remove(
    camera_id: Annotated[str, typer.Argument(help="camera id")],
    name: Annotated[str, typer.Argument(help="zone name (see `camera zone list`)")],
    db: DbOption,
) -> None:
    """Remove a zone drawn in the index (zones of the config file are changed there)."""
    with opened(db) as library:
        try:
            restored = library.remove_zone(camera_id, name)
        except KeyError as exc:
            raise fail(str(exc.args[0])) from None
    out.print(f"removed zone {name!r} of camera {camera_id}", highlight=False)
    if restored is not None:
        out.print(f"the config's zone {name!r} applies again", highlight=False)
