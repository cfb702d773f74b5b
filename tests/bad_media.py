"""A corpus of malformed and awkward media files, generated at test time with ffmpeg
(each a few KiB to a few hundred KiB), for ``test_bad_input.py``.

Every case says what ingest must do with it: fail with a cause containing given words,
be indexed, or either of the two (some inputs are legitimately readable or not depending
on the FFmpeg build; then only the clarity of the failure is checked).
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Case:
    name: str
    path: Path
    outcome: str  # "fail", "index" or "either"
    words: tuple[str, ...] = ()  # expected in the failure's cause (any of them)


def ffmpeg(*args: str | Path) -> None:
    subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-y", *map(str, args)], check=True, timeout=120
    )


def pattern_video(
    out: Path, *options: str | Path, seconds: float = 2.0, size: str = "96x64"
) -> Path:
    """A small moving test pattern with a tone, encoded as ``options`` say."""
    ffmpeg(
        "-f", "lavfi", "-i", f"testsrc2=size={size}:rate=10:duration={seconds}",
        "-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}",
        "-shortest", *options, out,
    )  # fmt: skip
    return out


def build_corpus(root: Path) -> tuple[list[Case], Path]:
    """Bad and awkward files under ``root/batch`` (plus a good one to be kept), and a
    folder of side files they need (symlink targets, the source of cut files)."""
    batch, side = root / "batch", root / "side"
    batch.mkdir(parents=True)
    side.mkdir()
    good = pattern_video(side / "good.mp4", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac")
    faststart = pattern_video(
        side / "faststart.mp4", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac",
        "-movflags", "+faststart", seconds=4.0,
    )  # fmt: skip
    data, front = good.read_bytes(), faststart.read_bytes()
    cases: list[Case] = []

    def write(name: str, content: bytes, outcome: str, *words: str) -> None:
        (batch / name).write_bytes(content)
        cases.append(Case(name, batch / name, outcome, words))

    # -- damaged or not media at all --
    write("zero-bytes.mp4", b"", "fail", "empty")
    write("random-bytes.mp4", os.urandom(50_000), "fail", "not a readable media file")
    write("text-file.mp4", b"just some notes\n" * 200, "fail", "not a readable media file")
    write("html-page.mkv", b"<!doctype html><title>404</title>" * 20, "fail", "not a readable")
    write("header-only.mp4", data[:64], "fail", "not a readable", "no video", "damaged")
    for percent in (5, 50, 95):  # moov at the end: every cut loses the index
        write(f"truncated-{percent}pct-no-moov.mp4", data[: len(data) * percent // 100], "fail")
    write("truncated-30pct-faststart.mp4", front[: len(front) * 3 // 10], "either", "damaged")
    write("truncated-97pct-faststart.mp4", front[: len(front) * 97 // 100], "index")
    mangled = bytearray(front)
    mangled[len(front) // 3 : len(front) // 3 + 4096] = bytes(4096)
    write("zeroed-middle.mp4", bytes(mangled), "either", "damaged")
    unknown = bytearray(data)
    tag = unknown.rfind(b"avc1", 0, unknown.find(b"avcC"))  # the sample entry, not the brand
    unknown[tag : tag + 4] = b"zzzz"  # a codec no decoder knows
    write("unknown-codec.mp4", bytes(unknown), "fail", "codec", "no decodable", "not a readable")

    # -- readable, but not a video --
    ffmpeg("-f", "lavfi", "-i", "sine=duration=1", "-c:a", "aac", batch / "audio-only.mp4")
    cases.append(Case("audio-only.mp4", batch / "audio-only.mp4", "fail", ("no video stream",)))
    ffmpeg("-f", "lavfi", "-i", "color=red:size=32x32", "-frames:v", "1", batch / "still.png")
    (batch / "still.png").rename(batch / "still-image.mp4")
    cases.append(Case("still-image.mp4", batch / "still-image.mp4", "either", ("duration",)))
    write("subtitles-only.mp4", b"1\n00:00:01,000 --> 00:00:02,000\nhello\n", "fail", "no video")

    # -- unusual but valid: must be indexed --
    shape = ("-c:v", "libx264", "-pix_fmt", "yuv420p")
    pattern_video(batch / "video-only.mp4", "-map", "0:v", *shape)
    pattern_video(batch / "tenth-of-a-second.mp4", *shape, "-c:a", "aac", seconds=0.1)
    pattern_video(batch / "mkv-named.avi", "-c:v", "libx264", "-c:a", "aac", "-f", "matroska")
    pattern_video(batch / "mp4-named.mkv", *shape, "-c:a", "aac", "-f", "mp4")
    pattern_video(
        batch / "vp9.webm", "-c:v", "libvpx-vp9", "-c:a", "libopus", "-deadline", "realtime"
    )
    pattern_video(batch / "mpeg2.ts", "-c:v", "mpeg2video", "-c:a", "mp2")
    pattern_video(
        batch / "variable-frame-rate.mp4", *shape, "-an",
        "-vf", "setpts='if(lt(N,10),N/30,1+(N-10)/3)/TB'", "-fps_mode", "vfr",
    )  # fmt: skip
    pattern_video(batch / "one-by-one-pixel.mkv", "-c:v", "ffv1", "-an", size="2x2")
    pattern_video(batch / "very-wide.mp4", *shape, "-an", size="4000x16")
    pattern_video(batch / "huge-8000x8000.mp4", *shape, "-an", "-frames:v", "1", size="8000x8000")
    pattern_video(
        batch / "starts-at-one-hour.mp4", *shape, "-c:a", "aac", "-output_ts_offset", "3600"
    )
    ffmpeg(  # six hours: three frames three hours apart, no audio
        "-f", "lavfi", "-i", "testsrc2=size=64x64:rate=1/10800:duration=21600",
        *shape, "-r", "1/10800", batch / "six-hours-sparse.mp4",
    )  # fmt: skip
    for name in (
        "video-only.mp4", "tenth-of-a-second.mp4", "mkv-named.avi", "mp4-named.mkv", "vp9.webm",
        "mpeg2.ts", "variable-frame-rate.mp4", "one-by-one-pixel.mkv", "very-wide.mp4",
        "huge-8000x8000.mp4", "starts-at-one-hour.mp4", "six-hours-sparse.mp4",
    ):  # fmt: skip
        cases.append(Case(name, batch / name, "index"))
    (batch / "spaces and\nnewline ñ 猫.mp4").write_bytes(data)
    cases.append(Case("odd characters", batch / "spaces and\nnewline ñ 猫.mp4", "index"))
    (batch / "bad-sidecar.mp4").write_bytes(data)
    (batch / "bad-sidecar.mp4.json").write_text('{"camera": "cam-1", "start": "yesterday"')
    cases.append(Case("malformed sidecar", batch / "bad-sidecar.mp4", "fail", ("sidecar",)))
    y4m = b"YUV4MPEG2 W60000 H60000 F25:1 Ip A1:1 C420jpeg\nFRAME\n" + bytes(1000)
    write("claims-60000x60000.y4m", y4m, "fail")

    # -- not regular files --
    (batch / "loop-a.mp4").symlink_to(batch / "loop-b.mp4")
    (batch / "loop-b.mp4").symlink_to(batch / "loop-a.mp4")
    for name in ("loop-a.mp4", "loop-b.mp4"):
        cases.append(Case(f"symlink loop {name}", batch / name, "fail", ("symbolic link loop",)))
    (batch / "dangling.mp4").symlink_to(side / "gone.mp4")
    cases.append(Case("dangling symlink", batch / "dangling.mp4", "fail", ("not found", "link")))
    (batch / "linked-good.mp4").symlink_to(good)
    cases.append(Case("symlink to a good file", batch / "linked-good.mp4", "index"))
    (batch / "device.mp4").symlink_to("/dev/zero")
    cases.append(Case("device file", batch / "device.mp4", "fail", ("not a regular file",)))
    os.mkfifo(batch / "named-pipe.mp4")
    cases.append(Case("named pipe", batch / "named-pipe.mp4", "fail", ("not a regular file",)))
    (batch / "folder.mp4").mkdir()
    (batch / "folder.mp4" / "inside.mp4").write_bytes(data)
    cases.append(
        Case("video inside a folder named .mp4", batch / "folder.mp4" / "inside.mp4", "index")
    )
    non_utf8 = os.fsencode(batch) + b"/latin1-\xe9t\xe9.mp4"
    with open(non_utf8, "wb") as handle:
        handle.write(data)
    cases.append(Case("non-UTF-8 name", Path(os.fsdecode(non_utf8)), "fail", ("UTF-8",)))
    return cases, side
