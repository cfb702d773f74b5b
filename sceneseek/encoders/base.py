"""Encoder protocols. Every encoder has a name and a version; the index stores both and
refuses vectors from any other encoder (see ``sceneseek.index``)."""

from __future__ import annotations

import hashlib
import importlib.util
import runpy
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from sceneseek.registry import Registry

if TYPE_CHECKING:
    from collections.abc import Sequence

    from sceneseek.encoders.zones import Zone


@dataclass(frozen=True)
class EncoderInfo:
    name: str
    version: str

    def __str__(self) -> str:
        return f"{self.name}@{self.version}"


class TextEncoder(Protocol):
    info: EncoderInfo
    dim: int

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        """(N, dim) unit vectors for search queries."""
        ...

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        """(N, dim) unit vectors for indexed text (transcripts, labels)."""
        ...


@dataclass
class FrameFeatures:
    """Per-frame outputs. ``image`` serves image↔image similarity; ``semantic`` is what
    ``VisualEncoder.summarize`` turns into a text-space vector (class probabilities for
    ConSE, image embeddings for CLIP)."""

    image: np.ndarray  # (N, F)
    semantic: np.ndarray  # (N, S)


@dataclass
class VisualSummary:
    text_vector: np.ndarray  # (D,) in the query space; compared by inner product
    image_vector: np.ndarray  # (F,) unit vector
    labels: list[tuple[str, float]]  # most likely class names with confidence


class VisualEncoder(Protocol):
    info: EncoderInfo
    frame_short_side: int

    def encode_frames(self, rgb: np.ndarray) -> FrameFeatures:
        """rgb: (N, H, W, 3) uint8 with min(H, W) == frame_short_side."""
        ...

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        """Query vectors comparable with ``VisualSummary.text_vector``."""
        ...

    def summarize(self, features: FrameFeatures) -> VisualSummary:
        """Pool the frames of one segment."""
        ...


@dataclass(frozen=True)
class Observation:
    """A timed piece of evidence put into words: an utterance, a line of on-screen text,
    a sound event, a description of people. Every non-visual modality produces these,
    so they all become searchable the same way (BM25 and text embeddings per segment)."""

    start: float
    end: float
    text: str
    score: float = 1.0
    language: str | None = None  # ISO 639-1 code of the words, where it was detected
    english: str | None = None  # their English translation, when not English (keyword text)
    # What was observed, where a modality tells sorts apart: people's "event" (a track
    # entering, leaving, loitering...) or "absence" ("nobody there": evidence only for a
    # query that asks for emptiness). None: plain evidence.
    kind: str | None = None


@dataclass
class Transcript:
    language: str
    utterances: list[Observation]  # start/end from word timestamps, so they are tight


class SpeechEncoder(Protocol):
    info: EncoderInfo

    def transcribe(self, audio: np.ndarray) -> Transcript:
        """audio: 16 kHz mono float32."""
        ...


class AudioTagger(Protocol):
    """Sound events (e.g. YAMNet): audio → observations like "rooster crowing"."""

    info: EncoderInfo

    def tag(self, audio: np.ndarray) -> list[Observation]:
        """audio: 16 kHz mono float32 of the whole file."""
        ...


class FrameSession(Protocol):
    def feed(self, time: float, rgb: np.ndarray) -> None:
        """One detail frame (H, W, 3) uint8, in time order."""
        ...

    def finish(self) -> list[Observation]:
        """Observations for everything fed so far (called once, at the end)."""
        ...


class FrameReader(Protocol):
    """Reads detail frames of one video as they are decoded (OCR, people/motion).
    Streaming, so long files never need all frames in memory; a session may keep
    state across frames (de-duplication, tracking)."""

    info: EncoderInfo

    def session(self, zones: Sequence[Zone] = ()) -> FrameSession:
        """A session for one video. ``zones``: its camera's named areas, for a reader that
        places what it sees in them (people entering, leaving, loitering); the others
        read the whole picture and ignore them."""
        ...


def center_crop(rgb: np.ndarray, size: int) -> np.ndarray:
    """Central size×size crop of (N, H, W, 3) frames."""
    top = (rgb.shape[1] - size) // 2
    left = (rgb.shape[2] - size) // 2
    return rgb[:, top : top + size, left : left + size]


def digest(texts: list[str]) -> str:
    return hashlib.sha256("\n".join(texts).encode()).hexdigest()[:8]


def cached_passages(text: TextEncoder, texts: list[str], cache_dir: Path) -> np.ndarray:
    """Passage embeddings of a fixed vocabulary, cached on disk per text model: the 1000
    class names take ~10 s to embed on two cores, too slow to repeat per process."""
    path = cache_dir / f"passages-{text.info.name}-{text.info.version}-{digest(texts)}.npy"
    if path.exists():
        return np.load(path)
    vectors = text.embed_passages(texts)
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.stem + ".tmp.npy")
    np.save(tmp, vectors)
    tmp.replace(path)
    return vectors


def onnx_session(graph: Path, threads: int | None) -> Any:
    """An ONNX Runtime CPU session whose idle threads sleep rather than spin: ingest runs
    audio and frame models side by side on few cores, and spinning ones starve the rest."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or 0
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(
        str(graph), sess_options=options, providers=["CPUExecutionProvider"]
    )


def opencv_version() -> str:
    """``cv2.__version__``, read from the ``cv2/version.py`` the wheel ships beside it
    (its release plus a build number: "4.14.0.94" for 4.14.0) without importing OpenCV,
    which would cost a search ~50 ms only to compare encoder versions."""
    spec = importlib.util.find_spec("cv2")
    shipped = Path(spec.origin).with_name("version.py") if spec and spec.origin else None
    if shipped is not None and shipped.is_file():
        release = runpy.run_path(str(shipped)).get("opencv_version", "")
        if release.count(".") == 3:
            return release.rsplit(".", 1)[0]
    import cv2  # a build without the wheel's version file

    return str(cv2.__version__)


def unit(vectors: np.ndarray) -> np.ndarray:
    """L2-normalise rows (or a single vector); zero vectors stay zero."""
    norm = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return (vectors / np.where(norm == 0, 1, norm)).astype(np.float32)


def _in(module: str, *names: str) -> dict[str, str]:
    """The built-in ``names``, registered by importing ``sceneseek.encoders.<module>``."""
    return dict.fromkeys(names, f"sceneseek.encoders.{module}")


text_encoders: Registry[TextEncoder] = Registry("text encoder", _in("text_e5", "e5-small"))
audio_taggers: Registry[AudioTagger] = Registry("audio tagger", _in("sound_yamnet", "yamnet"))
frame_readers: Registry[FrameReader] = Registry(
    "frame reader",
    _in("ocr", "ocr-tesseract", "ocr-rapidocr")
    | _in("people", "people-hog")
    | _in("attributes", "attributes-pixels"),
)
visual_encoders: Registry[VisualEncoder] = Registry(
    "visual encoder",
    _in("visual_effnet", "effnet-lite0-conse", "effnet-lite1-conse", "effnet-lite2-conse")
    | _in("clip", "clip"),
)
speech_encoders: Registry[SpeechEncoder] = Registry(
    "speech encoder", _in("speech_whisper", "whisper-tiny.en", "whisper-base")
)
