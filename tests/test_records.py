"""One JSON for a record wherever it is shown: the CLI's --json and the HTTP API print the
same objects (the API adds only the links a client needs)."""

from __future__ import annotations

import json
from pathlib import Path

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from sceneseek import Library
from sceneseek.api import create_app
from sceneseek.cli import app as cli

LINKS = {"thumbnail_url", "media_url"}


def test_cli_and_api_show_the_same_json(indexed_copy: Path) -> None:
    library = Library(indexed_copy)
    db = ["--db", str(indexed_copy)]
    try:
        with TestClient(create_app(library)) as client:
            added = client.post(
                "/api/alerts", json={"query": "a  cat", "camera": "cam-01", "threshold": 1.5}
            )
            assert added.status_code == 201, added.text
            served_alerts = client.get("/api/alerts").json()
            served = client.get("/api/search", params={"q": "a cat", "top_k": 3}).json()
    finally:
        library.close()
    printed_alerts = json.loads(CliRunner().invoke(cli, ["alert", "list", *db, "--json"]).output)
    assert printed_alerts["alerts"] == served_alerts == [added.json()]
    assert served_alerts[0]["query"] == "a cat" and served_alerts[0]["created"].startswith("20")
    printed = CliRunner().invoke(cli, ["search", "a cat", *db, "--top-k", "3", "--json"])
    results = json.loads(printed.output)["results"]
    assert len(results) == 3
    assert [{k: v for k, v in r.items() if k not in LINKS} for r in served["results"]] == results
    assert all(set(r) >= LINKS for r in served["results"])
