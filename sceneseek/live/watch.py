"""Live ingest: streams (RTSP/HTTP/HLS/MPEG-TS URLs, or growing files) recorded into
rotating chunks that are indexed as soon as they close, and a folder whose new video
files are indexed once they stop growing.

The engine indexes whole files, so a stream becomes a sequence of files: ffmpeg's
segment muxer cuts it into MPEG-TS chunks (kept on disk for playback, deleted after a
retention period) and lists each one in a CSV *after* it has been closed. A chunk is
indexed only once listed, so a chunk still being written (or cut short by a crash) is
never indexed; the index write itself is atomic per video. One ``Library`` is kept for
the whole session and serves every stream, so the models load once.
"""

from __future__ import annotations

import heapq
import logging
import os
import re
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO
from urllib.parse import urlparse

from sceneseek.errors import SceneseekError
from sceneseek.index.alerts import AlertEvent
from sceneseek.ingest import analyse, display_path
from sceneseek.library import Library
from sceneseek.media.decode import probe
from sceneseek.paths import video_files

log = logging.getLogger("sceneseek.live")

TS_PACKET = 188
MIN_CHUNK_SECONDS = 2.0  # chunk names carry a per-run sequence, but a chunk must hold a GOP
LOG_LIMIT = 5 << 20


@dataclass(frozen=True)
class Chunk:
    """A closed recording chunk. ``start`` is the wall-clock time of its first frame:
    exact to the polling interval for a live source, an estimate for a file read faster
    than real time."""

    path: Path
    start: datetime
    duration: float


@dataclass
class WatchReport:
    """What a watch session did; ``lags`` are seconds from the end of each chunk's
    content (wall clock) to it being searchable, the live-search delay."""

    indexed: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    events: list[AlertEvent] = field(default_factory=list)
    runs: int = 0  # ffmpeg launches: one per stream + reconnections
    lags: list[float] = field(default_factory=list)


ChunkCallback = Callable[[Chunk, list[AlertEvent]], None]


# -- stopping ---------------------------------------------------------------------------
@contextmanager
def stop_on_signals(stop: threading.Event) -> Iterator[threading.Event]:
    """Turn SIGINT/SIGTERM into ``stop`` for the duration (main thread only), so a
    watcher finishes its chunk and exits cleanly instead of dying mid-write."""
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def handler(signum: int, _frame: object) -> None:
        log.info("%s: stopping", signal.Signals(signum).name)
        stop.set()

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for s, old in previous.items():
            signal.signal(s, old)


# -- one ffmpeg recording run -----------------------------------------------------------
def camera_slug(camera: str) -> str:
    """A camera id made safe for file names and ffmpeg's %-patterns."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", camera) or "camera"


def is_url(source: str) -> bool:
    return bool(re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", source)) and not source.startswith(
        "file://"
    )


def input_args(source: str, timeout_s: float, offset: int = 0) -> list[str]:
    """ffmpeg input options: an I/O timeout fitting the protocol (so a dead source ends
    the run instead of hanging it), or follow mode for a growing file, resumed at
    ``offset`` bytes (MPEG-TS resynchronises at any packet)."""
    micros = str(int(timeout_s * 1_000_000))
    probe = [
        *("-analyzeduration", "2000000", "-probesize", "1000000"),
        *("-fflags", "+genpts+discardcorrupt"),
    ]
    if not is_url(source):
        path = source.removeprefix("file://")
        target = f"file:{path}"
        if offset:
            target = f"subfile,,start,{offset - offset % TS_PACKET},end,0,,:{path}"
        return [*probe, "-follow", "1", "-rw_timeout", micros, "-i", target]
    scheme = urlparse(source).scheme.lower()
    if scheme in ("rtsp", "rtsps"):
        return [*probe, "-rtsp_transport", "tcp", "-timeout", micros, "-i", source]
    if scheme in ("udp", "rtp", "srt"):
        return [*probe, "-timeout", micros, "-i", source]
    return [*probe, "-rw_timeout", micros, "-i", source]


def encode_args(reencode: bool) -> list[str]:
    """Copy the first video and audio stream as they are; re-encode (a keyframe forced
    every second, where a chunk may be cut) when the source's codecs do not fit MPEG-TS."""
    maps = ["-map", "0:v:0", "-map", "0:a:0?"]
    if not reencode:
        return [*maps, "-c", "copy"]
    return [
        *maps,
        "-c:v",
        "libx264",
        "-preset",
        "veryfast",
        "-tune",
        "zerolatency",
        "-force_key_frames",
        "expr:gte(t,n_forced)",
        "-c:a",
        "aac",
        "-ac",
        "1",
    ]


def segment_args(source: str, chunk_seconds: float, phase: float) -> list[str]:
    """Cut every ``chunk_seconds`` (at the next keyframe): a live source at wall-clock
    boundaries shifted by ``phase``, so the streams of one watcher close their chunks in
    turn and keep their turn across reconnections; a file, which may be read faster
    than real time, by its own timestamps."""
    cut = ["-segment_time", f"{chunk_seconds:g}"]
    if not is_url(source):
        return cut
    return [*cut, "-segment_atclocktime", "1", "-segment_clocktime_offset", f"{phase:.3f}"]


class OutputClock:
    """An ffmpeg process's ``-progress`` reports, read on a thread: how far its output
    has got, when that last moved (monotonic), and ``anchor``, the wall time of output
    time 0."""

    def __init__(self, reports: IO[bytes]) -> None:
        self.out_time = 0.0
        self.last_progress = time.monotonic()
        self.anchor: float | None = None
        threading.Thread(target=self._read, args=(reports,), daemon=True).start()

    def _read(self, reports: IO[bytes]) -> None:
        for raw in reports:
            key, _, value = raw.decode(errors="replace").strip().partition("=")
            if key != "out_time_us" or not value.lstrip("-").isdigit():
                continue
            seconds = int(value) / 1e6
            if seconds > self.out_time:
                self.out_time = seconds
                self.last_progress = time.monotonic()
                # The output can lag a live source but never lead it: the earliest
                # estimate of when stream time 0 happened is the best one.
                estimate = time.time() - seconds
                self.anchor = estimate if self.anchor is None else min(self.anchor, estimate)


class Recording:
    """One ffmpeg process writing ``<camera>_<run start>_<n>.ts`` chunks and the CSV list
    of closed ones; watches its progress so a stalled source can be cut."""

    def __init__(
        self,
        source: str,
        directory: Path,
        camera: str,
        chunk_seconds: float,
        reencode: bool,
        timeout_s: float,
        run_id: str,
        offset: int = 0,
        phase: float = 0.0,
    ) -> None:
        self.source = source
        self.run_id = run_id
        self.prefix = f"{camera_slug(camera)}_{self.run_id}"
        self.list_path = directory / f".{self.prefix}.csv"
        self.log_path = directory / "ffmpeg.log"
        if self.log_path.exists() and self.log_path.stat().st_size > LOG_LIMIT:
            self.log_path.unlink()
        self.log_start = self.log_path.stat().st_size if self.log_path.exists() else 0
        self.reencode = reencode
        self.listed = 0  # chunks closed so far
        command = [
            "ffmpeg",
            "-hide_banner",
            "-nostdin",
            "-loglevel",
            "info",
            *input_args(source, timeout_s, offset),
            *encode_args(reencode),
            "-f",
            "segment",
            *segment_args(source, chunk_seconds, phase),
            "-segment_format",
            "mpegts",
            "-reset_timestamps",
            "1",
            "-segment_list",
            str(self.list_path),
            "-segment_list_type",
            "csv",
            "-progress",
            "pipe:1",
            "-stats_period",
            "0.5",
            "-nostats",
            str(directory / f"{self.prefix}_%05d.ts"),
        ]
        with self.log_path.open("ab") as log_file:
            log_file.write(f"\n== {datetime.now().isoformat()} {source}\n".encode())
            self.process = subprocess.Popen(
                command,
                stdout=subprocess.PIPE,
                stderr=log_file,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # a terminal Ctrl-C reaches us, and we stop it cleanly
            )
        assert self.process.stdout is not None
        self.clock = OutputClock(self.process.stdout)

    def closed(self) -> list[tuple[Path, float, float]]:
        """Chunks ffmpeg has finished since the last call: (path, start, end) in stream
        seconds. Only complete CSV lines count."""
        try:
            text = self.list_path.read_text()
        except FileNotFoundError:
            return []
        lines = text.split("\n")[:-1]  # a line is complete once its newline is written
        found = []
        for line in lines[self.listed :]:
            name, start, end = line.rsplit(",", 2)
            found.append((self.list_path.parent / name.strip('"'), float(start), float(end)))
        self.listed = len(lines)
        return found

    def wall_start(self, start: float, end: float) -> datetime:
        """Wall-clock time of a chunk's first frame, never later than now minus its
        length (which a file read faster than real time would otherwise give)."""
        now = time.time()
        anchor = self.clock.anchor if self.clock.anchor is not None else now - end
        stamp = min(anchor + start, now - (end - start))
        return datetime.fromtimestamp(stamp).astimezone()

    def stalled(self, stall_s: float) -> bool:
        return self.running and time.monotonic() - self.clock.last_progress > stall_s

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def stop(self, grace_s: float = 10.0) -> int:
        """Ask ffmpeg to finish: it closes and lists the current chunk. A first SIGINT
        is seen between packets; a second also breaks a read blocked on a silent source
        (still finishing the chunk cleanly); only then is it killed. Returns its exit
        status."""
        for wait_s in (2.0, grace_s):
            if not self.running:
                break
            with suppress(ProcessLookupError):
                self.process.send_signal(signal.SIGINT)
            with suppress(subprocess.TimeoutExpired):
                self.process.wait(wait_s)
        if self.running:
            log.warning("ffmpeg did not stop within %.0f s; killing it", 2.0 + grace_s)
            self.process.kill()
        return self.process.wait()

    def opened_input(self) -> bool:
        """Whether this run got as far as reading the source (its log shows the input)."""
        try:
            with self.log_path.open("rb") as handle:
                handle.seek(self.log_start)
                return b"Input #0" in handle.read()
        except OSError:
            return False

    def last_error(self) -> str:
        try:
            with self.log_path.open("rb") as handle:
                handle.seek(self.log_start)
                lines = handle.read().decode(errors="replace").strip().splitlines()
        except OSError:
            return ""
        return lines[-1][:300] if lines else ""


# -- stream watcher ---------------------------------------------------------------------
@dataclass(frozen=True)
class Stream:
    """One camera to record: its source, the camera id its chunks are indexed under, and
    where its chunks go (None: ``<db>/recordings/<camera>``)."""

    source: str
    camera: str
    zone: str | None = None
    record_dir: Path | None = None


def watch_streams(
    library: Library,
    streams: Sequence[Stream],
    chunk_seconds: float = 6.0,
    retention_hours: float | None = 72.0,
    stall_seconds: float | None = None,
    reencode: bool | None = None,
    max_backoff: float = 30.0,
    stop: threading.Event | None = None,
    on_chunk: ChunkCallback | None = None,
) -> WatchReport:
    """Record each stream into chunks and index each chunk as it closes, with its
    wall-clock start; reconnect a stream with exponential backoff when it drops or
    stalls, without touching the others; check alerts after each chunk. Runs until
    ``stop`` is set (or SIGINT/SIGTERM when none is given). ``reencode`` None: copy the
    codecs, switching a stream to re-encoding if a copy run reads the input but writes
    nothing.

    One process serves every stream: one set of models (each set is hundreds of MB,
    and the models' threads already fill the cores) and one indexing queue, oldest chunk
    end first, so no stream's chunk waits behind a newer one. Recording is ffmpeg's
    work, in its own processes; this loop polls them between chunks, so a reconnection
    waits at most one chunk's indexing. Live sources are cut at wall-clock boundaries
    staggered across the streams: cut together, N chunks would close at once and the
    last would wait for N - 1 others."""
    if chunk_seconds < MIN_CHUNK_SECONDS:
        raise ValueError(f"chunk length must be at least {MIN_CHUNK_SECONDS:g} s")
    if not streams:
        raise ValueError("no stream to watch")
    slugs = [camera_slug(s.camera) for s in streams]
    if len(set(slugs)) < len(slugs):
        raise ValueError(f"cameras must differ (as file names): {', '.join(slugs)}")
    stall = stall_seconds or max(15.0, 3 * chunk_seconds)
    report = WatchReport()
    stop_event = stop or threading.Event()
    states = []
    for number, stream in enumerate(streams):
        directory = stream.record_dir or library.path / "recordings" / camera_slug(stream.camera)
        directory.mkdir(parents=True, exist_ok=True)
        phase = chunk_seconds * number / len(streams)
        state = _StreamState(
            stream, directory, chunk_seconds, phase, bool(reencode), stall, max_backoff
        )
        state.auto_reencode = reencode is None
        states.append(state)
    queue = _ChunkQueue()
    with stop_on_signals(stop_event) if stop is None else _nothing(stop_event):
        _warm_up(library)
        last_sweep = 0.0
        try:
            while not stop_event.is_set():
                for state in states:
                    state.step(report)
                    # Every closed chunk, even once asked to stop: one taken and
                    # skipped would be lost (the loop after `finish` sees only later ones).
                    queue.take_from(state)
                if queue:
                    _index_chunk(library, *queue.pop(), report, on_chunk, len(queue))
                else:
                    stop_event.wait(0.2)
                if retention_hours and time.monotonic() - last_sweep > 60:
                    last_sweep = time.monotonic()
                    for state in states:
                        sweep(
                            library, state.directory, retention_hours * 3600, state.current_list()
                        )
        finally:
            for state in states:
                state.finish()
        for state in states:  # the chunks ffmpeg closed on stopping
            queue.take_from(state)
        while queue:
            _index_chunk(library, *queue.pop(), report, on_chunk, len(queue))
    return report


@contextmanager
def _nothing(stop: threading.Event) -> Iterator[threading.Event]:
    yield stop


class _ChunkQueue:
    """Closed chunks of every stream waiting to be indexed, the oldest end first."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Chunk, Stream]] = []
        self._count = 0  # ties (same end) in arrival order

    def take_from(self, state: _StreamState) -> None:
        for chunk in state.take_closed():
            self._count += 1
            end = chunk.start.timestamp() + chunk.duration
            heapq.heappush(self._heap, (end, self._count, chunk, state.stream))

    def pop(self) -> tuple[Chunk, Stream]:
        _, _, chunk, stream = heapq.heappop(self._heap)
        return chunk, stream

    def __len__(self) -> int:
        return len(self._heap)


class _StreamState:
    """Launching, watching and relaunching ffmpeg; queueing the chunks it closes."""

    def __init__(
        self,
        stream: Stream,
        directory: Path,
        chunk_seconds: float,
        phase: float,
        reencode: bool,
        stall_s: float,
        max_backoff: float,
    ) -> None:
        self.stream = stream
        self.source = stream.source
        self.max_backoff = max_backoff
        self.directory = directory
        self.chunk_seconds = chunk_seconds
        self.phase = phase
        self.reencode = reencode
        self.auto_reencode = False
        self.stall_s = stall_s
        self.recording: Recording | None = None
        self.failures = 0
        self.next_start = 0.0
        self.last_run_id = ""
        self.offset = 0  # bytes of a growing file already recorded
        self.queue: list[Chunk] = []

    def step(self, report: WatchReport) -> None:
        rec = self.recording
        if rec is None:
            if time.monotonic() >= self.next_start and self._source_ready():
                self._launch(report)
            return
        self._collect(rec)
        if rec.stalled(self.stall_s + 5):  # ffmpeg's own timeout should end it first
            log.warning("%s: no data for %.0f s; reconnecting", self.source, self.stall_s)
            rec.stop()
        if rec.running:
            return
        status = rec.process.wait()
        self._collect(rec)
        wrote = rec.listed > 0
        if not is_url(self.source):
            self.offset = max(self.offset, _size(self.source))
        if wrote:
            self.failures = 0
        else:
            self.failures += 1
            if self.auto_reencode and not self.reencode and rec.opened_input() and status:
                log.warning("%s: copying the codecs failed; re-encoding", self.source)
                self.reencode = True
        delay = 0.0 if wrote else min(self.max_backoff, 2.0 ** (self.failures - 1))
        self.next_start = time.monotonic() + delay
        log.warning(
            "%s: recording ended (ffmpeg exit %d%s); %s",
            self.source,
            status,
            f": {rec.last_error()}" if status else "",
            f"reconnecting in {delay:.0f} s" if is_url(self.source) else "waiting for it to grow",
        )
        self.recording = None

    def _source_ready(self) -> bool:
        """A URL is always worth trying; a growing file once it has new bytes."""
        return is_url(self.source) or _size(self.source) > self.offset

    def _launch(self, report: WatchReport) -> None:
        run_id = datetime.now().strftime("%Y%m%dT%H%M%S")
        if run_id == self.last_run_id:  # chunk names are per run start second
            return
        self.last_run_id = run_id
        self.recording = Recording(
            self.source,
            self.directory,
            self.stream.camera,
            self.chunk_seconds,
            self.reencode,
            self.stall_s,
            run_id,
            self.offset,
            self.phase,
        )
        report.runs += 1
        log.info("recording %s → %s (run %d)", self.source, self.directory, report.runs)

    def _collect(self, rec: Recording) -> None:
        for path, start, end in rec.closed():
            if end - start <= 0 or not path.is_file():
                continue
            self.queue.append(Chunk(path, rec.wall_start(start, end), end - start))

    def take_closed(self) -> list[Chunk]:
        if self.recording is not None:
            self._collect(self.recording)
        taken, self.queue = self.queue, []
        return taken

    def current_list(self) -> Path | None:
        return self.recording.list_path if self.recording else None

    def finish(self) -> None:
        if self.recording is not None:
            self.recording.stop()
            self._collect(self.recording)
            self.recording = None


def _size(path: str) -> int:
    try:
        return os.stat(path.removeprefix("file://")).st_size
    except OSError:
        return 0


def _warm_up(library: Library) -> None:
    """Run every encoder once on a generated second of video (models load lazily, on
    first use), so the first chunk is not late by the model load."""
    started = time.perf_counter()
    encoders = library.encoders
    encoders.versions()
    encoders.background  # noqa: B018 - the vocabulary search standardises against
    with tempfile.TemporaryDirectory(prefix="sceneseek-warmup-") as tmp:
        clip = Path(tmp) / "warmup.ts"
        command = [
            "ffmpeg", "-v", "error", "-nostdin",
            "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=15",
            "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=16000", "-t", "1.5",
            "-c:v", "libx264", "-c:a", "aac", "-f", "mpegts", str(clip),
        ]  # fmt: skip
        try:
            subprocess.run(command, check=True, capture_output=True, timeout=30)
            analyse(probe(clip), library.config, encoders)
        except (OSError, subprocess.SubprocessError, SceneseekError) as exc:
            log.warning("warm-up skipped (%s); the first chunk will load the models", exc)
    log.info("models loaded in %.1f s", time.perf_counter() - started)


def _index_chunk(
    library: Library,
    chunk: Chunk,
    stream: Stream,
    report: WatchReport,
    on_chunk: ChunkCallback | None,
    waiting: int,
) -> None:
    started = time.perf_counter()
    result = library.index([chunk.path], stream.camera, stream.zone, start=chunk.start)
    report.failed.extend(result.failed)
    for path, cause in result.failed:
        log.warning("could not index %s: %s", path, cause)
    if not result.indexed:
        return
    events = result.events
    lag = time.time() - (chunk.start.timestamp() + chunk.duration)
    report.indexed.extend(result.indexed)
    report.events.extend(events)
    report.lags.append(lag)
    log.info(
        "indexed %s (%.1f s from %s) in %.1f s, searchable %.1f s after its end, "
        "%d chunks waiting%s",
        chunk.path.name,
        chunk.duration,
        chunk.start.strftime("%H:%M:%S"),
        time.perf_counter() - started,
        lag,
        waiting,
        f", {len(events)} alert events" if events else "",
    )
    if on_chunk:
        on_chunk(chunk, events)


def sweep(library: Library, directory: Path, max_age_s: float, keep: Path | None) -> list[Path]:
    """Delete chunks (and run lists) older than the retention period, and forget them
    in the index so search never returns a moment that can no longer be played."""
    cutoff = time.time() - max_age_s
    store = library.index_store
    removed = []
    for path in sorted(directory.iterdir()):
        if path == keep or path.suffix not in (".ts", ".csv") or not path.is_file():
            continue
        with suppress(FileNotFoundError):
            if path.stat().st_mtime >= cutoff:
                continue
            if path.suffix == ".ts":
                store.remove_video(display_path(path))
            path.unlink()
            removed.append(path)
    if removed:
        log.info("retention: deleted %d old files from %s", len(removed), directory)
    return removed


# -- folder watcher ---------------------------------------------------------------------
def watch_folder(
    library: Library,
    folder: Path,
    camera: str | None = None,
    zone: str | None = None,
    settle_seconds: float = 2.0,
    poll_seconds: float = 1.0,
    stop: threading.Event | None = None,
    on_file: Callable[[Path, list[AlertEvent]], None] | None = None,
) -> WatchReport:
    """Index video files as they appear in ``folder`` (recursively), each once its size
    and mtime have not changed for ``settle_seconds`` (a copy in progress is not a
    video yet); a file that changes later is indexed again. Checks alerts after each
    file. Runs until ``stop`` is set (or SIGINT/SIGTERM when none is given)."""
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: not a folder")
    report = WatchReport()
    stop_event = stop or threading.Event()
    done: dict[Path, tuple[int, int]] = {}
    pending: dict[Path, tuple[int, int, float]] = {}
    reported: set[tuple[str, str]] = set()  # unreadable sub-folders, logged once each
    with stop_on_signals(stop_event) if stop is None else _nothing(stop_event):
        _warm_up(library)
        log.info("watching %s", folder)
        while not stop_event.is_set():
            now = time.monotonic()
            found = video_files(folder)
            for problem in sorted(set(found.problems) - reported):
                log.warning("cannot read %s: %s", *problem)
                report.failed.append(problem)
            reported.update(found.problems)
            for path in (p for p in found.files if not p.name.startswith(".")):
                try:
                    info = path.stat()
                except OSError:  # gone since the walk, or unreadable: next poll sees
                    continue
                state = (info.st_size, info.st_mtime_ns)
                if done.get(path) == state or info.st_size == 0:
                    continue
                seen = pending.get(path)
                if seen is None or seen[:2] != state:
                    pending[path] = (*state, now)
                    continue
                if now - seen[2] < settle_seconds:
                    continue
                del pending[path]
                done[path] = state
                _index_file(library, path, camera, zone, report, on_file)
                if stop_event.is_set():
                    break
            stop_event.wait(poll_seconds)
    return report


def _index_file(
    library: Library,
    path: Path,
    camera: str | None,
    zone: str | None,
    report: WatchReport,
    on_file: Callable[[Path, list[AlertEvent]], None] | None,
) -> None:
    started = time.perf_counter()
    result = library.index([path], camera=camera, zone=zone)
    report.failed.extend(result.failed)
    for failed, cause in result.failed:
        log.warning("could not index %s: %s", failed, cause)
    if not result.indexed:
        return
    events = result.events
    report.indexed.extend(result.indexed)
    report.events.extend(events)
    log.info(
        "indexed %s in %.1f s%s",
        path,
        time.perf_counter() - started,
        f", {len(events)} alert events" if events else "",
    )
    if on_file:
        on_file(path, events)


__all__ = [
    "Chunk",
    "OutputClock",
    "Recording",
    "WatchReport",
    "stop_on_signals",
    "Stream",
    "sweep",
    "watch_folder",
    "watch_streams",
]
