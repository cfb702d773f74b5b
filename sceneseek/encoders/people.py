"""People and motion put into words, from OpenCV alone (no model download).

Security operators search for events ("two people walking toward the gate", "person
loitering", "movement at night", "nadie en la escena"), not for pixels. This reader turns
detail frames into timed English sentences that the multilingual text embedding and BM25 can
match: background subtraction (MOG2) says when something moves, the HOG people detector that
ships inside OpenCV finds people, and greedy centroid tracking across frames says how many,
for how long, and which way they went.

Cheap by design: motion runs on a 320-px thumbnail, with camera shake, pans and zooms
estimated (corner tracking + RANSAC) and cancelled, so a handheld or zooming shot is not
"motion". HOG runs on small crops around moving blobs and tracked people, scaled so a person
fills its 64x128 window (distant people too), and on the whole frame (at most 640 px wide)
every ``hog_every_seconds``, at a new shot, and once a second while the camera moves.
Between HOG passes, once every ``redetect_seconds``, a tracked walker follows their own
moving blob, so the 3 fps that time a zone crossing (``segment.people_fps``) cost much less
than three times HOG at 1 fps. A person walking in cut off by the picture's edge (or merged
with a companion) is a blob HOG cannot see as a person for a second or more: a new track
traces its blob back to the edge they came in by and starts there. A detection counts as a person
only once its track has hits in ``min_hits`` frames and its box held moving pixels at least
once: that removes HOG's one-frame false alarms and the posts and tripods it mistakes for
people (the price: someone who never moves at all is not reported).

Each confirmed track becomes events as tight in time as a spoken word: which way the
person went, when a walker stopped and for how long, and, for a camera with zones, when
they entered or left each zone and how long they loitered there
(``sceneseek.encoders.zones``). "Nobody there" runs come out as their own kind
(``Observation.kind == "absence"``), evidence only for a query about emptiness.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, TypeVar

import numpy as np

from sceneseek.encoders.base import EncoderInfo, Observation, frame_readers, opencv_version
from sceneseek.encoders.tracks import PeopleFindings, PersonEvent, TrackedPerson
from sceneseek.encoders.zones import Footing, Zone, ZoneEvent, zone_events

if TYPE_CHECKING:  # OpenCV is imported when frames are read: a search only needs the version
    import cv2

T = TypeVar("T")
NUMBER_WORDS = ("no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
# What a scene where nothing happens is said as (search tells these apart by their words:
# they are evidence only for a query about emptiness or stillness).
NOBODY = "no people in the scene, nobody there, empty"
STILL = "no motion, static scene, nothing moving"
DIRECTIONS = ("left to right", "right to left", "toward the camera", "away from the camera")


@dataclass(frozen=True)
class PeopleSettings:
    """Thresholds, in units that do not depend on resolution or frame rate."""

    detect_width: int = 640  # HOG input width cap (its window is 64x128 px)
    motion_width: int = 320
    motion_fraction: float = 0.004  # foreground share of the frame that counts as motion
    dark_luma: float = 50.0  # mean luma (0-255) below which a frame is "dark, at night"
    hog_scale: float = 1.1  # pyramid step: 1.05 finds ~30% more boxes at twice the cost
    hit_threshold: float = 0.0  # HOG SVM margin passed to OpenCV
    min_weight: float = 0.4  # weakest single detection kept
    min_track_weight: float = 0.7  # a confirmed track's mean detection weight
    # Tracker and zone settings chosen on the tune half of bench/events.py at 3 fps
    # (``segment.people_fps``'s default); docs/BENCHMARKS.md has them at 1 fps too.
    min_hits: int = 1  # frames a detection must persist in before it counts as a person
    max_gap: float = 3.0  # seconds a track survives without a detection
    hog_every_seconds: float = 5.0  # full-frame HOG this often: finds people standing (no blob)
    pan_hog_seconds: float = 1.0  # ... and this often while the camera moves
    redetect_seconds: float = 1.0  # a tracked walker follows their blob this long without HOG
    min_person: int = 40  # px: smaller moving blobs are not searched for people
    lead_in_seconds: float = 5.0  # how far a new track may be traced back along a moving blob
    loiter_seconds: float = 30.0  # staying put (or in one zone) this long is "loitering"
    looks_weight: float = 3.0  # body heights one unit of colour difference costs in matching
    velocity_seconds: float = 1.0  # a track's velocity is fitted over this long (0: 2 hits)
    zone_confirm_seconds: float = 0.7  # feet stay across a zone edge this long to count
    stop_seconds: float = 5.0  # a walker standing still this long "stops"
    crowd: int = 4  # this many people at once is "a crowd"


@dataclass(frozen=True)
class TrackBox:
    """Where a tracked person was at one detail frame, in frame fractions."""

    time: float
    x: float  # left
    y: float  # top
    width: float
    height: float


@dataclass
class _Frame:
    time: float
    state: str | None  # "motion" | "static" | "camera" | None (first frame of a shot)
    dark: bool


@dataclass
class _Track:
    """One person over time: (frame index, time, cx, cy, height, weight) per detection,
    in pixels of the original frame."""

    hits: list[tuple[int, float, float, float, float, float]] = field(default_factory=list)
    moved: int = 0  # hits whose box overlapped moving pixels
    looks: np.ndarray | None = None  # running colour histogram of the body (appearance)
    detected: float = 0.0  # when HOG last found them (other hits follow a moving blob)

    @property
    def last_time(self) -> float:
        return self.hits[-1][1]

    def predict(self, time: float, window: float = 0.0) -> tuple[float, float, float]:
        """Centre expected at ``time`` under constant velocity, and the current height.
        The velocity is fitted to the hits of the last ``window`` seconds (the last two
        when 0): one step of HOG jitter is a body width, not a walk."""
        _, t1, x1, y1, h1, _ = self.hits[-1]
        recent = [h for h in self.hits[-12:] if h[1] >= t1 - window] if window else []
        if len(recent) < 2:
            recent = self.hits[-2:]
        if len(recent) < 2:
            return x1, y1, h1
        times = np.array([h[1] for h in recent])
        span = max(float(times[-1] - times[0]), 1e-3)
        if window:
            vx = float(np.polyfit(times, [h[2] for h in recent], 1)[0])
            vy = float(np.polyfit(times, [h[3] for h in recent], 1)[0])
            ahead = min(time - t1, window)
        else:
            vx, vy = (x1 - recent[0][2]) / span, (y1 - recent[0][3]) / span
            ahead = min(time - t1, 2 * span)  # do not extrapolate far past the evidence
        return x1 + vx * ahead, y1 + vy * ahead, h1


def _among(track: _Track, tracks: list[_Track]) -> bool:
    """Membership by identity (tracks compare by value, and two may be alike)."""
    return any(track is t for t in tracks)


def _count(n: int) -> str:
    return NUMBER_WORDS[n] if n < len(NUMBER_WORDS) else str(n)


def _people(n: int) -> str:
    """ "a person", "two people (2)": words for the embedding model, digits for BM25."""
    return "a person" if n == 1 else f"{_count(n)} people ({n})"


def spoken_duration(seconds: float) -> str:
    """How long, as the sentences say it: "42 seconds", "3 minutes", "1 hour 5 minutes"."""
    if seconds < 90:
        s = max(1, round(seconds))
        return f"{s} second{'s' if s != 1 else ''}"
    if seconds < 5400:
        m = round(seconds / 60)
        return f"{m} minute{'s' if m != 1 else ''}"
    h, m = divmod(round(seconds / 60), 60)
    return f"{h} hour{'s' if h != 1 else ''}" + (f" {m} minutes" if m else "")


# What ``spoken_duration`` writes, for ``without_durations``.
_DURATIONS = re.compile(r"\d+ (?:seconds?|minutes?|hours?(?: \d+ minutes)?)")


def without_durations(sentence: str) -> str:
    """The sentence with each duration said as "a while": events of one kind, zone and
    direction differ only in them, and an event query ranks these few sentences rather
    than one per duration (a month of a busy camera says hundreds of durations, each an
    embedding at query time). How long is a stated condition, compared, not embedded."""
    return _DURATIONS.sub("a while", sentence)


def _direction(what: str) -> str | None:
    """The way of travel a track's verb phrase (``PeopleSession._describe``) names."""
    return ", ".join(d for d in DIRECTIONS if d in what) or None


def _runs(values: list[T]) -> list[tuple[int, int, T]]:
    """(first, last, value) for each run of equal consecutive values."""
    runs: list[tuple[int, int, T]] = []
    for i, v in enumerate(values):
        if runs and runs[-1][2] == v:
            runs[-1] = (runs[-1][0], i, v)
        else:
            runs.append((i, i, v))
    return runs


class PeopleSession:
    """State of one video: background model, open tracks, per-frame motion state."""

    def __init__(
        self, settings: PeopleSettings, hog: cv2.HOGDescriptor, zones: Sequence[Zone] = ()
    ) -> None:
        import cv2

        self.settings = settings
        self._hog = hog
        self._zones = list(zones)
        self._size = (1, 1)  # (width, height) of the frames, for positions in fractions
        self._frames: list[_Frame] = []
        self._open: list[_Track] = []
        self._done: list[_Track] = []
        self._subtractor: cv2.BackgroundSubtractor | None = None
        self._previous: np.ndarray | None = None  # last thumbnail, for cuts and camera pans
        self._previous_colour: np.ndarray | None = None
        self._kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))
        self._step = 1.0  # median seconds between frames, set by finish()
        self._mask: np.ndarray | None = None  # foreground of the last frame (None: unknown)
        self._mask_scale = 1.0  # mask pixels per frame pixel
        self._found: list[PersonEvent] = []  # structured events, set by finish()
        self._ways: list[str | None] = []  # each confirmed track's way of travel, likewise
        self._moving: list[list[tuple[int, int, int, int]]] = []  # blobs of each frame
        self._next_full = -np.inf  # when HOG next searches the whole frame
        self._next_pan = -np.inf  # ... or, while the camera moves, next may

    # -- per frame -------------------------------------------------------------------------

    def feed(self, time: float, rgb: np.ndarray) -> None:
        import cv2

        gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        h, w = gray.shape
        self._size = (w, h)
        small_w = min(self.settings.motion_width, w)
        size = (small_w, max(1, round(h * small_w / w)))
        colour = cv2.GaussianBlur(cv2.resize(rgb, size, interpolation=cv2.INTER_AREA), (3, 3), 0)
        small = cv2.cvtColor(colour, cv2.COLOR_RGB2GRAY)
        index = len(self._frames)
        cut = self._is_cut(small)
        if cut:  # new shot: old tracks and the old background no longer apply
            self._close_all()
        warp, panning = (None, False) if cut else self._camera_motion(small)
        if warp is not None:
            # The camera shakes, pans or zooms: the background model is of another view, so
            # bring this frame onto the previous one's view, compare the two, and start over.
            assert self._previous_colour is not None
            aligned = cv2.warpAffine(colour, warp, size, borderMode=cv2.BORDER_REPLICATE)
            valid = cv2.warpAffine(np.full(small.shape, 255, np.uint8), warp, size)
            valid = cv2.erode(valid, self._kernel, iterations=2)
            diff = cv2.absdiff(aligned, self._previous_colour)
            # The largest channel difference; numpy's max over the last axis is 30x slower.
            changed = np.maximum(np.maximum(diff[..., 0], diff[..., 1]), diff[..., 2]) > 30
            mask: np.ndarray = np.where(changed & (valid == 255), 255, 0).astype(np.uint8)
            self._subtractor = None
        elif cut or self._subtractor is None:
            self._subtractor = cv2.createBackgroundSubtractorMOG2(
                history=60, varThreshold=25, detectShadows=False
            )
            if not cut and self._previous_colour is not None:  # the camera came to rest
                self._subtractor.apply(self._previous_colour)
            mask = self._subtractor.apply(colour)
        else:
            mask = self._subtractor.apply(colour)
        self._previous_colour = colour
        self._previous = small
        self._mask = None
        self._mask_scale = small_w / w
        state: str | None = None
        blobs: list[tuple[int, int, int, int]] = []
        if not cut:
            mask = cv2.morphologyEx((mask == 255).astype(np.uint8), cv2.MORPH_OPEN, self._kernel)
            self._mask = mask
            moving = float(mask.mean()) > self.settings.motion_fraction
            state = "camera" if panning else "motion" if moving else "static"
            if moving and not panning:
                blobs = self._blobs(mask, w / small_w)
        self._frames.append(_Frame(time, state, float(small.mean()) < self.settings.dark_luma))
        self._moving.append(blobs)
        # The whole frame at a new shot, now and then for people who stand still from the
        # start, and once a second while the camera moves (every pixel changes, so there
        # are no blobs; tracked people are searched where they should be in between);
        # otherwise only where things move or a tracked person was.
        full = cut or time >= self._next_full or (state == "camera" and time >= self._next_pan)
        if full:  # 0.01 s: frame times are not exact ticks
            self._next_full = time + self.settings.hog_every_seconds - 0.01
            self._next_pan = time + self.settings.pan_hog_seconds - 0.01
        follows = self._follows(time, blobs)
        followed = [t for t, _ in follows]
        tracked = [self._track_box(t, time) for t in self._open if not _among(t, followed)]
        regions = tracked + [b for b in blobs if b not in [blob for _, blob in follows]]
        people = self._detect(gray, regions, full) if full or regions else []
        self._track(index, time, people, [self._looks(rgb, *p[:3]) for p in people], follows)

    def _follows(
        self, time: float, blobs: list[tuple[int, int, int, int]]
    ) -> list[tuple[_Track, tuple[int, int, int, int]]]:
        """Open tracks that a moving blob places now without HOG, each with its blob:
        walkers (someone standing has no blob of their own: one there is a passer-by)
        whom HOG found less than ``redetect_seconds`` ago, whose predicted place one
        blob of one person's size holds, and nobody else's. Between HOG passes a
        walker's box follows their blob, so events are timed at the full frame rate
        for about the cost of HOG at 1/``redetect_seconds``."""
        if not self.settings.redetect_seconds or not blobs:
            return []
        boxes = [self._track_box(t, time) for t in self._open]
        centres = [(x + w / 2, y + h / 2) for x, y, w, h in boxes]
        follows = []
        for i, track in enumerate(self._open):
            if time - track.detected >= self.settings.redetect_seconds - 0.01:
                continue  # due for HOG (0.01 s: frame times are not exact ticks)
            height = boxes[i][3]
            _, since, x0, y0, _, _ = track.hits[max(0, len(track.hits) - 4)]
            _, _, x1, y1, _, _ = track.hits[-1]
            if np.hypot(x1 - x0, y1 - y0) < 0.25 * height * max(time - since, 1e-3):
                continue  # slower than a quarter of a body height a second: standing
            for bx, by, bw, bh in blobs:
                holding = [
                    j
                    for j, (cx, cy) in enumerate(centres)
                    if bx <= cx <= bx + bw and by <= cy <= by + bh
                ]
                if holding == [i] and 0.7 * height <= bh <= 1.25 * height and bw <= 0.8 * height:
                    follows.append((track, (bx, by, bw, bh)))
                    break
        return follows

    def _is_cut(self, small: np.ndarray) -> bool:
        """A shot change (or the first frame): the picture as a whole changed."""
        import cv2

        if self._previous is None or self._previous.shape != small.shape:
            return True
        a = cv2.calcHist([small], [0], None, [32], [0, 256])
        b = cv2.calcHist([self._previous], [0], None, [32], [0, 256])
        hist = cv2.compareHist(a, b, cv2.HISTCMP_BHATTACHARYYA)
        diff = float(np.mean(cv2.absdiff(small, self._previous)))
        return hist > 0.35 or diff > 45

    def _camera_motion(self, small: np.ndarray) -> tuple[np.ndarray | None, bool]:
        """Similarity transform taking this frame onto the last (None: no camera motion or
        unsure) and whether the camera pans or zooms noticeably. Corners tracked by optical
        flow, fitted with RANSAC so people moving in front of the background are outliers."""
        import cv2

        assert self._previous is not None
        corners = cv2.goodFeaturesToTrack(self._previous, 200, 0.01, 7)
        if corners is None or len(corners) < 20:
            return None, False
        moved, status, _ = cv2.calcOpticalFlowPyrLK(
            self._previous,
            small,
            corners,
            None,  # type: ignore[call-overload]
        )
        good = status.ravel() == 1
        if good.sum() < 20:
            return None, False
        warp, inliers = cv2.estimateAffinePartial2D(
            moved[good], corners[good], method=cv2.RANSAC, ransacReprojThreshold=1.0
        )
        if warp is None or inliers.sum() < 0.5 * good.sum():
            return None, False
        zoom = float(np.hypot(warp[0, 0], warp[1, 0])) - 1
        shift = float(np.hypot(warp[0, 2], warp[1, 2]))
        if abs(zoom) < 0.002 and shift < 0.3:
            return None, False
        return warp, shift > 0.015 * small.shape[1] or abs(zoom) > 0.02

    def _moved(self, cx: float, cy: float, height: float) -> bool:
        """Whether a person's box holds foreground: a post or tripod that HOG mistakes
        for a person never moves, a real person at least sometimes does."""
        if self._mask is None:
            return False
        s = self._mask_scale
        half = 0.2 * height * s
        x0, x1 = max(0, round(cx * s - half)), max(0, round(cx * s + half))
        y0, y1 = max(0, round((cy - height / 2) * s)), max(0, round((cy + height / 2) * s))
        box = self._mask[y0:y1, x0:x1]
        return box.size > 0 and float(box.mean()) >= 0.1

    def _blobs(self, mask: np.ndarray, scale: float) -> list[tuple[int, int, int, int]]:
        """Moving regions (x, y, w, h) in full-frame pixels, large enough to be a person."""
        import cv2

        joined = cv2.dilate(mask, self._kernel, iterations=2)
        n, _, stats, _ = cv2.connectedComponentsWithStats(joined)
        return [
            (round(x * scale), round(y * scale), round(bw * scale), round(bh * scale))
            for x, y, bw, bh, _ in stats[1:n]
            if bh * scale >= self.settings.min_person
        ]

    def _track_box(self, track: _Track, time: float) -> tuple[int, int, int, int]:
        """Where a tracked person should be now, as a region to search."""
        x, y, h = track.predict(time, self.settings.velocity_seconds)
        return round(x - 0.3 * h), round(y - 0.5 * h), round(0.6 * h), round(h)

    def _detect(
        self, gray: np.ndarray, regions: list[tuple[int, int, int, int]], full: bool
    ) -> list[tuple[float, float, float, float]]:
        """People as (cx, cy, height, weight) in full-frame pixels, after non-maximum
        suppression over a full-frame pass (frame at most ``detect_width`` wide) and one
        small pass per region, scaled so a person the region's height fills HOG's window:
        that finds distant people a full-frame pass at 640 px is too coarse for."""
        found: list[tuple[float, float, float, float]] = []
        h, w = gray.shape
        if full:
            scale = min(1.0, self.settings.detect_width / w)
            found += self._hog_pass(gray, 0, 0, scale, round(0.1 * h * scale))
        for rx, ry, rw, rh in regions:
            side = 1.6 * rh  # HOG's window: the person is ~3/4 of its height
            x0, x1 = max(0, round(rx + rw / 2 - max(rw, side) * 0.6)), 0
            x1 = min(w, round(rx + rw / 2 + max(rw, side) * 0.6))
            y0, y1 = max(0, round(ry + rh / 2 - side / 2)), min(h, round(ry + rh / 2 + side / 2))
            scale = min(2.5, 160 / side)
            if full and scale <= min(1.0, self.settings.detect_width / w) * 1.2:
                continue  # the full-frame pass already looked at this size
            found += self._hog_pass(gray[y0:y1, x0:x1], x0, y0, scale, 8)
        return self._suppress(found)

    def _hog_pass(
        self, gray: np.ndarray, x0: int, y0: int, scale: float, pad: int
    ) -> list[tuple[float, float, float, float]]:
        """HOG over one image, resized by ``scale`` and padded so people cut by its edge
        (or as tall as it) still fit the window."""
        import cv2

        if gray.size == 0:
            return []
        size = (max(1, round(gray.shape[1] * scale)), max(1, round(gray.shape[0] * scale)))
        image = cv2.resize(
            gray, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
        )
        image = cv2.copyMakeBorder(image, pad, pad, pad // 2, pad // 2, cv2.BORDER_REPLICATE)
        if image.shape[0] < 128 or image.shape[1] < 64:
            return []
        rects, weights = self._hog.detectMultiScale(
            image,
            hitThreshold=self.settings.hit_threshold,
            winStride=(8, 8),
            padding=(8, 8),
            scale=self.settings.hog_scale,
        )
        people = []
        for (rx, ry, rw, rh), weight in zip(rects, np.ravel(weights), strict=True):
            if weight >= self.settings.min_weight:
                cx = x0 + (rx - pad // 2 + rw / 2) / scale
                cy = y0 + (ry - pad + rh / 2) / scale
                people.append((cx, cy, 0.75 * rh / scale, float(weight)))
        return people

    @staticmethod
    def _suppress(
        people: list[tuple[float, float, float, float]],
    ) -> list[tuple[float, float, float, float]]:
        """Strongest first; drop boxes whose centre lies inside a stronger one's body."""
        kept: list[tuple[float, float, float, float]] = []
        for p in sorted(people, key=lambda p: -p[3]):
            if all(abs(p[0] - k[0]) > 0.3 * k[2] or abs(p[1] - k[1]) > 0.4 * k[2] for k in kept):
                kept.append(p)
        return kept

    @staticmethod
    def _looks(rgb: np.ndarray, cx: float, cy: float, height: float) -> np.ndarray:
        """Hue-saturation histogram of a person's body: what tells two people apart when
        they pass close by (position alone swaps them)."""
        import cv2

        h, w = rgb.shape[:2]
        x0, x1 = max(0, round(cx - 0.15 * height)), min(w, round(cx + 0.15 * height))
        y0, y1 = max(0, round(cy - 0.35 * height)), min(h, round(cy + 0.3 * height))
        if x1 <= x0 or y1 <= y0:
            return np.full((12, 4), 1 / 48, np.float32)
        hsv = cv2.cvtColor(np.ascontiguousarray(rgb[y0:y1, x0:x1]), cv2.COLOR_RGB2HSV)
        hist = cv2.calcHist([hsv], [0, 1], None, [12, 4], [0, 180, 0, 256])
        return hist / max(float(hist.sum()), 1.0)

    def _track(
        self,
        index: int,
        time: float,
        people: list[tuple[float, float, float, float]],
        looks: list[np.ndarray],
        follows: list[tuple[_Track, tuple[int, int, int, int]]],
    ) -> None:
        """Greedy matching, cheapest first, of detections to the tracks' predicted centres
        (in body heights: at 1 fps a walker moves about one height between frames, so box
        overlap alone would lose them), plus how unlike the track's colours they look."""
        import cv2

        for track in [t for t in self._open if time - t.last_time > self.settings.max_gap]:
            self._close(track)
        pairs = []
        settings = self.settings
        for ti, track in enumerate(self._open):
            px, py, ph = track.predict(time, settings.velocity_seconds)
            dt = time - track.last_time
            for di, (x, y, height, _) in enumerate(people):
                ratio = height / ph
                if not 0.67 < ratio < 1.5:
                    continue
                cost = float(np.hypot(x - px, y - py)) / ph
                if cost < min(3.0, 0.6 + 1.0 * dt):
                    unlike = (
                        cv2.compareHist(track.looks, looks[di], cv2.HISTCMP_BHATTACHARYYA)
                        if track.looks is not None
                        else 0.0
                    )
                    pairs.append((cost + self.settings.looks_weight * unlike, ti, di))
        used_tracks: set[int] = set()
        used_people: set[int] = set()
        for _, ti, di in sorted(pairs):
            if ti in used_tracks or di in used_people:
                continue
            used_tracks.add(ti)
            used_people.add(di)
            track = self._open[ti]
            track.hits.append((index, time, *people[di]))
            track.detected = time
            track.moved += self._moved(*people[di][:3])
            track.looks = looks[di] if track.looks is None else 0.7 * track.looks + 0.3 * looks[di]
        found = [self._open[ti] for ti in used_tracks]
        for track, (bx, by, bw, bh) in follows:
            if not _among(track, found):  # feet on the blob's bottom, at the track's height
                height, weight = track.hits[-1][4:6]
                track.hits.append((index, time, bx + bw / 2, by + bh - height / 2, height, weight))
                track.moved += 1
        for di, person in enumerate(people):
            if di not in used_people:
                moved = int(self._moved(*person[:3]))
                hits = self._lead_in(index, *person) + [(index, time, *person)]
                self._open.append(_Track(hits, moved, looks[di], time))

    def _lead_in(
        self, index: int, cx: float, cy: float, height: float, weight: float
    ) -> list[tuple[int, float, float, float, float, float]]:
        """Where a person first detected now was before, when the moving blob they are
        part of leads back, frame by frame, to the picture's edge: someone walking in cut
        off by the edge (or merged with a companion's blob) is a blob HOG cannot see as a
        person for a second or more, and their entry belongs to when they came in. Each
        earlier position stands on the bottom of the blob (the frame's edge while they
        were cut off). Nothing when the trail does not reach an edge: it may be someone
        else's."""
        width, height_px = self._size
        margin = 2 / self._mask_scale  # a mask pixel, in frame pixels

        def at_edge(bx: int, bw: int, feet: int) -> bool:
            return bx <= margin or bx + bw >= width - margin or feet >= height_px - margin

        x, feet = cx, cy + height / 2
        trail: list[tuple[int, float, float, float, float, float]] = []
        from_edge = False
        now, k, missed = self._frames[index].time, index - 1, 0
        while k >= 0 and now - self._frames[k].time <= self.settings.lead_in_seconds:
            if self._frames[k + 1].state is None:
                break  # never into the shot before
            # The same person: a blob no taller than them whose bottom is near their feet,
            # overlapping where they were a frame later (once at the edge, only along it).
            overlapping = [
                (min(x + 0.3 * height, bx + bw) - max(x - 0.3 * height, bx), bx, by, bw, bh)
                for bx, by, bw, bh in self._moving[k]
                if abs(x - (bx + bw / 2)) < 0.3 * height + bw / 2 + margin
                and abs(by + bh - feet) <= 0.5 * height
                and bh <= 1.5 * height
                and (not from_edge or at_edge(bx, bw, by + bh))
            ]
            k -= 1
            if not overlapping:
                missed += 1  # one frame without the blob: MOG2 flickers
                if missed > 1:
                    break
                continue
            missed = 0
            _, bx, by, bw, bh = max(overlapping)
            x = (max(x - 0.3 * height, bx) + min(x + 0.3 * height, bx + bw)) / 2
            feet = by + bh
            trail.append((k + 1, self._frames[k + 1].time, x, feet - height / 2, height, weight))
            from_edge |= at_edge(bx, bw, feet)
        return trail[::-1] if from_edge else []

    def _close(self, track: _Track) -> None:
        self._open.remove(track)
        weight = float(np.mean([hit[5] for hit in track.hits]))
        if (
            len(track.hits) >= self.settings.min_hits
            and weight >= self.settings.min_track_weight
            and track.moved > 0
        ):
            self._done.append(track)

    def _close_all(self) -> None:
        for track in list(self._open):
            self._close(track)

    # -- at the end ------------------------------------------------------------------------

    def finish(self) -> list[Observation]:
        self._close_all()
        if not self._frames:
            return []
        times = [f.time for f in self._frames]
        step = float(np.median(np.diff(times))) if len(times) > 1 else 1.0
        self._step = step
        groups = self._events()
        self._ways = [_direction(self._describe(track)) for track in self._done]
        number = {id(track): i for i, track in enumerate(self._done)}
        together = [
            PersonEvent(
                "together",
                said.start,
                said.end,
                said.text,
                tuple(sorted(number[id(m)] for m in members)),
                dwell=said.end - said.start,
                direction=_direction(said.text),
            )
            for said, members in groups
            if len(members) >= 2
        ]
        self._found = sorted(
            self._stops() + self._zone_person_events() + together,
            key=lambda e: (e.start, e.end, e.text),
        )
        observations = (
            self._activity()
            + self._presence()
            + [said for said, _ in groups]
            + [
                Observation(e.start, e.end, e.text, kind="event")
                for e in self._found
                if e.kind != "together"  # said by its group's sentence already
            ]
        )
        return sorted(observations, key=lambda o: (o.start, o.end, o.text))

    def findings(self) -> PeopleFindings:
        """Tracks (boxes over time, way of travel) and events with exact times, for the
        index to store and queries to filter on (call after ``finish``)."""
        people = tuple(
            TrackedPerson(i, tuple(_in_picture(b) for b in boxes), way)
            for i, (boxes, way) in enumerate(zip(self.tracks(), self._ways, strict=True))
        )
        return PeopleFindings(people, tuple(self._found))

    def _end(self, index: int) -> float:
        """A frame stands for the time until the next one."""
        if index + 1 < len(self._frames):
            return self._frames[index + 1].time
        return self._frames[index].time + self._step

    def _activity(self) -> list[Observation]:
        """Runs of motion / no motion / camera movement, with "at night" when dark."""
        states: list[tuple[str, bool]] = []
        previous: str | None = None
        for i, frame in enumerate(self._frames):
            state = frame.state
            if state is None:  # first frame of a shot: borrow a neighbour's state
                later = (f.state for f in self._frames[i + 1 :] if f.state is not None)
                state = previous or next(later, "static")
            previous = state
            states.append((state, frame.dark))
        texts = {
            "motion": "motion in the scene, something moving",
            "static": STILL,
            "camera": "the camera is moving, panning or zooming across the scene",
        }
        out = []
        for first, last, value in _runs(states):
            state, dark = value
            text = texts[state]
            seconds = self._end(last) - self._frames[first].time
            if state == "static" and seconds >= 10:
                text += f" for {spoken_duration(seconds)}"
            if dark:
                text += ", in the dark at night, low light"
            out.append(Observation(self._frames[first].time, self._end(last), text))
        return out

    def _presence(self) -> list[Observation]:
        """How many people are in view, run by run ("nobody" runs included)."""
        counts = np.zeros(len(self._frames), dtype=int)
        for track in self._done:
            counts[track.hits[0][0] : track.hits[-1][0] + 1] += 1
        if len(counts) >= 3:  # one-frame blips from a track ending as another starts
            padded = np.concatenate([counts[:1], counts, counts[-1:]])
            counts = np.median(np.stack([padded[:-2], padded[1:-1], padded[2:]]), axis=0)
        out = []
        for first, last, value in _runs([int(c) for c in counts]):
            n = value
            start, end = self._frames[first].time, self._end(last)
            if n == 0:
                text = NOBODY
            elif n >= self.settings.crowd:
                text = f"a crowd of {_people(n)}, a group of people gathered"
            else:
                text = f"{_people(n)} present, {'one person' if n == 1 else 'people'} in view"
            if n and end - start >= 2:
                text += f" for {spoken_duration(end - start)}"
            out.append(Observation(start, end, text, kind=None if n else "absence"))
        return out

    def _events(self) -> list[tuple[Observation, list[_Track]]]:
        """What each person did, with tracks doing the same thing at the same time merged
        into one sentence ("two people walking left to right"), and whose tracks it says."""
        described = sorted(
            ((self._describe(t), t) for t in self._done), key=lambda d: d[1].hits[0][1]
        )
        groups: list[tuple[str, list[_Track]]] = []
        for what, track in described:
            for gwhat, members in groups:
                if gwhat == what and any(
                    track.hits[0][1] <= m.last_time and m.hits[0][1] <= track.last_time
                    for m in members
                ):
                    members.append(track)
                    break
            else:
                groups.append((what, [track]))
        out = []
        for what, members in groups:
            start = min(m.hits[0][1] for m in members)
            end = max(m.last_time for m in members) + self._step
            subject = _people(len(members))
            text = f"{subject} {what}"
            if end - start >= 10 and "for" not in what:
                text += f" for {spoken_duration(end - start)}"
            weight = float(np.mean([h[5] for m in members for h in m.hits]))
            said = Observation(start, end, text, round(min(1.0, weight / 2), 3), kind="event")
            out.append((said, members))
        return out

    def _stops(self) -> list[PersonEvent]:
        """Where someone who walks also stands still for ``stop_seconds`` or more ("a
        person stops, standing still for 12 seconds"); a track that never moves is said by
        ``_describe`` already. Still = within half a body height of where the stop began
        (HOG boxes jitter by about a fifth of one)."""
        out = []
        for number, track in enumerate(self._done):
            hits = track.hits
            first = 0
            for i in range(1, len(hits) + 1):
                if i < len(hits):
                    _, _, x0, y0, h0, _ = hits[first]
                    if np.hypot(hits[i][2] - x0, hits[i][3] - y0) <= 0.5 * h0:
                        continue
                start, end = hits[first][1], hits[i - 1][1] + self._step
                whole = first == 0 and i == len(hits)
                if end - start >= self.settings.stop_seconds and not whole:
                    text = f"a person stops, standing still for {spoken_duration(end - start)}"
                    out.append(
                        PersonEvent(
                            "stop",
                            start,
                            end,
                            text,
                            (number,),
                            None,
                            end - start,
                            self._ways[number],
                        )
                    )
                first = i
        return out

    def tracks(self) -> list[list[TrackBox]]:
        """Each confirmed person's boxes over time, in frame fractions (call after
        ``finish``)."""
        width, height = self._size
        return [
            [
                TrackBox(
                    t, (x - 0.2 * h) / width, (y - h / 2) / height, 0.4 * h / width, h / height
                )
                for _, t, x, y, h, _ in track.hits
            ]
            for track in self._done
        ]

    def zone_events(self) -> list[ZoneEvent]:
        """Each confirmed person's entries, exits and stays in the zones, by time (call
        after ``finish``)."""
        events = [event for _, event in self._zone_events_by_track()]
        return sorted(events, key=lambda e: (e.start, e.end, e.zone, e.kind))

    def _zone_events_by_track(self) -> list[tuple[int, ZoneEvent]]:
        """(track number, event) of every confirmed person's zone crossings and stays."""
        if not self._frames:
            return []
        events = []
        for number, boxes in enumerate(self.tracks()):
            path = [  # feet cut off by the frame's edge stand on it
                Footing(b.time, min(1.0, max(0.0, b.x + b.width / 2)), min(1.0, b.y + b.height))
                for b in boxes
            ]
            found = zone_events(
                path,
                self._zones,
                self.settings.loiter_seconds,
                self.settings.zone_confirm_seconds,
                video_start=self._frames[0].time,
                # A track lost this close to the end may only have been missed since.
                video_end=self._frames[-1].time - self.settings.max_gap,
            )
            events += [(number, event) for event in found]
        return events

    def _zone_person_events(self) -> list[PersonEvent]:
        """One event per zone crossing or stay; a crossing spans the frame interval it
        fell in."""
        out = []
        for number, event in self._zone_events_by_track():
            dwell = None
            if event.kind == "loiter":
                text = f"a person loiters in the {event.zone} zone for"
                text += f" {spoken_duration(event.end - event.start)}, lingering there"
                start, end = event.start, event.end
                dwell = end - start
            else:
                verb = "enters" if event.kind == "enter" else "leaves"
                text = f"a person {verb} the {event.zone} zone"
                start, end = max(0.0, event.start - self._step / 2), event.end + self._step / 2
            way = self._ways[number]
            out.append(PersonEvent(event.kind, start, end, text, (number,), event.zone, dwell, way))
        return out

    def _describe(self, track: _Track) -> str:
        """Verb phrase for one track, from its net displacement in body heights and the
        change of its height (growing = coming toward the camera)."""
        hits = np.array([h[1:5] for h in track.hits])  # time, cx, cy, height
        k = max(1, len(hits) // 3)  # average the ends: HOG boxes jitter
        t0, x0, y0, h0 = hits[:k].mean(axis=0)
        t1, x1, y1, h1 = hits[-k:].mean(axis=0)
        size = float(np.median(hits[:, 3]))
        dx, dy = (x1 - x0) / size, (y1 - y0) / size
        seconds = float(hits[-1, 0] - hits[0, 0]) + self._step
        steps = np.hypot(np.diff(hits[:, 1]), np.diff(hits[:, 2])) / size
        speed = float(steps.sum()) / max(seconds - self._step, 1e-3) if len(steps) else 0.0
        growth = h1 / h0
        centre = np.median(hits[:, 1:3], axis=0)
        extent = float(np.max(np.hypot(*(hits[:, 1:3] - centre).T))) / size  # farthest away
        if extent < 0.75 and 0.8 < growth < 1.25:
            if seconds >= self.settings.loiter_seconds:
                return f"standing still for {spoken_duration(seconds)}, loitering, waiting around"
            return "standing still"
        if seconds >= self.settings.loiter_seconds and extent < 2:
            return f"lingering in one spot for {spoken_duration(seconds)}, loitering"
        ways = []
        if abs(dx) >= 0.75 and abs(dx) >= 0.5 * abs(dy):
            ways.append("left to right" if dx > 0 else "right to left")
        if growth >= 1.25 or (growth > 0.9 and dy >= 0.75 and abs(dy) > abs(dx)):
            ways.append("toward the camera")
        elif growth <= 0.8 or (growth < 1.1 and dy <= -0.75 and abs(dy) > abs(dx)):
            ways.append("away from the camera")
        verb = "running" if speed > 2.0 else "walking"
        return f"{verb} {', '.join(ways)}" if ways else f"{verb} around"


def _in_picture(box: TrackBox) -> tuple[float, float, float, float, float]:
    """(time, x, y, width, height) of the part of a box inside the picture: a person
    traced back to the edge they walked in from stands partly outside it."""
    left, top = min(max(box.x, 0.0), 1.0), min(max(box.y, 0.0), 1.0)
    right, bottom = min(max(box.x + box.width, left), 1.0), min(max(box.y + box.height, top), 1.0)
    return (box.time, left, top, right - left, bottom - top)


class HogPeopleReader:
    """``FrameReader`` for people and motion; sessions share the HOG detector."""

    def __init__(self, settings: PeopleSettings | None = None, threads: int | None = None) -> None:
        self.settings = settings or PeopleSettings()
        # 3: tracks and events handed over in structured form (``findings``) and stored;
        # 4: the tracker of the events benchmark (edge lead-in, blobs between HOG passes)
        version = f"4-cv{opencv_version()}"
        if self.settings.loiter_seconds != PeopleSettings.loiter_seconds:
            version += f"+loiter{self.settings.loiter_seconds:g}"
        self.info = EncoderInfo("people-hog", version)
        self._threads = threads

    @cached_property
    def _hog(self) -> cv2.HOGDescriptor:
        import cv2

        if self._threads:
            cv2.setNumThreads(self._threads)
        hog = cv2.HOGDescriptor()
        hog.setSVMDetector(np.array(cv2.HOGDescriptor.getDefaultPeopleDetector(), np.float32))
        return hog

    def session(self, zones: Sequence[Zone] = ()) -> PeopleSession:
        """A session for one video; ``zones``: its camera's (``zones.camera_zones``)."""
        return PeopleSession(self.settings, self._hog, zones)


@frame_readers.register("people-hog")
def _people_hog(
    threads: int | None = None, loiter_seconds: float | None = None, **_: object
) -> HogPeopleReader:
    if loiter_seconds is None:
        return HogPeopleReader(threads=threads)
    return HogPeopleReader(PeopleSettings(loiter_seconds=loiter_seconds), threads=threads)
