"""Zones as polygons per camera: in the config, drawn in the index (the library, the CLI,
the HTTP API with its access rules), and the enter/leave/loiter logic on paths. Real
index, real API app and key store, a real 2-second video for the camera's frame."""

from __future__ import annotations

import json
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from typer.testing import CliRunner

from sceneseek import Library
from sceneseek.api import ApiSettings, create_app
from sceneseek.cli import app as cli
from sceneseek.config import CameraConfig, Config
from sceneseek.encoders.zones import Footing, camera_zones, zone_events
from sceneseek.errors import SceneseekError
from sceneseek.index.catalogue import database_path
from sceneseek.index.keys import KeyStore

GATE = "0.5,0 1,0 1,1 0.5,1"  # the right half of the picture


def test_zone_forms_are_read_as_frame_fractions() -> None:
    camera = CameraConfig(
        zone="car park",
        zones={
            "gate": GATE,
            "door": [[0, 0], [0.25, 0], [0.25, 0.5]],
            "bench": {"points": "0,0 384,0 384,288", "resolution": "768x576"},
            "kerb": {"points": "0,540 1920,540 1920,1080", "resolution": "1080p"},
        },
    )
    assert camera.zone == "car park"  # the whole-picture zone name still stands
    assert camera.zones["bench"].points == [(0, 0), (0.5, 0), (0.5, 0.5)]
    assert camera.zones["kerb"].points == [(0, 0.5), (1, 0.5), (1, 1)]
    assert camera.zones["kerb"].resolution is None
    assert [z.name for z in camera_zones(camera)] == ["gate", "door", "bench", "kerb"]
    gate = camera_zones(camera)[0]
    assert gate.contains(0.75, 0.5) and not gate.contains(0.25, 0.5)
    assert gate.contains(0.5, 0.3) and gate.contains(0.8, 1.0)  # edges count as inside
    kerb = camera_zones(camera)[3]
    assert kerb.contains(0.9, 0.6) and not kerb.contains(0.1, 0.6)  # the diagonal edge


@pytest.mark.parametrize(
    ("zone", "cause"),
    [
        ("0.1,0.1 0.5,0.1", "at least 3 vertices, got 2"),
        ("0.1,0.1 2,0.1 0.5,0.5", "(2.0, 0.1) is not in frame fractions"),
        ("0,0 0.5,0.5 1,1", "no area"),
        ("0,0 1;0 1,1", "'1;0' is not X,Y"),
        ({"points": "0,0 900,0 0,10", "resolution": "768x576"}, "outside the 768x576 frame"),
        ({"points": "0,0 10,0 0,10", "resolution": "huge"}, "'huge' is neither WIDTHxHEIGHT"),
    ],
)
def test_bad_zone_names_camera_zone_and_cause(zone: object, cause: str) -> None:
    with pytest.raises(ValidationError) as error:
        Config(metadata={"cameras": {"cam-7": {"zones": {"loading bay": zone}}}})
    message = str(error.value)
    assert "cam-7" in message and "zone 'loading bay'" in message and cause in message


def walk(*points: tuple[float, float, float]) -> list[Footing]:
    return [Footing(t, x, y) for t, x, y in points]


def test_crossings_at_the_midpoint_and_loitering_from_the_dwell() -> None:
    gate = camera_zones(CameraConfig(zones={"gate": GATE}))
    path = walk((0, 0.2, 0.5), (1, 0.4, 0.5), (2, 0.6, 0.5), *((t, 0.7, 0.5) for t in range(3, 40)))
    path += walk((40, 0.45, 0.5), (41, 0.2, 0.5))
    events = [(e.kind, e.start, e.end) for e in zone_events(path, gate, loiter_seconds=30)]
    assert events == [("enter", 1.5, 1.5), ("leave", 39.5, 39.5), ("loiter", 1.5, 39.5)]
    shorter = zone_events(path, gate, loiter_seconds=60)
    assert [e.kind for e in shorter] == ["enter", "leave"]


def test_edge_jitter_needs_confirming_and_video_ends_are_not_crossings() -> None:
    gate = camera_zones(CameraConfig(zones={"gate": GATE}))
    # Feet wobble across the edge for one frame, then the person really steps in.
    path = walk((0, 0.45, 0.5), (0.5, 0.52, 0.5), (1, 0.48, 0.5), (1.5, 0.6, 0.5), (2, 0.7, 0.5))
    jittery = zone_events(path, gate, loiter_seconds=30, video_end=2)
    assert [(e.kind, e.start) for e in jittery] == [
        ("enter", 0.25),
        ("leave", 0.75),
        ("enter", 1.25),
    ]
    steady = zone_events(path, gate, loiter_seconds=30, confirm_seconds=0.6, video_end=2)
    assert [(e.kind, e.start) for e in steady] == [("enter", 1.25)]
    # A track that ends inside before the video does: the person left (out of view).
    assert [e.kind for e in zone_events(path, gate, 30, 0.6)] == ["enter", "leave"]
    # Inside from the video's first frame to its last: no crossing, still loitering.
    there = walk(*((t, 0.7, 0.5) for t in range(0, 40)))
    kept = zone_events(there, gate, loiter_seconds=30, video_start=0, video_end=39)
    assert [(e.kind, e.start, e.end) for e in kept] == [("loiter", 0, 39)]


# -- zones drawn in the index -----------------------------------------------------------
CAM7 = {"cameras": {"cam-7": {"zones": {"gate": GATE}}}}  # the config's [metadata]


def test_index_zones_join_the_config_ones_and_win_a_name_clash(tmp_path: Path) -> None:
    library = Library(tmp_path / "lib", Config(metadata=CAM7))  # type: ignore[arg-type]
    door = library.add_zone("cam-7", "door", "0,0 0.25,0 0.25,0.5")
    assert (door.source, door.overrides_config) == ("index", False)
    kerb = library.add_zone("cam-7", "gate", "0,540 1920,540 1920,1080", resolution="fhd")
    assert kerb.points == ((0, 0.5), (1, 0.5), (1, 1)) and kerb.overrides_config
    library.add_zone("cam-9", "bay", [[0, 0], [1, 0], [1, 1]])  # no footage yet: allowed
    listed = {(z.camera, z.name): (z.source, z.overrides_config) for z in library.zones()}
    assert listed == {
        ("cam-7", "gate"): ("index", True),
        ("cam-7", "door"): ("index", False),
        ("cam-9", "bay"): ("index", False),
    }
    # What ingest hands the people reader: the index's gate, not the config's.
    cameras = library.cameras()
    assert [z.points for z in camera_zones(cameras["cam-7"])] == [kerb.points, door.points]
    assert cameras["cam-9"].timezone == "UTC" and list(cameras["cam-9"].zones) == ["bay"]
    # Registering the camera keeps its zones; removing the index's gate brings the config's back.
    library.add_camera("cam-7", name="Yard", timezone="Europe/Madrid")
    assert list(library.cameras()["cam-7"].zones) == ["gate", "door"]
    restored = library.remove_zone("cam-7", "gate")
    assert restored is not None and restored.source == "config"
    assert restored.points == ((0.5, 0), (1, 0), (1, 1), (0.5, 1))
    with pytest.raises(SceneseekError, match="'gate' of camera 'cam-7' is drawn in the config"):
        library.remove_zone("cam-7", "gate")
    with pytest.raises(KeyError, match="camera 'cam-7' has no zone 'lawn'"):
        library.remove_zone("cam-7", "lawn")
    library.close()
    reopened = Library(tmp_path / "lib")  # kept in the index, without the config
    assert [(z.camera, z.name) for z in reopened.zones()] == [("cam-7", "door"), ("cam-9", "bay")]
    reopened.close()


@pytest.mark.parametrize(
    ("points", "resolution", "cause"),
    [
        ("0.1,0.1 0.5,0.1", None, "zone 'bay': a polygon needs at least 3 vertices, got 2"),
        ("0,0 1.5,0 1,1", None, "vertex (1.5, 0.0) is not in frame fractions"),
        ("0,0 1;0 1,1", None, "'1;0' is not X,Y"),
        ("0,0 1300,0 0,10", "hd", "outside the 1280x720 frame"),
        ("0,0 10,0 0,10", "huge", "'huge' is neither WIDTHxHEIGHT"),
    ],
)
def test_a_bad_zone_is_refused_naming_camera_zone_and_cause(
    tmp_path: Path, points: str, resolution: str | None, cause: str
) -> None:
    library = Library(tmp_path / "lib")
    with pytest.raises(SceneseekError) as error:
        library.add_zone("cam-7", "bay", points, resolution)
    assert str(error.value).startswith("camera 'cam-7': ") and cause in str(error.value)
    assert library.zones() == []
    library.close()


def test_an_index_written_before_zones_gains_their_table_when_opened(tmp_path: Path) -> None:
    library = Library(tmp_path / "lib")
    library.add_camera("cam-7", timezone="Europe/Madrid")
    library.close()
    with sqlite3.connect(database_path(tmp_path / "lib")) as db:  # as format 8 shipped
        db.execute("DROP TABLE camera_zones")
    library = Library(tmp_path / "lib")
    assert library.zones() == [] and library.cameras()["cam-7"].timezone == "Europe/Madrid"
    library.add_zone("cam-7", "gate", GATE)
    assert [z.name for z in library.zones("cam-7")] == ["gate"]
    library.close()


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_cli_adds_lists_and_removes_zones(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    toml = tmp_path / "sceneseek.toml"
    toml.write_text('[metadata.cameras.cam-7]\nzones.gate = "0.5,0 1,0 1,1 0.5,1"\n')
    monkeypatch.setenv("SCENESEEK_CONFIG", str(toml))
    db = str(tmp_path / "lib")
    code, out, err = run(
        "camera", "zone", "add", "cam-7", "door", "0,0 0.25,0 0.25,0.5", "--db", db
    )
    assert code == 0 and "zone 'door' of camera cam-7: 0,0 0.25,0 0.25,0.5" in out
    assert "indexed from now on" in err and "note" not in err  # cam-7 is in the config
    code, out, err = run(
        "camera", "zone", "add", "cam-2", "lawn", "0,360 1280,360 1280,720", "--resolution",
        "720p", "--db", db,
    )  # fmt: skip
    assert code == 0 and "0,0.5 1,0.5 1,1" in out
    assert "camera 'cam-2' has no footage in this index and is not registered" in err
    code, out, _ = run("camera", "zone", "add", "cam-7", "gate", "0,0 1,0 0,1", "--db", db)
    assert code == 0 and "over the config's zone of that name" in out

    code, out, _ = run("camera", "zone", "list", "cam-7", "--json", "--db", db)
    listed = json.loads(out)["zones"]
    assert [(z["name"], z["source"], z["overrides_config"]) for z in listed] == [
        ("gate", "index", True),
        ("door", "index", False),
    ]
    assert listed[1]["points"] == [[0, 0], [0.25, 0], [0.25, 0.5]]
    code, out, _ = run("camera", "zone", "list", "--db", db)
    rows = [line for line in out.splitlines() if "cam-" in line]
    assert len(rows) == 3 and "index, over config" in rows[0] and "lawn" in rows[2]
    assert (
        run("camera", "zone", "list", "cam-5", "--db", db)[1] == "no zones drawn on camera cam-5\n"
    )
    code, out, _ = run("camera", "list", "--db", db)
    assert "gate, door" in out

    code, out, _ = run("camera", "zone", "remove", "cam-7", "gate", "--db", db)
    assert code == 0 and "the config's zone 'gate' applies again" in out
    code, _, err = run("camera", "zone", "remove", "cam-7", "gate", "--db", db)
    assert code == 1 and "drawn in the config file" in err
    code, _, err = run("camera", "zone", "remove", "cam-2", "kerb", "--db", db)
    assert code == 1 and "camera 'cam-2' has no zone 'kerb'" in err
    for points, extra, cause in [
        ("0,0 1,1", [], "at least 3 vertices, got 2"),
        ("0,0 2,0 1,1", [], "is not in frame fractions 0..1 (pixels need a resolution)"),
        ("0,0 10,0 0,10", ["--resolution", "8k"], "'8k' is neither WIDTHxHEIGHT"),
        ("0,0 10,0 0,800", ["--resolution", "1280x720"], "outside the 1280x720 frame"),
    ]:
        code, _, err = run("camera", "zone", "add", "cam-7", "bay", points, *extra, "--db", db)
        assert code == 1 and "camera 'cam-7': zone 'bay': " in err and cause in err, err


# -- the HTTP API -----------------------------------------------------------------------
@pytest.fixture(scope="module")
def zone_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, str, str]]:
    """An API with keys over an index holding one 2-second video of camera cam-7; yields
    the client, a read key and an admin key."""
    root = tmp_path_factory.mktemp("zones-api")
    clip = root / "cam7.mp4"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc=size=320x180:rate=10:d=2"]
        + ["-pix_fmt", "yuv420p", str(clip)],
        check=True,
    )
    config = Config(modalities=["attributes"], metadata=CAM7)  # type: ignore[arg-type]
    library = Library(root / "lib", config)
    assert library.index([clip], camera="cam-7").indexed
    keys = KeyStore(root / "lib")
    read, admin = keys.add("read", "viewer"), keys.add("admin", "operator")
    with TestClient(create_app(library, ApiSettings(keys=keys))) as client:
        yield client, read, admin
    keys.close()
    library.close()


def test_api_draws_lists_and_removes_zones_with_admin_keys_only(
    zone_api: tuple[TestClient, str, str],
) -> None:
    client, read, admin = zone_api
    as_reader, as_admin = {"X-API-Key": read}, {"X-API-Key": admin}
    url = "/api/cameras/cam-7/zones"
    shown = client.get(url, headers=as_reader).json()
    assert [(z["name"], z["source"]) for z in shown["zones"]] == [("gate", "config")]
    frame = client.get(shown["frame_url"], headers=as_reader)  # the camera's picture
    assert frame.status_code == 200 and frame.headers["content-type"] == "image/jpeg"

    body = {"points": [[0, 0], [0.5, 0], [0.5, 0.5]]}
    assert client.get(url).status_code == 401
    assert client.put(f"{url}/door", json=body, headers=as_reader).status_code == 403
    assert client.delete(f"{url}/gate", headers=as_reader).status_code == 403
    saved = client.put(f"{url}/door", json=body, headers=as_admin)
    assert saved.status_code == 200, saved.text
    assert saved.json() == {
        "camera": "cam-7",
        "name": "door",
        "points": [[0, 0], [0.5, 0], [0.5, 0.5]],
        "source": "index",
        "overrides_config": False,
    }
    pixels = {"points": "0,0 160,0 160,90", "resolution": "320x180"}
    over = client.put(f"{url}/gate", json=pixels, headers=as_admin).json()
    assert over["points"] == [[0, 0], [0.5, 0], [0.5, 0.5]] and over["overrides_config"]
    bad = client.put(f"{url}/bay", json={"points": "0,0 1,1"}, headers=as_admin)
    assert bad.status_code == 400 and "zone 'bay': a polygon needs at least 3" in bad.text
    listed = client.get(url, headers=as_reader).json()["zones"]
    assert [(z["name"], z["source"]) for z in listed] == [("gate", "index"), ("door", "index")]
    cameras = client.get("/api/cameras", headers=as_reader).json()
    assert cameras["cam-7"]["zones"]["door"]["points"] == [[0, 0], [0.5, 0], [0.5, 0.5]]

    assert client.delete(f"{url}/door", headers=as_admin).status_code == 204
    assert client.delete(f"{url}/door", headers=as_admin).status_code == 404
    assert client.delete(f"{url}/gate", headers=as_admin).status_code == 204  # the index's
    config_only = client.delete(f"{url}/gate", headers=as_admin)
    assert config_only.status_code == 409 and "config file" in config_only.text
    elsewhere = client.get("/api/cameras/cam-3/zones", headers=as_reader).json()
    assert elsewhere == {"camera": "cam-3", "zones": [], "frame_url": None}  # no footage yet
