"""Still frames for result cards: seek near the time, decode forward to it, JPEG-encode."""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING

from sceneseek.errors import MediaError
from sceneseek.media.decode import media_origin, open_media

if TYPE_CHECKING:  # PyAV and PIL are imported when a thumbnail is made, not by a search
    from PIL import Image


def frame_jpeg(path: Path, time: float, width: int = 320) -> bytes:
    """JPEG of the first frame at or after ``time`` (the last frame if past the end)."""
    import av

    with open_media(path) as container:
        stream = container.streams.video[0]
        time += media_origin(container)  # ``time`` counts from the start, pts may not
        if stream.time_base is not None:
            container.seek(int(max(0.0, time) / stream.time_base), stream=stream, backward=True)
        picked = None
        try:
            for frame in container.decode(stream):
                picked = frame
                if frame.time is not None and frame.time + 1e-3 >= time:
                    break
        except av.FFmpegError as exc:
            if picked is None:
                raise MediaError(path, f"cannot decode a frame at {time:.1f}s ({exc})") from exc
    if picked is None:
        raise MediaError(path, f"no frame at {time:.1f}s")
    height = max(2, round(picked.height * width / picked.width / 2) * 2)
    image: Image.Image = picked.to_image(width=width, height=height)
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=80)
    return buffer.getvalue()
