"""A CLI that answers at once (issue 16): `--help` and argument errors load nothing heavy,
and `search` lets a `serve` running on the same index answer (sceneseek.local_server),
printing what it would have printed itself, and searches itself when that server is gone,
stale, foreign or configured otherwise."""

from __future__ import annotations

import importlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from sceneseek.eval.assets import AssetCache
from sceneseek.index.keys import KeyStore
from sceneseek.local_server import (
    ANNOUNCEMENT,
    SEARCH_PATH,
    TOKEN_HEADER,
    Announcement,
    announce,
    read_announcement,
    withdraw,
)

ROOT = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
# What neither the help nor a mistyped option may load: the config (pydantic-settings),
# the index (numpy, faiss), the models and the server.
HEAVY = (
    "numpy",
    "faiss",
    "torch",
    "onnxruntime",
    "ctranslate2",
    "av",
    "cv2",
    "pydantic_settings",
    "fastapi",
    "sceneseek.config",
    "sceneseek.library",
)
# Runs the CLI in a fresh interpreter and reports the exit status and the heavy modules
# loaded by then.
PROBE = """
import json, sys
from typer.testing import CliRunner
from sceneseek.cli import app
result = CliRunner().invoke(app, sys.argv[1:])
heavy = sorted(m for m in {heavy!r} if m in sys.modules)
print(json.dumps({{"exit": result.exit_code, "heavy": heavy, "output": result.output}}))
"""


def probed(args: list[str], heavy: tuple[str, ...]) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(heavy=heavy), *args],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=300,
        check=True,
    )
    return dict(json.loads(done.stdout))


@pytest.mark.parametrize(
    ("args", "exit_code"),
    [
        (["--help"], 0),
        (["search", "--help"], 0),
        (["alert", "add", "--help"], 0),
        (["search"], 2),  # no --db
        (["serach", "--db", "x"], 2),  # no such command
        (["search", "--db", "x", "--top-k", "many", "q"], 2),
        (["--log-format", "xml", "info", "--db", "x"], 1),
    ],
)
def test_help_and_argument_errors_load_nothing_heavy(args: list[str], exit_code: int) -> None:
    probe = probed(args, HEAVY)
    assert probe["exit"] == exit_code, probe["output"]
    assert probe["heavy"] == [], f"{args} loaded {probe['heavy']}"


# What a text search needs none of: decoding (PyAV, PIL, OpenCV), the frame, speech and
# sound models, torch, and faiss (an index this small is searched exactly). It does make
# every configured encoder, to compare their versions with the index's, but none loads.
NOT_FOR_TEXT = (
    "av",
    "cv2",
    "PIL",
    "torch",
    "onnxruntime",
    "ctranslate2",
    "faster_whisper",
    "tesserocr",
    "faiss",
)


def test_a_text_search_loads_no_decoder_frame_model_or_faiss(indexed_copy: Path) -> None:
    probe = probed(
        ["search", "--db", str(indexed_copy), "a cat", "--top-k", "3", "--json"], NOT_FOR_TEXT
    )
    assert probe["exit"] == 0, probe["output"]
    assert json.loads(probe["output"])["results"]  # it did search, every modality's version checked
    assert probe["heavy"] == [], f"a text search loaded {probe['heavy']}"


# Runs the program as the `sceneseek` script does, then says whether the collector is on
# and whether the objects were left frozen for the exit.
PROGRAM = """
import gc, sys
from sceneseek.cli import app
try:
    app(sys.argv[1:])
except SystemExit as exit:
    assert not exit.code, exit.code
print(gc.isenabled(), gc.get_freeze_count() > 0)
"""


@pytest.mark.parametrize(
    ("command", "collector"), [("search", "False True"), ("info", "True False")]
)
def test_only_a_one_shot_command_runs_without_the_collector(
    indexed_copy: Path, command: str, collector: str
) -> None:
    args = [command, "--db", str(indexed_copy)] + (
        ["a cat", "--json"] if command == "search" else []
    )
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM, *args],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=300,
        check=True,
    )
    assert done.stdout.splitlines()[-1] == collector


def test_package_loads_config_and_library_on_first_use() -> None:
    code = (
        "import sys, sceneseek, os; before = 'sceneseek.library' in sys.modules; "
        "from sceneseek import Config, Library; "
        "print(before, Library.__module__, Config.__module__, os.environ['OMP_WAIT_POLICY'])"
    )
    env = {k: v for k, v in ENV.items() if k != "OMP_WAIT_POLICY"}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert done.stdout.split() == ["False", "sceneseek.library", "sceneseek.config", "PASSIVE"]


# -- encoders imported when created -------------------------------------------------------
# In a fresh interpreter: make the readers a search makes for their versions, then report
# their versions, which encoder modules got imported, and whether OpenCV did.
READERS = """
import json, sys
from sceneseek.encoders import frame_readers
made = [frame_readers.create(name) for name in ("people-hog", "attributes-pixels")]
loaded = sorted(m for m in sys.modules if m.startswith("sceneseek.encoders."))
opencv = "cv2" in sys.modules
import cv2
print(json.dumps({"versions": [r.info.version for r in made], "loaded": loaded,
                  "opencv": opencv, "cv2": cv2.__version__}))
"""


def test_creating_an_encoder_imports_its_module_only() -> None:
    done = subprocess.run(
        [sys.executable, "-c", READERS], capture_output=True, text=True, env=ENV, check=True
    )
    probe = json.loads(done.stdout)
    assert probe["loaded"] == [
        "sceneseek.encoders.attributes",
        "sceneseek.encoders.base",
        "sceneseek.encoders.people",
        "sceneseek.encoders.tracks",  # the people reader's structured tracks and events
        "sceneseek.encoders.zones",  # the people reader's zone events
    ]
    assert not probe["opencv"]  # the version was read without importing OpenCV ...
    cv = probe["cv2"]  # ... and is the one it reports
    assert probe["versions"] == [f"4-cv{cv}", f"1-cv{cv}"]


def test_every_encoder_module_registers_the_names_declared_for_it() -> None:
    """The registries name each built-in encoder with its module before importing any;
    a name its module does not register (or registers undeclared) would fail here."""
    from sceneseek.encoders import base

    registries = [
        base.text_encoders,
        base.visual_encoders,
        base.speech_encoders,
        base.audio_taggers,
        base.frame_readers,
    ]
    declared = {r.kind: r.names() for r in registries}
    package = Path(base.__file__).parent
    for module in sorted(package.glob("*.py")):
        importlib.import_module(f"sceneseek.encoders.{module.stem}")
    for registry in registries:
        assert registry.names() == declared[registry.kind]  # nothing registered undeclared
        assert sorted(registry._factories) == declared[registry.kind], registry.kind
    with pytest.raises(KeyError, match="unknown frame reader 'ocr-nope'; registered: attri"):
        base.frame_readers.create("ocr-nope")


# -- the announcement a search trusts ----------------------------------------------------
def test_announcement_is_private_and_withdrawn(tmp_path: Path) -> None:
    announcement = announce(tmp_path, "0.0.0.0", 8123)
    assert announcement is not None and announcement.host == "127.0.0.1"
    assert (tmp_path / ANNOUNCEMENT).stat().st_mode & 0o777 == 0o600
    assert read_announcement(tmp_path) == announcement
    withdraw(tmp_path, announcement)
    assert not (tmp_path / ANNOUNCEMENT).exists()
    assert announce(tmp_path, "192.0.2.7", 8123) is None  # loopback cannot reach it
    assert not (tmp_path / ANNOUNCEMENT).exists()


def write_announcement(directory: Path, mode: int = 0o600, **fields: Any) -> None:
    values = {"pid": os.getpid(), "host": "127.0.0.1", "port": 9, "db": str(directory.resolve())}
    path = directory / ANNOUNCEMENT
    path.write_text(json.dumps({**values, "token": "t", **fields}))
    path.chmod(mode)


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


@pytest.mark.parametrize(
    "stale_or_foreign",
    [
        {"mode": 0o644},  # others could read the token, or wrote it
        {"db": "/somewhere/else"},  # the index directory was copied with the file in it
        {"host": "192.0.2.7"},  # not loopback
        {"pid": "dead"},  # that server is gone
        {"token": None, "extra": 1},  # not what a server writes
    ],
)
def test_a_stale_or_foreign_announcement_is_not_trusted(
    tmp_path: Path, stale_or_foreign: dict[str, Any]
) -> None:
    write_announcement(tmp_path)
    assert isinstance(read_announcement(tmp_path), Announcement)
    if stale_or_foreign.get("pid") == "dead":
        stale_or_foreign = {"pid": dead_pid()}
    write_announcement(tmp_path, **stale_or_foreign)
    assert read_announcement(tmp_path) is None
    (tmp_path / ANNOUNCEMENT).write_text("{")
    assert read_announcement(tmp_path) is None


# -- search through a running serve ------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cli_search(db: Path, *args: str) -> tuple[dict[str, Any], bool]:
    """The --json answer without its timing, and whether a server gave it."""
    done = subprocess.run(
        [sys.executable, "-m", "sceneseek.cli", "--log-level", "debug", "search", "--db", str(db)]
        + [*args, "--json"],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    answer.pop("took_ms")
    return answer, "answered by serve" in done.stderr


def test_search_through_serve_prints_the_same_and_falls_back(indexed_copy: Path) -> None:
    db = indexed_copy
    query = ("a cat", "--top-k", "3")
    alone, served = cli_search(db, *query)
    assert not served and alone["results"]
    picture = ("--image", str(AssetCache().skimage_images()["chelsea"].path), "--top-k", "3")
    alone_by_picture, _ = cli_search(db, *picture)
    keys = KeyStore(db)
    keys.add("admin", "operator")  # the local token must work even when keys exist
    keys.close()
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "sceneseek.cli", "serve", "--db", str(db), "--port", str(port)],
        env=ENV,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{base}/api/health", timeout=5).status_code == 401:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None and time.monotonic() < deadline
            time.sleep(0.2)
        announcement = read_announcement(db)
        assert announcement is not None and announcement.pid == server.pid

        assert cli_search(db, *query) == (alone, True)
        assert cli_search(db, *picture) == (alone_by_picture, True)

        # Only with the token; and a command with other settings is sent back.
        url = base + SEARCH_PATH
        asked = {"db": str(db.resolve()), "config": "other settings", "query": "a cat"}
        assert httpx.post(url, json=asked, timeout=30).status_code == 403
        wrong = {TOKEN_HEADER: announcement.token[:-1]}
        assert httpx.post(url, json=asked, headers=wrong, timeout=30).status_code == 403
        right = {TOKEN_HEADER: announcement.token}
        assert httpx.post(url, json=asked, headers=right, timeout=30).status_code == 412
        bad_picture = {**asked, "image": "not base64!"}
        assert httpx.post(url, json=bad_picture, headers=right, timeout=30).status_code == 422
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
    assert not (db / ANNOUNCEMENT).exists()  # withdrawn on a clean stop
    # A server killed without notice leaves its file behind: searched here all the same.
    write_announcement(db, pid=server.pid, port=port, token=announcement.token)
    assert cli_search(db, *query) == (alone, False)
