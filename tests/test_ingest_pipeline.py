"""The fast ingest path gives what the plain one gave: the ONNX export of EfficientNet
against the shipped PyTorch network, frame readers in their own threads against the
same readers fed directly, and observation texts embedded once against embedding each."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from sceneseek import Config
from sceneseek.encoders.ocr import TesseractReader
from sceneseek.encoders.visual_effnet import EfficientNetConSE
from sceneseek.eval.samples import SampleSet
from sceneseek.ingest import Encoders, ReaderThread, reader_rates
from sceneseek.media.decode import RateClock, probe, sample_frames


@pytest.fixture(scope="module")
def frames(samples: SampleSet) -> tuple[np.ndarray, list[tuple[float, np.ndarray]]]:
    """Analysis frames (256 px) and detail frames (1 fps) of the sample photo video."""
    batches = list(sample_frames(probe(samples.photos), 1.0, 256, 1.0, 480))
    return np.concatenate([b.rgb for b in batches]), [d for b in batches for d in b.detail]


def test_onnx_export_gives_the_pytorch_features(
    frames: tuple[np.ndarray, list[tuple[float, np.ndarray]]],
) -> None:
    import torch

    from sceneseek.encoders.base import center_crop
    from sceneseek.encoders.visual_effnet import INPUT_MEAN, INPUT_STD

    visual = Encoders(Config()).visual
    assert isinstance(visual, EfficientNetConSE)
    rgb = frames[0][:12]
    exported = visual.encode_frames(rgb)
    pixels = torch.from_numpy(np.ascontiguousarray(center_crop(rgb, visual.crop)))
    model = visual.pytorch_model()
    with torch.inference_mode():
        pooled = model.extract_features(
            (pixels.permute(0, 3, 1, 2).float() - INPUT_MEAN) / INPUT_STD
        )
        pooled = pooled.mean(dim=(2, 3))
        probs = torch.softmax(model._fc(pooled), dim=1)
    np.testing.assert_allclose(exported.image, pooled.numpy(), atol=1e-4)
    np.testing.assert_allclose(exported.semantic, probs.numpy(), atol=1e-5)
    assert (exported.semantic.argmax(1) == probs.numpy().argmax(1)).all()


def test_the_export_is_made_once_per_machine(tmp_path: Path) -> None:
    first = Encoders(Config(cache_dir=tmp_path)).visual
    first.encode_frames(np.zeros((1, 256, 256, 3), np.uint8))
    (graph,) = tmp_path.glob("*.onnx")
    made = graph.stat().st_mtime_ns
    again = Encoders(Config(cache_dir=tmp_path)).visual
    again.encode_frames(np.zeros((1, 256, 256, 3), np.uint8))
    assert graph.stat().st_mtime_ns == made
    assert [p.name for p in tmp_path.iterdir() if ".tmp" in p.name] == []


def test_a_reader_in_its_thread_reads_what_it_reads_directly(
    frames: tuple[np.ndarray, list[tuple[float, np.ndarray]]],
) -> None:
    reader = TesseractReader()
    direct = reader.session()
    threaded = ReaderThread(reader.session())
    for time, rgb in frames[1]:
        direct.feed(time, rgb)
        threaded.feed(time, rgb)
    expected = direct.finish()
    assert expected, "the sample photos carry a caption"
    assert threaded.finish() == expected


def test_a_reader_failure_reaches_the_caller_and_the_thread_ends() -> None:
    threaded = ReaderThread(TesseractReader().session())
    threaded.feed(0.0, np.zeros((48, 64), np.uint8))  # no colour axis: the reader fails
    for i in range(ReaderThread.DEPTH * 2):  # the feeder is never blocked by a dead reader
        threaded.feed(float(i), np.zeros((48, 64, 3), np.uint8))
    with pytest.raises(np.exceptions.AxisError):
        threaded.finish()
    assert not [t for t in threading.enumerate() if t.name == "frame-reader"]


def test_observation_texts_are_embedded_once() -> None:
    encoders = Encoders(Config())
    texts = ["no people in the scene", "a dog barking", "no people in the scene", ""]
    vectors = encoders.passages(texts)
    np.testing.assert_array_equal(vectors, encoders.text.embed_passages(texts))
    assert len(vectors) == 4 and len(vars(encoders)["_passages"]) == 3
    assert encoders.passages([]).shape == (0, encoders.text.dim)


def test_threads_do_not_outlive_an_ingest(samples: SampleSet, tmp_path: Path) -> None:
    from sceneseek import Library

    library = Library(tmp_path / "lib", Config(modalities=["visual", "ocr", "sound"]))
    report = library.index([samples.photos, samples.corrupt, samples.empty])
    library.close()
    assert len(report.indexed) == 1 and len(report.failed) == 2
    names = {t.name for t in threading.enumerate()}
    assert not [n for n in names if n.startswith(("frame-reader", "listen"))], names


def test_each_frame_reader_reads_at_its_own_rate(samples: SampleSet) -> None:
    """People at 3 fps, OCR and attributes at 1 fps, from one decoding at 3 fps: the
    slower readers get exactly the frames that decoding at 1 fps would have given them."""
    config = Config(segment={"detail_fps": 1, "people_fps": 3})  # type: ignore[arg-type]
    rates = reader_rates(config, ["ocr", "people", "attributes"])
    assert rates == {"ocr": 1.0, "people": 3.0, "attributes": 1.0}
    info = probe(samples.photos)
    fastest = [d for b in sample_frames(info, 1.0, 64, 3.0, 120) for d in b.detail]
    alone = [d for b in sample_frames(info, 1.0, 64, 1.0, 120) for d in b.detail]
    clock = RateClock(rates["ocr"])
    picked = [(t, rgb) for t, rgb in fastest if clock.due(t)]
    assert [t for t, _ in picked] == [t for t, _ in alone]
    assert all(np.array_equal(a, b) for (_, a), (_, b) in zip(picked, alone, strict=True))
    assert len(fastest) >= 2.5 * len(alone)
