"""On-screen text (OCR) from detail frames, so "the sign that says gate closed" finds the moment.

Two readers share one session: frames nearly identical to the last OCR'd one are not read
again (a static slide or sign costs one OCR call, not one per second), readings are cleaned of
texture noise, and the same line seen in consecutive frames becomes one observation spanning
first-seen to last-seen time plus one frame period.

* ``ocr-tesseract``: Tesseract through ``tesserocr`` (one engine loaded once per reader; about
  0.03 s per 640×360 frame on one core), falling back to the ``tesseract`` CLI in batches
  when ``tesserocr`` is missing. A full-frame pass is followed by crops of caption-like
  boxes it found nothing in (Tesseract's layout analysis drops one word on a dark band).
  Language data comes from the system (``tesseract-ocr-eng``, ``tesseract-ocr-spa``).
* ``ocr-rapidocr``: PP-OCRv4 through ``rapidocr-onnxruntime`` (models ship in the wheel).
  Better on scene text but ~10× slower; optional.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib.machinery
import importlib.util
import os
import re
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from functools import cached_property
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np

from sceneseek.encoders.base import EncoderInfo, Observation, frame_readers
from sceneseek.encoders.zones import Zone
from sceneseek.errors import SceneseekError

Line = tuple[str, float]  # text, confidence in [0, 1]
Recognize = Callable[[list[np.ndarray]], list[list[Line]]]

WORD_MIN_CONF = 50.0  # Tesseract word confidence (0-100) below which a word is dropped
LINE_MIN_CONF = 70.0  # mean word confidence a line needs: photo textures read as ~30-60
SAME_LINE = 0.75  # similarity at which two readings count as the same text
BLOCK = 8  # px; change detection compares the means of BLOCK×BLOCK cells
CHANGED = 12.0  # grey levels a cell must move by for the frame to be OCR'd again
CELL = 8  # px; caption detection counts strong edges per CELL×CELL cell
EDGE = 48  # grey-level step that counts as a strong (letter) edge
DENSE = 10  # strong edges a cell needs to look like text
MAX_CROPS = 4  # largest line-like clusters cropped per frame: bounds the cost on photos
MIN_CONTRAST = 32  # a frame whose neighbouring pixels never differ this much has no text
PROCESSING = "1"  # bump when cleaning or merging changes, so old indexes are re-read

_TESSDATA_DIRS = (
    "/usr/share/tesseract-ocr/5/tessdata",
    "/usr/share/tesseract-ocr/4.00/tessdata",
    "/usr/share/tessdata",
    "/usr/local/share/tessdata",
    "/opt/homebrew/share/tessdata",
)


class OcrError(SceneseekError):
    """The OCR engine or its language data is missing or failed."""


# ---------------------------------------------------------------------------- cleaning


def _clean_token(token: str) -> str:
    """The token, or "" when it is mostly punctuation (box borders read as ``|``, ``—``)."""
    token = token.strip()
    alnum = sum(ch.isalnum() for ch in token)
    return token if token and alnum * 2 >= len(token) else ""


def clean_line(words: list[tuple[str, float]]) -> Line | None:
    """Join (word, confidence 0-100) into a line, or None for noise: texture garbage has low
    confidence or consists of one- and two-letter fragments."""
    kept = [(t, c) for w, c in words if c >= WORD_MIN_CONF and (t := _clean_token(w))]
    if not kept:
        return None
    text = " ".join(t for t, _ in kept)
    mean = sum(c for _, c in kept) / len(kept)
    longest = max(sum(ch.isalnum() for ch in t) for t, _ in kept)
    if len(text) < 3 or longest < 3 or mean < LINE_MIN_CONF:
        return None
    return text, mean / 100.0


Box = tuple[int, int, int, int]  # left, top, right, bottom in pixels


@dataclass
class Page:
    """One image's reading: cleaned lines, and where confident words were found."""

    lines: list[Line]
    words: list[Box]


def parse_tsv(tsv: str) -> dict[int, Page]:
    """Tesseract TSV → cleaned lines and confident word boxes per page number (1-based)."""
    lines: dict[tuple[int, int, int, int], list[tuple[str, float]]] = {}
    pages: dict[int, Page] = {}
    for row in tsv.splitlines():
        cols = row.split("\t")
        if len(cols) != 12 or cols[0] != "5" or not cols[11].strip():
            continue
        try:
            key = (int(cols[1]), int(cols[2]), int(cols[3]), int(cols[4]))
            left, top, width, height = (int(c) for c in cols[6:10])
            conf = float(cols[10])
        except ValueError:
            continue
        lines.setdefault(key, []).append((cols[11], conf))
        page = pages.setdefault(key[0], Page([], []))
        if conf >= WORD_MIN_CONF:
            page.words.append((left, top, left + width, top + height))
    for key, words in lines.items():
        line = clean_line(words)
        if line:
            pages[key[0]].lines.append(line)
    return pages


def caption_boxes(grey: np.ndarray) -> list[Box]:
    """Compact, isolated clusters of dense strong edges: captions, labels and signs.

    Tesseract's page layout drops short text inside a solid box (a one-word caption on a
    dark band reads as an "image"), yet reads it at once when cropped to the box. Only the
    MAX_CROPS largest line-shaped clusters are returned, so textured photos cost a bounded
    few small crops."""
    g = grey.astype(np.int16)
    strong = np.abs(np.diff(g, axis=1)) >= EDGE
    h, w = (strong.shape[0] // CELL) * CELL, (strong.shape[1] // CELL) * CELL
    if h == 0 or w == 0:
        return []
    dense = strong[:h, :w].reshape(h // CELL, CELL, w // CELL, CELL).sum(axis=(1, 3)) >= DENSE
    rows, cols = dense.shape
    # bridge the gaps between letters and words of one line
    closed = dense.copy()
    left_seen = np.maximum.accumulate(dense, axis=1)
    for k in range(1, 3):
        closed[:, :-k] |= dense[:, k:] & left_seen[:, :-k]
    seen = np.zeros_like(closed)
    found: list[tuple[int, Box]] = []
    for r0, c0 in zip(*np.nonzero(closed), strict=True):
        if seen[r0, c0]:
            continue
        seen[r0, c0] = True
        stack = [(int(r0), int(c0))]
        top, bottom, left, right, cells = r0, r0, c0, c0, 0
        while stack:
            r, c = stack.pop()
            cells += 1
            top, bottom, left, right = min(top, r), max(bottom, r), min(left, c), max(right, c)
            for rr, cc in ((r + 1, c), (r - 1, c), (r, c + 1), (r, c - 1)):
                if 0 <= rr < rows and 0 <= cc < cols and closed[rr, cc] and not seen[rr, cc]:
                    seen[rr, cc] = True
                    stack.append((rr, cc))
        height, width = bottom - top + 1, right - left + 1
        line_like = height <= 8 and width >= 3 and width >= 1.5 * height
        if line_like and cells >= 0.5 * height * width:
            box = (
                int(left) * CELL,
                int(top) * CELL,
                (int(right) + 1) * CELL,
                (int(bottom) + 1) * CELL,
            )
            found.append((cells, box))
    found.sort(key=lambda f: -f[0])
    return [box for _, box in found[:MAX_CROPS]]


def crops_to_read(grey: np.ndarray, page: Page) -> list[np.ndarray]:
    """Crops of caption boxes that the full-frame pass found no confident word in."""
    out = []
    for left, top, right, bottom in caption_boxes(grey):
        covered = any(
            left <= (a + c) / 2 <= right and top <= (b + d) / 2 <= bottom
            for a, b, c, d in page.words
        )
        if not covered:
            pad = 4
            out.append(grey[max(0, top - pad) : bottom + pad, max(0, left - pad) : right + pad])
    return out


# ---------------------------------------------------------------------------- session


def _cells(rgb: np.ndarray) -> np.ndarray:
    """Grey means of BLOCK×BLOCK cells: cheap, robust to compression noise, yet a caption
    appearing or changing moves the cells it covers by tens of grey levels."""
    grey = rgb.mean(axis=2, dtype=np.float32)
    h, w = (grey.shape[0] // BLOCK) * BLOCK, (grey.shape[1] // BLOCK) * BLOCK
    return grey[:h, :w].reshape(h // BLOCK, BLOCK, w // BLOCK, BLOCK).mean(axis=(1, 3))


def _has_contrast(rgb: np.ndarray) -> bool:
    """False for flat frames (black, fades, plain cards): nothing there to read."""
    g = rgb[::2, ::2, 1].astype(np.int16)
    return bool(
        np.abs(np.diff(g, axis=1)).max(initial=0) >= MIN_CONTRAST
        or np.abs(np.diff(g, axis=0)).max(initial=0) >= MIN_CONTRAST
    )


_EMPTY = np.zeros((0, 0, 3), np.uint8)  # marker: a frame too flat to hold text


@dataclass
class _Track:
    text: str
    score: float
    start: float
    last: float


class OcrSession:
    """Streaming OCR of one video: skip unchanged frames, read the rest in batches, merge
    repeated readings of the same line into one timed observation."""

    def __init__(self, recognize: Recognize, batch: int = 1) -> None:
        self._recognize = recognize
        self._batch = max(1, batch)
        self._pending: list[tuple[float, np.ndarray | None]] = []  # None: as last read frame
        self._last_cells: np.ndarray | None = None
        self._last_lines: list[Line] = []
        self._open: list[_Track] = []
        self._done: list[Observation] = []
        self._times: list[float] = []
        self.frames = 0  # frames fed
        self.read = 0  # frames actually OCR'd

    def feed(self, time: float, rgb: np.ndarray) -> None:
        self.frames += 1
        self._times.append(time)
        cells = _cells(rgb)
        last = self._last_cells
        same = (
            last is not None
            and last.shape == cells.shape
            and float(np.abs(cells - last).max()) < CHANGED
        )
        if same:
            self._pending.append((time, None))
        else:
            self._last_cells = cells
            self._pending.append((time, rgb if _has_contrast(rgb) else _EMPTY))
        if sum(img is not None and img is not _EMPTY for _, img in self._pending) >= self._batch:
            self._flush()

    def finish(self) -> list[Observation]:
        self._flush()
        period = self._period()
        for track in self._open:
            self._close(track, period)
        self._open = []
        return sorted(self._done, key=lambda o: (o.start, o.text))

    def _period(self) -> float:
        if len(self._times) < 2:
            return 1.0
        return float(np.median(np.diff(self._times)))

    def _flush(self) -> None:
        images = [img for _, img in self._pending if img is not None and img is not _EMPTY]
        results = iter(self._recognize(images) if images else [])
        self.read += len(images)
        period = self._period()
        for time, img in self._pending:
            if img is _EMPTY:
                self._last_lines = []
            elif img is not None:
                self._last_lines = next(results)
            self._observe(time, self._last_lines, period)
        self._pending = []

    def _observe(self, time: float, lines: list[Line], period: float) -> None:
        """Extend the open tracks these lines continue; start tracks for new lines; close
        tracks unseen for more than one missed frame (OCR flickers on the odd frame)."""
        seen: set[int] = set()
        for text, score in lines:
            key = text.casefold()
            match = next(
                (
                    i
                    for i, t in enumerate(self._open)
                    if i not in seen
                    and SequenceMatcher(None, t.text.casefold(), key).ratio() >= SAME_LINE
                ),
                None,
            )
            if match is None:
                self._open.append(_Track(text, score, time, time))
                seen.add(len(self._open) - 1)
                continue
            track = self._open[match]
            track.last = time
            if score > track.score:
                track.text, track.score = text, score
            seen.add(match)
        still: list[_Track] = []
        for i, track in enumerate(self._open):
            if i in seen or time - track.last <= 2.5 * period:
                still.append(track)
            else:
                self._close(track, period)
        self._open = still

    def _close(self, track: _Track, period: float) -> None:
        self._done.append(
            Observation(track.start, track.last + period, track.text, round(track.score, 3))
        )


# ---------------------------------------------------------------------------- tesseract


def _tessdata_dir(languages: str) -> str:
    """Where the system keeps Tesseract's language data."""
    candidates: list[str] = []
    if os.environ.get("TESSDATA_PREFIX"):
        candidates.append(os.environ["TESSDATA_PREFIX"])
    if shutil.which("tesseract"):
        done = subprocess.run(
            ["tesseract", "--list-langs"], capture_output=True, text=True, check=False
        )
        found = re.search(r'"(.+?)/?"', done.stdout + done.stderr)
        if found:
            candidates.append(found.group(1))
    candidates += _TESSDATA_DIRS
    wanted = languages.split("+")
    for folder in candidates:
        if all((Path(folder) / f"{lang}.traineddata").is_file() for lang in wanted):
            return str(folder)
    raise OcrError(
        f"Tesseract language data for {languages!r} not found (looked in "
        f"{', '.join(dict.fromkeys(candidates))}); install tesseract-ocr-eng and "
        "tesseract-ocr-spa (scripts/install-system-deps.sh) or set TESSDATA_PREFIX"
    )


def _tesserocr_engine() -> str | None:
    """The Tesseract version tesserocr runs (what its ``tesseract_version()`` reports),
    asked through ctypes of the library its extension links: importing tesserocr (and PIL
    with it) costs ~25 ms, which a search pays only to compare encoder versions. None
    when tesserocr is not installed or does not load."""
    spec = importlib.util.find_spec("tesserocr")
    if spec is None:
        return None
    for folder in spec.submodule_search_locations or []:
        for suffix in importlib.machinery.EXTENSION_SUFFIXES:
            extension = Path(folder) / f"tesserocr{suffix}"
            if extension.is_file():
                with contextlib.suppress(OSError, AttributeError):
                    version = ctypes.CDLL(str(extension)).TessVersion
                    version.restype = ctypes.c_char_p
                    return str(version().decode())
    module = _tesserocr()  # laid out otherwise, or its libraries did not load: ask it
    return str(module.tesseract_version().split()[1]) if module is not None else None


def _tesserocr() -> Any | None:
    try:
        import tesserocr
    except ImportError:
        return None
    return tesserocr


class TesseractReader:
    """Tesseract OCR. With ``tesserocr`` one engine stays loaded (loading eng+spa takes
    ~0.35 s, more than reading a frame); otherwise the CLI reads frames in batches of
    ``CLI_BATCH`` so that start-up cost is shared. Both are single-threaded per frame."""

    CLI_BATCH = 16

    def __init__(self, threads: int | None = None, languages: str = "eng+spa") -> None:
        self.languages = languages
        self._threads = threads  # Tesseract reads one frame on one core; kept for the API
        self._lock = threading.Lock()
        engine = _tesserocr_engine()
        if engine is not None:
            self.backend = "tesserocr"
        elif shutil.which("tesseract"):
            self.backend = "cli"
            done = subprocess.run(
                ["tesseract", "--version"], capture_output=True, text=True, check=False
            )
            engine = (done.stdout + done.stderr).split()[1]
        else:
            raise OcrError("neither the tesserocr package nor the tesseract program is installed")
        self.info = EncoderInfo("ocr-tesseract", f"tesseract-{engine}+{languages}+p{PROCESSING}")

    @cached_property
    def _datadir(self) -> str:
        return _tessdata_dir(self.languages)

    @cached_property
    def _api(self) -> Any:
        """Loaded on first use: search never needs it."""
        module = _tesserocr()
        assert module is not None
        _quiet_leptonica(module)
        return module.PyTessBaseAPI(path=self._datadir, lang=self.languages, psm=module.PSM.AUTO)

    def session(self, zones: Sequence[Zone] = ()) -> OcrSession:
        """``zones``: ignored, text is read wherever it is."""
        if self.backend == "tesserocr":
            return OcrSession(self._read_api, batch=1)
        return OcrSession(self._read_cli, batch=self.CLI_BATCH)

    def _read_api(self, images: list[np.ndarray]) -> list[list[Line]]:
        from PIL import Image

        psm = _tesserocr().PSM  # type: ignore[union-attr]
        api = self._api
        out = []
        with self._lock:  # one engine, shared by sessions on different threads
            for rgb in images:
                grey = _grey(rgb)
                api.SetPageSegMode(psm.AUTO)
                api.SetImage(Image.fromarray(grey))
                page = parse_tsv(api.GetTSVText(0)).get(1, Page([], []))
                lines = list(page.lines)
                crops = crops_to_read(grey, page)
                if crops:
                    api.SetPageSegMode(psm.SINGLE_BLOCK)
                for crop in crops:
                    api.SetImage(Image.fromarray(crop))
                    lines += parse_tsv(api.GetTSVText(0)).get(1, Page([], [])).lines
                out.append(lines)
        return out

    def _read_cli(self, images: list[np.ndarray]) -> list[list[Line]]:
        greys = [_grey(rgb) for rgb in images]
        pages = self._cli(greys, psm=3)
        full = [pages.get(i + 1, Page([], [])) for i in range(len(greys))]
        owners: list[int] = []
        crops: list[np.ndarray] = []
        for i, (grey, page) in enumerate(zip(greys, full, strict=True)):
            for crop in crops_to_read(grey, page):
                owners.append(i)
                crops.append(crop)
        out = [list(page.lines) for page in full]
        if crops:
            cropped = self._cli(crops, psm=6)
            for j, owner in enumerate(owners):
                out[owner] += cropped.get(j + 1, Page([], [])).lines
        return out

    def _cli(self, greys: list[np.ndarray], psm: int) -> dict[int, Page]:
        """One tesseract run over many images (a list file), so start-up is paid once."""
        from PIL import Image

        env = dict(os.environ, OMP_THREAD_LIMIT="1")
        with tempfile.TemporaryDirectory(prefix="sceneseek-ocr-") as tmp:
            paths = []
            for i, grey in enumerate(greys):
                path = Path(tmp) / f"{i:04d}.pgm"
                Image.fromarray(grey).save(path)
                paths.append(str(path))
            listing = Path(tmp) / "frames.txt"
            listing.write_text("\n".join(paths) + "\n")
            cmd = ["tesseract", str(listing), "stdout", "-l", self.languages, "--psm", str(psm)]
            cmd += ["--tessdata-dir", self._datadir, "tsv"]
            done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
        if done.returncode != 0:
            raise OcrError(f"tesseract failed: {done.stderr.strip()[-500:]}")
        return parse_tsv(done.stdout)


def _quiet_leptonica(module: Any) -> None:
    """Silence Leptonica's stderr chatter ("Error in boxClipToRectangle") on photo frames:
    harmless, but it floods ingest logs. Only the copy bundled with tesserocr is touched."""
    libs = Path(module.__file__).parent.parent / "tesserocr.libs"
    for lib in libs.glob("libleptonica*.so*"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(str(lib)).setMsgSeverity(6)  # L_SEVERITY_NONE


def _grey(rgb: np.ndarray) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.fromarray(rgb).convert("L"))


@frame_readers.register("ocr-tesseract")
def _tesseract(
    threads: int | None = None, languages: str = "eng+spa", **_: object
) -> TesseractReader:
    return TesseractReader(threads, languages)


# ---------------------------------------------------------------------------- rapidocr


class RapidOcrReader:
    """PP-OCRv4 detection + recognition on ONNX Runtime (``rapidocr-onnxruntime``). Frames
    are read at their own size (the default upscales to 736 px, 3× slower) and without the
    rotation classifier: on-screen text is upright."""

    PACKAGE = "rapidocr-onnxruntime"
    MIN_SCORE = 0.8  # recognition confidence a line needs (0-1); textures read as 0.5-0.75

    def __init__(self, threads: int | None = None) -> None:
        try:
            pkg = version(self.PACKAGE)
        except PackageNotFoundError:
            raise OcrError(
                f"the ocr-rapidocr reader needs the {self.PACKAGE} package: "
                f"pip install {self.PACKAGE}"
            ) from None
        self._threads = threads
        self._lock = threading.Lock()
        self.info = EncoderInfo("ocr-rapidocr", f"{self.PACKAGE}-{pkg}+p{PROCESSING}")

    @cached_property
    def _engine(self) -> Any:
        try:
            from rapidocr_onnxruntime import RapidOCR
        except ImportError as exc:
            raise OcrError(
                f"the ocr-rapidocr reader needs the {self.PACKAGE} package ({exc})"
            ) from exc
        return RapidOCR(
            intra_op_num_threads=self._threads or -1,
            inter_op_num_threads=1,
            use_cls=False,
            det_limit_type="max",
            det_limit_side_len=960,
        )

    def session(self, zones: Sequence[Zone] = ()) -> OcrSession:
        """``zones``: ignored, text is read wherever it is."""
        return OcrSession(self._read, batch=1)

    def _read(self, images: list[np.ndarray]) -> list[list[Line]]:
        out = []
        with self._lock:
            for rgb in images:
                result, _ = self._engine(np.ascontiguousarray(rgb[:, :, ::-1]))  # wants BGR
                lines: list[Line] = []
                for _box, text, score in result or []:
                    line = clean_line([(w, float(score) * 100) for w in str(text).split()])
                    if line and float(score) >= self.MIN_SCORE:
                        lines.append(line)
                out.append(lines)
        return out


@frame_readers.register("ocr-rapidocr")
def _rapidocr(threads: int | None = None, **_: object) -> RapidOcrReader:
    return RapidOcrReader(threads)
