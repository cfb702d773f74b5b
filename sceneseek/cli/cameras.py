"""The camera registry: default zone and timezone per camera."""

from typing import Annotated

import typer

from sceneseek.cli.common import DbOption, opened, out


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
    """Cameras from the config and the index."""
    from rich.table import Table

    with opened(db) as library:
        cameras = library.cameras()
    table = Table("camera", "name", "zone", "timezone", title_justify="left")
    for camera_id, camera in cameras.items():
        table.add_row(camera_id, camera.name or "", camera.zone or "", camera.timezone)
    out.print(table)
