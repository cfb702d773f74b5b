"""The HTTP API end to end: a real index (the session's sample library, copied so writes
stay here), the real engine behind FastAPI, real media bytes, real ffmpeg."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from sceneseek import Library
from sceneseek.api import ApiSettings, create_app
from sceneseek.eval.samples import PHRASE_AT, SampleSet
from sceneseek.library import IndexReport


class Api:
    def __init__(self, client: TestClient, library: Library, db: Path) -> None:
        self.client = client
        self.library = library
        self.db = db

    def get(self, url: str, **kwargs: Any) -> Any:
        return self.client.get(url, **kwargs)

    def ok(self, url: str, **kwargs: Any) -> Any:
        response = self.client.get(url, **kwargs)
        assert response.status_code == 200, response.text
        return response.json()

    def video_id(self, name: str) -> int:
        return next(v["id"] for v in self.ok("/api/videos") if Path(v["path"]).name == name)


@pytest.fixture(scope="module")
def api(
    indexed: tuple[Path, IndexReport], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Api]:
    source, _ = indexed
    db = tmp_path_factory.mktemp("api") / "lib"
    shutil.copytree(source, db)
    static = db.parent / "static"
    static.mkdir()
    (static / "index.html").write_text("<!doctype html><title>sceneseek ui</title>")
    (static / "app.js").write_text("console.log('ui')")
    library = Library(db)
    settings = ApiSettings(static_dir=static, max_clip_seconds=30)
    with TestClient(create_app(library, settings)) as client:
        yield Api(client, library, db)
    library.close()


def assert_error(response: Any, status: int, words: str = "") -> None:
    assert response.status_code == status, response.text
    detail = response.json()["detail"]
    assert words.lower() in json.dumps(detail).lower()


def test_health_and_docs(api: Api) -> None:
    health = api.ok("/api/health")
    assert health["status"] == "ok"
    assert health["stats"]["videos"] == 3 and health["stats"]["segments"] > 0
    assert {"text", "visual", "speech"} <= set(health["encoders"])
    paths = set(api.ok("/openapi.json")["paths"])
    assert {
        "/api/health",
        "/api/search",
        "/api/search/image",
        "/api/search/similar/{segment_id}",
        "/api/videos",
        "/api/videos/{video_id}",
        "/api/videos/{video_id}/media",
        "/api/segments/{segment_id}",
        "/api/segments/{segment_id}/thumbnail.jpg",
        "/api/clip",
        "/api/ingest",
        "/api/ingest/{job_id}",
        "/api/feedback",
    } <= paths
    assert api.get("/docs").status_code == 200
    assert_error(api.get("/api/nothing-here"), 404)


def test_text_search_is_the_library_search(api: Api) -> None:
    answer = api.ok("/api/search", params={"q": "the delivery is going to be late", "top_k": 3})
    top = answer["results"][0]
    assert Path(top["video"]).name == "speech.mp4" and abs(top["start"] - PHRASE_AT) <= 1.0
    assert "shipment" in top["evidence"]["speech"]["text"]
    assert top["thumbnail_url"] == f"/api/segments/{top['thumbnail_segment_id']}/thumbnail.jpg"
    assert top["media_url"].startswith(f"/api/videos/{top['video_id']}/media#t=")
    direct = api.library.search("the delivery is going to be late", top_k=3).to_dict()
    assert [r["segment_id"] for r in answer["results"]] == [
        r["segment_id"] for r in direct["results"]
    ]
    assert [r["score"] for r in answer["results"]] == pytest.approx(
        [r["score"] for r in direct["results"]], rel=1e-5
    )
    page = api.ok("/api/search", params={"q": "the delivery is going to be late", "top_k": 2})
    rest = api.ok(
        "/api/search", params={"q": "the delivery is going to be late", "top_k": 1, "offset": 2}
    )
    assert [r["segment_id"] for r in page["results"] + rest["results"]] == [
        r["segment_id"] for r in answer["results"]
    ]


def test_search_filters_and_bad_queries(api: Api) -> None:
    lobby = api.ok("/api/search", params={"q": "a cat", "camera": "cam-01", "zone": "lobby"})
    assert Path(lobby["results"][0]["video"]).name == "photos.mp4"
    assert api.ok("/api/search", params={"q": "a cat", "camera": "cam-99"})["results"] == []
    assert_error(api.get("/api/search", params={"q": "a cat", "time_of_day": "late"}), 400, "HH:MM")
    assert_error(api.get("/api/search", params={"q": "a cat", "time_of_day": "25:00-06:00"}), 400)
    speech_only = {"q": "street traffic", "video_id": api.video_id("speech.mp4")}
    found = api.ok("/api/search", params=speech_only)["results"]
    assert found and {Path(r["video"]).name for r in found} == {"speech.mp4"}
    assert_error(api.get("/api/search", params={"q": "a cat", "video_id": 999999}), 404)
    assert_error(api.get("/api/search", params={"q": "a cat", "after": "someday"}), 400)
    assert_error(api.get("/api/search", params={"q": "a cat", "weekdays": "funday"}), 400)
    assert_error(api.get("/api/search", params={"q": "   "}), 400, "empty")
    assert_error(api.get("/api/search", params={"q": "x" * 1500}), 400, "limit")
    assert_error(api.get("/api/search"), 422)
    for bad in ({"top_k": 0}, {"top_k": "ten"}, {"top_k": 10**6}, {"offset": -1}):
        assert_error(api.get("/api/search", params={"q": "a cat", **bad}), 422)


def test_concurrent_requests_match_sequential_ones(api: Api) -> None:
    queries = ["a cat", "a rocket launch", "una taza de café", "the shipment is late"] * 2
    expected = {q: api.ok("/api/search", params={"q": q, "top_k": 3})["results"] for q in queries}

    def run(query: str) -> tuple[str, Any, Any]:
        answer = api.ok("/api/search", params={"q": query, "top_k": 3})["results"]
        return query, answer, api.ok("/api/health")["status"]

    with ThreadPoolExecutor(max_workers=4) as pool:
        for query, answer, status in pool.map(run, queries):
            assert answer == expected[query] and status == "ok"


def test_image_search(api: Api, samples: SampleSet) -> None:
    cat = samples.find("photos.mp4", "cat")
    photo = Path(str(cat.source)).read_bytes()
    files = {"image": ("cat.jpg", photo, "image/jpeg")}
    answer = api.client.post("/api/search/image", files=files, params={"top_k": 3})
    assert answer.status_code == 200, answer.text
    top = answer.json()["results"][0]
    assert Path(top["video"]).name == "photos.mp4" and "image" in top["evidence"]
    assert top["start"] < cat.end and top["end"] > cat.start

    def upload(data: bytes, name: str = "x.jpg") -> Any:
        return api.client.post("/api/search/image", files={"image": (name, data, "image/jpeg")})

    assert_error(upload(b"%PDF-1.4 not a picture", "doc.pdf"), 415, "not an image")
    assert_error(upload(photo[: len(photo) // 3]), 415, "not an image")  # truncated JPEG
    assert_error(upload(b""), 422, "empty")
    assert_error(upload(b"\xff\xd8" + bytes(10 * 2**20)), 413, "MiB")  # read, then refused
    assert_error(upload(bytes(11 * 2**20)), 413, "MiB")  # refused from Content-Length
    assert_error(api.client.post("/api/search/image"), 422)  # no file at all
    assert_error(api.client.post("/api/search/image", data={"image": "text"}), 422)
    assert_error(api.client.post("/api/search/image", files=files, params={"top_k": -1}), 422)


def test_similar_segments(api: Api) -> None:
    example = api.ok("/api/search", params={"q": "a cat", "top_k": 1})["results"][0]
    similar = api.ok(f"/api/search/similar/{example['segment_id']}", params={"top_k": 3})
    assert similar["results"]
    assert all(r["segment_id"] != example["segment_id"] for r in similar["results"])
    assert Path(similar["results"][0]["video"]).name == "photos.mp4"
    assert_error(api.get("/api/search/similar/999999"), 404, "999999")
    assert_error(api.get("/api/search/similar/abc"), 422)


def test_videos_and_segments(api: Api, samples: SampleSet) -> None:
    videos = api.ok("/api/videos")
    assert {Path(v["path"]).name for v in videos} == {"photos.mp4", "speech.mp4", "silent.mp4"}
    speech = next(v for v in videos if Path(v["path"]).name == "speech.mp4")
    assert speech["camera"] == "cam-01" and speech["zone"] == "lobby" and speech["segments"] > 0
    assert api.ok(f"/api/videos/{speech['id']}") == speech
    assert_error(api.get("/api/videos/999999"), 404, "no video")
    assert_error(api.get("/api/videos/-1"), 404)
    assert_error(api.get("/api/videos/1.5"), 422)

    hit = api.ok("/api/search", params={"q": "the shipment is late", "top_k": 1})["results"][0]
    segment = api.ok(f"/api/segments/{hit['segment_id']}")
    assert segment["video_id"] == hit["video_id"] and segment["start"] < segment["end"]
    assert any(
        "shipment" in o["text"] and o["language"] == "en" for o in segment["observations"]["speech"]
    )
    assert_error(api.get("/api/segments/999999"), 404, "no segment")

    thumb = api.get(f"/api/segments/{hit['segment_id']}/thumbnail.jpg")
    assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/jpeg"
    assert Image.open(io.BytesIO(thumb.content)).format == "JPEG"
    assert_error(api.get("/api/segments/999999/thumbnail.jpg"), 404)


def test_media_serves_byte_ranges(api: Api, samples: SampleSet) -> None:
    url = f"/api/videos/{api.video_id('speech.mp4')}/media"
    data = samples.speech.read_bytes()
    size = len(data)
    whole = api.get(url)
    assert whole.status_code == 200 and whole.content == data
    assert whole.headers["accept-ranges"] == "bytes"
    assert whole.headers["content-type"] == "video/mp4"
    cases = {
        "bytes=0-99": (0, 99),  # first bytes
        f"bytes={size // 2}-{size // 2 + 999}": (size // 2, size // 2 + 999),  # middle
        f"bytes={size - 300}-": (size - 300, size - 1),  # open-ended
        "bytes=-500": (size - 500, size - 1),  # suffix
        f"bytes=0-{size * 2}": (0, size - 1),  # end past the file is clamped
    }
    for header, (first, last) in cases.items():
        part = api.get(url, headers={"Range": header})
        assert part.status_code == 206, header
        assert part.headers["content-range"] == f"bytes {first}-{last}/{size}", header
        assert part.content == data[first : last + 1], header
        assert int(part.headers["content-length"]) == last - first + 1
    for header in (f"bytes={size}-", f"bytes={size + 10}-{size + 20}"):
        refused = api.get(url, headers={"Range": header})
        assert refused.status_code == 416, header
        assert refused.headers["content-range"] == f"bytes */{size}"
    assert api.get(url, headers={"Range": "lines=1-2"}).status_code == 400
    assert_error(api.get("/api/videos/999999/media"), 404)


def test_path_traversal_never_reaches_a_file(api: Api) -> None:
    secret = (api.db / "index.sqlite").read_bytes()[:16]  # "SQLite format 3"
    attempts = [
        "/api/videos/../../../etc/passwd",
        "/api/videos/..%2F..%2F..%2Fetc%2Fpasswd/media",
        "/api/videos/%2e%2e%2f%2e%2e%2fetc%2fpasswd/media",
        "/api/videos/1%2F..%2F..%2Findex.sqlite/media",
        "/api/segments/..%2F..%2Findex.sqlite/thumbnail.jpg",
        "/api/segments/%2E%2E/thumbnail.jpg",
        "/api/search/similar/..%2F..%2Findex.sqlite",
        "/api/ingest/..%2F..%2Fetc%2Fpasswd",
        "/api/clip?video_id=..%2F..%2Fetc%2Fpasswd&start=0&end=1",
        "/static/..%2F..%2F..%2Fetc%2Fpasswd",
        "/static/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "/..%2F..%2F..%2Fetc%2Fpasswd",
        f"/..%2F{api.db.name}%2Findex.sqlite",
    ]
    for attempt in attempts:
        response = api.get(attempt)
        assert response.status_code in (404, 422), (attempt, response.status_code)
        assert b"root:" not in response.content and secret not in response.content, attempt


def test_web_ui_is_served(api: Api) -> None:
    index = api.get("/")
    assert index.status_code == 200 and "sceneseek ui" in index.text
    assert "console.log" in api.get("/static/app.js").text
    assert "console.log" in api.get("/app.js").text


def test_clip_export_is_a_playable_mp4(api: Api, tmp_path: Path) -> None:
    video_id = api.video_id("speech.mp4")
    clip = api.get("/api/clip", params={"video_id": video_id, "start": 8, "end": 12.5})
    assert clip.status_code == 200, clip.text
    assert clip.headers["content-type"] == "video/mp4"
    assert clip.headers["content-disposition"].startswith("attachment")
    out = tmp_path / "clip.mp4"
    out.write_bytes(clip.content)
    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-show_format", "-show_streams", "-of", "json", str(out)],
        capture_output=True,
        text=True,
        check=True,
    )
    info = json.loads(probe.stdout)
    assert abs(float(info["format"]["duration"]) - 4.5) < 0.3
    codecs = {s["codec_type"]: s["codec_name"] for s in info["streams"]}
    assert codecs == {"video": "h264", "audio": "aac"}
    bad: dict[str, tuple[dict[str, Any], int, str]] = {
        "end before start": ({"start": 5, "end": 4}, 400, "before"),
        "too long": ({"start": 0, "end": 31}, 400, "limited"),
        "past the end": ({"start": 1000, "end": 1001}, 400, "outside"),
        "negative": ({"start": -1, "end": 2}, 422, ""),
        "not a number": ({"start": "nan", "end": 2}, 422, ""),
    }
    for name, (times, status, words) in bad.items():
        response = api.get("/api/clip", params={"video_id": video_id, **times})
        assert response.status_code == status, name
        assert_error(response, status, words)
    assert_error(api.get("/api/clip", params={"video_id": 999999, "start": 0, "end": 1}), 404)
    assert_error(api.get("/api/clip", params={"video_id": video_id}), 422)


def test_feedback_persists(api: Api) -> None:
    hit = api.ok("/api/search", params={"q": "a rocket launch", "top_k": 1})["results"][0]
    body = {"query": "a rocket launch", "segment_id": hit["segment_id"], "relevant": True}
    stored = api.client.post("/api/feedback", json=body)
    assert stored.status_code == 201, stored.text
    assert stored.json()["segment_id"] == hit["segment_id"] and stored.json()["relevant"]
    assert stored.json() in api.ok("/api/feedback")
    reopened = Library(api.db)
    try:
        marks = reopened.marks()
    finally:
        reopened.close()
    assert any(m.id == stored.json()["id"] and m.relevant for m in marks)
    post = api.client.post
    assert_error(post("/api/feedback", json={**body, "segment_id": 999999}), 404)
    assert_error(post("/api/feedback", json={**body, "query": "   "}), 400, "empty")
    assert_error(post("/api/feedback", json={**body, "relevant": "maybe"}), 422)
    assert_error(post("/api/feedback", json={"query": "a rocket launch"}), 422)
    assert_error(post("/api/feedback", content=b"not json"), 422)


def test_ingest_job_runs_to_done(api: Api, samples: SampleSet, tmp_path: Path) -> None:
    video = tmp_path / "dock.mp4"
    shutil.copy(samples.silent, video)
    body = {
        "paths": [str(video), str(samples.empty)],
        "camera": "cam-09",
        "zone": "dock",
        "start": "2026-11-28T22:10:00+01:00",
    }
    queued = api.client.post("/api/ingest", json=body)
    assert queued.status_code == 202, queued.text
    job_id = queued.json()["job_id"]
    assert queued.json()["id"] == job_id and queued.json()["status"] in ("queued", "running")
    deadline = time.monotonic() + 120
    while (job := api.ok(f"/api/ingest/{job_id}"))["status"] in ("queued", "running"):
        assert time.monotonic() < deadline, job
        assert 0 <= job["done"] <= max(job["total"], 0)
        # Searching while the job writes to the same index still answers.
        assert api.ok("/api/search", params={"q": "a cat", "top_k": 1})["results"]
        time.sleep(0.1)
    assert job["status"] == "done", job
    assert job["total"] == job["done"] == 2
    assert job["indexed"] == [str(video.resolve())]
    assert [e["path"] for e in job["errors"]] == [str(samples.empty.resolve())]
    assert "empty" in job["errors"][0]["cause"]
    assert job_id in [j["id"] for j in api.ok("/api/ingest")]
    added = next(v for v in api.ok("/api/videos") if v["path"] == str(video.resolve()))
    assert added["camera"] == "cam-09" and added["start_time"].startswith("2026-11-28T22:10")
    found = api.ok("/api/search", params={"q": "street traffic", "camera": "cam-09"})
    assert {r["video_id"] for r in found["results"]} == {added["id"]}

    post = api.client.post
    assert_error(post("/api/ingest", json={"paths": [str(tmp_path / "nope.mp4")]}), 400, "nope")
    assert_error(post("/api/ingest", json={"paths": []}), 422)
    assert_error(post("/api/ingest", json={"paths": [str(video)], "start": "yesterday"}), 422)
    assert_error(api.get("/api/ingest/999999"), 404, "no ingest job")


def test_ingest_roots_confine_ingest(api: Api, samples: SampleSet, tmp_path: Path) -> None:
    settings = ApiSettings(ingest_roots=(tmp_path,), static_dir=None)
    with TestClient(create_app(api.library, settings)) as client:
        refused = client.post("/api/ingest", json={"paths": [str(samples.silent)]})
        assert_error(refused, 400, "outside")
        assert_error(client.get("/"), 404)


def test_camera_registry(api: Api) -> None:
    api.library.add_camera("cam-01", name="Lobby", zone="lobby", timezone="Europe/Madrid")
    cameras = api.ok("/api/cameras")
    assert cameras["cam-01"] == {
        "name": "Lobby",
        "zone": "lobby",
        "timezone": "Europe/Madrid",
        "zones": {},  # polygons, none drawn (tests/test_zones.py draws some)
    }


def test_alerts_fire_on_new_video_and_are_listed(
    api: Api, samples: SampleSet, tmp_path: Path
) -> None:
    created = api.client.post("/api/alerts", json={"query": "the shipment will be late"})
    assert created.status_code == 201, created.text
    alert = created.json()
    assert any(a["id"] == alert["id"] for a in api.ok("/api/alerts"))
    copy = tmp_path / "late.mp4"
    shutil.copy(samples.speech, copy)
    report = api.library.index([copy])  # any ingest path checks saved alerts
    assert report.events and report.events[0].alert_id == alert["id"]
    events = api.ok("/api/alerts/events")
    assert any(e["alert_id"] == alert["id"] and e["video"] == str(copy) for e in events)
    bad = api.client.post("/api/alerts", json={"query": "x", "time_of_day": "late"})
    assert_error(bad, 400, "HH:MM")
    assert api.client.delete(f"/api/alerts/{alert['id']}").status_code == 204
    assert_error(api.client.delete(f"/api/alerts/{alert['id']}"), 404)
