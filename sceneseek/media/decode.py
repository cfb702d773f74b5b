"""Decode any container/codec FFmpeg reads (through PyAV) into what the encoders need:
frames sampled at a fixed rate, already resized for the visual model, and 16 kHz mono
audio. Frames are streamed in batches so a two-hour file never sits in memory whole."""

from __future__ import annotations

import errno
import hashlib
import math
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from sceneseek.errors import MediaError

if TYPE_CHECKING:  # PyAV is imported where media is opened: a search never needs it
    import av

AUDIO_RATE = 16_000
MAX_ASPECT = 4  # frames wider (or taller) than this are squeezed for analysis


@dataclass(frozen=True)
class MediaInfo:
    path: Path
    duration: float
    fps: float
    width: int
    height: int
    has_audio: bool


def content_hash(path: Path, chunk: int = 1 << 20) -> str:
    """Hash of size plus first, middle and last MiB: cheap on multi-GB files, and any
    re-encode or append changes it, which is what re-index detection needs."""
    size = regular_file(path).st_size
    digest = hashlib.sha256(str(size).encode())
    try:
        with path.open("rb") as handle:
            for offset in sorted({0, max(0, size // 2 - chunk // 2), max(0, size - chunk)}):
                handle.seek(offset)
                digest.update(handle.read(chunk))
    except OSError as exc:
        raise MediaError(path, _os_cause(path, exc)) from None
    return digest.hexdigest()


def regular_file(path: Path) -> os.stat_result:
    """The file's status, or a MediaError saying why it is not a non-empty regular file
    (opening a named pipe or a device would block or never end)."""
    try:
        str(path).encode("utf-8")
    except UnicodeEncodeError:
        raise MediaError(path, "the file name is not valid UTF-8; rename the file") from None
    try:
        status = path.stat()
    except OSError as exc:
        raise MediaError(path, _os_cause(path, exc)) from None
    if stat.S_ISDIR(status.st_mode):
        raise MediaError(path, "is a directory, not a media file")
    if not stat.S_ISREG(status.st_mode):
        raise MediaError(path, "not a regular file (a device, named pipe or socket)")
    if status.st_size == 0:
        raise MediaError(path, "file is empty (0 bytes)")
    return status


def _os_cause(path: Path, exc: OSError) -> str:
    if exc.errno == errno.ELOOP:
        return "symbolic link loop"
    if exc.errno == errno.ENOENT and path.is_symlink():
        return f"broken symbolic link (its target {os.readlink(path)} does not exist)"
    if exc.errno == errno.ENOENT:
        return "file not found"
    if exc.errno == errno.EACCES:
        return "permission denied (cannot read the file)"
    return exc.strerror or str(exc)


def open_media(path: Path) -> av.container.InputContainer:
    """Open for reading, turning every way a file can be unusable into a MediaError."""
    import av

    regular_file(path)
    try:
        return av.open(str(path), mode="r")
    except PermissionError as exc:
        raise MediaError(path, _os_cause(path, exc)) from exc
    except av.FFmpegError as exc:
        raise MediaError(path, f"not a readable media file ({exc.strerror or exc})") from exc
    except UnicodeDecodeError as exc:
        raise MediaError(path, f"not a readable media file ({exc})") from exc


def media_origin(container: av.container.InputContainer) -> float:
    """When the file's timeline starts, in seconds. Times in the index count from there,
    as players and the decoded audio do (MPEG-TS starts at 1.4 s, streams cut from a
    live source at any hour)."""
    import av

    return container.start_time / av.time_base if container.start_time else 0.0


def probe(path: Path) -> MediaInfo:
    """Read duration and streams without decoding; raises MediaError on unusable input."""
    with open_media(path) as container:
        video = container.streams.video[0] if container.streams.video else None
        audio = container.streams.audio[0] if container.streams.audio else None
        if video is None:
            raise MediaError(path, "no video stream")
        if video.codec_context is None:
            raise MediaError(path, "no decoder for its video codec (unknown or unsupported)")
        duration = _duration(container, video)
        if duration <= 0:
            raise MediaError(path, "duration is zero or unknown")
        rate = video.average_rate or video.guessed_rate
        return MediaInfo(
            path=path,
            duration=duration,
            fps=float(rate) if rate else 0.0,
            width=video.codec_context.width,
            height=video.codec_context.height,
            has_audio=audio is not None,
        )


def _duration(container: av.container.InputContainer, video: av.VideoStream) -> float:
    import av

    if video.duration is not None and video.time_base is not None:
        return float(video.duration * video.time_base)
    if container.duration is not None:
        return container.duration / av.time_base
    return 0.0


@dataclass
class FrameBatch:
    times: np.ndarray  # (N,) seconds
    rgb: np.ndarray  # (N, H, W, 3) uint8, small: for the visual model and shot detection
    detail: list[tuple[float, np.ndarray]]  # sparser, larger frames for OCR and people


class RateClock:
    """Picks the first decoded frame at or after each tick of a fixed rate. Fed the
    frames another clock picked at a multiple of its rate, it picks the frames it would
    have picked from the whole stream (each of its ticks is one of the other's)."""

    def __init__(self, fps: float) -> None:
        self.step = 1.0 / fps if fps > 0 else math.inf
        self.next_time = 0.0

    def due(self, time: float) -> bool:
        if time + 1e-6 < self.next_time:
            return False
        self.next_time = (math.floor(time / self.step + 1e-6) + 1) * self.step
        return True


def _size(info: MediaInfo, short_side: int) -> tuple[int, int]:
    """(width, height) with the given short side, aspect kept up to 1:MAX_ASPECT (a
    4000x16 strip would otherwise become 64000 pixels wide, 50 MB a frame), even numbers
    for swscale."""
    scale = short_side / max(1, min(info.width, info.height))
    longest = MAX_ASPECT * short_side
    return (
        max(2, round(min(info.width * scale, longest) / 2) * 2),
        max(2, round(min(info.height * scale, longest) / 2) * 2),
    )


def sample_frames(
    info: MediaInfo,
    fps: float,
    short_side: int = 256,
    detail_fps: float = 0.0,
    detail_short_side: int = 480,
    batch: int = 32,
) -> Iterator[FrameBatch]:
    """Yield frames at ``fps`` resized to ``short_side`` (aspect kept), plus detail frames
    at ``detail_fps`` no larger than ``detail_short_side`` (never upscaled). Damage
    mid-file raises MediaError unless most of the file was already read, in which case
    the tail is dropped."""
    import av

    width, height = _size(info, short_side)
    detail_size = _size(info, min(detail_short_side, min(info.width, info.height)))
    analysis, detailed = RateClock(fps), RateClock(detail_fps)
    times: list[float] = []
    frames: list[np.ndarray] = []
    details: list[tuple[float, np.ndarray]] = []
    last_time = 0.0
    emitted = 0
    with open_media(info.path) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        origin = media_origin(container)
        try:
            for frame in container.decode(stream):
                if frame.time is None:
                    continue
                time = last_time = frame.time - origin
                if detailed.due(time):
                    rgb = frame.to_ndarray(
                        format="rgb24", width=detail_size[0], height=detail_size[1]
                    )
                    details.append((time, rgb))
                if not analysis.due(time):
                    continue
                times.append(time)
                frames.append(frame.to_ndarray(format="rgb24", width=width, height=height))
                emitted += 1
                if len(frames) == batch:
                    yield FrameBatch(np.asarray(times), np.stack(frames), details)
                    times, frames, details = [], [], []
        except av.FFmpegError as exc:
            if last_time < 0.9 * info.duration:
                raise MediaError(
                    info.path, f"video is damaged at {last_time:.1f}s ({exc})"
                ) from exc
    if frames:
        yield FrameBatch(np.asarray(times), np.stack(frames), details)
    if emitted == 0:
        raise MediaError(info.path, "no decodable video frames")
    # A cut-off file often decodes without an error, just short: the same 90 % rule.
    if last_time + (1.0 / info.fps if info.fps > 0 else 0.0) < 0.9 * info.duration:
        raise MediaError(
            info.path,
            f"video ends at {last_time:.1f}s of its {info.duration:.1f}s (truncated or damaged)",
        )


def decode_audio(info: MediaInfo) -> np.ndarray:
    """All audio as 16 kHz mono float32 in [-1, 1]; empty when the file has none."""
    if not info.has_audio:
        return np.zeros(0, dtype=np.float32)
    import av

    chunks: list[np.ndarray] = []
    resampler = av.AudioResampler(format="flt", layout="mono", rate=AUDIO_RATE)
    with open_media(info.path) as container:
        stream = container.streams.audio[0]
        try:
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    chunks.append(out.to_ndarray().reshape(-1))
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray().reshape(-1))
        except av.FFmpegError as exc:
            if sum(len(c) for c in chunks) < 0.9 * info.duration * AUDIO_RATE:
                raise MediaError(info.path, f"audio is damaged ({exc})") from exc
    return np.concatenate(chunks).astype(np.float32) if chunks else np.zeros(0, np.float32)
