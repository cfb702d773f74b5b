"""A running server sees what another process indexes (issue 15): live ingest next to
the UI is the normal way to use sceneseek, and before this the server's vector store
never saw vectors written by another process, so a new video was found only through its
keywords and ``/api/health`` counted more segments than vectors until a restart. The
app runs here over a copy of the sample index; a real ``sceneseek index`` subprocess
(all default models) adds a copy of the silent street clip. About 30 s."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from sceneseek import Library
from sceneseek.api import ApiSettings, create_app
from sceneseek.eval.samples import SampleSet

QUERY = "bicycles parked on a street"


def top_in(client: TestClient, name: str) -> dict[str, Any]:
    """The best moment for ``QUERY`` inside the video called ``name``."""
    videos = client.get("/api/videos").json()
    video_id = next(v["id"] for v in videos if Path(v["path"]).name == name)
    answer = client.get("/api/search", params={"q": QUERY, "top_k": 1, "video_id": video_id})
    assert answer.status_code == 200, answer.text
    results = answer.json()["results"]
    assert results, f"the server finds nothing in {name}"
    return results[0]  # type: ignore[no-any-return]


def test_server_finds_a_video_another_process_indexed(
    indexed_copy: Path, samples: SampleSet, tmp_path: Path
) -> None:
    library = Library(indexed_copy)
    with TestClient(create_app(library, ApiSettings(static_dir=None))) as client:
        before = client.get("/api/health").json()["stats"]  # the index is open from here on
        top_in(client, "silent.mp4")
        again = tmp_path / "new" / "silent-again.mp4"
        again.parent.mkdir()
        shutil.copy(samples.silent, again)
        done = subprocess.run(
            [sys.executable, "-m", "sceneseek.cli", "index", str(again), "--db", str(indexed_copy)],
            capture_output=True,
            text=True,
            timeout=600,
            env={**os.environ, "OMP_WAIT_POLICY": "PASSIVE"},
            check=False,
        )
        assert done.returncode == 0 and "indexed" in done.stdout + done.stderr, done.stderr[-2000:]
        # The next request already sees it: same footage, so the same evidence and score.
        found, original = top_in(client, "silent-again.mp4"), top_in(client, "silent.mp4")
        assert {"visual", "fused"} <= set(found["evidence"]), found["evidence"]
        assert found["score"] == pytest.approx(original["score"], rel=1e-4)
        after = client.get("/api/health").json()["stats"]
        added = after["segments"] - before["segments"]
        assert added > 0 and after["vectors.visual"] - before["vectors.visual"] == added
    library.close()
