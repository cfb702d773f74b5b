"""What the pixels alone say, put into words: named colours, brightness, camera motion.

Many things people search for are not among a classifier's classes ("a red car", "dark
footage", "a black and white shot", "the camera pans") but are plain in the pixels. This
reader turns each detail frame into a short English description that the multilingual text
embedding and BM25 can match, and that a result shows as evidence:

* **Colours** of the frame and of what moves in it, named with the basic colour terms
  (black, white, grey, red, orange, yellow, green, blue, purple, pink, brown): each pixel
  goes to the nearest colour prototype in CIE Lab, a perceptual space, and a pixel too
  weakly coloured (low chroma) is named black, grey or white by its lightness alone, so
  sensor noise never makes a grey wall "blue". Moving pixels come from background
  subtraction (MOG2) while the camera holds still.
* **Brightness**: dark / low light, or bright; and greyscale pictures (black-and-white or
  an infrared night camera), which carry no colour at all.
* **Camera**: static or moving, from the global shift between consecutive frames (phase
  correlation); a cut between shots is neither.

Cheap by design: everything runs on a 160-px thumbnail of the detail frames the ingest
pipeline already decodes. Consecutive frames with the same description become one
observation, so times stay tight to where an attribute holds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

import numpy as np

from sceneseek.encoders.base import EncoderInfo, Observation, frame_readers, opencv_version
from sceneseek.encoders.zones import Zone

if TYPE_CHECKING:  # OpenCV is imported when frames are read: a search only needs the version
    import cv2

# Basic colour terms (Berlin & Kay's eleven) with an sRGB prototype each; chromatic
# prototypes are matched in Lab, achromatic names come from lightness alone.
CHROMATIC = {
    "red": (200, 30, 35),
    "orange": (240, 130, 20),
    "yellow": (240, 220, 40),
    "green": (50, 160, 60),
    "blue": (40, 90, 210),
    "purple": (125, 50, 165),
    "pink": (240, 140, 185),
    "brown": (125, 75, 35),
}


def _lab(rgb: np.ndarray) -> np.ndarray:
    """CIE Lab (L 0-100) of uint8 RGB pixels of any shape (..., 3)."""
    import cv2

    flat = rgb.reshape(-1, 1, 3).astype(np.float32) / 255
    return cv2.cvtColor(flat, cv2.COLOR_RGB2Lab).reshape(*rgb.shape[:-1], 3)


@cache
def prototypes() -> np.ndarray:
    """The chromatic prototypes in Lab; on first use, not at import: OpenCV's first
    conversion costs ~90 ms, which every process importing the encoders (a CLI search
    too) paid."""
    return _lab(np.array(list(CHROMATIC.values()), np.uint8))


NAMES = (*CHROMATIC, "black", "grey", "white")


@dataclass(frozen=True)
class AttributeSettings:
    """Thresholds, in units that do not depend on resolution or frame rate."""

    width: int = 160  # thumbnail width everything is measured on
    min_chroma: float = 18.0  # Lab chroma below which a pixel has no hue worth naming
    black_lightness: float = 25.0  # achromatic pixels darker than this are black
    white_lightness: float = 80.0  # ... lighter than this white, grey in between
    chromatic_share: float = 0.08  # a hue covering this share of the frame is named
    achromatic_share: float = 0.3  # black/grey/white must cover more to be worth saying
    max_colours: int = 3
    dark_lightness: float = 22.0  # mean L below which the frame is dark (night, low light)
    bright_lightness: float = 65.0  # mean L above which it is bright
    greyscale_chroma: float = 8.0  # chroma that 99% of pixels stay under in a greyscale picture
    pan_fraction: float = 0.01  # global shift (share of the width) that is camera motion
    pan_changed: float = 0.2  # share of pixels a camera move must change (by > 20 grey levels)
    cut_changed: float = 0.6  # share of pixels changed without a shift: a cut, not motion
    min_response: float = 0.1  # phase-correlation peak below which the shift is unknown
    moving_share: float = 0.005  # foreground share of the frame that counts as something moving
    max_moving_share: float = 0.5  # more is the light changing, not a thing moving


def colour_names(lab: np.ndarray, settings: AttributeSettings) -> np.ndarray:
    """Index into ``NAMES`` of every pixel of (..., 3) Lab."""
    shape, lab = lab.shape[:-1], lab.reshape(-1, 3)
    chroma = np.hypot(lab[:, 1], lab[:, 2])
    nearest = np.argmin(((lab[:, None, :] - prototypes()[None]) ** 2).sum(axis=2), axis=1)
    lightness = lab[:, 0]
    achromatic = np.where(
        lightness < settings.black_lightness,
        len(CHROMATIC),
        np.where(lightness > settings.white_lightness, len(CHROMATIC) + 2, len(CHROMATIC) + 1),
    )
    return np.where(chroma >= settings.min_chroma, nearest, achromatic).reshape(shape)


def dominant_colours(names: np.ndarray, settings: AttributeSettings) -> list[str]:
    """Colour terms covering enough of the pixels, most common first: hues (the salient
    ones) from a smaller share than black, grey and white."""
    if names.size == 0:
        return []
    shares = np.bincount(names.ravel(), minlength=len(NAMES)) / names.size
    wanted = [
        i
        for i in np.argsort(-shares, kind="stable")
        if shares[i]
        >= (settings.chromatic_share if i < len(CHROMATIC) else settings.achromatic_share)
    ]
    return [NAMES[i] for i in wanted[: settings.max_colours]]


def _listed(words: list[str]) -> str:
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"


class AttributeSession:
    """State of one video: the previous thumbnail (camera motion) and a background model
    (moving regions), reset at every cut and while the camera moves."""

    def __init__(self, settings: AttributeSettings) -> None:
        self.settings = settings
        self._times: list[float] = []
        self._texts: list[str] = []
        self._previous: np.ndarray | None = None
        self._subtractor: cv2.BackgroundSubtractor | None = None
        self._window: np.ndarray | None = None

    def feed(self, time: float, rgb: np.ndarray) -> None:
        import cv2

        s = self.settings
        h, w = rgb.shape[:2]
        size = (min(s.width, w), max(1, round(h * min(s.width, w) / w)))
        small = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
        lab = _lab(small)
        names = colour_names(lab, s)
        lightness = float(lab[..., 0].mean())
        chroma = np.hypot(lab[..., 1], lab[..., 2])
        greyscale = float(np.percentile(chroma, 99)) < s.greyscale_chroma
        camera = self._camera(cv2.cvtColor(small, cv2.COLOR_RGB2GRAY).astype(np.float32))
        moving: list[str] = []
        if camera != "static" or self._subtractor is None:  # new view: learn it afresh
            self._subtractor = cv2.createBackgroundSubtractorMOG2(
                history=60, varThreshold=25, detectShadows=False
            )
        mask = self._subtractor.apply(small) == 255
        if camera == "static" and s.moving_share <= mask.mean() <= s.max_moving_share:
            moving = dominant_colours(names[mask], s)
        parts = []
        frame = dominant_colours(names, s)
        if frame:
            parts.append(f"mostly {_listed(frame)} colours")
        if moving:
            parts.append(f"something {_listed(moving)} moving")
        if greyscale:
            parts.append("black and white greyscale picture, no colour (or infrared)")
        if lightness < s.dark_lightness:
            parts.append("dark, low light, at night")
        elif lightness > s.bright_lightness:
            parts.append("bright, well lit")
        if camera == "static":
            parts.append("static camera, fixed view")
        elif camera == "moving":
            parts.append("moving camera, panning")
        self._times.append(time)
        self._texts.append(", ".join(parts))

    def _camera(self, gray: np.ndarray) -> str | None:
        """ "static" or "moving" from the global shift onto the previous frame; None at the
        first frame and at cuts, where the two frames show different things."""
        import cv2

        previous, self._previous = self._previous, gray
        if previous is None or previous.shape != gray.shape:
            return None
        if self._window is None or self._window.shape != gray.shape:
            self._window = cv2.createHanningWindow(gray.shape[::-1], cv2.CV_32F)
        # Copies: OpenCV applies the window to its inputs in place.
        (dx, dy), response = cv2.phaseCorrelate(previous.copy(), gray.copy(), self._window)
        changed = float((np.abs(gray - previous) > 20).mean())
        if response < self.settings.min_response:
            return None
        if np.hypot(dx, dy) > self.settings.pan_fraction * gray.shape[1]:
            # Over a plain background the only structure is the thing that moves, and the
            # peak follows it: a camera that moved changes much of the picture.
            return "moving" if changed >= self.settings.pan_changed else "static"
        return None if changed > self.settings.cut_changed else "static"

    def finish(self) -> list[Observation]:
        """One observation per run of frames with the same description; a frame stands
        for the time until the next one."""
        if not self._times:
            return []
        step = float(np.median(np.diff(self._times))) if len(self._times) > 1 else 1.0
        ends = [*self._times[1:], self._times[-1] + step]
        out: list[Observation] = []
        for time, end, text in zip(self._times, ends, self._texts, strict=True):
            if out and out[-1].text == text and abs(out[-1].end - time) < 1e-6:
                out[-1] = Observation(out[-1].start, end, text, language="en")
            elif text:
                out.append(Observation(time, end, text, language="en"))
        return out


class PixelAttributeReader:
    """``FrameReader`` for colour, brightness and camera-motion attributes."""

    def __init__(self, settings: AttributeSettings | None = None) -> None:
        self.settings = settings or AttributeSettings()
        self.info = EncoderInfo("attributes-pixels", f"1-cv{opencv_version()}")

    def session(self, zones: Sequence[Zone] = ()) -> AttributeSession:
        """``zones``: ignored, colours and light are read over the whole picture."""
        return AttributeSession(self.settings)


@frame_readers.register("attributes-pixels")
def _attributes_pixels(**_: object) -> PixelAttributeReader:
    return PixelAttributeReader()
