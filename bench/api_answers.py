"""The API's answers to a fixed set of requests, to diff two checkouts byte for byte.

Usage: PYTHONPATH=CHECKOUT python bench/api_answers.py --index DIR --out DIR [--work DIR]

Copies the index at --index to --work (the requests add a mark and an alert), serves it
in-process (FastAPI's TestClient) and writes every answer's status, content type and
body to OUT/answers.txt, with what differs run to run masked (took_ms, creation times,
the config fingerprint), and the OpenAPI schema to OUT/openapi.json. Run it once per
checkout with the same --work path (the health answer names it), then diff the folders:
a refactor of the HTTP layer should leave both files identical.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
from pathlib import Path

from fastapi.testclient import TestClient

from sceneseek import Config, Library
from sceneseek.api import ApiSettings, create_app

MASKS = [
    (r'"took_ms":[0-9.e-]+', '"took_ms":X'),
    (r'"created":"[^"]+"', '"created":X'),
    (r'"(?:fusion|version)":"config-[0-9a-f]+"', '"fusion":H'),
]


def requests(video: int, segment: int) -> list[tuple[str, str, object]]:
    return [
        ("GET", "/api/health", None),
        ("GET", "/api/cameras", None),
        ("GET", "/api/videos", None),
        ("GET", f"/api/videos/{video}", None),
        ("GET", "/api/videos/999999", None),
        ("GET", f"/api/segments/{segment}", None),
        ("GET", "/api/segments/99999999", None),
        ("GET", "/api/search?q=a%20person%20walking%20at%20night&top_k=5", None),
        ("GET", "/api/search?q=un%20perro%20ladrando&top_k=3&camera=zzz", None),
        ("GET", f"/api/search?q=car&video_id={video}&top_k=3", None),
        ("GET", "/api/search?q=car&video_id=99999", None),
        ("GET", "/api/search?q=car&time_of_day=bad", None),
        ("GET", "/api/search?q=car&top_k=1000", None),
        ("GET", f"/api/search/similar/{segment}?top_k=4", None),
        ("GET", "/api/search/similar/9999999", None),
        ("POST", "/api/feedback", {"query": " a  car ", "segment_id": segment, "relevant": True}),
        ("POST", "/api/feedback", {"query": "   ", "segment_id": segment, "relevant": True}),
        ("POST", "/api/feedback", {"query": "car", "segment_id": 99999999, "relevant": True}),
        ("GET", "/api/feedback", None),
        ("POST", "/api/alerts", {"query": "a car", "threshold": 1.5, "camera": "cam"}),
        ("POST", "/api/alerts", {"query": "a car", "time_of_day": "nope"}),
        ("GET", "/api/alerts", None),
        ("GET", "/api/alerts/events", None),
        ("DELETE", "/api/alerts/1", None),
        ("DELETE", "/api/alerts/77", None),
        ("POST", "/api/ingest", {"paths": ["/nonexistent/x.mp4"]}),
        ("POST", "/api/ingest", {"paths": ["/tmp"]}),  # outside the ingest root
        ("GET", "/api/ingest", None),
        ("GET", "/api/ingest/5", None),
        ("POST", "/api/ingest/5/cancel", None),
        ("GET", f"/api/clip?video_id={video}&start=5&end=1", None),
        ("GET", "/api/clip?video_id=999&start=0&end=1", None),
        ("POST", "/api/login", None),
        ("GET", "/", None),
        ("GET", "/static/app.js", None),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=Path, required=True, help="an index to copy")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--work", type=Path, default=Path("/tmp/sceneseek-api-answers"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(args.work, ignore_errors=True)
    shutil.copytree(args.index, args.work)
    library = Library(args.work, Config())
    settings = ApiSettings(ingest_roots=(args.work / "nothing-here",))
    answers = []
    try:
        with TestClient(create_app(library, settings)) as client:
            video = library.videos()[0].id
            segment = library.index_store.all_segments()[3].id
            for method, url, body in requests(video, segment):
                reply = client.request(method, url, json=body)
                text = reply.text
                for pattern, mask in MASKS:
                    text = re.sub(pattern, mask, text)
                kind = reply.headers.get("content-type")
                answers.append(f"{method} {url} -> {reply.status_code} {kind}\n{text}\n")
            schema = client.get("/openapi.json").json()
    finally:
        library.close()
    (args.out / "answers.txt").write_text("\n".join(answers))
    (args.out / "openapi.json").write_text(json.dumps(schema, indent=1))
    print(f"{len(answers)} answers in {args.out}")


if __name__ == "__main__":
    main()
