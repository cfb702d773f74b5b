"""Pixel attributes on real pictures and real decoding: scikit-image's photographs, flat
colour frames, a dark frame, a still panned by ffmpeg against the same still held fixed,
and a red square moving over a grey background; then through the whole engine."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
import skimage.data

from sceneseek import Config, Library
from sceneseek.encoders import frame_readers
from sceneseek.encoders.attributes import PixelAttributeReader
from sceneseek.encoders.base import Observation
from sceneseek.media.decode import probe, sample_frames


def describe(frames: list[tuple[float, np.ndarray]]) -> list[Observation]:
    session = PixelAttributeReader().session()
    for time, rgb in frames:
        session.feed(time, rgb)
    return session.finish()


def still(rgb: np.ndarray, seconds: int = 3) -> list[tuple[float, np.ndarray]]:
    return [(float(t), rgb) for t in range(seconds)]


def text_of(frames: list[tuple[float, np.ndarray]]) -> str:
    return " ".join(o.text for o in describe(frames))


def test_registered() -> None:
    reader = frame_readers.create("attributes-pixels", threads=1)
    assert reader.info.name == "attributes-pixels"
    assert reader.session().finish() == []


@pytest.mark.parametrize(
    ("rgb", "name"),
    [
        ((220, 25, 25), "red"),
        ((30, 60, 200), "blue"),
        ((40, 170, 60), "green"),
        ((250, 225, 40), "yellow"),
        ((245, 140, 20), "orange"),
        ((130, 50, 170), "purple"),
        ((128, 128, 128), "grey"),
    ],
)
def test_flat_colours_are_named(rgb: tuple[int, int, int], name: str) -> None:
    text = text_of(still(np.full((120, 160, 3), rgb, np.uint8)))
    assert f"mostly {name} colours" in text, text


def test_photographs() -> None:
    cat = text_of(still(skimage.data.chelsea()))
    assert "brown" in cat and "greyscale" not in cat, cat
    rocket = text_of(still(skimage.data.rocket()))
    assert "blue" in rocket, rocket  # the sky
    coffee = text_of(still(skimage.data.coffee()))
    assert "red" in coffee or "brown" in coffee, coffee
    grey = np.repeat(skimage.data.camera()[..., None], 3, axis=2)
    cameraman = text_of(still(grey))
    assert "greyscale" in cameraman and "dark" not in cameraman, cameraman
    assert "greyscale" not in text_of(still(skimage.data.hubble_deep_field()))


def test_dark_and_bright() -> None:
    night = text_of(still(np.full((120, 160, 3), (12, 12, 16), np.uint8)))
    assert "dark" in night and "black" in night, night
    lit = text_of(still(np.full((120, 160, 3), (235, 235, 230), np.uint8)))
    assert "bright" in lit and "white" in lit and "dark" not in lit, lit


def encode(tmp_path: Path, name: str, crop_x: str) -> list[tuple[float, np.ndarray]]:
    """A 6 s clip of a 320x240 window on the astronaut photograph (x may move with t),
    decoded by the ingest pipeline into its 1 fps detail frames."""
    picture = tmp_path / "astronaut.png"
    if not picture.exists():
        import cv2

        cv2.imwrite(str(picture), cv2.cvtColor(skimage.data.astronaut(), cv2.COLOR_RGB2BGR))
    out = tmp_path / f"{name}.mp4"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-loop", "1", "-i", str(picture), "-t", "6"]
        + ["-vf", f"crop=320:240:x='{crop_x}':y=100,format=yuv420p", "-r", "10", str(out)],
        check=True,
    )
    batches = sample_frames(probe(out), 1.0, 128, detail_fps=1.0, detail_short_side=240)
    return [frame for batch in batches for frame in batch.detail]


def test_panning_versus_static_camera(tmp_path: Path) -> None:
    panned = text_of(encode(tmp_path, "pan", "20+25*t"))
    fixed = text_of(encode(tmp_path, "fixed", "20"))
    assert "moving camera" in panned and "static camera" not in panned, panned
    assert "static camera" in fixed and "moving camera" not in fixed, fixed
    assert "moving" not in fixed.replace("moving camera", ""), fixed


def test_moving_region_colour() -> None:
    background = np.repeat(skimage.data.camera()[100:340, 100:420, None], 3, axis=2)
    frames = []
    for t in range(8):
        rgb = background.copy()
        x = 20 + 30 * t
        rgb[100:150, x : x + 60] = (210, 20, 20)
        frames.append((float(t), rgb))
    observations = describe(frames)
    plain = describe([(t, np.where(rgb == background, np.uint8(110), rgb)) for t, rgb in frames])
    assert not any("moving camera" in o.text for o in observations + plain)
    # Where the square was at first shows too (the background model learnt it there).
    moving = [
        o for o in observations if re.search(r"something (\w+ and )?red( and \w+)? moving", o.text)
    ]
    assert moving and moving[0].start <= 1.0, [o.text for o in observations]
    assert "moving" not in observations[0].text  # nothing known to move yet
    assert all(a.end <= b.start for a, b in zip(observations, observations[1:], strict=False))


def test_attributes_alone_find_colour_and_darkness(tmp_path: Path) -> None:
    """Index → search through BM25 and the e5 embedding: a red stretch and a dark one."""
    video = tmp_path / "cards.mp4"
    cards = [
        a
        for c in ("gray", "red", "gray", "black")
        for a in ("-f", "lavfi", "-i", f"color=c={c}:s=320x240:d=6:r=5")
    ]
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", *cards]
        + ["-filter_complex", "concat=n=4:v=1:a=0,format=yuv420p", str(video)],
        check=True,
    )
    library = Library(tmp_path / "lib", Config(modalities=["attributes"]))
    library.index([video])
    red = library.search("a red scene").results[0]
    assert red.start >= 5.0 and red.end <= 19.0, (red.start, red.end)
    assert "mostly red colours" in red.evidence["attributes"]["text"]
    assert "moving" not in red.evidence["attributes"]["text"]  # a cut is not motion
    dark = library.search("a dark, low-light scene").results[0]
    assert dark.start >= 17.0, (dark.start, dark.end)
