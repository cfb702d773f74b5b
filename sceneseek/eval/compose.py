"""Assemble test videos from real assets with one ffmpeg pass, and report ground truth.

Tests and the benchmark need to know exactly when each picture, sound, spoken phrase and caption
occurs. Visual segments are cut to whole frames, so their times follow from the frame rate; audio
ends are the placement offset plus the ``ffprobe`` duration of the file; the returned
:class:`Composition` is therefore the ground truth, not a guess.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass, is_dataclass
from pathlib import Path

FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
ENCODER_THREADS = min(4, os.cpu_count() or 1)


class ComposeError(RuntimeError):
    """ffmpeg/ffprobe failed while building a test video."""


@dataclass(frozen=True)
class VideoSpec:
    """Output format shared by every test video, so all videos decode the same way."""

    width: int = 640
    height: int = 360
    fps: int = 15
    audio: bool = True  # False: the file has no audio stream at all
    sample_rate: int = 16000


@dataclass(frozen=True)
class Photo:
    """A still image shown for ``seconds`` with a slow centred zoom up to ``zoom``."""

    path: Path
    seconds: float
    label: str
    zoom: float = 1.15


@dataclass(frozen=True)
class Clip:
    """A real clip from ``offset``, cut to ``seconds`` (looped from its start if too short)."""

    path: Path
    seconds: float
    label: str
    offset: float = 0.0


@dataclass(frozen=True)
class Card:
    """A plain colour card, used as neutral filler between targets."""

    seconds: float
    label: str
    colour: str = "black"


Visual = Photo | Clip | Card


@dataclass(frozen=True)
class Audio:
    """A sound or speech file mixed in at ``at`` seconds; ``text`` is the known transcript."""

    path: Path
    at: float
    label: str
    kind: str = "sound"  # "sound" | "speech"
    text: str = ""
    volume: float = 1.0


@dataclass(frozen=True)
class Caption:
    """Text burned into the picture from ``start`` to ``end`` seconds."""

    text: str
    start: float
    end: float


@dataclass(frozen=True)
class Placed:
    """Where one timeline item actually landed in the output file."""

    kind: str  # "photo" | "clip" | "card" | "sound" | "speech" | "caption"
    label: str
    start: float
    end: float
    source: str = ""
    text: str = ""


@dataclass(frozen=True)
class Composition:
    path: Path
    duration: float
    has_audio: bool
    items: tuple[Placed, ...]


def _ffprobe(path: Path, *args: str) -> dict:
    cmd = ["ffprobe", "-v", "error", "-of", "json", *args, str(path)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise ComposeError(f"ffprobe failed on {path}: {done.stderr.strip()[-500:]}")
    return json.loads(done.stdout)


def probe_duration(path: Path | str) -> float:
    """Container duration in seconds, as ffprobe reports it."""
    fmt = _ffprobe(Path(path), "-show_entries", "format=duration")["format"]
    if "duration" not in fmt:
        raise ComposeError(f"ffprobe reports no duration for {path}")
    return float(fmt["duration"])


def stream_types(path: Path | str) -> list[str]:
    """Codec types of the streams in a file, e.g. ``["video", "audio"]``."""
    streams = _ffprobe(Path(path), "-show_entries", "stream=codec_type")["streams"]
    return [s["codec_type"] for s in streams]


def _filter_path(path: Path) -> str:
    """Quote a path for use as a filter option value."""
    return "'" + str(path).replace("\\", "\\\\").replace("'", r"'\''").replace(":", r"\:") + "'"


def _fit(spec: VideoSpec, scale: int = 1) -> str:
    w, h = spec.width * scale, spec.height * scale
    return (
        f"scale={w}:{h}:force_original_aspect_ratio=decrease,"
        f"pad={w}:{h}:(ow-iw)/2:(oh-ih)/2,setsar=1"
    )


def compose(
    out: Path | str,
    visuals: Sequence[Visual],
    sounds: Sequence[Audio] = (),
    captions: Sequence[Caption] = (),
    spec: VideoSpec = VideoSpec(),
) -> Composition:
    """Encode ``visuals`` back to back with ``sounds`` and ``captions``; return ground truth."""
    out = Path(out)
    if not visuals:
        raise ComposeError(f"{out}: a timeline needs at least one visual item")
    if sounds and not spec.audio:
        raise ComposeError(f"{out}: sounds were placed but the spec has no audio track")
    inputs: list[list[str]] = []  # ffmpeg input options, one list per input file
    graph: list[str] = []
    placed: list[Placed] = []
    frames_done = 0
    for i, item in enumerate(visuals):
        frames = max(1, round(item.seconds * spec.fps))
        cut = f"trim=end_frame={frames},setpts=PTS-STARTPTS,format=yuv420p[v{i}]"
        if isinstance(item, Photo):
            rate = (item.zoom - 1) / frames
            graph.append(
                f"[{len(inputs)}:v]{_fit(spec, 2)},zoompan=z='min(1+{rate:.6f}*on,{item.zoom})'"
                f":x='iw/2-iw/zoom/2':y='ih/2-ih/zoom/2':d={frames}"
                f":s={spec.width}x{spec.height}:fps={spec.fps},{cut}"
            )
            inputs.append(["-i", str(item.path)])
        elif isinstance(item, Clip):
            graph.append(f"[{len(inputs)}:v]fps={spec.fps},{_fit(spec)},{cut}")
            inputs.append(["-ss", f"{item.offset:.3f}", "-stream_loop", "-1", "-i", str(item.path)])
        else:
            graph.append(f"color=c={item.colour}:s={spec.width}x{spec.height}:r={spec.fps},{cut}")
        start = frames_done / spec.fps
        frames_done += frames
        source = "" if isinstance(item, Card) else str(item.path)
        kind = type(item).__name__.lower()
        placed.append(Placed(kind, item.label, start, frames_done / spec.fps, source))
    total = frames_done / spec.fps
    graph.append(
        "".join(f"[v{i}]" for i in range(len(visuals))) + f"concat=n={len(visuals)}:v=1:a=0[vcat]"
    )

    with tempfile.TemporaryDirectory(prefix="sceneseek-compose-") as tmp:
        video_out = "[vcat]"
        for i, cap in enumerate(captions):
            text_file = Path(tmp) / f"caption{i}.txt"
            text_file.write_text(cap.text, encoding="utf-8")
            graph.append(
                f"{video_out}drawtext=fontfile={_filter_path(FONT)}:textfile={_filter_path(text_file)}"
                f":enable='between(t,{cap.start:.3f},{cap.end:.3f})':fontsize=26:fontcolor=white"
                f":box=1:boxcolor=black@0.6:boxborderw=8:x=(w-tw)/2:y=h-th-28[c{i}]"
            )
            video_out = f"[c{i}]"
            placed.append(
                Placed("caption", cap.text, cap.start, min(cap.end, total), text=cap.text)
            )
        maps = ["-map", video_out]
        if spec.audio:
            graph.append(f"anullsrc=r={spec.sample_rate}:cl=mono,atrim=duration={total:.3f}[a]")
            for j, snd in enumerate(sounds):
                graph.append(
                    f"[{len(inputs)}:a]aresample={spec.sample_rate},"
                    "aformat=sample_fmts=fltp:channel_layouts=mono,"
                    f"volume={snd.volume},adelay={round(snd.at * 1000)}[s{j}]"
                )
                inputs.append(["-i", str(snd.path)])
                end = min(total, snd.at + probe_duration(snd.path))
                placed.append(Placed(snd.kind, snd.label, snd.at, end, str(snd.path), snd.text))
            mix = "[a]" + "".join(f"[s{j}]" for j in range(len(sounds)))
            graph.append(f"{mix}amix=inputs={len(sounds) + 1}:normalize=0:duration=first[aout]")
            maps += ["-map", "[aout]", "-c:a", "aac", "-b:a", "64k", "-ac", "1"]
        script = Path(tmp) / "graph.txt"
        script.write_text(";\n".join(graph), encoding="utf-8")
        cmd = ["ffmpeg", "-nostdin", "-y", "-v", "error", "-filter_complex_threads", "1"]
        for opts in inputs:
            cmd += opts
        cmd += ["-filter_complex_script", str(script), *maps, "-t", f"{total:.3f}"]
        cmd += ["-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-pix_fmt", "yuv420p"]
        cmd += ["-r", str(spec.fps), "-threads", str(ENCODER_THREADS), "-movflags", "+faststart"]
        out.parent.mkdir(parents=True, exist_ok=True)
        partial = out.with_name(out.name + ".part.mp4")
        done = subprocess.run([*cmd, str(partial)], capture_output=True, text=True, check=False)
        if done.returncode != 0:
            partial.unlink(missing_ok=True)
            raise ComposeError(f"ffmpeg failed building {out}: {done.stderr.strip()[-1500:]}")
        partial.replace(out)
    duration = probe_duration(out)
    if abs(duration - total) > 0.25:
        raise ComposeError(f"{out}: probed duration {duration:.2f}s, timeline says {total:.2f}s")
    items = sorted(placed, key=lambda p: (p.start, p.kind))
    return Composition(out, duration, spec.audio, tuple(items))


def compose_cached(
    out: Path | str,
    visuals: Sequence[Visual],
    sounds: Sequence[Audio] = (),
    captions: Sequence[Caption] = (),
    spec: VideoSpec = VideoSpec(),
) -> Composition:
    """:func:`compose`, skipped when ``out`` was already built from the same timeline.

    The ground truth is kept in a hidden sidecar ``.<name>.json`` next to the video, keyed by a
    digest of the whole timeline (paths, durations, offsets, texts and output format).
    """
    out = Path(out)
    key = json.dumps([visuals, sounds, captions, spec], default=_jsonable, sort_keys=True)
    digest = hashlib.sha256(key.encode()).hexdigest()
    sidecar = out.with_name(f".{out.name}.json")
    if out.is_file() and sidecar.is_file():
        saved = json.loads(sidecar.read_text())
        if saved["digest"] == digest:
            items = tuple(Placed(**p) for p in saved["items"])
            return Composition(out, saved["duration"], spec.audio, items)
    built = compose(out, visuals, sounds, captions, spec)
    saved = {
        "digest": digest,
        "duration": built.duration,
        "items": [asdict(p) for p in built.items],
    }
    sidecar.write_text(json.dumps(saved, indent=1))
    return built


def _jsonable(value: object) -> object:
    if is_dataclass(value) and not isinstance(value, type):
        return {"type": type(value).__name__, **asdict(value)}
    return str(value)
