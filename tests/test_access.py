"""Access control of the HTTP API: API keys (no key / read key / admin key × every endpoint
group), files served only as indexed (traversal, symlinks swapped in after indexing),
CORS, upload limits, and `serve` refusing to expose an index without keys.

Real index (the session's sample library, copied), real key store, real FastAPI app.
Costs ~15 s: one short video indexed (visual only) for the symlink cases, a few scrypt
hashes, one 1-second clip export."""

from __future__ import annotations

import io
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from typer.testing import CliRunner

from sceneseek import Config, Library
from sceneseek.api import ApiSettings, create_app
from sceneseek.api.access import is_loopback
from sceneseek.cli import app as cli
from sceneseek.eval.samples import SampleSet
from sceneseek.index.keys import KeyStore
from sceneseek.library import IndexReport


@dataclass
class Server:
    client: TestClient
    library: Library
    keys: KeyStore
    db: Path
    read: str
    admin: str
    static: Path
    swapped: Path  # an indexed video that the tests replace with links


@pytest.fixture(scope="module")
def server(
    indexed: tuple[Path, IndexReport],
    samples: SampleSet,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Server]:
    source, _ = indexed
    root = tmp_path_factory.mktemp("access")
    db = root / "lib"
    shutil.copytree(source, db)
    swapped = root / "footage" / "swapped.mp4"
    swapped.parent.mkdir()
    shutil.copy(samples.silent, swapped)
    visual_only = Library(db, Config(modalities=["visual"]))
    assert visual_only.index([swapped]).indexed
    visual_only.close()
    static = root / "static"
    static.mkdir()
    (static / "index.html").write_text("<!doctype html><title>sceneseek ui</title>")
    keys = KeyStore(db)
    read, admin = keys.add("read", "viewer"), keys.add("admin", "operator")
    library = Library(db)
    # The matrix below fails on purpose many times: no rate limit here (test_key_guessing).
    settings = ApiSettings(
        static_dir=static, keys=keys, max_upload_bytes=200 * 1024, key_failures=10_000
    )
    with TestClient(create_app(library, settings)) as client:
        yield Server(client, library, keys, db, read, admin, static, swapped)
    keys.close()
    library.close()


def ids(server: Server) -> dict[str, int]:
    """A video and a segment to address, read with the admin key."""
    auth = {"X-API-Key": server.admin}
    video = server.client.get("/api/videos", headers=auth).json()[0]
    hit = server.client.get("/api/search", params={"q": "a cat"}, headers=auth).json()
    return {"video": video["id"], "segment": hit["results"][0]["segment_id"]}


def picture() -> bytes:
    data = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 120, 40)).save(data, "JPEG")
    return data.getvalue()


def requests(video: int, segment: int) -> dict[str, tuple[str, str, dict[str, Any]]]:
    """Every endpoint group: (method, url, request arguments). Admin-only ones are built
    so that, once past the key check, they fail on their input (no ingest really runs)."""
    return {
        "health": ("GET", "/api/health", {}),
        "metrics": ("GET", "/metrics", {}),
        "search": ("GET", "/api/search", {"params": {"q": "a cat", "top_k": 1}}),
        "search image": (
            "POST",
            "/api/search/image",
            {"files": {"image": ("x.jpg", picture(), "image/jpeg")}},
        ),
        "similar": ("GET", f"/api/search/similar/{segment}", {}),
        "videos": ("GET", "/api/videos", {}),
        "video": ("GET", f"/api/videos/{video}", {}),
        "segment": ("GET", f"/api/segments/{segment}", {}),
        "thumbnail": ("GET", f"/api/segments/{segment}/thumbnail.jpg", {}),
        "media": ("GET", f"/api/videos/{video}/media", {"headers": {"Range": "bytes=0-99"}}),
        "clip": ("GET", "/api/clip", {"params": {"video_id": video, "start": 0, "end": 1}}),
        "cameras": ("GET", "/api/cameras", {}),
        "zones": ("GET", "/api/cameras/cam-01/zones", {}),
        "ingest jobs": ("GET", "/api/ingest", {}),
        "alerts": ("GET", "/api/alerts", {}),
        "alert events": ("GET", "/api/alerts/events", {}),
        "feedback list": ("GET", "/api/feedback", {}),
        "feedback": (
            "POST",
            "/api/feedback",
            {"json": {"query": "a cat", "segment_id": segment, "relevant": True}},
        ),
        # admin only
        "ingest": ("POST", "/api/ingest", {"json": {"paths": ["/nonexistent/x.mp4"]}}),
        "alert add": ("POST", "/api/alerts", {"json": {"query": "x", "time_of_day": "late"}}),
        "alert remove": ("DELETE", "/api/alerts/999999", {}),
        "delete video": ("DELETE", "/api/videos/999999", {}),
        "camera change": ("POST", "/api/cameras", {"json": {"id": "cam-x"}}),
        "zone draw": ("PUT", "/api/cameras/cam-01/zones/gate", {"json": {"points": "0,0 1,1"}}),
        "zone remove": ("DELETE", "/api/cameras/cam-01/zones/nowhere", {}),
    }


ADMIN_ONLY = {
    "ingest",
    "alert add",
    "alert remove",
    "delete video",
    "camera change",
    "zone draw",
    "zone remove",
}


def test_auth_matrix(server: Server) -> None:
    target = ids(server)
    for name, (method, url, kwargs) in requests(target["video"], target["segment"]).items():
        call = server.client.request
        headers = kwargs.pop("headers", {})
        anonymous = call(method, url, headers=headers, **kwargs)
        assert anonymous.status_code == 401, (name, anonymous.text)
        assert anonymous.headers["www-authenticate"] == "Bearer"
        bad = {**headers, "Authorization": "Bearer ssk_00000000_nope"}
        assert call(method, url, headers=bad, **kwargs).status_code == 401, name
        as_reader = call(method, url, headers={**headers, "X-API-Key": server.read}, **kwargs)
        as_admin = call(
            method, url, headers={**headers, "Authorization": f"Bearer {server.admin}"}, **kwargs
        )
        if name in ADMIN_ONLY:
            assert as_reader.status_code == 403, (name, as_reader.text)
            assert "admin" in as_reader.json()["detail"]
        else:
            assert as_reader.status_code in (200, 201, 206), (name, as_reader.text)
        # Past the key check: success, or the endpoint's own answer to its input.
        assert as_admin.status_code not in (401, 403, 500), (name, as_admin.text)
        if name not in ADMIN_ONLY:
            assert as_admin.status_code == as_reader.status_code, name
    assert server.client.get("/api/alerts", headers={"X-API-Key": server.admin}).json() == []


def test_open_without_a_key_and_cookie_for_the_browser(server: Server) -> None:
    for url in ("/", "/docs", "/openapi.json"):
        assert server.client.get(url).status_code == 200, url
    assert "sceneseek ui" in server.client.get("/").text
    # <img>/<video> cannot send headers; the UI stores the key in a SameSite cookie.
    target = ids(server)
    thumbnail = f"/api/segments/{target['segment']}/thumbnail.jpg"
    server.client.cookies.set("sceneseek_key", server.read)
    try:
        with_cookie = server.client.get(thumbnail)
        assert with_cookie.status_code == 200 and with_cookie.content[:2] == b"\xff\xd8"
    finally:
        server.client.cookies.clear()


def test_keys_are_hashed_at_rest_and_revocable(server: Server) -> None:
    stored = b"".join(p.read_bytes() for p in server.db.glob("index.sqlite*"))
    for key in (server.read, server.admin):
        secret = key.split("_", 2)[2]
        assert secret.encode() not in stored and key.encode() not in stored
    listed = {k.id: k.role for k in server.keys.entries()}
    assert listed[server.read.split("_")[1]] == "read"
    assert listed[server.admin.split("_")[1]] == "admin"

    temporary = server.keys.add("read", "temp")
    headers = {"X-API-Key": temporary}
    assert server.client.get("/api/videos", headers=headers).status_code == 200
    assert server.keys.remove(temporary.split("_")[1])
    assert server.client.get("/api/videos", headers=headers).status_code == 401  # next request
    tampered = server.read[:-2] + ("AA" if not server.read.endswith("AA") else "BB")
    assert server.client.get("/api/videos", headers={"X-API-Key": tampered}).status_code == 401


def test_no_keys_means_open_on_loopback_but_closed_when_required(
    server: Server, tmp_path: Path
) -> None:
    empty = KeyStore(tmp_path / "fresh")
    library = Library(tmp_path / "fresh")
    try:
        open_app = create_app(library, ApiSettings(static_dir=None, keys=empty))
        with TestClient(open_app) as client:
            assert client.get("/api/videos").json() == []
        required = ApiSettings(static_dir=None, keys=empty, require_keys=True)
        with TestClient(create_app(library, required)) as client:
            assert client.get("/api/videos").status_code == 401
    finally:
        empty.close()
        library.close()


def test_serve_binds_loopback_and_refuses_to_expose_an_index_without_keys(
    tmp_path: Path,
) -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.5")
    assert not is_loopback("myhost.example")
    runner = CliRunner()
    refused = runner.invoke(cli, ["serve", "--db", str(tmp_path / "lib"), "--host", "0.0.0.0"])
    assert refused.exit_code == 1
    assert "add an API key first" in refused.output
    help_text = runner.invoke(cli, ["serve", "--help"]).output
    assert "127.0.0.1" in help_text
    added = runner.invoke(cli, ["key", "add", "--db", str(tmp_path / "lib"), "--role", "admin"])
    assert added.exit_code == 0 and added.stdout.startswith("ssk_")
    listed = runner.invoke(cli, ["key", "list", "--db", str(tmp_path / "lib")])
    assert added.stdout.split("_")[1] in listed.output and "admin" in listed.output
    bad_role = runner.invoke(cli, ["key", "add", "--db", str(tmp_path / "lib"), "--role", "root"])
    assert bad_role.exit_code == 1 and "read or admin" in bad_role.output
    gone = runner.invoke(cli, ["key", "remove", "nothere", "--db", str(tmp_path / "lib")])
    assert gone.exit_code == 1 and "no key" in gone.output


def test_traversal_attempts_never_reach_a_file(server: Server) -> None:
    auth = {"X-API-Key": server.admin}
    secret = (server.db / "index.sqlite").read_bytes()[:16]
    attempts = [
        "/api/videos/../../../etc/passwd",
        "/api/videos/..%2F..%2F..%2Fetc%2Fpasswd/media",
        "/api/videos/%2e%2e%2f%2e%2e%2fetc%2fpasswd/media",
        "/api/videos/%2E%2E/media",
        "/api/videos//etc/passwd/media",
        "/api/videos/%2Fetc%2Fpasswd/media",
        "/api/segments/..%2F..%2Findex.sqlite/thumbnail.jpg",
        "/api/clip?video_id=/etc/passwd&start=0&end=1",
        "/api/clip?video_id=..%2Findex.sqlite&start=0&end=1",
        "/static/..%2F..%2F..%2Fetc%2Fpasswd",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/..%2F..%2Findex.sqlite",
        f"/..%2F{server.db.name}%2Findex.sqlite",
        f"/{server.static.name}/../lib/index.sqlite",
    ]
    for attempt in attempts:
        response = server.client.get(attempt, headers=auth)
        assert response.status_code in (404, 422), (attempt, response.status_code)
        assert b"root:" not in response.content and secret not in response.content, attempt


def test_symlinks_swapped_in_after_indexing_are_refused(server: Server, tmp_path: Path) -> None:
    auth = {"X-API-Key": server.admin}
    videos = server.client.get("/api/videos", headers=auth).json()
    video = next(v for v in videos if v["path"] == str(server.swapped.resolve()))
    media = f"/api/videos/{video['id']}/media"
    segment = server.library.index_store.all_segments()
    segment_id = next(s.id for s in segment if s.video_id == video["id"])
    thumbnail = f"/api/segments/{segment_id}/thumbnail.jpg"
    clip = f"/api/clip?video_id={video['id']}&start=0&end=1"
    assert server.client.get(media, headers=auth).status_code == 200
    assert server.client.get(thumbnail, headers=auth).status_code == 200  # now cached

    original = server.swapped.read_bytes()
    secret = (server.db / "index.sqlite").read_bytes()[:16]
    server.swapped.unlink()
    server.swapped.symlink_to(server.db / "index.sqlite")  # the file becomes a link
    try:
        for url in (media, thumbnail, clip):
            refused = server.client.get(url, headers=auth)
            assert refused.status_code == 404, (url, refused.status_code)
            assert secret not in refused.content and "replaced" in refused.json()["detail"]
    finally:
        server.swapped.unlink()
    # A parent folder swapped for a link to elsewhere, holding a file of the same name.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / server.swapped.name).write_bytes(b"not the indexed video")
    folder = server.swapped.parent
    folder.rmdir()
    folder.symlink_to(elsewhere)
    try:
        refused = server.client.get(media, headers=auth)
        assert refused.status_code == 404 and b"not the indexed" not in refused.content
    finally:
        folder.unlink()
        folder.mkdir()
        server.swapped.write_bytes(original)
    assert server.client.get(media, headers=auth).content == original


def test_cors_is_off_by_default_and_allows_only_named_origins(server: Server) -> None:
    auth = {"X-API-Key": server.read}
    plain = server.client.get("/api/videos", headers={**auth, "Origin": "http://evil.example"})
    assert plain.status_code == 200 and "access-control-allow-origin" not in plain.headers
    preflight_headers = {
        "Origin": "http://evil.example",
        "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "x-api-key",
    }
    preflight = server.client.options("/api/videos", headers=preflight_headers)
    assert "access-control-allow-origin" not in preflight.headers

    settings = ApiSettings(static_dir=None, keys=server.keys, cors_origins=("http://ok.example",))
    with TestClient(create_app(server.library, settings)) as client:
        allowed = client.get("/api/videos", headers={**auth, "Origin": "http://ok.example"})
        assert allowed.headers["access-control-allow-origin"] == "http://ok.example"
        other = client.get("/api/videos", headers={**auth, "Origin": "http://evil.example"})
        assert "access-control-allow-origin" not in other.headers
        ok_preflight = client.options(
            "/api/videos", headers={**preflight_headers, "Origin": "http://ok.example"}
        )
        assert ok_preflight.status_code == 200
        assert ok_preflight.headers["access-control-allow-origin"] == "http://ok.example"
        assert "x-api-key" in ok_preflight.headers["access-control-allow-headers"].lower()


def test_uploads_over_the_limit_are_refused(server: Server) -> None:
    url = "/api/search/image"
    auth = {"X-API-Key": server.read}
    big = b"\xff\xd8" + bytes(300 * 1024)  # over limit + envelope: refused from the header
    near = b"\xff\xd8" + bytes(220 * 1024)  # under limit + envelope: read, then refused
    for body in (big, near):
        files = {"image": ("x.jpg", body, "image/jpeg")}
        response = server.client.post(url, files=files, headers=auth)
        assert response.status_code == 413 and "larger than" in response.json()["detail"]
    # The key is checked before anything is read: no key, no 413 either.
    anonymous = server.client.post(url, files={"image": ("x.jpg", big, "image/jpeg")})
    assert anonymous.status_code == 401
    fine = server.client.post(
        url, files={"image": ("x.jpg", picture(), "image/jpeg")}, headers=auth
    )
    assert fine.status_code == 200
