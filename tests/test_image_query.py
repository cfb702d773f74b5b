"""Search by picture under hostile sizes (issue 15): a 12000×12000 PNG (a few hundred KB
of flat colour, 432 MB decoded) is refused from its header, before a pixel is decoded;
a JPEG of that size decodes at 1/8 scale and is answered; memory is measured in a
subprocess with the real visual encoder. About 20 s (the model loads twice)."""

from __future__ import annotations

import io
import json
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from typer.testing import CliRunner

from sceneseek import Config, Library
from sceneseek.api import ApiSettings, create_app
from sceneseek.cli import app
from sceneseek.config import SearchConfig
from sceneseek.errors import ImageTooLargeError
from sceneseek.index.store import EmbeddedIndex
from sceneseek.media.picture import decode_picture

SIDE = 12_000
PEAK_LIMIT_MB = 700  # the whole process: torch and the visual model included
LIMIT = SearchConfig().max_image_pixels


def flat_png(width: int, height: int) -> bytes:
    """A black RGB PNG, compressed row by row so making it never holds the pixels."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + crc

    compressor = zlib.compressobj(6)
    row = bytes(1 + 3 * width)  # filter byte, then the row's pixels
    pixels = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


@pytest.fixture(scope="module")
def huge(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("huge")
    paths = {"png": folder / "huge.png", "jpeg": folder / "huge.jpg"}
    paths["png"].write_bytes(flat_png(SIDE, SIDE))
    Image.new("L", (SIDE, SIDE), 128).save(paths["jpeg"], quality=80)
    return paths


def test_oversized_png_is_refused_from_its_header(huge: dict[str, Path]) -> None:
    assert len(huge["png"].read_bytes()) < 1_000_000 and SIDE * SIDE > LIMIT
    with pytest.raises(ImageTooLargeError, match=f"{SIDE}×{SIDE} pixels"):
        decode_picture(huge["png"].read_bytes(), 256, LIMIT)


def test_large_jpeg_decodes_at_reduced_scale(huge: dict[str, Path]) -> None:
    rgb = decode_picture(huge["jpeg"].read_bytes(), 256, LIMIT)
    assert rgb.shape == (256, 256, 3) and rgb.dtype == np.uint8
    assert abs(int(rgb.mean()) - 128) <= 2


def test_small_images_of_any_mode_decode_to_rgb_at_the_short_side() -> None:
    for mode in ("P", "RGBA", "L", "1", "I", "CMYK"):
        buffer = io.BytesIO()
        Image.new(mode, (600, 300)).save(buffer, format="TIFF" if mode in ("I", "CMYK") else "PNG")
        assert decode_picture(buffer.getvalue(), 256, LIMIT).shape == (256, 512, 3), mode


def test_the_limit_comes_from_the_config(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (600, 300)).save(buffer, format="PNG")
    EmbeddedIndex(tmp_path / "lib").close()
    strict = Config(search={"max_image_pixels": 100_000})  # type: ignore[arg-type]
    with pytest.raises(ImageTooLargeError, match="600×300 pixels"):
        Library(tmp_path / "lib", strict).search(image=buffer.getvalue())


def test_api_and_cli_refuse_an_oversized_image_clearly(
    huge: dict[str, Path], tmp_path: Path
) -> None:
    EmbeddedIndex(tmp_path / "lib").close()
    library = Library(tmp_path / "lib")
    with TestClient(create_app(library, ApiSettings(static_dir=None))) as client:
        files = {"image": ("huge.png", huge["png"].read_bytes(), "image/png")}
        refused = client.post("/api/search/image", files=files)
        assert refused.status_code == 413, refused.text
        assert f"{SIDE}×{SIDE} pixels" in refused.json()["detail"]
    library.close()
    result = CliRunner().invoke(
        app, ["search", "--image", str(huge["png"]), "--db", str(tmp_path / "lib")]
    )
    assert result.exit_code == 1 and f"{SIDE}×{SIDE} pixels" in result.output, result.output


MEASURE = """
import json, sys
from pathlib import Path
import numpy as np
from sceneseek.config import Config
from sceneseek.errors import ImageTooLargeError
from sceneseek.ingest import Encoders
from sceneseek.library import image_vectors

def peak_mb():
    # VmHWM, the peak of this address space: getrusage's ru_maxrss survives exec on
    # Linux and so would report pytest's own peak when that was higher.
    status = Path("/proc/self/status").read_text()
    return int(status.split("VmHWM:")[1].split()[0]) / 1024  # kB

visual = Encoders(Config()).visual
frame = np.zeros((1, visual.frame_short_side, visual.frame_short_side, 3), np.uint8)
visual.summarize(visual.encode_frames(frame))  # the model and class vectors load lazily
baseline = peak_mb()
outcome = {}
for name in sys.argv[1:]:
    try:
        data = Path(name).read_bytes()
        outcome[Path(name).name] = sorted(image_vectors(data, visual, 50_000_000))
    except ImageTooLargeError as exc:
        outcome[Path(name).name] = str(exc)
print(json.dumps({"baseline_mb": baseline, "peak_mb": peak_mb(), "outcome": outcome}))
"""


def test_peak_memory_of_12000_square_image_queries(huge: dict[str, Path]) -> None:
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, str(huge["png"]), str(huge["jpeg"])],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    measured = json.loads(done.stdout.strip().splitlines()[-1])
    print(f"12000² image queries: {measured}")  # shown with -s; BENCHMARKS.md quotes it
    assert "pixels" in measured["outcome"]["huge.png"]
    assert measured["outcome"]["huge.jpg"] == ["image", "visual"]
    assert measured["peak_mb"] < PEAK_LIMIT_MB, measured
