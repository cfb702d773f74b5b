"""What API ingest may read and what the server may serve: --ingest-root against links
planted inside it, media identity against files replaced after indexing, odd paths
answered with 400s, a folder deeper than PATH_MAX that must not stop anything (job
queue, CLI `index`, `watch --folder`), and cancelling jobs.

Real files, links and a real index (visual only, to keep it fast: ~40 s in all)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from sceneseek import Config, Library
from sceneseek.api import ApiSettings, create_app
from sceneseek.cli import app as cli
from sceneseek.eval.samples import SampleSet
from sceneseek.live.watch import watch_folder

VISUAL = Config(modalities=["visual"])
PATH_MAX = os.pathconf("/", "PC_PATH_MAX")


@dataclass
class Server:
    client: TestClient
    library: Library
    root: Path  # the only folder API ingest may read
    outside: Path  # a folder beside it, holding a real video


@pytest.fixture(scope="module")
def server(samples: SampleSet, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    base = tmp_path_factory.mktemp("confine")
    root, outside = base / "footage", base / "private"
    root.mkdir()
    outside.mkdir()
    shutil.copy(samples.photos, outside / "secret.mp4")
    library = Library(base / "lib", VISUAL)
    settings = ApiSettings(ingest_roots=(root,), static_dir=None)
    with TestClient(create_app(library, settings)) as client:
        yield Server(client, library, root, outside)
    library.close()


def finished(client: TestClient, job_id: int, timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while (job := client.get(f"/api/ingest/{job_id}").json())["status"] in ("queued", "running"):
        assert time.monotonic() < deadline, job
        time.sleep(0.05)
    return job  # type: ignore[no-any-return]


def ingest(server: Server, *paths: Path | str) -> dict[str, Any]:
    queued = server.client.post("/api/ingest", json={"paths": [str(p) for p in paths]})
    assert queued.status_code == 202, queued.text
    return finished(server.client, queued.json()["id"])


def deep_folder(parent: Path) -> Path:
    """A folder whose deepest path is longer than PATH_MAX (built one level at a time
    from a descriptor, as no single path could name it), with a video at the bottom."""
    top = parent / "deep"
    top.mkdir()
    fd = os.open(top, os.O_RDONLY)
    depth = 0
    try:
        while depth * 201 < PATH_MAX + 400:
            os.mkdir("d" * 200, dir_fd=fd)
            child = os.open("d" * 200, os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd, depth = child, depth + 1
        with open(os.open("lost.mp4", os.O_WRONLY | os.O_CREAT, dir_fd=fd), "wb") as out:
            out.write(b"never reached")
    finally:
        os.close(fd)
    return top


def test_a_link_inside_the_root_to_a_file_outside_is_refused_per_file(
    server: Server, samples: SampleSet
) -> None:
    folder = server.root / "links"
    folder.mkdir()
    shutil.copy(samples.silent, folder / "street.mp4")
    (folder / "innocent.mp4").symlink_to(server.outside / "secret.mp4")
    (folder / "more").symlink_to(server.outside, target_is_directory=True)
    job = ingest(server, folder)
    assert job["status"] == "done", job
    assert job["indexed"] == [str((folder / "street.mp4").resolve())]
    assert [e["path"] for e in job["errors"]] == [str(folder / "innocent.mp4")]
    assert "outside the folders" in job["errors"][0]["cause"]
    indexed = {v.path for v in server.library.videos()}
    assert not any(path.startswith(str(server.outside)) for path in indexed), indexed
    # Named directly, the link is refused before a job exists.
    refused = server.client.post("/api/ingest", json={"paths": [str(folder / "innocent.mp4")]})
    assert refused.status_code == 400 and "outside" in refused.json()["detail"]


def test_a_file_replaced_after_indexing_is_not_served(server: Server, samples: SampleSet) -> None:
    video = server.root / "replaced.mp4"
    shutil.copy(samples.silent, video)
    assert ingest(server, video)["indexed"] == [str(video.resolve())]
    video_id = next(v.id for v in server.library.videos() if v.path == str(video.resolve()))
    media = f"/api/videos/{video_id}/media"
    segment_id = next(
        s.id for s in server.library.index_store.all_segments() if s.video_id == video_id
    )
    urls = [media, f"/api/segments/{segment_id}/thumbnail.jpg"]
    urls.append(f"/api/clip?video_id={video_id}&start=0&end=1")
    original = video.read_bytes()
    assert server.client.get(media).content == original
    secret = (server.outside / "secret.mp4").read_bytes()

    def swap_for_hard_link() -> None:
        os.link(server.outside / "secret.mp4", video)

    def swap_for_copy() -> None:
        shutil.copy(server.outside / "secret.mp4", video)

    for swap in (swap_for_hard_link, swap_for_copy):
        video.unlink()
        swap()
        for url in urls:
            refused = server.client.get(url)
            assert refused.status_code == 404, (swap.__name__, url, refused.status_code)
            assert "not the one that was indexed" in refused.json()["detail"]
            assert secret[:4096] not in refused.content
    # Rewritten in place (same inode), with its old mtime put back: ctime still tells.
    stat = video.stat()
    video.write_bytes(original)
    assert server.client.get(media).status_code == 200
    with video.open("r+b") as handle:
        handle.seek(len(original) // 2)
        handle.write(b"\0" * 4096)
    os.utime(video, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert server.client.get(media).status_code == 404
    video.write_bytes(original)
    assert server.client.get(media).content == original


@pytest.mark.parametrize(
    ("path", "words"),
    [
        ("/tmp/" + "x" * 100_000, "longer than"),
        ("\udcff", "no such file or folder: \\xff"),  # the byte 0xff, as os.fsencode reads it
        ("/tmp/\ud800.mp4", "lone surrogate"),
        ("~nosuchuser/x", "no user 'nosuchuser'"),
        ("/tmp/a\x00b", "NUL"),
        ("   ", "empty"),
        ("/tmp/" + "y" * 300 + "/z.mp4", "no such file"),  # a name over NAME_MAX
    ],
)
def test_odd_paths_are_refused_with_a_400(server: Server, path: str, words: str) -> None:
    body = json.dumps({"paths": [path]})  # ASCII JSON: "\\udcff" as a client would send it
    response = server.client.post(
        "/api/ingest", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400, response.text
    detail = response.json()["detail"]
    assert words in detail and len(detail) < 1000, detail


def test_a_folder_deeper_than_path_max_fails_nothing_else(
    server: Server, samples: SampleSet
) -> None:
    folder = server.root / "nested"
    folder.mkdir()
    deep_folder(folder)
    shutil.copy(samples.silent, folder / "beside.mp4")
    after = server.root / "after.mp4"
    shutil.copy(samples.silent, after)
    first = server.client.post("/api/ingest", json={"paths": [str(folder)]}).json()
    second = server.client.post("/api/ingest", json={"paths": [str(after)]}).json()
    job = finished(server.client, first["id"])
    assert job["status"] == "done", job
    assert job["indexed"] == [str((folder / "beside.mp4").resolve())]
    assert any("too long" in e["cause"] for e in job["errors"]), job["errors"]
    assert finished(server.client, second["id"])["indexed"] == [str(after.resolve())]
    assert server.client.get("/api/health").json()["ingest_busy"] is False


def test_cli_index_reports_the_deep_folder_and_indexes_the_rest(
    samples: SampleSet, tmp_path: Path
) -> None:
    folder = tmp_path / "footage"
    folder.mkdir()
    deep_folder(folder)
    shutil.copy(samples.silent, folder / "beside.mp4")
    db = tmp_path / "lib"
    result = CliRunner().invoke(
        cli, ["index", "--db", str(db), "--modalities", "visual", str(folder)]
    )
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "File name too long" in result.output and "indexed 1" in result.output
    library = Library(db, VISUAL)
    try:
        assert [Path(v.path).name for v in library.videos()] == ["beside.mp4"]
    finally:
        library.close()


def test_watch_folder_goes_on_past_a_deep_folder(samples: SampleSet, tmp_path: Path) -> None:
    folder = tmp_path / "incoming"
    folder.mkdir()
    deep_folder(folder)
    library = Library(tmp_path / "lib", VISUAL)
    stop = threading.Event()
    report: list[Any] = []
    watcher = threading.Thread(
        target=lambda: report.append(
            watch_folder(library, folder, settle_seconds=0.2, poll_seconds=0.1, stop=stop)
        )
    )
    watcher.start()
    try:
        time.sleep(0.5)
        shutil.copy(samples.silent, folder / "arrived.mp4")
        deadline = time.monotonic() + 90
        while not any(v.path.endswith("arrived.mp4") for v in library.videos()):
            assert watcher.is_alive(), "the watcher stopped"
            assert time.monotonic() < deadline
            time.sleep(0.2)
    finally:
        stop.set()
        watcher.join(30)
        library.close()
    assert any("too long" in cause for _, cause in report[0].failed)


def test_jobs_can_be_cancelled_queued_or_between_files(server: Server, samples: SampleSet) -> None:
    batch = server.root / "batch"
    batch.mkdir()
    for n in range(4):
        shutil.copy(samples.silent, batch / f"part{n}.mp4")
    waiting = server.root / "waiting.mp4"
    shutil.copy(samples.silent, waiting)
    post = server.client.post
    running = post("/api/ingest", json={"paths": [str(batch)]}).json()
    queued = post("/api/ingest", json={"paths": [str(waiting)]}).json()
    cancelled = post(f"/api/ingest/{queued['id']}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    deadline = time.monotonic() + 60
    while server.client.get(f"/api/ingest/{running['id']}").json()["status"] == "queued":
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert post(f"/api/ingest/{running['id']}/cancel").status_code == 200
    job = finished(server.client, running["id"])
    assert job["status"] == "cancelled" and job["finished"], job
    assert len(job["indexed"]) < 4, job
    assert finished(server.client, queued["id"])["status"] == "cancelled"
    assert not any(v.path == str(waiting.resolve()) for v in server.library.videos())
    assert server.client.get("/api/health").json()["ingest_busy"] is False
    assert post("/api/ingest/999999/cancel").status_code == 404
    # The queue goes on after cancelled jobs.
    assert ingest(server, waiting)["indexed"] == [str(waiting.resolve())]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_serve_confines_ingest_to_its_folder_by_default(samples: SampleSet, tmp_path: Path) -> None:
    """Without --ingest-root an admin cannot make the server crawl the disk from /."""
    home = tmp_path / "here"
    home.mkdir()
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)}
    command = [sys.executable, "-m", "sceneseek.cli", "serve", "--db", str(tmp_path / "lib")]
    server = subprocess.Popen(
        [*command, "--port", str(port)],
        cwd=home,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}/api/ingest"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                refused = httpx.post(url, json={"paths": ["/"]}, timeout=5)
                break
            except httpx.TransportError:
                assert server.poll() is None and time.monotonic() < deadline
                time.sleep(0.2)
        assert refused.status_code == 400 and "outside" in refused.json()["detail"]
        assert str(home) in refused.json()["detail"]
        outside = httpx.post(url, json={"paths": [str(samples.silent)]}, timeout=5)
        assert outside.status_code == 400
    finally:
        server.terminate()
        _, stderr = server.communicate(timeout=30)
    assert f"ingest from: {home}" in stderr
