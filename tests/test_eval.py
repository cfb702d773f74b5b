"""`sceneseek eval` end to end on a one-video slice of the real benchmark."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from sceneseek.eval.dataset import build_dataset


@pytest.fixture(scope="session")
def benchmark(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bench")
    build_dataset(out)
    return out


def test_eval_on_a_one_video_slice(benchmark: Path, tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "sceneseek.cli",
            "eval",
            "--dataset",
            str(benchmark),
            "--db",
            str(tmp_path / "lib"),
            "--videos",
            "1",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    reports = json.loads(done.stdout)
    assert set(reports) == {"sceneseek", "keyword baseline"}
    ours = {row["key"]: row for row in reports["sceneseek"]["rows"]}
    legacy = {row["key"]: row for row in reports["keyword baseline"]["rows"]}
    assert ours["overall"]["n"] >= 5
    # Semantic search must beat filename keywords on the same slice, in the same run.
    assert ours["overall"]["mAP@10"] > legacy["overall"]["mAP@10"]
    assert reports["sceneseek"]["latency_ms"]["p50"] > 0
