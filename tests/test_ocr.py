"""On-screen text: real Tesseract on real composed videos (burned-in captions over photos)."""

from __future__ import annotations

import math
import time
from difflib import SequenceMatcher
from pathlib import Path

import av
import numpy as np
import pytest

from sceneseek.encoders import frame_readers
from sceneseek.encoders.base import FrameReader, Observation
from sceneseek.encoders.ocr import OcrError, OcrSession, TesseractReader, clean_line
from sceneseek.eval.assets import AssetCache
from sceneseek.eval.compose import Caption, Card, Photo, Visual, compose_cached
from sceneseek.eval.samples import CAPTION, SampleSet

pytestmark = pytest.mark.slow


def detail_frames(path: Path, fps: float = 1.0) -> list[tuple[float, np.ndarray]]:
    """The first frame at or after each 1/fps tick, as the ingest decoder picks them."""
    out: list[tuple[float, np.ndarray]] = []
    next_time = 0.0
    with av.open(str(path)) as container:
        for frame in container.decode(container.streams.video[0]):
            if frame.time is None or frame.time + 1e-6 < next_time:
                continue
            next_time = (math.floor(frame.time * fps + 1e-6) + 1) / fps
            out.append((float(frame.time), frame.to_ndarray(format="rgb24")))
    return out


def similar(a: str, b: str) -> float:
    return SequenceMatcher(None, a.casefold(), b.casefold()).ratio()


def find(observations: list[Observation], text: str) -> list[Observation]:
    return [o for o in observations if similar(o.text, text) >= 0.8]


@pytest.fixture(scope="module")
def photo_frames(samples: SampleSet) -> list[tuple[float, np.ndarray]]:
    return detail_frames(samples.photos)


@pytest.fixture(scope="module")
def reader() -> TesseractReader:
    return TesseractReader()


@pytest.fixture(scope="module")
def spanish(tmp_path_factory: pytest.TempPathFactory) -> Path:
    images = AssetCache().skimage_images()
    visuals: list[Visual] = [Card(2.0, "black"), Photo(images["coffee"].path, 6.0, "coffee")]
    captions = [
        Caption("SALIDA DE EMERGENCIA", 2.5, 5.5),
        Caption("Próxima estación", 5.5, 8.0),
    ]
    out = tmp_path_factory.mktemp("ocr") / "spanish.mp4"
    return compose_cached(out, visuals, captions=captions).path


def read(
    reader: FrameReader, frames: list[tuple[float, np.ndarray]]
) -> tuple[OcrSession, list[Observation]]:
    session = reader.session()
    assert isinstance(session, OcrSession)
    for t, rgb in frames:
        session.feed(t, rgb)
    return session, session.finish()


def test_caption_becomes_one_timed_observation(
    reader: TesseractReader, photo_frames: list[tuple[float, np.ndarray]], samples: SampleSet
) -> None:
    reader.session()  # load the engine before timing
    started = time.perf_counter()
    session, observations = read(reader, photo_frames)
    wall = time.perf_counter() - started
    truth = samples.find("photos.mp4", CAPTION)
    hits = find(observations, CAPTION)
    assert len(hits) == 1, observations
    hit = hits[0]
    assert abs(hit.start - truth.start) <= 1.5
    assert hit.start < truth.end and hit.end > truth.start
    assert abs(hit.end - truth.end) <= 1.5
    assert 0.7 <= hit.score <= 1.0
    # photos of a cat, bicycles, coffee and a rocket must not turn into text
    others = [o for o in observations if o is not hit]
    assert len(others) <= 2 and all(len(o.text) < 8 for o in others), others
    # unchanged frames (cards, the static caption) are not OCR'd again
    assert session.read < session.frames == len(photo_frames)
    duration = photo_frames[-1][0] + 1
    assert duration / wall >= 5, f"OCR ran at {duration / wall:.1f}x realtime"


def test_spanish_captions(reader: TesseractReader, spanish: Path) -> None:
    _, observations = read(reader, detail_frames(spanish))
    salida = find(observations, "SALIDA DE EMERGENCIA")
    proxima = find(observations, "Próxima estación")
    assert len(salida) == 1 and len(proxima) == 1, observations
    assert abs(salida[0].start - 2.5) <= 1.5 and abs(proxima[0].start - 5.5) <= 1.5
    assert proxima[0].text == "Próxima estación"  # accents come from the spa model


def test_cli_fallback_reads_the_same(photo_frames: list[tuple[float, np.ndarray]]) -> None:
    """Without tesserocr the tesseract program reads frames in batches; same result."""
    cli = TesseractReader()
    cli.backend = "cli"
    _, observations = read(cli, photo_frames[24:34])
    hits = find(observations, CAPTION)
    assert len(hits) == 1 and 26 <= hits[0].start <= 28, observations


def test_rapidocr_reads_the_caption(photo_frames: list[tuple[float, np.ndarray]]) -> None:
    pytest.importorskip("rapidocr_onnxruntime")
    reader = frame_readers.create("ocr-rapidocr", threads=2)
    _, observations = read(reader, photo_frames[25:33])
    assert len(find(observations, CAPTION)) == 1, observations


def test_registry_and_info() -> None:
    reader = frame_readers.create("ocr-tesseract", threads=2, unused="ignored")
    assert reader.info.name == "ocr-tesseract"
    assert "eng+spa" in reader.info.version
    tesserocr = pytest.importorskip("tesserocr")  # the version was asked of its library:
    engine = tesserocr.tesseract_version().split()[1]  # the one tesserocr reports
    assert reader.info.version.startswith(f"tesseract-{engine}+") and reader.backend == "tesserocr"
    frame = np.zeros((64, 64, 3), np.uint8)
    frame[20:40, 10:50] = 255
    with pytest.raises(OcrError, match="language data"):
        TesseractReader(languages="xxx").session().feed(0.0, frame)


def test_noise_is_dropped() -> None:
    assert clean_line([("tr", 85), ("E", 83)]) is None  # fragments only
    assert clean_line([("Gj.", 57), ("Ye", 41)]) is None  # low confidence
    assert clean_line([("|", 90), ("—", 90), ("ab", 90)]) is None  # punctuation
    text, score = clean_line([("GATE", 97), ("7", 97), ("CLOSED", 96)]) or ("", 0.0)
    assert text == "GATE 7 CLOSED" and score == pytest.approx(0.9667, abs=1e-3)
