"""Malformed input, end to end: a corpus of bad and awkward media files indexed as one
batch (real ffmpeg-made files, real decoders, real models), then malformed queries and
filters through the Python API and the HTTP API. Every bad input gets a clear error
naming it (or is handled), the batch goes on, and the server never answers 500.
About 60 s, most of it the batch (visual and speech models on ~20 small files).
"""

from __future__ import annotations

import io
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from bad_media import Case, build_corpus, pattern_video  # noqa: I001  (tests/ is on sys.path)
from fastapi.testclient import TestClient
from PIL import Image

from sceneseek import Config, Library
from sceneseek.errors import MediaError, QueryError
from sceneseek.ingest import display_path
from sceneseek.library import IndexReport
from sceneseek.media.decode import MAX_ASPECT, MediaInfo, _size, content_hash, probe

MODALITIES = ["visual", "speech"]
HUGE_ID = 2**70  # beyond SQLite's 64-bit integers


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[Case], Path]:
    root = tmp_path_factory.mktemp("bad-media")
    cases, side = build_corpus(root)
    unreadable = root / "batch" / "unreadable.mp4"
    shutil.copy(side / "good.mp4", unreadable)
    unreadable.chmod(0)
    # Root reads any file whatever its mode; the unprivileged case has its own test.
    outcome = "index" if os.geteuid() == 0 else "fail"
    cases.append(Case("chmod 000", unreadable, outcome, ("permission denied",)))
    shutil.copy(side / "good.mp4", root / "batch" / "zz-removed-during-the-batch.mp4")
    removed = Case("removed during the batch", root / "batch" / "zz-removed-during-the-batch.mp4",
                   "fail", ("not found",))  # fmt: skip
    cases.append(removed)
    (root / "batch" / "loop-dir").symlink_to(root / "batch")  # a folder walk must not recurse
    return cases, side


def test_a_batch_of_bad_files(corpus: tuple[list[Case], Path], tmp_path: Path) -> None:
    cases, side = corpus
    batch = cases[0].path.parent
    assert len(cases) >= 30
    library = Library(tmp_path / "lib", Config(modalities=MODALITIES))
    try:
        earlier = library.index([side / "good.mp4"])
        assert len(earlier.indexed) == 1
        before = library.index_store.all_segments()

        def remove_one(path: str, status: str) -> None:  # once the batch is under way
            (batch / "zz-removed-during-the-batch.mp4").unlink(missing_ok=True)

        extra = [c.path for c in cases if c.path.suffix == ".y4m"]  # not a video extension
        report = library.index([batch, *extra], progress=remove_one)
        failed = dict(report.failed)
        for case in cases:
            key = display_path(case.path)
            if case.outcome == "index" or (case.outcome == "either" and key not in failed):
                assert key in {*report.indexed, *report.unchanged}, (
                    f"{case.name}: {failed.get(key)}"
                )
                continue
            assert key in failed, f"{case.name} should have failed"
            cause = failed[key]
            assert not cause.startswith(("AttributeError", "TypeError", "KeyError")), cause
            if case.words:
                assert any(w.lower() in cause.lower() for w in case.words), (case.name, cause)
        every = [*failed, *report.indexed, *report.unchanged]  # each file once, none missed
        assert sorted(every) == sorted({display_path(c.path) for c in cases})
        assert dict(library.index_store.failures()) == failed
        assert library.index_store.all_segments()[: len(before)] == before  # nothing lost
        videos = {v.path: v for v in library.videos()}
        sparse = videos[display_path(batch / "six-hours-sparse.mp4")]
        max_seconds = library.config.segment.max_seconds
        assert sparse.segments <= sparse.duration / max_seconds * 1.01 + 1  # bounded work
        offset = videos[display_path(batch / "starts-at-one-hour.mp4")]
        assert all(
            0 <= s.keyframe <= offset.duration
            for s in library.index_store.all_segments()
            if s.video_id == offset.id
        )  # times count from the file's start, not from its first timestamp
        assert library.check().problems == []
    finally:
        library.close()


def test_analysis_frames_stay_small_for_extreme_shapes() -> None:
    for width, height in ((4000, 16), (16, 4000), (16000, 2), (8000, 8000)):
        info = MediaInfo(Path("x.mp4"), 1.0, 10.0, width, height, False)
        w, h = _size(info, 256)
        assert min(w, h) <= 256 and max(w, h) <= MAX_ASPECT * 256


def test_cli_names_each_bad_file(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    pattern_video(folder / "fine\nwith newline ñ.mp4", "-c:v", "libx264", "-an", seconds=1.0)
    (folder / "empty.mp4").write_bytes(b"")
    (folder / "dangling.mp4").symlink_to(tmp_path / "nowhere.mp4")
    with open(os.fsencode(folder) + b"/caf\xe9.mp4", "wb") as handle:
        handle.write(b"\x00" * 100)
    done = subprocess.run(
        [sys.executable, "-m", "sceneseek.cli", "index", str(folder), "--db", str(tmp_path / "db")]
        + ["--modalities", "visual"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 1 and "indexed 1" in done.stdout and "failed 3" in done.stdout
    assert f"{folder / 'empty.mp4'}: file is empty" in done.stderr
    assert f"{folder / 'dangling.mp4'}: broken symbolic link" in done.stderr
    assert f"{folder}/caf\\xe9.mp4: the file name is not valid UTF-8" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="covered by the batch when not root")
def test_unreadable_file_for_an_unprivileged_user(corpus: tuple[list[Case], Path]) -> None:
    """Root reads anything, so the checks ingest makes run in a child that became
    nobody (uid 65534): forked, since the interpreter lives where nobody cannot read."""
    _, side = corpus
    folder = Path(tempfile.mkdtemp(prefix="sceneseek-perm-"))
    try:
        folder.chmod(0o755)
        secret = folder / "secret.mp4"
        shutil.copy(side / "good.mp4", secret)
        secret.chmod(0)
        read_end, write_end = os.pipe()
        child = os.fork()
        if child == 0:  # pragma: no cover - runs in the child
            causes = []
            try:
                os.setgid(65534)
                os.setuid(65534)
                for step in (content_hash, probe):
                    try:
                        step(secret)
                    except MediaError as exc:
                        causes.append(str(exc))
            finally:
                os.write(write_end, "\n".join(causes).encode())
                os._exit(0)
        os.close(write_end)
        with os.fdopen(read_end) as pipe:
            causes = pipe.read().splitlines()
        os.waitpid(child, 0)
        assert causes == [f"{secret}: permission denied (cannot read the file)"] * 2
    finally:
        shutil.rmtree(folder)


# -- queries and filters ------------------------------------------------------------------
@pytest.fixture(scope="module")
def library(indexed: tuple[Path, IndexReport]) -> Iterator[Library]:
    db, _ = indexed
    lib = Library(db)
    yield lib
    lib.close()


LONE_SURROGATE = "caf\udce9 a cat"
QUERY_ERRORS: list[tuple[dict[str, Any], str]] = [
    ({"query": ""}, "empty"),
    ({"query": " \t\n "}, "empty"),
    ({"query": "a cat " * 20_000}, "limit"),
    ({"query": "a cat", "time_of_day": "25:00-26:00"}, "25:00"),
    ({"query": "a cat", "time_of_day": "abc"}, "HH:MM"),
    ({"query": "a cat", "time_of_day": "10:00-10:00"}, "same"),
    ({"query": "a cat", "after": "2026-12-01", "before": "2026-11-01"}, "empty"),
    ({"query": "a cat", "after": "2026-13-45"}, "ISO 8601"),
    ({"query": "a cat", "before": "\x00"}, "ISO 8601"),
    ({"query": "a cat", "weekdays": "funday"}, "weekdays"),
    ({"query": "a cat", "weekdays": "mon--fri"}, "weekdays"),
    ({"query": "a cat", "weekdays": ","}, "weekdays"),
    ({"query": "a cat", "top_k": 0}, "top-k"),
    ({"query": "a cat", "top_k": -5}, "top-k"),
    ({"query": "a cat", "offset": -1}, "offset"),
    ({"image": b""}, "not an image"),
    ({"image": b"GIF89a" + bytes(20)}, "not an image"),
    ({"query": "a cat", "image": b"x"}, "exactly one"),
    ({}, "exactly one"),
]


@pytest.mark.parametrize(("arguments", "words"), QUERY_ERRORS)
def test_malformed_queries_are_clear_errors(
    library: Library, arguments: dict[str, Any], words: str
) -> None:
    with pytest.raises(QueryError, match=f"(?i){words}"):
        library.search(**arguments)


HANDLED: list[dict[str, Any]] = [
    {"query": "a cat\x00\x01\x7f\u200b"},
    {"query": LONE_SURROGATE},
    {"query": "\ufffd\ufffe\U0010ffff a cat"},
    {"query": '"a cat" OR NEAR( * ^ : -'},  # FTS5 syntax is data, not operators
    {"query": "a cat", "camera": "no-such-camera"},
    {"query": "a cat", "zone": "' OR 1=1 --"},
    {"query": "a cat", "camera": LONE_SURROGATE},
    {"query": "a cat", "video": "/no/such/file.mp4"},
    {"query": "a cat", "top_k": 10**9},
    {"query": "a cat", "offset": 10**9},
    {"query": "a cat", "after": "1900-01-01", "before": "9999-12-31"},
]


@pytest.mark.parametrize("arguments", HANDLED)
def test_odd_queries_are_answered(library: Library, arguments: dict[str, Any]) -> None:
    response = library.search(**arguments)
    assert len(response.results) <= min(arguments.get("top_k", 10), 1000)
    json.dumps(response.to_dict())  # serialisable as the CLI and API send it


@pytest.mark.parametrize(
    "arguments",
    [{"similar_to": 10**9}, {"similar_to": -1}, {"similar_to": HUGE_ID},
     {"query": "a cat", "more_like": [HUGE_ID]}, {"query": "a cat", "not_like": [-3]}],
)  # fmt: skip
def test_unknown_segment_ids_are_key_errors(library: Library, arguments: dict[str, Any]) -> None:
    with pytest.raises(KeyError, match="no segment"):
        library.search(**arguments)


@pytest.fixture(scope="module")
def client(
    indexed: tuple[Path, IndexReport], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestClient]:
    from sceneseek.api import ApiSettings, create_app

    source, _ = indexed
    db = tmp_path_factory.mktemp("bad-api") / "lib"
    shutil.copytree(source, db)
    lib = Library(db)
    with TestClient(create_app(lib, ApiSettings(static_dir=None))) as test_client:
        yield test_client
    lib.close()


def png_header(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims ``width`` x ``height`` pixels."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64))


def truncated_jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), "red").save(buffer, format="JPEG")
    return buffer.getvalue()[:200]


def json_body(text: str) -> dict[str, Any]:
    """Raw JSON as sent (escapes such as lone surrogates survive)."""
    return {"content": text.encode(), "headers": {"content-type": "application/json"}}


HTTP_CASES: list[tuple[str, str, dict[str, Any], set[int]]] = [
    ("GET", "/api/search", {"params": {"q": ""}}, {400, 422}),
    ("GET", "/api/search", {"params": {"q": " \t "}}, {400}),
    ("GET", "/api/search", {"params": {"q": "x" * 60_000}}, {422}),  # httpx limits URLs to 64 KiB
    ("GET", "/api/search", {"params": {"q": "a cat\x00\x01"}}, {200}),
    ("GET", "/api/search?q=caf%ED%B3%BF%FF%FE", {}, {200}),  # invalid UTF-8 in the URL
    ("GET", "/api/search", {"params": {"q": "a cat", "time_of_day": "25:00-26:00"}}, {400}),
    ("GET", "/api/search", {"params": {"q": "a cat", "time_of_day": "abc"}}, {400}),
    (
        "GET",
        "/api/search",
        {"params": {"q": "a cat", "after": "2026-12-01", "before": "2026-11-01"}},
        {400},
    ),  # fmt: skip
    ("GET", "/api/search", {"params": {"q": "a cat", "weekdays": "mon--fri"}}, {400}),
    ("GET", "/api/search", {"params": {"q": "a cat", "camera": "nope"}}, {200}),
    ("GET", "/api/search", {"params": {"q": "a cat", "top_k": -1}}, {422}),
    ("GET", "/api/search", {"params": {"q": "a cat", "top_k": 10**30}}, {422}),
    ("GET", "/api/search", {"params": {"q": "a cat", "offset": 10**30}}, {422}),
    ("GET", "/api/search", {"params": {"q": "a cat", "video_id": HUGE_ID}}, {404, 422}),
    ("GET", "/api/search", {"params": {"q": "a cat", "video_id": -1}}, {404, 422}),
    ("GET", f"/api/search/similar/{HUGE_ID}", {}, {404, 422}),
    ("GET", f"/api/segments/{HUGE_ID}", {}, {404, 422}),
    ("GET", "/api/segments/-1", {}, {404}),
    ("GET", f"/api/segments/{HUGE_ID}/thumbnail.jpg", {}, {404, 422}),
    ("GET", f"/api/videos/{HUGE_ID}", {}, {404, 422}),
    ("GET", f"/api/videos/{HUGE_ID}/media", {}, {404, 422}),
    ("GET", "/api/clip", {"params": {"video_id": 1, "start": "nan", "end": 2}}, {422}),
    ("GET", "/api/clip", {"params": {"video_id": 1, "start": 5, "end": 1}}, {400}),
    ("GET", "/api/clip", {"params": {"video_id": HUGE_ID, "start": 0, "end": 1}}, {404, 422}),
    ("GET", f"/api/ingest/{HUGE_ID}", {}, {404, 422}),
    ("POST", "/api/search/image", {"files": {"image": ("a.jpg", truncated_jpeg())}}, {415}),
    (
        "POST",
        "/api/search/image",
        {"files": {"image": ("a.png", png_header(30_000, 30_000))}},
        {413, 415},
    ),
    ("POST", "/api/search/image", {"files": {"image": ("a.txt", b"hello")}}, {415}),
    (
        "POST",
        "/api/feedback",
        {"content": b"{", "headers": {"content-type": "application/json"}},
        {422},
    ),  # fmt: skip
    (
        "POST",
        "/api/feedback",
        {"content": b'{"query": "\xff"}', "headers": {"content-type": "application/json"}},
        {400, 422},
    ),  # fmt: skip
    ("POST", "/api/feedback", {"json": []}, {422}),
    ("POST", "/api/feedback", {"json": {"query": "a", "segment_id": "x", "relevant": True}}, {422}),
    (
        "POST",
        "/api/feedback",
        {"json": {"query": "a", "segment_id": HUGE_ID, "relevant": True}},
        {404, 422},
    ),  # fmt: skip
    ("POST", "/api/feedback", {"json": {"query": " ", "segment_id": 1, "relevant": True}}, {400}),
    (
        "POST",
        "/api/feedback",
        {"content": b"query=a", "headers": {"content-type": "text/plain"}},
        {422},
    ),  # fmt: skip
    ("POST", "/api/ingest", {"json": {"paths": ["/no/such\x00file"]}}, {400}),
    ("POST", "/api/ingest", {"json": {"paths": [""]}}, {400}),
    ("POST", "/api/ingest", {"json": {"paths": "not-a-list"}}, {422}),
    ("POST", "/api/ingest", {"json": {"paths": []}}, {422}),
    ("POST", "/api/ingest", {"json": {"paths": ["/tmp"], "start": "yesterday"}}, {422}),
    ("POST", "/api/alerts", {"json": {"query": "a cat", "time_of_day": "99:99-00:00"}}, {400}),
    ("POST", "/api/alerts", {"json": {"query": "a cat", "threshold": -1}}, {422}),
    ("POST", "/api/alerts", json_body(r'{"query": "caf\udce9 \ud800"}'), {422}),
    (
        "POST",
        "/api/feedback",
        json_body(r'{"query": "\udce9", "segment_id": 1, "relevant": true}'),
        {422},
    ),  # fmt: skip
    ("POST", "/api/alerts", {"json": {"query": "a cat", "webhook": "file:///etc/passwd"}}, {400}),
    ("DELETE", f"/api/alerts/{HUGE_ID}", {}, {404, 422}),
]


@pytest.mark.parametrize(("method", "url", "request_args", "expected"), HTTP_CASES)
def test_http_never_500s_on_user_input(
    client: TestClient, method: str, url: str, request_args: dict[str, Any], expected: set[int]
) -> None:
    response = client.request(method, url, **request_args)
    assert response.status_code in expected, (response.status_code, response.text[:500])
    if response.status_code >= 400:
        assert response.json()["detail"]  # says what was wrong
