"""Still frames for result cards: seek near the time, decode forward to it, JPEG-encode;
for a people event, with the people's boxes, their paths and the zone drawn on it."""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from sceneseek.errors import MediaError
from sceneseek.media.decode import media_origin, open_media

if TYPE_CHECKING:  # PyAV and PIL are imported when a thumbnail is made, not by a search
    from PIL import Image


Point = tuple[float, float]  # frame fractions
BOX_COLOUR, PATH_COLOUR, ZONE_COLOUR = (255, 64, 64), (255, 220, 0), (0, 200, 255)


def frame_jpeg(path: Path, time: float, width: int = 320) -> bytes:
    """JPEG of the first frame at or after ``time`` (the last frame if past the end)."""
    return _jpeg(_frame(path, time, width))


def marked_frame_jpeg(
    path: Path,
    time: float,
    boxes: Sequence[tuple[float, float, float, float]],
    paths: Sequence[Sequence[Point]] = (),
    zone: Sequence[Point] = (),
    width: int = 320,
) -> bytes:
    """``frame_jpeg`` with what a people event is about drawn on it: the zone's outline,
    each person's path (foot points) and their box (x, y, width, height) at ``time``,
    all in frame fractions."""
    from PIL import ImageDraw

    image = _frame(path, time, width)
    draw = ImageDraw.Draw(image)
    w, h = image.size

    def scaled(points: Sequence[Point]) -> list[Point]:
        return [(x * w, y * h) for x, y in points]

    if len(zone) >= 3:
        draw.polygon(scaled(zone), outline=ZONE_COLOUR, width=2)
    for path_points in paths:
        if len(path_points) >= 2:
            draw.line(scaled(path_points), fill=PATH_COLOUR, width=2)
    for x, y, bw, bh in boxes:
        draw.rectangle([x * w, y * h, (x + bw) * w, (y + bh) * h], outline=BOX_COLOUR, width=2)
    return _jpeg(image)


def _jpeg(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=80)
    return buffer.getvalue()


def _frame(path: Path, time: float, width: int) -> Image.Image:
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
    return image
