"""A damaged ``index.sqlite`` (issue 15): truncated, garbage over its schema page, not a
database at all, another program's database. Every command that reads the index says
in one line which file is damaged and what to do (``check --repair``, a snapshot)
instead of a traceback, the API answers 503 with the same line, and ``check`` reports
it; and processes creating one new index at once never see it half made. Synthetic
vectors in a real embedded index, no models: about 15 s, most of it six processes
importing the index module at once."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from sceneseek import Library
from sceneseek.api import ApiSettings, create_app
from sceneseek.cli import app
from sceneseek.index.base import SegmentRecord, VideoRecord
from sceneseek.index.store import EmbeddedIndex


def truncate(database: Path) -> None:
    with open(database, "r+b") as handle:
        handle.truncate(database.stat().st_size // 2)


def overwrite_schema_page(database: Path) -> None:
    with open(database, "r+b") as handle:
        handle.seek(100)  # past the 100-byte file header: the schema's b-tree page
        handle.write(np.random.default_rng(0).bytes(8000))


def replace_with_text(database: Path) -> None:
    database.write_text("these are not the bytes of a database\n" * 200)


def replace_with_other_database(database: Path) -> None:
    database.unlink()
    with sqlite3.connect(database) as other:
        other.execute("CREATE TABLE people (name TEXT)")


DAMAGE: dict[str, Callable[[Path], None]] = {
    "truncated": truncate,
    "garbage": overwrite_schema_page,
    "not a database": replace_with_text,
    "another program's": replace_with_other_database,
}
COMMANDS = [["search", "a cat"], ["info"], ["stats"], ["key", "list"], ["alert", "list"]]


@pytest.fixture(scope="module")
def good(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An index of 10 videos × 30 segments with random unit vectors."""
    directory = tmp_path_factory.mktemp("good") / "lib"
    index = EmbeddedIndex(directory)
    rng = np.random.default_rng(1)
    for number in range(10):
        vectors = rng.standard_normal((30, 384)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        segments = [
            SegmentRecord(start=j, end=j + 1, vectors={"visual": v}) for j, v in enumerate(vectors)
        ]
        index.replace_video(VideoRecord(f"v{number}.mp4", "hash", 30.0), segments)
    index.close()
    return directory


@pytest.fixture(params=list(DAMAGE))
def damaged(good: Path, tmp_path: Path, request: pytest.FixtureRequest) -> Path:
    directory = Path(shutil.copytree(good, tmp_path / "lib"))
    DAMAGE[request.param](directory / "index.sqlite")
    return directory


def assert_names_the_damage(text: str, directory: Path) -> None:
    assert f"{directory / 'index.sqlite'}: the index database is damaged (" in text, text
    assert "sceneseek check --repair" in text and "sceneseek snapshot import" in text, text


def test_cli_commands_say_the_index_is_damaged_in_one_line(damaged: Path) -> None:
    for command in COMMANDS:
        result = CliRunner().invoke(app, [*command, "--db", str(damaged)])
        assert result.exit_code == 1 and isinstance(result.exception, SystemExit), (
            command,
            result.output,
        )
        [line] = result.output.strip().splitlines()
        assert line.startswith("error: "), command
        assert_names_the_damage(line, damaged)


def test_api_answers_503_naming_the_damaged_file(damaged: Path) -> None:
    library = Library(damaged)
    with TestClient(create_app(library, ApiSettings(static_dir=None))) as client:
        for url in ("/api/search?q=a+cat", "/api/health", "/api/videos", "/api/alerts"):
            response = client.get(url)
            assert response.status_code == 503, (url, response.text)
            assert_names_the_damage(response.json()["detail"], damaged)
    library.close()


def test_check_reports_what_cannot_be_repaired(damaged: Path) -> None:
    result = CliRunner().invoke(app, ["check", "--repair", "--db", str(damaged)])
    assert result.exit_code == 1 and "INCONSISTENT" in result.output, result.output
    assert "cannot repair:" in result.output and "snapshot" in result.output


def test_a_damaged_page_read_after_the_open_is_reported_too(good: Path, tmp_path: Path) -> None:
    # The open reads only the schema: a damaged table page surfaces on first use (`info`
    # lists the failures table).
    directory = Path(shutil.copytree(good, tmp_path / "lib"))
    database = directory / "index.sqlite"
    with sqlite3.connect(database) as db:
        (root,) = db.execute(
            "SELECT rootpage FROM sqlite_master WHERE name = 'failures'"
        ).fetchone()
        page_size = db.execute("PRAGMA page_size").fetchone()[0]
    with open(database, "r+b") as handle:
        handle.seek((root - 1) * page_size)
        handle.write(b"\xff" * page_size)
    assert os.path.getsize(database) > root * page_size
    result = CliRunner().invoke(app, ["info", "--db", str(directory)])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert_names_the_damage(result.output, directory)


def test_processes_creating_one_new_index_at_once_never_see_it_half_made(tmp_path: Path) -> None:
    # `watch` and `serve` started together on a new --db: before, the slower ones found
    # some tables and no version ("index format unversioned") or "table meta already exists".
    code = (
        "import sys; from pathlib import Path; from sceneseek.index.store import EmbeddedIndex;"
        " EmbeddedIndex(Path(sys.argv[1])).close()"
    )
    directory = tmp_path / "new"
    started = [
        subprocess.Popen([sys.executable, "-c", code, str(directory)], stderr=subprocess.PIPE)
        for _ in range(6)
    ]
    errors = [p.communicate(timeout=120)[1].decode()[-500:] for p in started]
    assert [p.returncode for p in started] == [0] * 6, errors
