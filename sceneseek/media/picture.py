"""Example images for search by picture, refused by their declared size before a pixel
is decoded, and decoded no larger than needed.

An upload is small, but a PNG of flat colour 12000×12000 fits in 445 KB and decodes to
432 MB, and converting then resizing it cost as much again (1.26 GB for one query, and
three at once reached 2.9 GB). So the header's size is checked first against the
configured limit (``search.max_image_pixels``); a JPEG is decoded straight at a reduced
scale (``draft``: the DCT gives 1/2 to 1/8 per side for free), so a large photo costs
little and may exceed the limit as stored; any other image is resized right after
decoding, before any conversion copies it at full size.
"""

from __future__ import annotations

import io
import math
import warnings
from typing import TYPE_CHECKING

import numpy as np

from sceneseek.errors import ImageTooLargeError, QueryError

if TYPE_CHECKING:  # PIL is imported when a picture is read, not by a text search
    from PIL import Image

RESIZABLE_MODES = {"L", "LA", "RGB", "RGBA", "RGBX", "I", "F"}  # the rest is converted first
NOT_AN_IMAGE = "the upload is not an image this tool can read (use JPEG, PNG, WebP, GIF or BMP)"


def read_header(data: bytes) -> Image.Image:
    """The image in ``data`` with only its header read (nothing decoded): QueryError
    when it is no image, ImageTooLargeError when its size trips PIL's bomb guard."""
    from PIL import Image

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # our limit applies
        try:
            picture = Image.open(io.BytesIO(data))
        except Image.DecompressionBombError:
            raise ImageTooLargeError(
                "the image is far too large to decode (PIL refuses its size as a "
                "decompression bomb)"
            ) from None
        except (OSError, ValueError):
            raise QueryError(NOT_AN_IMAGE) from None
    if min(picture.size) < 1:
        raise QueryError(NOT_AN_IMAGE)
    return picture


def decode_picture(data: bytes, short_side: int, max_pixels: int) -> np.ndarray:
    """RGB pixels (H, W, 3) of the image in ``data``, resized so that its short side is
    ``short_side`` pixels; refused (ImageTooLargeError) before decoding when more than
    ``max_pixels`` would have to be decoded."""
    from PIL import Image

    picture = read_header(data)
    scale = short_side / min(picture.size)
    size = (max(1, round(picture.width * scale)), max(1, round(picture.height * scale)))
    if scale < 1:  # a JPEG decodes at the smallest DCT scale still at least this large
        picture.draft("RGB", (math.ceil(picture.width * scale), math.ceil(picture.height * scale)))
    width, height = picture.size  # what will be decoded
    if width * height > max_pixels:
        raise ImageTooLargeError(
            f"the image is {width}×{height} pixels ({width * height / 1e6:.0f} megapixels); "
            f"a query image may have at most {max_pixels / 1e6:g} (search.max_image_pixels; "
            "JPEGs may be larger: they are decoded at a reduced scale)"
        )
    try:
        picture.load()
        if picture.mode not in RESIZABLE_MODES:
            picture = picture.convert("RGB")
        return np.asarray(picture.resize(size, Image.Resampling.BILINEAR).convert("RGB"))
    except (OSError, ValueError, SyntaxError):  # truncated or damaged pixel data
        raise QueryError(NOT_AN_IMAGE) from None
