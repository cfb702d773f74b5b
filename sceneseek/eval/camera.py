"""A camera on loopback, for live tests and benchmarks: ffmpeg serving a clip in real
time over TCP, with the wall time each moment of it was sent."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

from sceneseek.live.watch import OutputClock


def free_port() -> int:
    with socket.socket() as probe_socket:
        probe_socket.bind(("127.0.0.1", 0))
        return int(probe_socket.getsockname()[1])


class LoopbackCamera:
    """ffmpeg sending ``clip`` (MPEG-TS, codecs copied) at its own pace (``-re``) to the
    first client of ``url``: it starts when a watcher connects and exits at the clip's
    end. ``anchor`` is the wall time of the clip's first frame, from ffmpeg's own
    progress reports (None until it sends)."""

    def __init__(self, clip: Path, port: int | None = None) -> None:
        self.url = f"tcp://127.0.0.1:{port or free_port()}"
        self.process = subprocess.Popen(
            ["ffmpeg", "-v", "error", "-nostdin", "-re", "-i", str(clip), "-c", "copy",
             "-f", "mpegts", f"{self.url}?listen=1",
             "-progress", "pipe:1", "-stats_period", "0.2", "-nostats"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        assert self.process.stdout is not None
        self.clock = OutputClock(self.process.stdout)

    @property
    def anchor(self) -> float | None:
        return self.clock.anchor

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(10)
